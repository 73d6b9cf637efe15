import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';

import { paretoFront, type ParetoObjective } from '../../src/agent/pareto.js';
import { paretoAnalysis, paretoFromDb, paretoFrontSorted, type ParetoPoint } from '../../src/analysis/pareto.js';
import { allRows, hasCoveringIndex, isSelected, openResultsReader } from '../../src/analysis/query.js';
import { DESIGNED, designedDb, type Designed } from './fixtures.js';

/** Deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const objectives3: ParetoObjective<number[]>[] = [
  { value: (t) => t[0] ?? null, direction: 'min' },
  { value: (t) => t[1] ?? null, direction: 'min' },
  { value: (t) => t[2] ?? null, direction: 'max' },
];

const pt = (id: number, sciUg: number | null, bpb: number | null, tokS: number | null): ParetoPoint => ({ id, sciUg, bpb, tokS });

describe('paretoFrontSorted: the agent front, computed by a sorted sweep', () => {
  it('gives exactly what src/agent/pareto.ts gives, on random points with ties, duplicates and gaps', () => {
    for (let seed = 1; seed <= 30; seed++) {
      const r = rng(seed);
      // Coarse values make ties and exact duplicates frequent; some values are missing.
      const pts = Array.from({ length: 200 }, () => [
        r() < 0.03 ? Number.NaN : Math.floor(r() * 12),
        Math.floor(r() * 5),
        r() < 0.02 ? Number.POSITIVE_INFINITY : Math.floor(r() * 12),
      ]);
      expect(paretoFrontSorted(pts, objectives3)).toEqual(paretoFront(pts, objectives3));
      expect(paretoFrontSorted(pts, objectives3.slice(0, 1))).toEqual(paretoFront(pts, objectives3.slice(0, 1)));
    }
  });

  it('keeps every copy of a point that is equal on all objectives, in input order', () => {
    const pts = [[2, 1, 5], [1, 1, 1], [2, 1, 5], [3, 1, 4]];
    expect(paretoFrontSorted(pts, objectives3)).toEqual([[2, 1, 5], [1, 1, 1], [2, 1, 5]]);
  });
});

describe('paretoAnalysis (SCI min × BPB min × tok/s max)', () => {
  // The designed rows 1–8 (tests/analysis/fixtures.ts): front 2, 3, 4, 5, 7; 1 and 6 dominated; 8 has no BPB.
  const points = DESIGNED.filter((d) => d.id <= 8).map((d) => pt(d.id, d.sciUg, d.bpb, d.tokS));

  it('flags each experiment: on the front, dominated, or not comparable without a BPB', () => {
    const r = paretoAnalysis(points);
    expect(r.basis).toBe('sci_bpb_tok_s');
    expect(r.frontIds).toEqual([2, 7, 3, 4, 5]); // by SCI
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((id) => r.flag(id))).toEqual([false, true, true, true, true, false, true, null]);
    expect(r.flag(99)).toBeNull(); // not among the points
    expect(r.selected).toBe(8);
    expect(r.compared).toBe(7);
  });

  it('higher throughput alone keeps a point on the front (3: worse SCI and BPB than 2, faster)', () => {
    const r = paretoAnalysis([pt(2, 0.37, 0.8, 8000), pt(3, 0.5, 0.85, 9000), pt(30, 0.5, 0.85, 8000)]);
    expect(r.frontIds).toEqual([2, 3]);
    expect(r.flag(30)).toBe(false);
  });

  it('falls back to SCI × tok/s when no experiment has a BPB, and says so', () => {
    const r = paretoAnalysis([pt(1, 1, null, 10), pt(2, 2, null, 20), pt(3, 2, null, 5), pt(4, null, null, 99)]);
    expect(r.basis).toBe('sci_tok_s');
    expect(r.frontIds).toEqual([1, 2]);
    expect([1, 2, 3, 4].map((id) => r.flag(id))).toEqual([true, true, false, null]);
  });

  it('an imposed basis wins over the subset (top decides it on the whole selection)', () => {
    const r = paretoAnalysis([pt(1, 1, null, 10), pt(2, 2, null, 20)], { basis: 'sci_bpb_tok_s' });
    expect(r.frontIds).toEqual([]);
    expect(r.flag(1)).toBeNull();
  });

  it('matches the plain definition on random experiments, whatever the BPB groups', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const r = rng(seed);
      const bpbs = [0.7, 0.75, 0.8, 0.9];
      const pts = Array.from({ length: 300 }, (_, i) =>
        pt(i + 1, r() < 0.02 ? null : Math.round(r() * 50) / 10, r() < 0.05 ? null : bpbs[Math.floor(r() * bpbs.length)]!, Math.round(r() * 40) * 100),
      );
      const got = paretoAnalysis(pts);
      const comparable = pts.filter((p) => p.sciUg !== null && p.bpb !== null && p.tokS !== null);
      const dominated = (p: ParetoPoint): boolean =>
        comparable.some(
          (q) => q.sciUg! <= p.sciUg! && q.bpb! <= p.bpb! && q.tokS! >= p.tokS! && (q.sciUg! < p.sciUg! || q.bpb! < p.bpb! || q.tokS! > p.tokS!),
        );
      for (const p of pts) expect(got.flag(p.id), `seed ${seed} id ${p.id}`).toBe(comparable.includes(p) ? !dominated(p) : null);
    }
  });
});

/**
 * Migration 2 gives every database the covering index that query.ts is written for; the scan plan (a
 * database opened read-only before it was migrated) is tested by dropping it, and put back here.
 */
