import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SECONDS_PER_YEAR } from '../../src/carbon/sci.js';
import { loadTable, parseTable, tableEngine, tableEvaluator, tableSciUg, tableTruth } from '../../src/engines/table.js';
import type { ExperimentConfig } from '../../src/engines/types.js';
import { InputError } from '../../src/errors.js';
import { DEFAULT_PROTOCOL, runExperiment } from '../../src/runner/experiment.js';
import { ServerPool } from '../../src/runner/server-pool.js';
import { openSession, type Session } from '../../src/runner/setup.js';
import { VirtualClock, realClock } from '../../src/runner/clock.js';
import { createLogger } from '../../src/log.js';
import { parseConstraint } from '../../src/search/space.js';
import { pointKey } from '../../src/search/types.js';
import { CARBON, syntheticCsv, syntheticTable } from './synthetic.js';

const HEADER = 'model,quant,batch,input_len,output_len,tok_s,power_w,bpb';

function inputError(fn: () => unknown): InputError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return e as InputError;
  }
  throw new Error('expected an InputError');
}

describe('parseTable', () => {
  it('reads rows, comments, optional params, and the distinct values as a space', () => {
    const t = parseTable(`# simulated\n# hardware: h100-sxm\n${HEADER},params,note\nm,bf16,8,128,64,1000,200,0.8,1e9,x\nm,fp8,1,128,64,500,150,0.81,1e9,\nn,bf16,4,512,64,\"300\",250,0.7,,\n`);
    expect(t.comments).toEqual(['simulated', 'hardware: h100-sxm']);
    expect(t.rows).toHaveLength(3);
    expect(t.rows[0]).toEqual({ point: { model: 'm', quant: 'bf16', batch: 8, inputLen: 128, outputLen: 64 }, tokS: 1000, powerW: 200, bpb: 0.8, params: 1e9, line: 4 });
    expect(t.rows[2]!.params).toBeNull();
    expect(t.space).toEqual({ models: ['m', 'n'], quant: ['bf16', 'fp8'], batch: [1, 4, 8], inputLen: [128, 512], outputLen: [64] });
    expect(t.modelParams).toEqual({ m: 1e9 });
    expect(t.byKey.get(pointKey({ model: 'n', quant: 'bf16', batch: 4, inputLen: 512, outputLen: 64 }))?.tokS).toBe(300);
  });

  it('names the line, the column, the value and what is allowed', () => {
    expect(inputError(() => parseTable('model,quant,batch\nm,q,1\n', 't.csv')).message).toBe(
      't.csv line 1: missing columns input_len, output_len, tok_s, power_w, bpb; allowed: a header with model,quant,batch,input_len,output_len,tok_s,power_w,bpb (optional params, other columns ignored)',
    );
    expect(inputError(() => parseTable(`${HEADER}\nm,q,1,128,64,fast,200,0.8\n`, 't.csv')).message).toBe('t.csv line 2: column tok_s "fast" (string) is invalid; allowed: a number of tokens per second > 0');
    expect(inputError(() => parseTable(`${HEADER}\nm,q,0,128,64,1,200,0.8\n`, 't.csv')).message).toBe('t.csv line 2: column batch "0" (string) is invalid; allowed: a positive integer');
    expect(inputError(() => parseTable(`${HEADER}\nm,q,1,128,64,1,0,0.8\n`, 't.csv')).message).toMatch(/column power_w "0" .* allowed: a number of watts > 0/);
    expect(inputError(() => parseTable(`${HEADER}\n,q,1,128,64,1,1,0.8\n`, 't.csv')).message).toBe('t.csv line 2: column model is empty; allowed: a non-empty value');
    expect(inputError(() => parseTable(`${HEADER}\nm,q,1,128,64,1,1,0.8\nm,q,1,128,64,2,1,0.8\n`, 't.csv')).message).toBe('t.csv line 3: the config m q batch 1 input 128 output 64 is already on line 2; allowed: one row per config');
    expect(inputError(() => parseTable(`${HEADER}\n`, 't.csv')).message).toMatch(/no rows after the header/);
    expect(inputError(() => loadTable('/nonexistent/t.csv')).message).toMatch(/^table "\/nonexistent\/t.csv" \(string\) cannot be read \(ENOENT\); allowed: the path of a CSV/);
  });
});

