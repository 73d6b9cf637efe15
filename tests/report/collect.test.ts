/**
 * The report reads only its columns (issue 7.4, scale of results.db): collectReportData reads
 * REPORT_FIELDS of the selected experiments through the analysis reader (SQLite and PostgreSQL) and
 * counts statuses in SQL; assembleReportData builds the same document from whole records, the way the
 * report was built before. On a database with varied rows (every status, manual and simulated rows,
 * a time-resolved intensity, a wider energy boundary, missing BPB and throughput, each embodied basis
 * and none, a long rationale, SCI ties, an infinite SCI) the two documents must be deep-equal, for
 * several selections.
 */
import { join } from 'node:path';

import Database from 'better-sqlite3';
import pg from 'pg';
import { describe, expect, it } from 'vitest';

import { openResultsReader, type Selection } from '../../src/analysis/query.js';
import { assembleReportData, collectReportData, type CollectOptions } from '../../src/report/data.js';
import { REPORT_SELECTION } from '../../src/report/analysis.js';
import type { ReportData } from '../../src/report/types.js';
import { openStore, type NewExperiment, type Store } from '../../src/store/index.js';
import { DESIGNED, experimentOf, tempDir } from '../analysis/fixtures.js';
import { pgAvailable, usePgDatabase } from '../helpers/postgres.js';

const pgdb = usePgDatabase();

const OPTS: CollectOptions = { generatedAt: '2026-11-26T00:00:00.000Z', dbLabel: 'results.db' };
const SELECTIONS: Selection[] = [
  REPORT_SELECTION,
  {},
  { includeSimulated: true },
  { includeManual: true },
  { includeSimulated: true, includeManual: true, hardware: 'dgx-spark' },
];
const LONG_RATIONALE = `bayesian: ${'the strategy explores the low-SCI corner under the BPB constraint; '.repeat(8)}`;

/**
 * DESIGNED (tests/analysis/fixtures.ts: 11 rows, a failed one, a simulated one, a manual one, one without
 * BPB or quant), then rows that each exercise one thing the page shows. Returns the id of the row whose
 * SCI the caller makes infinite (a value SQLite and PostgreSQL can hold but the store never writes).
 */
async function fillVaried(store: Store): Promise<{ infiniteId: number }> {
  const runA = await store.createRun({
    programText: '---\nengine: vllm\n---\nvaried\n',
    programHash: 'a'.repeat(64),
    toolVersion: '0.1.0',
    hardware: 'dgx-spark',
    host: 'spark',
    gpuNames: ['NVIDIA GB10'],
    status: 'completed',
  });
  for (const d of DESIGNED) await store.insertExperiment(experimentOf(runA, d));
  const runB = await store.createRun({ programText: 'p', programHash: 'b'.repeat(64), toolVersion: '0.1.0', hardware: 'h100-sxm', host: 'h100', status: 'interrupted' });
  const ok = experimentOf(runB, { ...DESIGNED[2]!, id: 0 }); // Qwen 0.5B awq, SCI 0.5
  const insert = (patch: Partial<NewExperiment>): Promise<number> => store.insertExperiment({ ...ok, ...patch });
  const failed = (status: NewExperiment['status']): Promise<number> =>
    store.insertExperiment({ runId: runB, engine: 'vllm', model: 'org/x-3b', config: {}, status, error: status === 'ok' ? null : `${status} here` });

  // Statuses: failed (id 9), rejected and interrupted end with 2 each, so only first appearance orders them.
  await failed('rejected');
  await failed('interrupted');
  await failed('rejected');
  await failed('interrupted');
  await failed('failed');
  await failed('queued');
  await failed('running');
  // SCI tie with DESIGNED row 3 (0.5): ties go to the lower id, in the top table and the leaderboards.
  await insert({ quant: 'gptq', batch: 4 });
  // A wider energy boundary; energy_j stays the GPU board's.
  await insert({ energyJ: 2500, boundary: 'gpu+cpu+dram', energyBoundaryJ: 2960, energyCpuJ: 400, energyDramJ: 60, sciUg: 0.9 });
  // A time-resolved intensity with its static comparison.
  await insert({
    intensityProvider: 'electricitymaps',
    intensityZone: 'US-NE-ISNE',
    intensitySignal: 'carbon-intensity-lifecycle',
    intensityAt: '2027-01-15T08:00:00.000Z',
    intensityEstimated: true,
    intensityFallback: false,
    intensityGKwh: 159.5,
    intensityStaticGKwh: 210,
    sciStaticUg: 0.61,
    sciUg: 0.48,
  });
  // Embodied basis `stored`: no provenance text for it.
  await insert({ provenance: { energy_j: 'NVML counter' }, sciUg: 0.7 });
  // Embodied basis `hardware-profile`: no stored figure, a known profile, 2 GPUs; throttled, fallback match.
  await insert({ embodiedG: null, hardwareId: 'h100-sxm', hardwareFallback: true, gpusUsed: 2, throttled: true, energySource: 'nvidia-smi', sciUg: 2.5 });
  // No embodied inputs at all (unknown hardware, no stored figure): the page's -1.
  await insert({ embodiedG: null, hardwareId: 'no-such-board', sciUg: 3.5 });
  // A provenance embodied_g that is not text, a config family that is not text: both ignored.
  await insert({ provenance: { embodied_g: 42 }, config: { family: 7, model: ok.model }, sciUg: 0.8 });
  // A long rationale (cut on the page), no family in the config (derived from the model id), no quant/batch/phase.
  await insert({ rationale: LONG_RATIONALE, config: {}, model: 'acme/Widget-13B', params: 13e9, quant: null, batch: null, phase: null, sciUg: 1.1 });
  // No throughput: on no front (flag null); no BPB with a throughput: not comparable either.
  await insert({ tokS: null, sciUg: 0.3 });
  await insert({ bpb: null, sciUg: 0.35 });
  // Simulated and manual rows beyond the designed ones.
  await insert({ engine: 'sim', simulated: true, energySource: 'sim', sciUg: 0.05 });
  await insert({ phase: 'manual', sciUg: 0.06, rationale: 'measured by hand' });
  // Status ok without an SCI: not scored.
  await insert({ sciUg: null });
  const infiniteId = await insert({ sciUg: 0.01 });
  return { infiniteId };
}

