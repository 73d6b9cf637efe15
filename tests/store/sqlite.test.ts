import { join } from 'node:path';

import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';

import { StoreError } from '../../src/errors.js';
import { openSqliteStore, type RequestRecord, type Store } from '../../src/store/index.js';
import type { GpuSample } from '../../src/telemetry/types.js';
import { newExperiment, newRun, tempDir, track } from './helpers.js';

function openTemp(): { store: Store; path: string } {
  const path = join(tempDir(), 'results.db');
  return { store: track(openSqliteStore(path)), path };
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof Error) return error;
  }
  throw new Error('expected a rejection with an Error');
}

const sample = (over: Partial<GpuSample> = {}): GpuSample => ({
  tS: 1_738_361_045.25,
  gpuIndex: 0,
  powerW: 312.5,
  powerInstantW: 320.07,
  tempC: 61,
  memTempC: 70,
  smClockMhz: 1980,
  memClockMhz: 2619,
  fanPct: null,
  utilPct: 100,
  memUsedMib: 70211,
  eventReasons: 0n,
  ...over,
});

describe('runs', () => {
  it('round-trip with defaults, and status changes set or clear ended_at', async () => {
    const { store } = openTemp();
    const id = await store.createRun(
      newRun({ seed: 7, gpuNames: ['NVIDIA H200'], agentEndpointLocal: true, host: 'spark', driverVersion: '570.1' }),
    );
    const run = await store.getRun(id);
    expect(run).toMatchObject({
      id, status: 'running', endedAt: null, seed: 7, gpuNames: ['NVIDIA H200'], agentEndpointLocal: true,
      host: 'spark', driverVersion: '570.1', hardware: null, toolVersion: '0.1.0',
    });
    expect(Date.parse(run?.startedAt ?? '')).toBeGreaterThan(Date.now() - 60_000);

    await store.updateRunStatus(id, 'interrupted');
    expect((await store.getRun(id))?.endedAt).toMatch(/Z$/);
    await store.updateRunStatus(id, 'running'); // resumed
    expect(await store.getRun(id)).toMatchObject({ status: 'running', endedAt: null });
    await expect(store.updateRunStatus(id + 100, 'failed')).rejects.toThrow(/no run with id/);
    expect(await store.getRun(id + 100)).toBeNull();
  });
});

