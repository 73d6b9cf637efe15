/**
 * The analysis commands (top, leaderboard, pareto, fit, calc, export) called as functions on the
 * hand-made results.db of tests/analysis/fixtures.ts, stdout captured. The CLI contract: --json prints
 * one JSON document and nothing else; bad input is an error with exit code 2 that names the value and
 * what is allowed.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { calcCommand } from '../../src/cli/calc.js';
import { exportCommand } from '../../src/cli/export.js';
import { fitCommand } from '../../src/cli/fit.js';
import { leaderboardCommand } from '../../src/cli/leaderboard.js';
import { paretoCommand } from '../../src/cli/pareto.js';
import { topCommand } from '../../src/cli/top.js';
import { CarbonbenchError } from '../../src/errors.js';
import { parseCsv } from '../../src/util/csv.js';
import { DESIGNED, Q05, designedDb, tempDir } from '../analysis/fixtures.js';

let out = '';
let err = '';
beforeEach(() => {
  out = '';
  err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    err += String(chunk);
    return true;
  });
});
afterEach(() => {
  vi.restoreAllMocks();
});

const json = <T = Record<string, unknown>>(): T => JSON.parse(out) as T;

/** The exit code and message of an error a command throws (main() turns it into the exit code). */
async function failure(p: Promise<number>): Promise<{ exitCode: number; message: string }> {
  try {
    await p;
  } catch (e) {
    if (e instanceof CarbonbenchError) return { exitCode: e.exitCode, message: e.message };
    throw e;
  }
  throw new Error('expected the command to fail');
}

describe('--hardware (issue 10: SCI is per hardware profile)', () => {
  it('top and leaderboard rank only the experiments scored with that profile; an unsafe id is an input error', async () => {
    const db = await designedDb();
    const h100 = [2, 4];
    const d = new Database(db);
    d.prepare(`UPDATE experiments SET hardware_id = 'h100-sxm' WHERE id IN (${h100.join(', ')})`).run();
    d.close();
    expect(await topCommand({ n: '10', hardware: 'h100-sxm' }, { db, json: true })).toBe(0);
    const doc = json<{ selection: object; experiments: { id: number; hardware_id: string }[] }>();
    expect(doc.selection).toEqual({ include_simulated: false, include_manual: false, hardware: 'h100-sxm' });
    expect(doc.experiments.map((e) => e.id).sort()).toEqual(h100);
    out = '';
    expect(await topCommand({ n: '100', hardware: 'dgx-spark' }, { db, json: true })).toBe(0);
    const spark = json<{ experiments: { id: number; hardware_id: string }[] }>().experiments;
    expect(spark.length).toBeGreaterThan(0);
    for (const e of spark) expect(e.hardware_id).toBe('dgx-spark');
    expect(spark.map((e) => e.id)).not.toContain(2);
    out = '';
    expect(await leaderboardCommand({ by: 'quant', hardware: 'h100-sxm' }, { db, json: true })).toBe(0);
    const groups = json<{ groups: { experiments: number; best: { id: number } }[] }>().groups;
    expect(groups.reduce((n, g) => n + g.experiments, 0)).toBe(h100.length);
    for (const g of groups) expect(h100).toContain(g.best.id);
    out = '';
    expect(await topCommand({ hardware: 'a100' }, { db, json: true })).toBe(0);
    expect(json()).toMatchObject({ experiments: [], message: expect.stringMatching(/only hardware profile a100 was asked for \(--hardware\)/) });
    const bad = await failure(topCommand({ hardware: "x' OR 1=1 --" }, { db, json: true }));
    expect(bad.exitCode).toBe(2);
    expect(bad.message).toMatch(/--hardware "x' OR 1=1 --" \(string\) is invalid; allowed: a hardware profile id/);
  });
});

