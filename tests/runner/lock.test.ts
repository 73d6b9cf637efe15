/**
 * The run lock with study workers (issue 10): workers of a study share a results.db, a plain run still
 * excludes everything. Other owners are real processes (a `sleep` child) so liveness is checked for real.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { acquireRunLock } from '../../src/runner/lock.js';

const sleepers: ChildProcess[] = [];
afterAll(() => {
  for (const s of sleepers) s.kill('SIGKILL');
});

function liveOtherPid(): number {
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  sleepers.push(child);
  return child.pid!;
}

function db(): string {
  return join(mkdtempSync(join(tmpdir(), 'cb-lock-')), 'results.db');
}

describe('acquireRunLock with study workers', () => {
  it('several workers of a study share one results.db; each removes only its own file', () => {
    const path = db();
    writeFileSync(`${path}.worker-${hostname()}-${liveOtherPid()}.lock`, JSON.stringify({ pid: sleepers.at(-1)!.pid, host: hostname(), study: 's' }));
    const mine = acquireRunLock(path, { study: 's' });
    expect(existsSync(mine.file)).toBe(true);
    expect(readdirSync(join(path, '..')).filter((n) => n.includes('.worker-'))).toHaveLength(2);
    mine.release();
    expect(existsSync(mine.file)).toBe(false);
    expect(readdirSync(join(path, '..')).filter((n) => n.includes('.worker-'))).toHaveLength(1);
  });

  it('a plain run is refused while a live worker holds the database, and names the study to join', () => {
    const path = db();
    const pid = liveOtherPid();
    writeFileSync(`${path}.worker-${hostname()}-${pid}.lock`, JSON.stringify({ pid, host: hostname(), study: 'sweep-a' }));
    expect(() => acquireRunLock(path)).toThrow(/1 study worker\(s\) \(study "sweep-a", pid \d+ on .*\) are using .*join with --study sweep-a/);
    expect(existsSync(`${path}.lock`)).toBe(false);
  });

  it('a worker is refused while a plain run holds the database; stale files of dead processes are ignored', () => {
    const path = db();
    const pid = liveOtherPid();
    writeFileSync(`${path}.lock`, JSON.stringify({ pid, host: hostname(), since: '2026-01-01T00:00:00Z' }));
    expect(() => acquireRunLock(path, { study: 's' })).toThrow(/a plain carbonbench run \(pid \d+ .*\) is using .*study workers cannot share it/);
    expect(readdirSync(join(path, '..')).filter((n) => n.includes('.worker-'))).toEqual([]);

    const other = db();
    // A dead worker (pid 2^22 + 1 does not exist) and a dead plain run: neither blocks.
    writeFileSync(`${other}.worker-${hostname()}-4194305.lock`, JSON.stringify({ pid: 4194305, host: hostname(), study: 's' }));
    const plain = acquireRunLock(other);
    expect(existsSync(`${other}.worker-${hostname()}-4194305.lock`)).toBe(false);
    plain.release();
    writeFileSync(`${other}.lock`, JSON.stringify({ pid: 4194305, host: hostname() }));
    acquireRunLock(other, { study: 's' }).release();
  });

  it('a PostgreSQL URL has no lock file', () => {
    const lock = acquireRunLock('postgresql://bench@db.lab:5432/carbonbench', { study: 's' });
    expect(lock.file).toBe('');
    lock.release();
  });
});