describe('experiments', () => {
  it('round-trip every kind of field; config is stored as canonical JSON', async () => {
    const { store, path } = openTemp();
    const runId = await store.createRun(newRun());
    const id = await store.insertExperiment(
      newExperiment(runId, { config: { output_len: 128, batch: 8, nested: { z: 1, a: [2, { y: true, b: null }] } } }),
    );
    const queued = await store.getExperiment(id);
    expect(queued).toMatchObject({ id, runId, status: 'queued', simulated: false, energyJ: null, throttled: null });
    expect(queued?.config).toEqual({ batch: 8, nested: { a: [2, { b: null, y: true }], z: 1 }, output_len: 128 });

    await store.updateExperiment(id, {
      status: 'ok', windowS: 30.5, tokensOut: 12_000, requests: 94, tokS: 393.4, energyJ: 1440, energySource: 'nvml',
      energyNvmlJ: 1440, energySmiJ: 1452.5, throttled: false, hardwareFallback: true, gpusUsed: 1, sciUg: 12.3,
      provenance: { energy_j: 'nvml counter delta, gpu 0', intensity_g_kwh: 'data/grid-regions.csv US-NE-ISNE' },
      error: null, startTempC: 0,
    });
    const done = await store.getExperiment(id);
    expect(done).toMatchObject({
      status: 'ok', windowS: 30.5, tokensOut: 12_000, energyJ: 1440, energySmiJ: 1452.5, throttled: false,
      hardwareFallback: true, startTempC: 0, maxTempC: null,
      provenance: { energy_j: 'nvml counter delta, gpu 0', intensity_g_kwh: 'data/grid-regions.csv US-NE-ISNE' },
    });

    const db = new Database(path, { readonly: true });
    const rawRow = db.prepare('SELECT config_json, throttled, hardware_fallback, start_temp_c, max_temp_c FROM experiments WHERE id = ?').get(id);
    db.close();
    expect(rawRow).toEqual({
      config_json: '{"batch":8,"nested":{"a":[2,{"b":null,"y":true}],"z":1},"output_len":128}',
      throttled: 0, hardware_fallback: 1, start_temp_c: 0, max_temp_c: null,
    });
  });

  it('refuse NaN, fractional integers and unknown fields instead of storing them wrongly', async () => {
    const { store } = openTemp();
    const runId = await store.createRun(newRun());
    const id = await store.insertExperiment(newExperiment(runId));
    const nan = await rejection(store.updateExperiment(id, { energyJ: Number.NaN }));
    expect(nan).toBeInstanceOf(StoreError);
    expect(nan.message).toMatch(/experiments\.energy_j: expected a finite number, got NaN/);
    await expect(store.updateExperiment(id, { tokensOut: 10.5 })).rejects.toThrow(/tokens_out: expected an integer/);
    await expect(store.updateExperiment(id, { energy_j: 5 } as never)).rejects.toThrow(/`energy_j` cannot be updated/);
    await expect(store.updateExperiment(id + 1, { energyJ: 5 })).rejects.toThrow(/no experiment with id/);
    await expect(store.updateExperiment(id + 1, {})).rejects.toThrow(/no experiment with id/);
    await expect(store.updateExperiment(id, {})).resolves.toBeUndefined();
    expect((await store.getExperiment(id))?.energyJ).toBeNull();
  });

  it('listExperiments filters by run, status list, model, study and limit', async () => {
    const { store } = openTemp();
    const runA = await store.createRun(newRun());
    const runB = await store.createRun(newRun());
    const ok1 = await store.insertExperiment(newExperiment(runA, { status: 'ok' }));
    await store.insertExperiment(newExperiment(runA, { status: 'failed', error: 'engine died' }));
    const ok2 = await store.insertExperiment(newExperiment(runA, { status: 'ok', model: 'small', simulated: true }));
    const studied = await store.insertExperiment(newExperiment(runB, { status: 'ok', study: 'lab-sweep', host: 'h200-b', trialNumber: 7 }));

    expect((await store.listExperiments({ runId: runA, status: 'ok' })).map((e) => e.id)).toEqual([ok1, ok2]);
    expect((await store.listExperiments({ status: ['ok', 'failed'] })).length).toBe(4);
    expect((await store.listExperiments({ model: 'small' })).map((e) => e.id)).toEqual([ok2]);
    expect((await store.listExperiments({ simulated: false, runId: runA })).map((e) => e.id)).not.toContain(ok2);
    expect((await store.listExperiments({ limit: 2 })).map((e) => e.id)).toEqual([ok1, ok1 + 1]);
    expect(await store.listExperiments({ status: [] })).toEqual([]);
    expect((await store.listExperiments({ study: 'lab-sweep' })).map((e) => [e.id, e.host, e.trialNumber])).toEqual([[studied, 'h200-b', 7]]);
    expect(await store.listExperiments({ study: 'another' })).toEqual([]);
  });
});

describe('samples', () => {
  it('round-trip with null and 0 distinguished and the 64-bit bitmask exact', async () => {
    const { store, path } = openTemp();
    const runId = await store.createRun(newRun());
    const experimentId = await store.insertExperiment(newExperiment(runId));
    const samples: GpuSample[] = [
      sample({ tS: 100, eventReasons: null, powerW: null, fanPct: 0, utilPct: 0 }),
      sample({ tS: 101, eventReasons: 0n, powerW: 0, fanPct: null }),
      sample({ tS: 102, eventReasons: 1n }),
      sample({ tS: 103, eventReasons: 0x8000_0000_0000_0000n }), // above 2^53: a REAL would round it
      sample({ tS: 104, eventReasons: 0xffff_ffff_ffff_ffffn }),
      sample({ tS: 104, gpuIndex: 1, eventReasons: 0x0000_0000_0000_0068n, tempC: null, memTempC: 0 }),
    ];
    expect(await store.insertSamples(experimentId, samples, 'nvidia-smi')).toBe(samples.length);

    const back = await store.listSamples(experimentId);
    expect(back).toEqual(samples.map((s) => ({ ...s, source: 'nvidia-smi' })));
    expect(back[0]?.powerW).toBeNull();
    expect(back[1]?.powerW).toBe(0);
    expect(back[0]?.fanPct).toBe(0);
    expect(back[1]?.fanPct).toBeNull();
    expect(back[3]?.eventReasons).toBe(9_223_372_036_854_775_808n);

    const db = new Database(path, { readonly: true });
    const stored = db.prepare('SELECT event_reasons, power_w, typeof(power_w) AS t FROM samples ORDER BY id').all();
    db.close();
    expect(stored.map((r) => (r as { event_reasons: string | null }).event_reasons)).toEqual([
      null, '0x0000000000000000', '0x0000000000000001', '0x8000000000000000', '0xffffffffffffffff', '0x0000000000000068',
    ]);
    expect(stored[0]).toMatchObject({ power_w: null, t: 'null' });
    expect(stored[1]).toMatchObject({ power_w: 0, t: 'real' });
  });

  it('insert all or nothing: one bad sample rolls back the whole batch', async () => {
    const { store } = openTemp();
    const runId = await store.createRun(newRun());
    const experimentId = await store.insertExperiment(newExperiment(runId));
    const bad = [sample({ tS: 1 }), sample({ tS: 2 }), sample({ tS: 3, eventReasons: 1n << 64n })];
    const error = await rejection(store.insertSamples(experimentId, bad, 'nvml'));
    expect(error).toBeInstanceOf(StoreError);
    expect(error.message).toMatch(/event_reasons \(row 2\): expected an unsigned 64-bit bitmask/);
    await expect(store.insertSamples(experimentId, [sample({ powerW: Number.POSITIVE_INFINITY })], 'nvml'))
      .rejects.toThrow(/power_w \(row 0\): expected a finite number/);
    expect(await store.listSamples(experimentId)).toEqual([]);
    await expect(store.insertSamples(experimentId + 5, [sample()], 'sim')).rejects.toThrow(/FOREIGN KEY/);
  });
});

