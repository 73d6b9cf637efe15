/**
 * Issue 10, must show: the same experiments in PostgreSQL and in SQLite give the same report and the
 * same analysis answers. Two "hosts" (two sim sweeps on different simulated boards, each into its own
 * results.db, real CLI processes) are merged into one SQLite file and into one PostgreSQL database;
 * the report's embedded data and top/leaderboard/pareto/fit --json must then be equal, apart from the
 * database's name and the generation time. A sweep also runs straight into PostgreSQL (--storage).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { runCli } from '../helpers/cli.js';
import { ROOT } from '../helpers/paths.js';
import { pgAvailable, usePgDatabase } from '../helpers/postgres.js';
import { tempDir } from '../store/helpers.js';

const pgdb = usePgDatabase();

function program(dir: string, name: string, simHardware: string, seed: number): string {
  const base = readFileSync(join(ROOT, 'tests', 'fixtures', 'programs', 'sim-sweep.md'), 'utf8');
  const text = base
    .replace('experiments: 40', 'experiments: 16')
    .replace('engine_options: { sim_noise: 0.02 }', `engine_options: { sim_noise: 0.02, sim_hardware: ${simHardware} }`)
    .replace('seed: 7', `seed: ${seed}`);
  expect(text).toContain(`sim_hardware: ${simHardware}`);
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

async function cli(args: string[], cwd: string): Promise<string> {
  const r = await runCli(args, { cwd, timeoutMs: 120_000 });
  expect(r.exitCode, `${args.join(' ')}\n${r.stderr}`).toBe(0);
  return r.stdout;
}

/** The report's embedded data without what names the database or the moment. */
function reportData(dir: string): Record<string, unknown> {
  const html = readFileSync(join(dir, 'index.html'), 'utf8');
  const m = /<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/.exec(html);
  expect(m, 'report-data script').not.toBeNull();
  const data = JSON.parse(m![1]!) as { meta: Record<string, unknown> };
  delete data.meta.generatedAt;
  delete data.meta.db;
  return data;
}

function withoutDb(stdout: string): unknown {
  const doc = JSON.parse(stdout) as Record<string, unknown>;
  delete doc.db;
  return doc;
}

describe.skipIf(!pgAvailable())('PostgreSQL and SQLite give the same answers (issue 10)', () => {
  it('merged SQLite file vs merged PostgreSQL: equal report data and equal top/leaderboard/pareto/fit', async () => {
    const dir = tempDir();
    const hostA = join(dir, 'host-a.db');
    const hostB = join(dir, 'host-b.db');
    await cli(['run', '--program', program(dir, 'a.md', 'dgx-spark', 7), '--db', hostA, '--json'], dir);
    await cli(['run', '--program', program(dir, 'b.md', 'h100-sxm', 11), '--db', hostB, '--json'], dir);

    const lite = join(dir, 'merged.db');
    const pgUrl = await pgdb.another();
    const toLite = JSON.parse(await cli(['merge', hostA, hostB, '--into', lite, '--json'], dir)) as { sources: { experiments: { imported: number } }[] };
    const toPg = JSON.parse(await cli(['merge', hostA, hostB, '--into', pgUrl, '--json'], dir)) as { sources: { experiments: { imported: number } }[] };
    expect(toPg.sources.map((s) => s.experiments.imported)).toEqual(toLite.sources.map((s) => s.experiments.imported));
    expect(toPg.sources.every((s) => s.experiments.imported >= 16)).toBe(true);

    await cli(['report', '--db', lite, '--out', join(dir, 'report-lite')], dir);
    await cli(['report', '--db', pgUrl, '--out', join(dir, 'report-pg')], dir);
    const fromLite = reportData(join(dir, 'report-lite'));
    const fromPg = reportData(join(dir, 'report-pg'));
    expect(fromPg).toEqual(fromLite);
    // The two hosts' boards stay apart: one run per host, each with its own GPU names, and the hardware
    // profiles that score them (SCI's embodied share is per profile) are both listed.
    const runs = fromPg.runs as { gpuNames: string[] | null }[];
    expect(runs).toHaveLength(2);
    expect(new Set(runs.map((r) => JSON.stringify(r.gpuNames))).size).toBe(2);
    expect((fromPg.hardware as unknown[]).length).toBeGreaterThanOrEqual(2);

    // Per hardware profile: one group per host's board, each with its own best SCI.
    const byHardware = JSON.parse(await cli(['leaderboard', '--include-simulated', '--by', 'hardware', '--db', pgUrl, '--json'], dir)) as { groups: { group: string | null; experiments: number }[] };
    expect(byHardware.groups).toHaveLength(2);
    expect(byHardware.groups.every((g) => g.group !== null && g.experiments >= 16)).toBe(true);

    for (const args of [
      ['top', '--include-simulated', '-n', '10'],
      ['leaderboard', '--include-simulated', '--by', 'model'],
      ['leaderboard', '--include-simulated', '--by', 'batch'],
      ['leaderboard', '--include-simulated', '--by', 'hardware'],
      ['pareto', '--include-simulated'],
      ['fit', '--include-simulated'],
      ['status'],
    ]) {
      const a = await cli([...args, '--db', lite, '--json'], dir);
      const b = await cli([...args, '--db', pgUrl, '--json'], dir);
      expect(withoutDb(b), args.join(' ')).toEqual(withoutDb(a));
    }
  });

  it('a sweep runs straight into PostgreSQL (--storage) and the analysis commands read it', async () => {
    const dir = tempDir();
    const url = await pgdb.another();
    const run = JSON.parse(await cli(['run', '--program', program(dir, 'p.md', 'h200', 3), '--storage', url, '--json'], dir)) as { status: string; db: string; experiments: number };
    expect(run.status).toBe('completed');
    expect(run.db).toBe(url); // no password in this URL (PGPASSWORD): shown as given
    expect(run.experiments).toBeGreaterThan(0);
    const top = JSON.parse(await cli(['top', '--db', url, '--include-simulated', '--json'], dir)) as { experiments: unknown[] };
    expect(top.experiments.length).toBe(5);
    // --storage and a different --db: which one was meant? Exit 2.
    const both = await runCli(['run', '--program', join(dir, 'p.md'), '--storage', url, '--db', join(dir, 'x.db')], { cwd: dir });
    expect(both.exitCode).toBe(2);
    expect(both.stderr).toMatch(/name different databases/);
  });
});
