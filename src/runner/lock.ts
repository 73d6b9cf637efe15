/**
 * One `carbonbench run` per results.db: a lock file beside the database, created exclusively, holding
 * the owner's pid and host. A lock whose process is gone (kill -9, reboot) is stale and taken over.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { InputError } from '../errors.js';

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

export function acquireRunLock(dbPath: string): RunLock {
  const file = `${dbPath}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString() }));
      closeSync(fd);
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
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
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