describe('requests, notes and the BPB cache', () => {
  it('requests round-trip in seq order; a duplicate seq is refused', async () => {
    const { store } = openTemp();
    const runId = await store.createRun(newRun());
    const experimentId = await store.insertExperiment(newExperiment(runId));
    const rows: RequestRecord[] = [
      { seq: 1, inWindow: true, startTS: 10.5, endTS: 12, success: true, error: null, inputTokens: 512,
        outputTokens: 128, ttftMs: 41.2, itlMeanMs: 11.1, itlMaxMs: 30, e2eMs: 1500 },
      { seq: 0, inWindow: false, startTS: 9, endTS: null, success: false, error: 'HTTP 503', inputTokens: 512,
        outputTokens: 0, ttftMs: null, itlMeanMs: null, itlMaxMs: null, e2eMs: null },
    ];
    expect(await store.insertRequests(experimentId, rows)).toBe(2);
    expect(await store.listRequests(experimentId)).toEqual([rows[1], rows[0]]);
    await expect(store.insertRequests(experimentId, [rows[0] as RequestRecord])).rejects.toThrow(/UNIQUE/);
    expect(await store.listRequests(experimentId)).toHaveLength(2);
  });

  it('notes keep their order, kind and optional experiment', async () => {
    const { store } = openTemp();
    const runId = await store.createRun(newRun());
    const experimentId = await store.insertExperiment(newExperiment(runId));
    await store.addNote(runId, 'phase_switch', 'grid -> random: 12 experiments without improvement');
    await store.addNote(runId, 'agent', 'try fp8 at batch 32', experimentId);
    const notes = await store.listNotes(runId);
    expect(notes.map((n) => [n.kind, n.text, n.experimentId])).toEqual([
      ['phase_switch', 'grid -> random: 12 experiments without improvement', null],
      ['agent', 'try fp8 at batch 32', experimentId],
    ]);
    await expect(store.addNote(runId, ' ', 'x')).rejects.toThrow(/non-empty/);
  });

  it('bpb_cache: miss, put, hit, replace', async () => {
    const { store } = openTemp();
    expect(await store.getBpbCache('vllm|m|bf16|abc')).toBeNull();
    const entry = { key: 'vllm|m|bf16|abc', engine: 'vllm', model: 'm', quant: 'bf16', textSha256: 'abc', bpb: 0.81,
      scoredBytes: 120_000 };
    await store.putBpbCache(entry);
    expect(await store.getBpbCache(entry.key)).toMatchObject({ ...entry, scoredTokens: null, method: null });
    await store.putBpbCache({ ...entry, bpb: 0.79, method: 'vllm prompt_logprobs', scoredTokens: 30_000 });
    expect(await store.getBpbCache(entry.key)).toMatchObject({ bpb: 0.79, method: 'vllm prompt_logprobs', scoredTokens: 30_000 });
  });
});

