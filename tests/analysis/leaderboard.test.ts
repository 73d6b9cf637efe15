import { describe, expect, it } from 'vitest';

import { leaderboardFromDb, leaderboardOf, topFromDb, topGreenest, GROUP_KEYS } from '../../src/analysis/leaderboard.js';
import { openResultsReader, selectRows, type ResultsReader, type Selection } from '../../src/analysis/query.js';
import { L1, L8, Q05, Q15, Q7, designed, designedDb } from './fixtures.js';

async function withReader<T>(fn: (reader: ResultsReader) => Promise<T>): Promise<T> {
  const reader = await openResultsReader(await designedDb());
  try {
    return await fn(reader);
  } finally {
    await reader.close();
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const sci = (...ids: number[]): number[] => ids.map((id) => designed(id).sciUg!);

describe('top', () => {
  it('the n greenest real, non-manual experiments with their Pareto flags', async () => {
    await withReader(async (reader) => {
      const top = await topFromDb(reader, {}, 8);
      expect(top.basis).toBe('sci_bpb_tok_s');
      expect(top.rows.map((r) => r.id)).toEqual([2, 7, 3, 4, 5, 6, 8, 1]);
      expect(top.rows.map((r) => r.pareto)).toEqual([true, true, true, true, true, false, null, false]);
      for (const r of top.rows) expect(r.sciUg).toBeCloseTo(designed(r.id).sciUg!, 12);
      expect((await topFromDb(reader, {}, 3)).rows.map((r) => r.id)).toEqual([2, 7, 3]);
    });
  });

  it('simulated rows only on request, and then labelled; their flags count them', async () => {
    await withReader(async (reader) => {
      const top = await topFromDb(reader, { includeSimulated: true }, 3);
      expect(top.rows.map((r) => [r.id, r.simulated, r.pareto])).toEqual([
        [10, true, true],
        [2, false, false], // dominated by the simulated row
        [7, false, true],
      ]);
    });
  });

  it('gives what the pure function gives on the same rows, for every n and selection', async () => {
    await withReader(async (reader) => {
      for (const sel of [{}, { includeSimulated: true }, { includeManual: true }, { includeSimulated: true, includeManual: true }] as Selection[]) {
        const rows = await selectRows(reader, sel);
        for (let n = 1; n <= 11; n++) {
          const fromDb = await topFromDb(reader, sel, n);
          const pure = topGreenest(rows, n);
          expect(fromDb.rows.map((r) => [r.id, r.pareto])).toEqual(pure.rows.map((r) => [r.id, r.pareto]));
          expect(fromDb.basis).toBe(pure.basis);
        }
      }
    });
  });

  it('reads the tied rows when the n-th SCI is tied, so that flags stay right', async () => {
    const db = await designedDb([
      { id: 1, model: Q05, family: 'qwen2.5', params: 0.5e9, quant: 'bf16', batch: 8, engine: 'vllm', sciUg: 2, bpb: 0.9, tokS: 1000 },
      { id: 2, model: Q05, family: 'qwen2.5', params: 0.5e9, quant: 'awq', batch: 8, engine: 'vllm', sciUg: 3, bpb: 0.85, tokS: 1000 },
      { id: 3, model: Q05, family: 'qwen2.5', params: 0.5e9, quant: 'fp8', batch: 8, engine: 'vllm', sciUg: 3, bpb: 0.82, tokS: 1000 },
    ]);
    const reader = await openResultsReader(db);
    try {
      // Rows 2 and 3 tie on SCI (same energy and tokens); 3 has the better BPB and dominates 2 but ranks
      // third, so only reading the tie finds it (row 1, greener but with a worse BPB, does not dominate 2).
      const top = await topFromDb(reader, {}, 2);
      expect(top.rows.map((r) => [r.id, r.pareto])).toEqual([
        [1, true],
        [2, false],
      ]);
    } finally {
      await reader.close();
    }
  });
});

describe('leaderboards', () => {
  it('by model: best SCI per model with its config, count and median, greenest group first', async () => {
    await withReader(async (reader) => {
      const { groups } = await leaderboardFromDb(reader, {}, 'model');
      expect(groups.map((g) => [g.key, g.best.id, g.count, g.best.pareto])).toEqual([
        [Q05, 2, 3, true],
        [L1, 7, 1, true],
        [Q15, 4, 1, true],
        [Q7, 5, 2, true],
        [L8, 8, 1, null],
      ]);
      expect(groups[0]!.medianSciUg).toBeCloseTo(0.5, 12); // median of law(0.5e9), 0.5, 5.0
      expect(groups[3]!.medianSciUg).toBeCloseTo(median(sci(5, 6)), 12);
      expect(groups[0]!.best).toMatchObject({ quant: 'bf16', batch: 8, inputLen: 512, outputLen: 128, engine: 'vllm' });
    });
  });

  it('by quant (a missing quant is its own group), by engine, by batch', async () => {
    await withReader(async (reader) => {
      const quant = (await leaderboardFromDb(reader, {}, 'quant')).groups;
      expect(quant.map((g) => [g.group, g.best.id, g.count])).toEqual([
        ['bf16', 2, 4],
        ['q8_0', 7, 1],
        ['awq', 3, 1],
        ['fp8', 6, 1],
        ['(none)', 8, 1],
      ]);
      expect(quant[0]!.medianSciUg).toBeCloseTo(median(sci(1, 2, 4, 5)), 12);
      expect(quant[4]!.key).toBeNull();
      const engine = (await leaderboardFromDb(reader, {}, 'engine')).groups;
      expect(engine.map((g) => [g.key, g.best.id, g.count])).toEqual([
        ['vllm', 2, 6],
        ['llamacpp', 7, 1],
        ['transformers', 8, 1],
      ]);
      const batch = (await leaderboardFromDb(reader, {}, 'batch')).groups;
      expect(batch.map((g) => [g.key, g.best.id, g.count])).toEqual([
        [8, 2, 6],
        [16, 6, 1],
        [1, 1, 1],
      ]);
      expect(batch[0]!.medianSciUg).toBeCloseTo(median(sci(2, 3, 4, 5, 7, 8)), 12);
    });
  });

  it('SQL and the pure function agree on every grouping and selection', async () => {
    await withReader(async (reader) => {
      for (const sel of [{}, { includeSimulated: true, includeManual: true }] as Selection[]) {
        const rows = await selectRows(reader, sel);
        for (const by of GROUP_KEYS) {
          const a = (await leaderboardFromDb(reader, sel, by)).groups;
          const b = leaderboardOf(rows, by).groups;
          expect(a.map((g) => [g.key, g.best.id, g.count, g.best.pareto])).toEqual(b.map((g) => [g.key, g.best.id, g.count, g.best.pareto]));
          a.forEach((g, i) => expect(g.medianSciUg).toBeCloseTo(b[i]!.medianSciUg, 12));
        }
      }
    });
  });
});

describe('the report path: ExperimentRecords from the Store give the same answers as SQL', () => {
  it('top, leaderboards and scaling points from store.listExperiments() + isSelected', async () => {
    const { openStore } = await import('../../src/store/index.js');
    const { isSelected } = await import('../../src/analysis/query.js');
    const { modelPoints, familyOf, scalingFromDb, scalingAnalysis, loadFrontierModels } = await import('../../src/analysis/scaling.js');
    const db = await designedDb();
    const store = await openStore(db, { readonly: true });
    const records = (await store.listExperiments()).filter((e) => isSelected(e));
    await store.close();
    const reader = await openResultsReader(db);
    try {
      expect(topGreenest(records, 5).rows.map((r) => [r.id, r.pareto])).toEqual((await topFromDb(reader, {}, 5)).rows.map((r) => [r.id, r.pareto]));
      for (const by of GROUP_KEYS) {
        expect(leaderboardOf(records, by).groups.map((g) => [g.key, g.best.id, g.count])).toEqual(
          (await leaderboardFromDb(reader, {}, by)).groups.map((g) => [g.key, g.best.id, g.count]),
        );
      }
      const { points, skipped } = modelPoints(records, (e) => familyOf(e.model, typeof e.config.family === 'string' ? e.config.family : null));
      expect(scalingAnalysis(points, loadFrontierModels(), skipped)).toEqual(await scalingFromDb(reader, {}));
    } finally {
      await reader.close();
    }
  });
});