describe('top', () => {
  it('--json: the 5 greenest real experiments with rank, SCI, BPB, tok/s and the Pareto flag', async () => {
    const db = await designedDb();
    expect(await topCommand({}, { db, json: true })).toBe(0);
    const doc = json<{ n: number; selection: object; pareto_objectives: string; experiments: Record<string, unknown>[] }>();
    expect(doc.n).toBe(5);
    expect(doc.selection).toEqual({ include_simulated: false, include_manual: false });
    expect(doc.pareto_objectives).toBe('SCI min × BPB min × tok/s max');
    expect(doc.experiments.map((e) => [e.rank, e.id, e.pareto])).toEqual([
      [1, 2, true],
      [2, 7, true],
      [3, 3, true],
      [4, 4, true],
      [5, 5, true],
    ]);
    expect(doc.experiments[0]).toMatchObject({ model: Q05, quant: 'bf16', batch: 8, input_len: 512, output_len: 128, bpb: 0.8, tok_s: 8000, simulated: false });
    expect(doc.experiments[0]!.sci_ug as number).toBeCloseTo(DESIGNED[1]!.sciUg!, 12);
  });

  it('-n and --include-simulated; the table has units in its headers and labels simulated rows', async () => {
    const db = await designedDb();
    expect(await topCommand({ n: '2', includeSimulated: true }, { db, json: false })).toBe(0);
    const lines = out.split('\n');
    expect(lines[0]).toMatch(/^#\s+id\s+model\s+quant\s+batch\s+in\/out tokens\s+SCI µgCO2e\/token\s+BPB bits\/byte\s+tok\/s\s+J\/token\s+Pareto\s+data$/);
    expect(lines[2]).toMatch(/^1\s+10\s+sim\/qwen2\.5-0\.5b\s+bf16\s+64\s+512\/128\s+0\.1\s+0\.8\s+50000\s+.*yes\s+SIMULATED$/);
    expect(lines[3]).toMatch(/^2\s+2\s+Qwen\/Qwen2\.5-0\.5B-Instruct .* no\s+measured$/);
    expect(out).toMatch(/SIMULATED: sim or table engine, not a real measurement\./);
    // Aligned: every row as wide as the header's separator line.
    expect(lines[2]!.indexOf('0.1')).toBeGreaterThan(0);
  });

  it('says why nothing is shown on a simulated-only database, and which flag helps', async () => {
    const db = await designedDb(DESIGNED.filter((d) => d.simulated).map((d, i) => ({ ...d, id: i + 1 })));
    expect(await topCommand({}, { db, json: true })).toBe(0);
    expect(json()).toMatchObject({ experiments: [], message: expect.stringMatching(/1 simulated \(pass --include-simulated; they stay labelled\)/) });
  });

  it('bad -n and a missing database are input errors (exit 2)', async () => {
    const db = await designedDb();
    expect(await failure(topCommand({ n: '0' }, { db, json: true }))).toEqual({ exitCode: 2, message: '-n "0" (string) is invalid; allowed: an integer from 1 to 100000' });
    const missing = await failure(topCommand({}, { db: join(tempDir(), 'nope.db'), json: true }));
    expect(missing.exitCode).toBe(2);
    expect(missing.message).toMatch(/does not exist/);
  });
});

describe('leaderboard', () => {
  it('--by quant --json: best per group with its config', async () => {
    const db = await designedDb();
    expect(await leaderboardCommand({ by: 'quant' }, { db, json: true })).toBe(0);
    const doc = json<{ by: string; groups: { rank: number; group: string | null; experiments: number; best: { id: number; pareto: boolean | null } }[] }>();
    expect(doc.by).toBe('quant');
    expect(doc.groups.map((g) => [g.rank, g.group, g.experiments, g.best.id, g.best.pareto])).toEqual([
      [1, 'bf16', 4, 2, true],
      [2, 'q8_0', 1, 7, true],
      [3, 'awq', 1, 3, true],
      [4, 'fp8', 1, 6, false],
      [5, null, 1, 8, null],
    ]);
  });

  it('defaults to --by model; the table leads with the group and shows the other config columns', async () => {
    const db = await designedDb();
    expect(await leaderboardCommand({}, { db, json: false })).toBe(0);
    expect(out.split('\n')[0]).toMatch(/^#\s+model\s+experiments\s+best SCI µgCO2e\/token\s+median SCI µgCO2e\/token\s+id\s+quant\s+engine\s+batch\s+in\/out tokens\s+BPB bits\/byte\s+tok\/s\s+Pareto$/);
    expect(out).toMatch(/Pareto n\/a: not comparable/);
  });

  it('an unknown --by is an input error listing the allowed values', async () => {
    const db = await designedDb();
    expect(await failure(leaderboardCommand({ by: 'gpu' }, { db, json: false }))).toEqual({
      exitCode: 2,
      message: '--by "gpu" (string) is invalid; allowed: model, quant, engine, batch, hardware',
    });
  });
});

describe('pareto', () => {
  it('--json: the front by SCI, how many were compared and left out', async () => {
    const db = await designedDb();
    expect(await paretoCommand({}, { db, json: true })).toBe(0);
    const doc = json<{ basis: string; selected: number; compared: number; not_compared: number; front: { id: number }[] }>();
    expect(doc).toMatchObject({ basis: 'sci_bpb_tok_s', selected: 8, compared: 7, not_compared: 1 });
    expect(doc.front.map((e) => e.id)).toEqual([2, 7, 3, 4, 5]);
  });

  it('text: a heading with the objectives, a table with units', async () => {
    const db = await designedDb();
    expect(await paretoCommand({ includeManual: true }, { db, json: false })).toBe(0);
    expect(out).toMatch(/^Pareto front over SCI min × BPB min × tok\/s max: 2 of 8 compared experiments \(1 more without BPB or throughput was not compared\)/);
    expect(out).toMatch(/id\s+model\s+quant\s+batch\s+in\/out tokens\s+SCI µgCO2e\/token\s+BPB bits\/byte\s+tok\/s\s+J\/token/);
  });
});

describe('fit', () => {
  it('--family qwen2.5 --json: the seed law, its interval, the points, frontier estimates', async () => {
    const db = await designedDb();
    expect(await fitCommand({ family: 'Qwen2.5' }, { db, json: true })).toBe(0);
    const doc = json<{
      family: string;
      fit: { a_ug: number; b: number; r2: number; b_ci95: number[]; formula: string };
      points: { experiment_id: number }[];
      extrapolation: { name: string; moe: boolean; params_used: number; estimate: boolean }[];
      notes: string[];
    }>();
    expect(doc.family).toBe('qwen2.5');
    expect(doc.fit.a_ug / 0.000207).toBeCloseTo(1, 9);
    expect(doc.fit.b).toBeCloseTo(0.374, 10);
    expect(doc.fit.formula).toBe('SCI = 0.000207 × params^0.374 µgCO2e/token (R² = 1.000, n = 3)');
    expect(doc.points.map((p) => p.experiment_id)).toEqual([2, 4, 5]);
    expect(doc.extrapolation.find((e) => e.name === 'DeepSeek-V3')).toMatchObject({ moe: true, params_used: 37e9, estimate: true });
    expect(doc.notes.join(' ')).toMatch(/active parameters/);
  });

  it('a family with fewer than 3 models: a message instead of a fit (exit 0)', async () => {
    const db = await designedDb();
    expect(await fitCommand({ family: 'llama' }, { db, json: true })).toBe(0);
    expect(json()).toMatchObject({ family: 'llama', fit: null, message: 'a fit needs at least 3 models with a parameter count; there are 2 of family llama', extrapolation: [] });
    out = '';
    expect(await fitCommand({ family: 'llama' }, { db, json: false })).toBe(0);
    expect(out).toMatch(/^scaling law, family llama: no fit: a fit needs at least 3 models/);
  });

  it('text without --family: the pooled fit, per-family lines, the estimates table', async () => {
    const db = await designedDb();
    expect(await fitCommand({}, { db, json: false })).toBe(0);
    expect(out).toMatch(/^scaling law, all families \(llama, qwen2\.5\):\n  SCI = /);
    expect(out).toMatch(/exponent b = .*95% interval \[/);
    expect(out).toMatch(/\n  qwen2\.5: SCI = 0\.000207 × params\^0\.374/);
    expect(out).toMatch(/ESTIMATES extrapolated from the fit/);
    expect(out).toMatch(/DeepSeek-V3\s+671B\s+37B\s+yes/);
  });

  it('an unknown --family lists the families', async () => {
    const db = await designedDb();
    expect(await failure(fitCommand({ family: 'gpt' }, { db, json: true }))).toEqual({
      exitCode: 2,
      message: '--family "gpt" (string) is not a family of the selected experiments; allowed: llama, qwen2.5',
    });
  });
});

describe('calc', () => {
  it('--region FR --json: stored and recomputed numbers', async () => {
    const db = await designedDb();
    expect(await calcCommand({ experiment: '2', region: 'FR' }, { db, json: true })).toBe(0);
    const doc = json<{ experiment: { id: number; tokens_out: number }; stored: { sci_ug: number; sci_emb_ug: number; sci_op_ug: number }; embodied: { basis: string }; results: Record<string, unknown>[] }>();
    expect(doc.experiment).toMatchObject({ id: 2, tokens_out: 160_000, simulated: false });
    expect(doc.embodied.basis).toBe('provenance');
    expect(doc.results).toHaveLength(1);
    expect(doc.results[0]).toMatchObject({ region: 'FR', region_name: 'France', intensity_g_kwh: 44.2, is_run_intensity: false, sci_emb_ug: doc.stored.sci_emb_ug });
    expect(doc.results[0]!.sci_op_ug as number).toBeCloseTo((doc.stored.sci_op_ug * 44.2) / 210, 12);
  });

  it('--intensity G equal to the run\'s own gives the stored SCI exactly; --all-regions lists every region', async () => {
    const db = await designedDb();
    expect(await calcCommand({ experiment: '5', intensity: '210' }, { db, json: true })).toBe(0);
    const own = json<{ stored: { sci_ug: number }; results: { sci_ug: number; is_run_intensity: boolean }[] }>();
    expect(own.results[0]!.sci_ug).toBe(own.stored.sci_ug);
    expect(own.results[0]!.is_run_intensity).toBe(true);
    out = '';
    expect(await calcCommand({ experiment: '5', allRegions: true }, { db, json: false })).toBe(0);
    expect(out).toMatch(/region\s+name\s+gCO2e\/kWh\s+operational µgCO2e\/token\s+embodied µgCO2e\/token\s+total µgCO2e\/token\s+total gCO2e/);
    expect(out).toMatch(/US-NE-ISNE \*/);
    expect(out).toMatch(/\* the intensity the run scored with/);
  });

  it('exactly one of --region, --intensity, --all-regions; a finished, existing experiment', async () => {
    const db = await designedDb();
    expect(await failure(calcCommand({ experiment: '2' }, { db, json: true }))).toMatchObject({ exitCode: 2, message: expect.stringMatching(/exactly one of --region R .* or --all-regions; got none/) });
    expect(await failure(calcCommand({ experiment: '2', region: 'FR', allRegions: true }, { db, json: true }))).toMatchObject({ exitCode: 2, message: expect.stringMatching(/got several/) });
    expect(await failure(calcCommand({ experiment: '2', intensity: '-5' }, { db, json: true }))).toMatchObject({ exitCode: 2, message: expect.stringMatching(/--intensity "-5" \(string\) is invalid; allowed: a number of gCO2e\/kWh from 0 to 2000/) });
    expect(await failure(calcCommand({ experiment: '2', region: 'XX' }, { db, json: true }))).toMatchObject({ exitCode: 2, message: expect.stringMatching(/unknown grid region "XX"/) });
    expect(await failure(calcCommand({ experiment: '99', region: 'FR' }, { db, json: true }))).toMatchObject({ exitCode: 2, message: expect.stringMatching(/no experiment with id 99/) });
    expect(await failure(calcCommand({ experiment: '9', region: 'FR' }, { db, json: true }))).toMatchObject({ exitCode: 2, message: expect.stringMatching(/its status is failed/) });
    expect(await failure(calcCommand({ experiment: 'x', region: 'FR' }, { db, json: true }))).toMatchObject({ exitCode: 2, message: expect.stringMatching(/--experiment "x"/) });
  });
});

describe('export', () => {
  it('--format csv to stdout; --format codecarbon --out FILE with a --json summary', async () => {
    const db = await designedDb();
    expect(await exportCommand({ format: 'csv' }, { db, json: false })).toBe(0);
    expect(parseCsv(out)).toHaveLength(12);
    out = '';
    const file = join(tempDir(), 'emissions.csv');
    expect(await exportCommand({ format: 'codecarbon', out: file }, { db, json: true })).toBe(0);
    expect(json()).toMatchObject({ format: 'codecarbon', experiments: 10, simulated: 1, out: file });
    expect(readFileSync(file, 'utf8').split('\n')[0]).toMatch(/^timestamp,project_name,run_id,experiment_id,duration,emissions,/);
  });

  it('--format json with --json is the export itself; csv with --json needs --out; unknown formats are listed', async () => {
    const db = await designedDb();
    expect(await exportCommand({ format: 'json' }, { db, json: true })).toBe(0);
    expect(json<{ experiments: unknown[] }>().experiments).toHaveLength(11);
    expect(await failure(exportCommand({ format: 'impact' }, { db, json: true }))).toMatchObject({ exitCode: 2, message: expect.stringMatching(/--json with --format impact needs --out FILE/) });
    expect(await failure(exportCommand({ format: 'xml' }, { db, json: false }))).toEqual({ exitCode: 2, message: '--format "xml" (string) is invalid; allowed: csv, json, codecarbon, impact' });
    expect(await failure(exportCommand({}, { db, json: false }))).toMatchObject({ exitCode: 2 });
  });

  it('says on stderr what it wrote', async () => {
    const db = await designedDb();
    const file = join(tempDir(), 'manifest.yml');
    expect(await exportCommand({ format: 'impact', out: file }, { db, json: false })).toBe(0);
    expect(out).toBe('');
    expect(err).toMatch(/wrote 10 experiments \(1 simulated, labelled\) as impact to /);
  });
});

describe('on a sim sweep written by the real runner', () => {
  it('every command answers; simulated rows are left out by default and labelled when included', async () => {
    const { runCli } = await import('../helpers/cli.js');
    const { ROOT } = await import('../helpers/paths.js');
    const dir = tempDir('cb-analysis-sweep-');
    const db = join(dir, 'results.db');
    vi.restoreAllMocks(); // runCli's child process output is captured by execa, not by these spies
    const run = await runCli(['run', '--program', join(ROOT, 'tests', 'fixtures', 'programs', 'sim-sweep.md'), '--db', db, '--json'], { cwd: dir });
    expect(run.exitCode, run.stderr).toBe(0);
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out += String(chunk);
      return true;
    });
    const g = { db, json: true };

    expect(await topCommand({}, g)).toBe(0);
    expect(json()).toMatchObject({ experiments: [], message: expect.stringMatching(/simulated \(pass --include-simulated/) });
    out = '';
    expect(await topCommand({ includeSimulated: true }, g)).toBe(0);
    const top = json<{ experiments: { simulated: boolean; pareto: boolean | null; sci_ug: number }[] }>().experiments;
    expect(top).toHaveLength(5);
    expect(top.every((e) => e.simulated)).toBe(true);
    expect(top[0]!.pareto).toBe(true); // the greenest point is always on the front
    expect(top.map((e) => e.sci_ug)).toEqual([...top.map((e) => e.sci_ug)].sort((a, b) => a - b));

    out = '';
    expect(await paretoCommand({ includeSimulated: true }, g)).toBe(0);
    const front = json<{ front: { id: number; simulated: boolean }[]; compared: number }>();
    expect(front.front.length).toBeGreaterThan(0);
    expect(front.front.every((e) => e.simulated)).toBe(true);

    out = '';
    expect(await fitCommand({ includeSimulated: true }, g)).toBe(0);
    const fit = json<{ models: number; fit: { b: number; r2: number } | null; points: { simulated: boolean }[] }>();
    expect(fit.models).toBe(3); // sim/qwen2.5-0.5b, -1.5b, -7b
    expect(fit.fit).not.toBeNull();
    expect(fit.points.every((p) => p.simulated)).toBe(true);

    out = '';
    expect(await leaderboardCommand({ by: 'batch', includeSimulated: true }, g)).toBe(0);
    expect(json<{ groups: unknown[] }>().groups.length).toBeGreaterThan(1);

    out = '';
    const best = top[0] as unknown as { id: number; sci_ug: number };
    expect(await calcCommand({ experiment: String(best.id), region: 'US-NE-ISNE' }, g)).toBe(0);
    const calc = json<{ stored: { sci_ug: number }; results: { sci_ug: number; is_run_intensity: boolean }[]; experiment: { simulated: boolean } }>();
    expect(calc.results[0]!.sci_ug).toBe(calc.stored.sci_ug);
    expect(calc.results[0]!.is_run_intensity).toBe(true);
    expect(calc.experiment.simulated).toBe(true);
  });
});
