/**
 * One `carbonbench run` per results.db: a lock file beside the database, created exclusively, holding
 * the owner's pid and host. A lock whose process is gone (kill -9, reboot) is stale and taken over.
 *
 * Shared-study workers (issue 10, `run --study`) coordinate through the study, so several of them may
 * use one results.db: each holds its own `<db>.worker-<host>-<pid>.lock`. A plain run still excludes
 * everything: it refuses to start while a live worker lock exists, and a worker refuses while a plain
 * run holds `<db>.lock`. Each side writes its own file first and then looks for the other's, so two
 * that start together may both refuse, but never both run. A PostgreSQL URL has no file beside it: no
 * lock file (runs on one PostgreSQL database from several hosts coordinate with --study).
 */
import { closeSync, openSync, readFileSync, readdirSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { hostname } from 'node:os';
import { InputError, StoreError } from '../errors.js';
import { StoreInputError } from '../store/types.js';

export interface RunLock {
  readonly file: string;
  release(): void;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface RunLockOptions {
  /** A worker of this shared study: coexists with other workers, never with a plain run. */
  study?: string;
}

const NO_LOCK: RunLock = { file: '', release() {} };

interface LockOwner {
  pid?: number;
  host?: string;
  since?: string;
  study?: string;
}

function readOwner(file: string): LockOwner | null {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as LockOwner;
  } catch {
    return null; // gone or unreadable
  }
}

/** A lock owner that still holds it: a live process on this host, or any process on another host. */
function live(owner: LockOwner | null): boolean {
  if (!owner || owner.pid === undefined) return false;
  if (owner.host !== undefined && owner.host !== hostname()) return true;
  return owner.pid !== process.pid && alive(owner.pid);
}

/** Live worker locks of `dbPath` (stale ones are removed). */
function workerLocks(dbPath: string): { file: string; owner: LockOwner }[] {
  const dir = dirname(dbPath);
  const prefix = `${basename(dbPath)}.worker-`;
  let names: string[] = [];
  try {
    names = readdirSync(dir).filter((n) => n.startsWith(prefix) && n.endsWith('.lock'));
  } catch {
    return [];
  }
  const out: { file: string; owner: LockOwner }[] = [];
  for (const name of names) {
    const file = join(dir, name);
    const owner = readOwner(file);
    if (live(owner)) out.push({ file, owner: owner! });
    else if (owner && owner.pid !== process.pid) unlinkQuietly(file);
  }
  return out;
}

export function acquireRunLock(dbPath: string, opts: RunLockOptions = {}): RunLock {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(dbPath)) return NO_LOCK;
  return opts.study !== undefined ? acquireWorkerLock(dbPath, opts.study) : acquireExclusiveLock(dbPath);
}

function acquireWorkerLock(dbPath: string, study: string): RunLock {
  const file = `${dbPath}.worker-${hostname().replace(/[^A-Za-z0-9._-]/g, '_')}-${process.pid}.lock`;
  try {
    const fd = openSync(file, 'w');
    try {
      writeSync(fd, JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString(), study }));
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    unlinkQuietly(file);
    throw lockError(err, dbPath, file);
  }
  const plain = readOwner(`${dbPath}.lock`);
  if (live(plain)) {
    unlinkQuietly(file);
    throw new InputError(
      `a plain carbonbench run (pid ${plain!.pid} on ${plain!.host ?? 'this host'}, since ${plain!.since ?? 'unknown'}) is using ${dbPath}; study workers cannot share it with a run outside the study: wait for it, or use another --db`,
    );
  }
  let released = false;
  return {
    file,
    release() {
      if (released) return;
      released = true;
      unlinkQuietly(file);
    },
  };
}

function acquireExclusiveLock(dbPath: string): RunLock {
  const file = `${dbPath}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      try {
        writeSync(fd, JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString() }));
      } catch (err) {
        // Fix (issue 6, tests/faults/disk.test.ts): on a full disk the write failed after the create,
        // leaving an empty lock file behind; remove it before reporting.
        closeSync(fd);
        unlinkQuietly(file);
        throw err;
      }
      closeSync(fd);
      const workers = workerLocks(dbPath);
      if (workers.length > 0) {
        unlinkQuietly(file);
        const w = workers[0]!.owner;
        throw new InputError(
          `${workers.length} study worker(s) (study ${JSON.stringify(w.study ?? '?')}, pid ${w.pid} on ${w.host ?? 'this host'}) are using ${dbPath}; a run outside the study would measure the same configs again: join with --study ${w.study ?? 'NAME'}, wait for them, or use another --db`,
        );
      }
      let released = false;
      return {
        file,
        release() {
          if (released) return;
          released = true;
          try {
            unlinkSync(file);
          } catch {
            // already gone
          }
        },
      };
    } catch (err) {
      if (err instanceof InputError) throw err; // live study workers hold the database
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw lockError(err, dbPath, file);
      let owner: { pid?: number; host?: string; since?: string } = {};
      try {
        owner = JSON.parse(readFileSync(file, 'utf8')) as typeof owner;
      } catch {
        // unreadable: treat as stale
      }
      const sameHost = owner.host === undefined || owner.host === hostname();
      if (sameHost && owner.pid !== undefined && alive(owner.pid) && owner.pid !== process.pid) {
        throw new InputError(
          `another carbonbench run (pid ${owner.pid}, since ${owner.since ?? 'unknown'}) is using ${dbPath}; wait for it, stop it (Ctrl-C or kill ${owner.pid}), or use another --db`,
        );
      }
      if (!sameHost) {
        throw new InputError(`${dbPath} is locked by a run on host ${owner.host} (pid ${owner.pid}); if that run is gone, delete ${file}`);
      }
      unlinkSync(file); // stale: its process is gone
    }
  }
  throw new InputError(`could not lock ${dbPath} (${file})`);
}

function unlinkQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // already gone
  }
}

/**
 * Fix (issue 6, tests/faults/disk.test.ts): the lock is the first thing `carbonbench run` writes, so a
 * --db on a missing directory, a file used as a directory, a read-only or full filesystem failed here
 * with Node's bare "ENOENT: no such file or directory, open '….lock'". Say what is wrong with the
 * database path and what to do, before any experiment starts: a path the user mistyped is an input
 * error (exit 2), a filesystem that refuses writes a runtime failure (exit 1).
 */
function lockError(err: unknown, dbPath: string, file: string): Error {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  const detail = `${code ? `${code}: ` : ''}${(err as Error).message.replace(/^[A-Z]+: /, '')}`;
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    const dir = dirname(dbPath);
    let isDir = false;
    try {
      isDir = statSync(dir).isDirectory();
    } catch {
      // missing, or a part of it is a file
    }
    if (!isDir) return new StoreInputError(`cannot use --db ${dbPath}: ${dir} does not exist or is not a directory (${detail}); create it or pass another --db path`, { cause: err });
    // An existing directory where files cannot be created (/proc, /sys): not the user's typo.
    return new StoreError(`cannot use --db ${dbPath}: files cannot be created in ${dir} (${detail}); pass --db with a path on a writable filesystem`, { cause: err });
  }
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new StoreError(`cannot use --db ${dbPath}: the disk holding it is full (${detail}); free space or pass another --db path`, { cause: err });
  }
  if (code === 'EROFS' || code === 'EACCES' || code === 'EPERM') {
    return new StoreError(`cannot use --db ${dbPath}: its directory cannot be written (${detail}; a read-only filesystem or missing permissions); pass --db with a writable path`, { cause: err });
  }
  return new StoreError(`cannot create the run lock ${file} beside --db ${dbPath} (${detail}); pass another --db path`, { cause: err });
}
