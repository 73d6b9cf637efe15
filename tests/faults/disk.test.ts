/**
 * Disk faults (issue 6): results.db where it cannot be written, on a read-only filesystem, on a full one,
 * and on one that fills up in the middle of a sweep.
 *
 * As root, chmod does not stop a write, so unwritable places are ones that refuse root too: a directory
 * under /proc or /sys, a file where a directory is expected, and tmpfs mounts of our own (read-only by
 * `mount -o remount,ro`, full by a filler file or a tiny size). The mount tests need CAP_SYS_ADMIN (root in
 * this sandbox and in CI containers that allow it); where `mount` is refused they are skipped, saying so.
 *
 * Required: a clear error before any experiment starts (exit 1 for a filesystem that refuses writes,
 * exit 2 for a path the user mistyped), nothing written elsewhere, and never a half-written row: when
 * the disk fills mid-run, every stored `ok` experiment is complete, the one being stored is not, the
 * database passes `PRAGMA integrity_check`, and the run resumes once there is space.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { SIM_PROGRAM, cli, listTree, removeSandboxes, rows, sandbox, tryRows } from './helpers.js';

afterAll(removeSandboxes);

const mounts: string[] = [];

async function tmpfs(sizeKb: number): Promise<string | null> {
  const dir = mkdtempSync(join(tmpdir(), 'cb-fault-tmpfs-'));
  const r = await execa('mount', ['-t', 'tmpfs', '-o', `size=${sizeKb}k`, 'tmpfs', dir], { reject: false });
  if (r.exitCode !== 0) {
    rmSync(dir, { recursive: true, force: true });
    return null;
  }
  mounts.push(dir);
  return dir;
}

async function remount(dir: string, options: string): Promise<void> {
  await execa('mount', ['-o', `remount,${options}`, dir]);
}

afterAll(async () => {
  for (const dir of mounts) {
    await execa('umount', [dir], { reject: false });
    rmSync(dir, { recursive: true, force: true });
  }
});

const canMount = await (async () => {
  const dir = await tmpfs(64);
  if (dir === null) {
    console.warn('tests/faults/disk.test.ts: `mount -t tmpfs` is refused here (no CAP_SYS_ADMIN): the read-only and full filesystem cases are skipped');
    return false;
  }
  return true;
})();

describe.concurrent('results.db where nothing can be written (any user, no mount needed)', () => {
  const cases: { name: string; db: (dir: string) => string; exit: number; message: RegExp }[] = [
    { name: 'a directory under /proc', db: () => '/proc/self/results.db', exit: 1, message: /cannot use --db \/proc\/self\/results\.db: (files cannot be created in|its directory cannot be written)/ },
    { name: 'a directory under /sys', db: () => '/sys/results.db', exit: 1, message: /cannot use --db \/sys\/results\.db: (its directory cannot be written|files cannot be created in)/ },
    { name: 'a file where a directory is expected', db: (dir) => join(dir, 'notes.txt', 'results.db'), exit: 2, message: /notes\.txt does not exist or is not a directory \(ENOTDIR.*create it or pass another --db path/ },
    { name: 'a directory that does not exist', db: (dir) => join(dir, 'missing', 'results.db'), exit: 2, message: /missing does not exist or is not a directory \(ENOENT.*create it or pass another --db path/ },
  ];
  for (const c of cases) {
    it(`${c.name}: exit ${c.exit} with a clear error, nothing measured, nothing written`, async () => {
      const sb = sandbox('disk-path');
      writeFileSync(join(sb.dir, 'notes.txt'), 'a file, not a directory\n');
      const before = listTree(sb.dir);
      for (const args of [['run', '--program', SIM_PROGRAM], ['run', '--program', SIM_PROGRAM, '--fresh']]) {
        const r = await cli(sb, [...args, '--db', c.db(sb.dir)]);
        expect(r.exitCode, r.stderr).toBe(c.exit);
        expect(r.stderr).toMatch(c.message);
        expect(r.stderr).not.toMatch(/^\s+at /m); // a message, not a stack trace
      }
      expect(listTree(sb.dir)).toEqual(before); // no experiments/, no lock, no db
    });
  }
});

describe.skipIf(!canMount).concurrent('results.db on a read-only or full filesystem (tmpfs)', () => {
  it('read-only: run refuses before any experiment (exit 1, "read-only"), the results already there are untouched', async () => {
    const fs = (await tmpfs(4096))!;
    const sb = sandbox('disk-ro');
    const db = join(fs, 'results.db');
    const first = await cli(sb, ['run', '--program', SIM_PROGRAM, '--db', db, '--max-experiments', '4', '--json']);
    expect(first.exitCode, first.stderr).toBe(0);
    const stored = rows(db, 'SELECT * FROM experiments ORDER BY id');
    await remount(fs, 'ro');
    const experimentsBefore = listTree(sb.dir);
    for (const extra of [[], ['--fresh']]) {
      const r = await cli(sb, ['run', '--program', SIM_PROGRAM, '--db', db, ...extra]);
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toMatch(/cannot use --db .*results\.db: its directory cannot be written \(EROFS: read-only file system.*pass --db with a writable path/);
    }
    const m = await cli(sb, ['measure', '--engine', 'sim', '--model', 'sim/x', '--params', '1e9', '--batch', '1', '--input-len', '8', '--output-len', '8', '--db', db]);
    expect(m.exitCode).toBe(1);
    expect(m.stderr).toMatch(/results\.db is read-only \(attempt to write a readonly database\)|cannot open .*results\.db .*directory you can write/);
    expect(listTree(sb.dir)).toEqual(experimentsBefore); // no new experiment directory
    await remount(fs, 'rw');
    expect(rows(db, 'SELECT * FROM experiments ORDER BY id')).toEqual(stored);
  });

  it('full before the run: exit 1 "the disk … is full" before any experiment, no lock or row left', async () => {
    const fs = (await tmpfs(64))!;
    const sb = sandbox('disk-full');
    const db = join(fs, 'results.db');
    for (const fillKb of [64, 40]) {
      // 64 KiB: not even the lock fits; 40 KiB: the lock fits, the database cannot grow.
      for (const f of readdirSync(fs)) rmSync(join(fs, f));
      writeFileSync(join(fs, 'filler'), Buffer.alloc(fillKb * 1024));
      const r = await cli(sb, ['run', '--program', SIM_PROGRAM, '--db', db, '--json']);
      expect(r.exitCode, r.stdout).toBe(1);
      expect(r.stderr).toMatch(/the disk holding .*results\.db is full|cannot use --db .*results\.db: the disk holding it is full/);
      expect(r.stderr).not.toMatch(/^\s+at /m);
      expect(existsSync(`${db}.lock`)).toBe(false);
      expect(existsSync(join(sb.dir, 'experiments'))).toBe(false);
    }
  });

  it('fills up mid-sweep (at several sizes, so different writes hit the full disk): exit 1 "full", every stored ok row complete, integrity ok, the run resumes once there is space', async () => {
    for (const sizeKb of [96, 128, 192, 256]) {
      const fs = (await tmpfs(sizeKb))!;
      const sb = sandbox('disk-fills');
      const db = join(fs, 'results.db');
      const r = await cli(sb, ['run', '--program', SIM_PROGRAM, '--db', db, '--json']);
      const at = `tmpfs of ${sizeKb} KiB`;
      expect(r.exitCode, at).toBe(1);
      expect(r.stderr, at).toMatch(/the disk holding .*results\.db is full \((database or disk is full|disk I\/O error)\): free space and retry/);
      expect(r.stderr, at).not.toMatch(/Unhandled|FOREIGN KEY|^\s+at /m);
      expect(existsSync(`${db}.lock`), at).toBe(false);
      expect(rows(db, 'PRAGMA integrity_check'), at).toEqual([{ integrity_check: 'ok' }]);
      // (a disk that filled during the migration has no tables at all: no rows to check)
      const ok = tryRows<{ id: number; samples: number; requests: number; sci_ug: number | null; energy_j: number | null; tokens_out: number | null }>(
        db,
        "SELECT id, sci_ug, energy_j, tokens_out, (SELECT count(*) FROM samples s WHERE s.experiment_id = e.id) AS samples, (SELECT count(*) FROM requests q WHERE q.experiment_id = e.id) AS requests FROM experiments e WHERE status = 'ok'",
      );
      for (const e of ok) {
        expect(e.sci_ug, `experiment ${e.id}, ${at}`).not.toBeNull();
        expect(e.energy_j).not.toBeNull();
        expect(e.tokens_out).toBeGreaterThan(0);
        expect(e.samples).toBeGreaterThan(0);
        expect(e.requests).toBeGreaterThan(0);
      }
      // The experiment whose transaction hit the full disk is not half-stored: still `running`, with no
      // figures and no samples (a resume turns it into `interrupted` and measures it again).
      const unfinished = tryRows<{ id: number; sci_ug: number | null; samples: number }>(db, "SELECT id, sci_ug, (SELECT count(*) FROM samples s WHERE s.experiment_id = e.id) AS samples FROM experiments e WHERE status != 'ok'");
      expect(unfinished.length, at).toBeLessThanOrEqual(1);
      for (const u of unfinished) expect(u, at).toMatchObject({ sci_ug: null, samples: 0 });
      // Every row refers to a stored run (a commit that failed never handed out its id).
      expect(rows(db, 'PRAGMA foreign_key_check'), at).toEqual([]);

      await remount(fs, 'size=16m');
      const resumed = await cli(sb, ['run', '--program', SIM_PROGRAM, '--db', db, '--json']);
      expect(resumed.exitCode, `${at}: ${resumed.stderr}`).toBe(0);
      expect(JSON.parse(resumed.stdout), at).toMatchObject({ status: 'completed', experiments: 40 });
      for (const u of unfinished) expect(rows(db, 'SELECT status FROM experiments WHERE id = ?', u.id), at).toEqual([{ status: 'interrupted' }]);
      expect(rows(db, 'PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }]);
    }
  }, 60_000);
});