function expectVaried(data: ReportData, infiniteId: number): void {
  // The fixture reaches the page: a check that the equality below compares something.
  expect(data.exp.id).not.toContain(infiniteId);
  expect(data.meta.statusCounts.map((s) => s.status)).toEqual(['ok', 'failed', 'rejected', 'interrupted', 'queued', 'running']);
  expect(new Set(data.embodied.map((e) => e.basis))).toEqual(new Set(['provenance', 'stored', 'hardware-profile']));
  expect(data.exp.embodied).toContain(-1);
  expect(new Set(data.exp.pareto)).toEqual(new Set([-1, 0, 1]));
  expect(data.dict.rationale).toContain(`${LONG_RATIONALE.slice(0, 279)}…`);
  expect(data.dict.intensityProvider).toContain('electricitymaps');
  expect(data.dict.boundary).toContain('gpu+cpu+dram');
  expect(data.dict.family).toEqual(expect.arrayContaining(['qwen2.5', 'llama', 'widget']));
  expect(data.hardware.find((h) => h.id === 'h100-sxm')?.fallback).toBe(true);
  expect(data.exp.simulated).toContain(1);
}

async function compareAll(location: string): Promise<void> {
  const store = await openStore(location, { readonly: true });
  const reader = await openResultsReader(location);
  try {
    const runs = await store.listRuns();
    const all = await store.listExperiments();
    for (const selection of SELECTIONS) {
      for (const topN of [5, 3]) {
        const opts = { ...OPTS, selection, topN };
        const narrow = await collectReportData(reader, opts);
        expect(narrow, JSON.stringify(opts)).toStrictEqual(assembleReportData(runs, all, opts));
        expect(narrow.exp.id.length).toBeGreaterThan(0);
      }
    }
  } finally {
    await reader.close();
    await store.close();
  }
}

describe('report data: the narrow read equals the whole-record reference', () => {
  it('SQLite', async () => {
    const path = join(tempDir('cb-report-collect-'), 'results.db');
    const store = await openStore(path);
    let infiniteId: number;
    try {
      ({ infiniteId } = await fillVaried(store));
    } finally {
      await store.close();
    }
    const db = new Database(path);
    db.prepare('UPDATE experiments SET sci_ug = 9e999 WHERE id = ?').run(infiniteId);
    db.close();

    await compareAll(path);
    const reader = await openResultsReader(path);
    try {
      expectVaried(await collectReportData(reader, OPTS), infiniteId);
    } finally {
      await reader.close();
    }
  });

  it.skipIf(!pgAvailable())('PostgreSQL', async () => {
    const url = await pgdb.another();
    const store = await openStore(url);
    let infiniteId: number;
    try {
      ({ infiniteId } = await fillVaried(store));
    } finally {
      await store.close();
    }
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query(`UPDATE experiments SET sci_ug = 'Infinity' WHERE id = $1`, [infiniteId]);
    } finally {
      await client.end();
    }

    await compareAll(url);
    const reader = await openResultsReader(url);
    try {
      expectVaried(await collectReportData(reader, OPTS), infiniteId);
    } finally {
      await reader.close();
    }
  });

  it('reads no other column: a row whose energy_components no longer parses does not stop the report; a bad config_json is named', async () => {
    const path = join(tempDir('cb-report-collect-'), 'results.db');
    const store = await openStore(path);
    let ids: number[];
    try {
      const runId = await store.createRun({ programText: 'p', programHash: 'c'.repeat(64), toolVersion: '0.1.0' });
      ids = [];
      for (const d of DESIGNED) ids.push(await store.insertExperiment(experimentOf(runId, d)));
    } finally {
      await store.close();
    }
    const db = new Database(path);
    db.prepare(`UPDATE experiments SET energy_components = '{"gpu_j": 12' WHERE id = ?`).run(ids[0]);
    db.close();

    const reader = await openResultsReader(path);
    try {
      await expect(reader.store.listExperiments()).rejects.toThrow(/JSON/);
      const data = await collectReportData(reader, OPTS);
      expect(data.exp.id).toContain(ids[0]);
      expect(data.meta.experimentsTotal).toBe(DESIGNED.length);
    } finally {
      await reader.close();
    }
    // A column it does read still has to parse: the error names it.
    const db2 = new Database(path);
    db2.prepare(`UPDATE experiments SET config_json = '{"family":' WHERE id = ?`).run(ids[1]);
    db2.close();
    const again = await openResultsReader(path);
    try {
      await expect(collectReportData(again, OPTS)).rejects.toThrow(/^reading experiments of .*results\.db: column config_json holds a value that is not valid json: /);
    } finally {
      await again.close();
    }
  });
});
