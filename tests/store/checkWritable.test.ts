import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { StoreError } from '../../src/errors.js';
import { checkWritable, openSqliteStore } from '../../src/store/index.js';
import { newRun, tempDir, track } from './helpers.js';

// Tests run as root, which ignores permission bits: every "not writable" case below fails for root too.
describe('checkWritable', () => {
  it('is ok for a new file in a writable directory, and leaves nothing behind', () => {
    const dir = tempDir();
    expect(checkWritable(join(dir, 'results.db'))).toEqual({ ok: true });
    expect(readdirSync(dir)).toEqual([]);
  });

  it('is ok for an existing database and does not change it', async () => {
    const dir = tempDir();
    const path = join(dir, 'results.db');
    const store = track(openSqliteStore(path));
    await store.createRun(newRun());
    await store.close();
    const before = { files: readdirSync(dir).sort(), bytes: readFileSync(path), mtimeMs: statSync(path).mtimeMs };
    expect(checkWritable(path)).toEqual({ ok: true });
    expect(readdirSync(dir).sort()).toEqual(before.files);
    expect(readFileSync(path).equals(before.bytes)).toBe(true);
    expect(statSync(path).mtimeMs).toBe(before.mtimeMs);
  });

  it('reports a path under a directory that does not exist, without creating it', () => {
    const dir = tempDir();
    const result = checkWritable(join(dir, 'missing', 'results.db'));
    expect(result.ok).toBe(false);
    expect(result.reason).toBe(`directory ${join(dir, 'missing')} does not exist`);
    expect(existsSync(join(dir, 'missing'))).toBe(false);
  });

  it('reports a regular file where a directory is expected (ENOTDIR, fails even as root)', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'file'), 'x');
    const result = checkWritable(join(dir, 'file', 'results.db'));
    expect(result.ok).toBe(false);
    expect(result.reason).toMatch(/is not a directory/);
  });

  it('reports a directory given as the database path', () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'results.db'));
    const result = checkWritable(join(dir, 'results.db'));
    expect(result.ok).toBe(false);
    expect(result.reason).toMatch(/is a directory/);
  });

  // sysfs refuses to create files for every user, root included: a real directory that is not writable.
  it.runIf(existsSync('/sys/kernel'))('reports a directory that refuses new files (sysfs), and opening there fails clearly', () => {
    const result = checkWritable('/sys/results.db');
    expect(result.ok).toBe(false);
    expect(result.reason).toMatch(/^cannot create files in \/sys: /);
    expect(existsSync('/sys/results.db')).toBe(false);

    let error: unknown;
    try {
      openSqliteStore('/sys/results.db');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(StoreError);
    expect((error as Error).message).toMatch(/cannot open \/sys\/results\.db/);
  });
});
