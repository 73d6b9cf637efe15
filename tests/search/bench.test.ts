import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { searchBenchCommand } from '../../src/cli/search-bench.js';
import { tableTruth } from '../../src/engines/table.js';
import { EnvironmentError, InputError } from '../../src/errors.js';
import { quantileSorted, runSearchBench, type BenchOptions } from '../../src/search/bench.js';
import { exhaustiveGridOrder } from '../../src/search/grid.js';
import { parseConstraint } from '../../src/search/space.js';
import { pointKey } from '../../src/search/types.js';
import { CARBON, FakeBayesian, syntheticCsv, syntheticTable } from './synthetic.js';

const table = syntheticTable();
const REL = parseConstraint('bpb <= 1.02 * baseline');
const base: BenchOptions = { table, seeds: 4, targetRel: 0.05, constraint: REL, noise: 0, carbon: CARBON, patience: 4, bayesianFactory: async ({ space }) => new FakeBayesian(space) };

describe('quantiles with censored seeds', () => {
  it('interpolates like R type 7 and propagates "not reached"', () => {
    expect(quantileSorted([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantileSorted([1, 2, 3, 4], 0.25)).toBe(1.75);
    expect(quantileSorted([5], 0.75)).toBe(5);
    expect(quantileSorted([1, 2, Infinity, Infinity], 0.5)).toBe(Infinity);
    expect(quantileSorted([1, 2, 3, Infinity], 0.5)).toBe(2.5);
    expect(quantileSorted([1, 2, 3, Infinity], 0.75)).toBe(Infinity);
  });
});

describe('runSearchBench', () => {
  it('counts experiments to the target for each strategy; the exhaustive grid position is exact', async () => {
    const r = await runSearchBench(base);
    expect(r.configs).toBe(47);
    expect(r.spacePoints).toBe(48);
    expect(r.budget).toBe(48);
    const truth = tableTruth(table, REL, CARBON);
    expect(r.feasible).toBe(truth.feasible.size);
    expect(r.optimum).toMatchObject({ model: 'small', quant: 'fp8', batch: 32, input_len: 128, output_len: 128 });
    // The first point of the exhaustive grid order that is feasible and within 5% of the optimum.
    const order = exhaustiveGridOrder(table.space, { modelParams: table.modelParams });
    const firstHit = order.findIndex((p) => truth.feasible.has(pointKey(p)) && truth.sciUg.get(pointKey(p))! <= truth.optimum!.sciUg * 1.05) + 1;
    expect(r.strategies.grid).toMatchObject({ median: firstHit, iqr: [firstHit, firstHit], reached: 4 });
    for (const s of ['random', 'bayesian', 'pipeline'] as const) {
      expect(r.strategies[s].reached).toBe(4);
      expect(r.strategies[s].perSeed).toHaveLength(4);
      for (const n of r.strategies[s].perSeed) expect(n).toBeGreaterThanOrEqual(1);
    }
    // The pipeline finds it in its grid phase: baseline (3) + small bf16 (4 points) + small fp8 batch 1, 8, 32.
    expect(r.strategies.pipeline.perSeed).toEqual([10, 10, 10, 10]);
    expect(r.strategies.pipeline.switches?.map((s) => `${s.from}>${s.to}`)).toEqual(['start>baseline', 'baseline>grid']);
    // Seeds change the random order.
    expect(new Set(r.strategies.random.perSeed).size).toBeGreaterThan(1);
    expect(await runSearchBench(base)).toEqual(r);
  });

  it('a seed that does not reach the target within the budget is censored', async () => {
    const r = await runSearchBench({ ...base, budget: 5, bayesianFactory: undefined });
    expect(r.strategies.grid).toMatchObject({ median: null, iqr: [null, null], reached: 0 });
    expect(r.strategies.pipeline.reached).toBe(0);
    expect(r.strategies.bayesian).toMatchObject({ median: null, iqr: null, reached: null, skipped: 'no bayesian strategy available' });
  });

  it('skips bayesian (and the pipeline\'s bayesian phase) when its factory throws', async () => {
    const messages: string[] = [];
    const r = await runSearchBench({
      ...base,
      bayesianFactory: async () => {
        throw new EnvironmentError('no optuna here');
      },
      onProgress: (m) => messages.push(m),
    });
    expect(r.strategies.bayesian).toMatchObject({ median: null, iqr: null, reached: null, skipped: 'no optuna here' });
    expect(messages).toContain('bayesian skipped: no optuna here');
    expect(r.strategies.pipeline.reached).toBe(4);
  });
});

describe('searchBenchCommand', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cb-bench-'));
  const file = join(dir, 'synthetic.csv');
  writeFileSync(file, syntheticCsv());
  let out = '';
  let err = '';
  const capture = (): void => {
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
  };
  afterEach(() => {
    vi.restoreAllMocks();
  });
  const fake = { bayesianFactory: async ({ space }: { space: import('../../src/search/types.js').SearchSpace }) => new FakeBayesian(space) };

  it('--json prints exactly the documented document', async () => {
    capture();
    const code = await searchBenchCommand({ table: file, seeds: '3', constraint: 'bpb <= 1.02 * baseline', budget: '48', target: '0.05', noise: '0.02' }, { db: 'unused', json: true }, fake);
    vi.restoreAllMocks();
    expect(code).toBe(0);
    const doc = JSON.parse(out) as Record<string, unknown>;
    expect(Object.keys(doc)).toEqual(['configs', 'feasible', 'optimum', 'strategies']);
    expect(doc.configs).toBe(47);
    expect(doc.feasible).toBe(31);
    expect(Object.keys(doc.optimum as object)).toEqual(['model', 'quant', 'batch', 'input_len', 'output_len', 'sci_ug', 'bpb', 'tok_s', 'power_w']);
    const strategies = doc.strategies as Record<string, { median: number | null; iqr: [number | null, number | null]; reached: number }>;
    expect(Object.keys(strategies)).toEqual(['grid', 'random', 'bayesian', 'pipeline']);
    for (const s of Object.values(strategies)) {
      expect(Object.keys(s)).toEqual(['median', 'iqr', 'reached']);
      expect(s.iqr).toHaveLength(2);
      expect(s.reached).toBe(3);
      expect(typeof s.median).toBe('number');
    }
    expect(err).toBe('');
  });

  it('prints an aligned table, and says when bayesian is skipped', async () => {
    capture();
    const code = await searchBenchCommand({ table: file, seeds: '2', constraint: 'bpb <= 1.02 * baseline' }, { db: 'unused', json: false }, { bayesianFactory: async () => { throw new EnvironmentError('python3: No module named optuna'); } });
    vi.restoreAllMocks();
    expect(code).toBe(0);
    expect(out).toContain(`table: ${file} (47 configs of a 48-point space; 31 feasible under "bpb <= 1.02 * baseline")`);
    expect(out).toMatch(/\nstrategy +median +q1 +q3 +reached\n/);
    expect(out).toMatch(/\ngrid \(exhaustive\) +\d+ +\d+ +\d+ +2\/2\n/);
    expect(out).toMatch(/\nbayesian +– +– +– +skipped\n/);
    expect(out).toContain('\nbayesian skipped: python3: No module named optuna\n');
    expect(out).toMatch(/pipeline \/ exhaustive grid: \d+ \/ \d+ = [\d.]+ of the experiments/);
    expect(err).toBe("warning: bayesian skipped: python3: No module named optuna (the bayesian strategy and the pipeline's bayesian phase are left out)\n");

    capture();
    await searchBenchCommand({ table: file, seeds: '1', bayesian: false }, { db: 'unused', json: true }, fake);
    vi.restoreAllMocks();
    expect((JSON.parse(out) as { strategies: { bayesian: unknown } }).strategies.bayesian).toEqual({ median: null, iqr: null, reached: null, skipped: '--no-bayesian' });
  });

  it('rejects bad flags naming the flag, the value and what is allowed', async () => {
    const bad = async (flags: Parameters<typeof searchBenchCommand>[0]): Promise<string> => {
      try {
        await searchBenchCommand(flags, { db: 'unused', json: true }, fake);
      } catch (e) {
        expect(e).toBeInstanceOf(InputError);
        return (e as Error).message;
      }
      throw new Error('expected an InputError');
    };
    expect(await bad({})).toMatch(/^--table is required/);
    expect(await bad({ table: file, seeds: '0' })).toBe('--seeds "0" (string) is invalid; allowed: an integer from 1 to 1000');
    expect(await bad({ table: file, target: '-1' })).toMatch(/^--target "-1" \(string\) is invalid; allowed: a relative distance/);
    expect(await bad({ table: file, noise: '0.5' })).toBe('--noise "0.5" (string) is invalid; allowed: a relative σ from 0 to 0.2');
    expect(await bad({ table: file, constraint: 'bpb < 1' })).toMatch(/^--constraint "bpb < 1" \(string\) is not understood; allowed: "bpb <= F \* baseline"/);
    expect(await bad({ table: file, hardware: 'tpu' })).toMatch(/^carbon.hardware "tpu" \(string\) is not a known profile/);
  });
});
