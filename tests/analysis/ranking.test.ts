/**
 * Sorting once (rankBySci) and grouping that order (groupsOfRanked), as the report does for its top
 * rows and four leaderboards, gives what sorting each group on its own gives: checked against a direct
 * implementation written here, on random rows with many SCI ties, missing keys and rows without an SCI.
 */
import { describe, expect, it } from 'vitest';

import { GROUP_KEYS, groupsOfRanked, leaderboardOf, rankBySci, topGreenest, type RankedRow, type RowGroupKey } from '../../src/analysis/leaderboard.js';

function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomRows(n: number, seed: number): RankedRow[] {
  const rand = mulberry32(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const ids = Array.from({ length: n }, (_, i) => i + 1).sort(() => rand() - 0.5); // not in id order
  return ids.map((id) => ({
    id,
    // Few distinct values: ties everywhere; some rows without a (finite) SCI.
    sciUg: pick([0.5, 0.5, 1, 1.25, 2, 2, 3, 0, null, Number.NaN, Number.POSITIVE_INFINITY]),
    bpb: pick([0.7, 0.8, null]),
    tokS: pick([100, 200, null]),
    model: pick(['a/m-1b', 'a/m-7b', 'b/n-3b']),
    quant: pick(['bf16', 'awq', null]),
    engine: pick(['vllm', 'llamacpp']),
    batch: pick([1, 8, 64, null]),
  }));
}

const finiteSci = (r: RankedRow): boolean => r.sciUg !== null && Number.isFinite(r.sciUg);
const bySciThenId = (a: RankedRow, b: RankedRow): number => a.sciUg! - b.sciUg! || a.id - b.id;

/** Each group sorted on its own, groups then ordered by their best row. */
function directGroups(rows: readonly RankedRow[], by: RowGroupKey): { key: unknown; bestId: number; count: number; medianSciUg: number }[] {
  const groups = new Map<unknown, RankedRow[]>();
  for (const r of rows.filter(finiteSci)) groups.set(r[by], [...(groups.get(r[by]) ?? []), r]);
  return [...groups.entries()]
    .map(([key, list]) => {
      const sorted = [...list].sort(bySciThenId);
      const s = sorted.map((r) => r.sciUg!);
      const mid = Math.floor(s.length / 2);
      return { key, best: sorted[0]!, count: list.length, medianSciUg: s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2 };
    })
    .sort((a, b) => bySciThenId(a.best, b.best))
    .map(({ key, best, count, medianSciUg }) => ({ key, bestId: best.id, count, medianSciUg }));
}

describe('rank once, group the ranking', () => {
  it('equals sorting each group on its own, for every grouping key', () => {
    for (const seed of [1, 2, 3]) {
      const rows = randomRows(400, seed);
      const ranked = rankBySci(rows);
      expect(ranked.map((r) => r.id)).toEqual(rows.filter(finiteSci).sort(bySciThenId).map((r) => r.id));
      for (const by of GROUP_KEYS) {
        const want = directGroups(rows, by);
        expect(want.length).toBeGreaterThan(1);
        const got = groupsOfRanked(ranked, by).map((g) => ({ key: g.key, bestId: g.best.id, count: g.count, medianSciUg: g.medianSciUg }));
        expect(got, `${by}, seed ${seed}`).toEqual(want);
        // The CLI's leaderboard (the same functions, with Pareto flags) agrees.
        expect(leaderboardOf(rows, by).groups.map((g) => g.best.id)).toEqual(want.map((g) => g.bestId));
      }
      expect(topGreenest(rows, 7).rows.map((r) => r.id)).toEqual(ranked.slice(0, 7).map((r) => r.id));
    }
  });
});