function setScoredIndex(db: string, present: boolean): void {
  const conn = new Database(db);
  conn.exec(
    present
      ? 'CREATE INDEX IF NOT EXISTS experiments_scored ON experiments (status, sci_ug, simulated, phase, bpb, tok_s, model, quant, engine, batch)'
      : 'DROP INDEX IF EXISTS experiments_scored',
  );
  conn.close();
}

describe('paretoFromDb', () => {
  for (const indexed of [false, true]) {
    it(`reads the selection: real, non-manual by default; simulated and manual rows on request (${indexed ? 'grouped queries on the covering index' : 'every row read'})`, async () => {
      const db = await designedDb();
      setScoredIndex(db, indexed);
      const reader = await openResultsReader(db);
      try {
        expect(await hasCoveringIndex(reader)).toBe(indexed);
        const real = await paretoFromDb(reader);
        expect(real.frontIds).toEqual([2, 7, 3, 4, 5]);
        expect(real.selected).toBe(8);
        expect(real.compared).toBe(7);
        const rows = await allRows(reader);
        const flags = Object.fromEntries(rows.filter((r) => isSelected(r)).map((r) => [r.id, real.flagOf(r)]));
        expect(flags).toEqual({ 1: false, 2: true, 3: true, 4: true, 5: true, 6: false, 7: true, 8: null });
        // The simulated row (0.1 µg, BPB 0.80, 50,000 tok/s) dominates 1, 2 and 3.
        expect((await paretoFromDb(reader, { includeSimulated: true })).frontIds).toEqual([10, 7, 4, 5]);
        // The manual row (0.2 µg, BPB 0.70, 20,000 tok/s) dominates all but 5.
        expect((await paretoFromDb(reader, { includeManual: true })).frontIds).toEqual([11, 5]);
      } finally {
        await reader.close();
      }
    });
  }

  it('both plans give the in-memory answer on random experiments in many BPB groups, with ties', async () => {
    for (const seed of [3, 4]) {
      const r = rng(seed);
      const bpbs = Array.from({ length: 12 }, (_, i) => 0.6 + i * 0.02);
      const rows: Designed[] = Array.from({ length: 150 }, (_, i) => ({
        id: i + 1,
        model: `m${i % 7}`,
        family: 'f',
        params: 1e9 * (1 + (i % 7)),
        quant: 'bf16',
        batch: 8,
        engine: 'vllm',
        // Coarse values: ties on SCI and on tok/s inside a group are frequent.
        sciUg: 3 + Math.floor(r() * 8),
        bpb: r() < 0.05 ? null : bpbs[Math.floor(r() * bpbs.length)]!,
        tokS: 1000 + 500 * Math.floor(r() * 6),
      }));
      const db = await designedDb(rows);
      setScoredIndex(db, false);
      const plain = await openResultsReader(db);
      const expected = paretoAnalysis(await allRows(plain));
      const fromScan = await paretoFromDb(plain);
      await plain.close();
      setScoredIndex(db, true);
      const indexed = await openResultsReader(db);
      try {
        const grouped = await paretoFromDb(indexed);
        for (const got of [fromScan, grouped]) {
          expect(got.frontIds).toEqual(expected.frontIds);
          expect([got.selected, got.compared]).toEqual([expected.selected, expected.compared]);
        }
        for (const row of await allRows(indexed)) expect(grouped.flagOf(row)).toBe(expected.flag(row.id));
      } finally {
        await indexed.close();
      }
    }
  });
});