describe('table evaluator', () => {
  const table = syntheticTable();
  const point = { model: 'small', quant: 'fp8', batch: 8, inputLen: 128, outputLen: 128 };

  it('scores a row with the SCI formula: J/token = power / tok/s, plus the embodied share', () => {
    const row = table.byKey.get(pointKey(point))!;
    const evaluate = tableEvaluator(table, { carbon: CARBON });
    const o = evaluate(point, 'grid');
    const jPerToken = row.powerW / row.tokS;
    const opUg = ((jPerToken / 3.6e6) * CARBON.intensityGPerKwh) * 1e6;
    const embUg = ((CARBON.embodiedTotalKg * 1000) / (CARBON.lifetimeYears * SECONDS_PER_YEAR) / row.tokS) * 1e6;
    expect(o).toEqual({ point, status: 'ok', sciUg: expect.closeTo(opUg + embUg, 12), bpb: row.bpb, tokS: row.tokS, phase: 'grid' });
    expect(tableSciUg(row.tokS, row.powerW, CARBON)).toBeCloseTo(opUg + embUg, 12);
    // Repeats without noise are identical.
    expect(evaluate(point).sciUg).toBe(o.sciUg);
  });

  it('fails a config that is not in the table, as an out-of-memory would', () => {
    const evaluate = tableEvaluator(table, { carbon: CARBON });
    expect(evaluate({ model: 'big', quant: 'bf16', batch: 32, inputLen: 512, outputLen: 128 }, 'random')).toEqual({
      point: { model: 'big', quant: 'bf16', batch: 32, inputLen: 512, outputLen: 128 },
      status: 'failed',
      sciUg: null,
      bpb: null,
      tokS: null,
      phase: 'random',
    });
  });

  it('seeded noise: the same seed replays, another seed differs, a repeat draws afresh, BPB stays exact', () => {
    const draws = (seed: number): number[] => {
      const e = tableEvaluator(table, { carbon: CARBON, noise: 0.05, seed });
      return [e(point).sciUg!, e(point).sciUg!, e(point).sciUg!];
    };
    const a = draws(1);
    expect(draws(1)).toEqual(a);
    expect(draws(2)).not.toEqual(a);
    expect(new Set(a).size).toBe(3);
    const exact = tableEvaluator(table, { carbon: CARBON })(point).sciUg!;
    for (const x of a) expect(Math.abs(x / exact - 1)).toBeLessThan(0.5);
    expect(tableEvaluator(table, { carbon: CARBON, noise: 0.05 })(point).bpb).toBe(table.byKey.get(pointKey(point))!.bpb);
    expect(() => tableEvaluator(table, { carbon: CARBON, noise: 0.5 })).toThrow(/noise 0.5 \(number\) is invalid; allowed: a relative σ from 0 to 0.2/);
  });

  it('ground truth: feasible rows under table-wide baselines and the feasible optimum', () => {
    const rel = tableTruth(table, parseConstraint('bpb <= 1.02 * baseline'), CARBON);
    // awq is 5% over bf16: 2 models × 8 configs out; 47 rows in all.
    expect(rel.feasible.size).toBe(47 - 16);
    expect(rel.optimum?.row.point).toEqual({ model: 'small', quant: 'fp8', batch: 32, inputLen: 128, outputLen: 128 });
    const none = tableTruth(table, null, CARBON);
    expect(none.feasible.size).toBe(47);
    expect(none.optimum?.row.point).toEqual({ model: 'small', quant: 'awq', batch: 32, inputLen: 128, outputLen: 128 });
    expect(tableTruth(table, parseConstraint('bpb <= 0.5'), CARBON).optimum).toBeNull();
  });
});

