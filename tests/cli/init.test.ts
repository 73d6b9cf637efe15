import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

describe('carbonbench init', () => {
  it('writes the example program.md and ignores the results, once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cb-init-'));
    writeFileSync(join(dir, '.gitignore'), 'node_modules/');
    const r = await runCli(['init', dir]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(readFileSync(join(dir, 'program.md'), 'utf8')).toMatch(/^---\n# carbonbench program/);
    expect(readFileSync(join(dir, '.gitignore'), 'utf8')).toBe('node_modules/\n# carbonbench results\nresults.db\nresults.db-wal\nresults.db-shm\nexperiments/\n');
    const again = await runCli(['init', dir]);
    expect(again.exitCode).toBe(2);
    expect(again.stderr).toMatch(/already exists.*--force/);
    const forced = await runCli(['init', dir, '--force', '--json']);
    expect(forced.exitCode).toBe(0);
    expect(JSON.parse(forced.stdout).added_to_gitignore).toEqual([]);
  });
});