describe('the results view', () => {
  it('computes j_per_token = energy_j / tokens_out, NULL when either is missing or tokens_out is 0', async () => {
    const { store, path } = openTemp();
    const runId = await store.createRun(newRun({ host: 'spark' }));
    const a = await store.insertExperiment(newExperiment(runId, { status: 'ok', energyJ: 12, tokensOut: 100 }));
    const b = await store.insertExperiment(newExperiment(runId, { status: 'failed', energyJ: 12, tokensOut: 0 }));
    const c = await store.insertExperiment(newExperiment(runId, { status: 'failed', energyJ: null, tokensOut: 50 }));
    const d = await store.insertExperiment(newExperiment(runId, { status: 'ok', energyJ: 1, tokensOut: 3 }));
    const db = new Database(path, { readonly: true });
    const rows = db.prepare('SELECT id, j_per_token, host, run_status FROM results ORDER BY id').all() as {
      id: number; j_per_token: number | null; host: string; run_status: string;
    }[];
    db.close();
    expect(rows.map((r) => r.id)).toEqual([a, b, c, d]);
    expect(rows[0]?.j_per_token).toBeCloseTo(0.12, 12);
    expect(rows[1]?.j_per_token).toBeNull();
    expect(rows[2]?.j_per_token).toBeNull();
    expect(rows[3]?.j_per_token).toBeCloseTo(1 / 3, 12); // real division, not integer division
    expect(rows[0]).toMatchObject({ host: 'spark', run_status: 'running' });
  });
});

describe('transactions', () => {
  it('a transaction that throws leaves nothing written', async () => {
    const { store } = openTemp();
    const failure = new Error('engine crashed while scoring');
    const error = await rejection(
      store.transaction(async (tx) => {
        const runId = await tx.createRun(newRun());
        const experimentId = await tx.insertExperiment(newExperiment(runId, { status: 'ok', energyJ: 10 }));
        await tx.insertSamples(experimentId, [sample(), sample({ tS: 2 })], 'nvidia-smi');
        await tx.addNote(runId, 'agent', 'about to fail');
        await new Promise((r) => setTimeout(r, 5)); // a real await inside the transaction
        throw failure;
      }),
    );
    expect(error).toBe(failure); // the caller's error, unwrapped
    expect(await store.listRuns()).toEqual([]);
    expect(await store.listExperiments()).toEqual([]);
    expect(await store.listSamples(1)).toEqual([]);
  });

  it('commits everything together and returns the value of fn', async () => {
    const { store } = openTemp();
    const id = await store.transaction((tx) => tx.createRun(newRun()));
    const experimentId = await store.transaction(async (tx) => {
      const e = await tx.insertExperiment(newExperiment(id));
      await tx.updateExperiment(e, { status: 'ok', energyJ: 5 });
      return e;
    });
    expect(await store.getExperiment(experimentId)).toMatchObject({ status: 'ok', energyJ: 5 });
  });

  it('outside callers wait for the open transaction and never see its rolled-back writes', async () => {
    const { store } = openTemp();
    const runId = await store.createRun(newRun());
    const order: string[] = [];
    let markWritten: () => void = () => undefined;
    const written = new Promise<void>((r) => {
      markWritten = r;
    });
    const transaction = store.transaction(async (tx) => {
      await tx.insertExperiment(newExperiment(runId));
      markWritten();
      await new Promise((r) => setTimeout(r, 20));
      order.push('transaction body done');
      throw new Error('roll back');
    });
    await written;
    // The test body is not inside fn's async context: this read must wait for the transaction to end.
    const outside = store.listExperiments().then((rows) => {
      order.push('outside read');
      return rows;
    });
    await expect(transaction).rejects.toThrow('roll back');
    expect(await outside).toEqual([]);
    expect(order).toEqual(['transaction body done', 'outside read']);
  });

  it('a nested transaction is a savepoint: its failure undoes only its own writes', async () => {
    const { store } = openTemp();
    const runId = await store.createRun(newRun());
    await store.transaction(async (tx) => {
      await tx.insertExperiment(newExperiment(runId, { model: 'kept' }));
      await expect(
        tx.transaction(async (inner) => {
          await inner.insertExperiment(newExperiment(runId, { model: 'dropped' }));
          throw new Error('inner failure');
        }),
      ).rejects.toThrow('inner failure');
      await tx.insertExperiment(newExperiment(runId, { model: 'kept too' }));
    });
    expect((await store.listExperiments()).map((e) => e.model)).toEqual(['kept', 'kept too']);
  });

  it('close() is refused while a transaction is open, and the store refuses work after close', async () => {
    const { store } = openTemp();
    await store.transaction(async () => {
      await expect(store.close()).rejects.toThrow(/while a transaction is open/);
    });
    await store.close();
    await store.close(); // idempotent
    await expect(store.listRuns()).rejects.toThrow(/is closed/);
  });
});