describe('table engine', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cb-table-'));
  const file = join(dir, 'synthetic.csv');
  writeFileSync(file, syntheticCsv());
  const cfg = (over: Partial<ExperimentConfig> = {}): ExperimentConfig => ({
    engine: 'table',
    model: { id: 'small', params: 1e9 },
    quant: 'fp8',
    batch: 8,
    inputLen: 128,
    outputLen: 128,
    engineOptions: { table: file },
    ...over,
  });

  it('validates its options and the config against the table', () => {
    expect(tableEngine.name).toBe('table');
    expect(tableEngine.simulated).toBe(true);
    expect(() => tableEngine.validate(cfg())).not.toThrow();
    expect(inputError(() => tableEngine.validate(cfg({ engineOptions: {} }))).message).toMatch(/^engine option table undefined \(undefined\) is invalid; allowed: the path of a table CSV/);
    expect(inputError(() => tableEngine.validate(cfg({ model: { id: 'huge' } }))).message).toBe(`model "huge" (string) is not in the table ${file}; allowed: big, small`);
    expect(inputError(() => tableEngine.validate(cfg({ quant: 'int4' }))).message).toBe(`quant "int4" (string) is not in the table ${file}; allowed: awq, bf16, fp8`);
    expect(inputError(() => tableEngine.validate(cfg({ engineOptions: { table: file, table_noise: 1 } }))).message).toBe('engine option table_noise 1 (number) is invalid; allowed: a number from 0 to 0.2 (relative σ)');
    expect(inputError(() => tableEngine.validate(cfg({ engineOptions: { table: file, table_nosie: 0.1 } }))).message).toMatch(/engine option table_nosie is unknown to the table engine; allowed: table, table_noise, table_seed/);
    expect(tableEngine.serverKey(cfg({ batch: 32, inputLen: 512 }))).toBe(tableEngine.serverKey(cfg()));
    expect(tableEngine.serverKey(cfg({ quant: 'bf16' }))).not.toBe(tableEngine.serverKey(cfg()));
  });

  it('refuses a real clock', async () => {
    const log = createLogger({ console: false, level: 'silent' });
    await expect(tableEngine.start(cfg(), { artifactDir: dir, log, clock: realClock, gpus: [0], startTimeoutS: 900 })).rejects.toThrow(/needs a VirtualClock/);
    const clock = new VirtualClock();
    await expect(tableEngine.start(cfg(), { artifactDir: dir, log, clock, gpus: [0], startTimeoutS: 1 })).rejects.toThrow(/was not ready within 1 s/);
  });

  let session: Session | null = null;
  afterEach(async () => {
    await session?.close('completed');
    session = null;
  });

  async function measure(configs: ExperimentConfig[]): Promise<Awaited<ReturnType<typeof runExperiment>>[]> {
    const work = mkdtempSync(join(tmpdir(), 'cb-table-run-'));
    session = await openSession({ db: join(work, 'results.db'), engine: tableEngine, programText: 'table engine test', carbon: { intensity: 210, hardware: 'dgx-spark' }, experimentsDir: join(work, 'experiments') });
    const pool = new ServerPool();
    const out = [];
    for (const config of configs) {
      out.push(
        await runExperiment(
          { config, phase: 'manual' },
          {
            store: session.store,
            telemetry: session.telemetry,
            pool,
            engine: tableEngine,
            clock: session.clock,
            log: session.log,
            runId: session.runId,
            runDir: session.runDir,
            protocol: { ...DEFAULT_PROTOCOL, cooldownMaxS: 5 },
            carbon: session.carbon,
            idlePowerW: session.idlePowerW,
            bpbText: session.bpbText,
          },
        ),
      );
    }
    await pool.release();
    return out;
  }

  it('runs under the experiment protocol: the row\'s power and throughput come out of the measurement', async () => {
    const table = syntheticTable();
    const [r, reused] = await measure([cfg(), cfg({ batch: 32 })]);
    const row = table.byKey.get(pointKey({ model: 'small', quant: 'fp8', batch: 8, inputLen: 128, outputLen: 128 }))!;
    expect(r).toMatchObject({ status: 'ok', simulated: true, bpb: row.bpb, energySource: 'sim' });
    expect(r!.tokS).toBeCloseTo(row.tokS, 0);
    expect(r!.avgPowerW).toBeCloseTo(row.powerW, 6);
    expect(r!.energyJ! / r!.tokensOut!).toBeCloseTo(row.powerW / row.tokS, 4);
    // The session's board is the DGX Spark: the SCI agrees with the pure evaluator's formula.
    const carbon = { intensityGPerKwh: 210, embodiedTotalKg: 200, lifetimeYears: 5, gpusTotal: 1 };
    expect(r!.sciUg! / tableSciUg(row.tokS, row.powerW, carbon)).toBeCloseTo(1, 3);
    expect(reused).toMatchObject({ status: 'ok' });
    expect(reused!.tokS).toBeGreaterThan(r!.tokS!);
  });

  it('a config absent from the table fails like an out-of-memory, at warm-up or (whole server missing) while loading', async () => {
    const [atWarmup, atLoad] = await measure([cfg({ model: { id: 'big', params: 8e9 }, quant: 'bf16', batch: 32, inputLen: 512 }), cfg({ engineOptions: { table: file }, model: { id: 'small' }, quant: 'awq', batch: 8 })]);
    expect(atWarmup).toMatchObject({ status: 'failed' });
    expect(atWarmup!.error).toMatch(/^CUDA out of memory at batch 32 \(input 512, output 128\): the table has no row for this config \(simulated\)/);
    // small awq has rows: it runs.
    expect(atLoad).toMatchObject({ status: 'ok' });
    const partial = join(dir, 'partial.csv');
    writeFileSync(partial, `${HEADER}\nsmall,bf16,8,128,128,1000,100,1\nbig,fp8,8,128,128,1000,100,1\n`);
    // small fp8 has no row at all in this table: the server dies while loading.
    const [noServer] = await measure([cfg({ model: { id: 'small' }, quant: 'fp8', engineOptions: { table: partial } })]);
    expect(noServer).toMatchObject({ status: 'failed' });
    expect(noServer!.error).toBe('the table server for small (fp8) died while loading: CUDA out of memory');
  });

  it('table_noise varies the measured figures, seeded', async () => {
    const noisy = (seed: number): ExperimentConfig => cfg({ engineOptions: { table: file, table_noise: 0.05, table_seed: seed } });
    const [a, b] = await measure([noisy(1), noisy(1)]);
    const [c] = await measure([noisy(1)]);
    expect(a!.tokS).not.toBe(b!.tokS); // a repeat draws afresh
    expect(c!.tokS).toBe(a!.tokS); // a new session replays the same draws
  });
});
