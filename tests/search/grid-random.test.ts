import { describe, expect, it } from 'vitest';
import { batchLevels, createExhaustiveGridStrategy, createGridStrategy, exhaustiveGridOrder, gridDesign, lengthLevels, orderModels } from '../../src/search/grid.js';
import { PERMUTATION_LIMIT, createRandomStrategy, seededShuffle } from '../../src/search/random.js';
import { allPoints, spaceSize } from '../../src/search/space.js';
import { pointKey, type Observation, type SearchSpace, type SpacePoint } from '../../src/search/types.js';

// Program order deliberately not by size, quants not by precision, lengths not sorted.
const SPACE: SearchSpace = { models: ['big', 'small'], quant: ['fp8', 'bf16', 'awq'], batch: [64, 1, 2, 4, 8, 16, 32], inputLen: [512, 128, 2048], outputLen: [128, 512] };
const PARAMS = { big: 7e9, small: 0.5e9 };

const obs = (point: SpacePoint, phase = 'grid'): Observation => ({ point, status: 'ok', sciUg: 1, bpb: 1, tokS: 1, phase });
const p = (model: string, quant: string, batch: number, inputLen: number, outputLen: number): SpacePoint => ({ model, quant, batch, inputLen, outputLen });

describe('grid design', () => {
  it('batch levels: min, geometric middle, max; length levels: first, shortest, longest', () => {
    expect(batchLevels([1, 2, 4, 8, 16, 32, 64])).toEqual([1, 8, 64]);
    expect(batchLevels([64, 1, 2, 4, 8, 16, 32])).toEqual([1, 8, 64]);
    expect(batchLevels([1, 100])).toEqual([1, 100]);
    expect(batchLevels([4])).toEqual([4]);
    // sqrt(1 × 256) = 16: the value nearest in log space, the smaller of ties.
    expect(batchLevels([1, 12, 20, 256])).toEqual([1, 20, 256]);
    expect(lengthLevels([512, 128, 2048])).toEqual([512, 128, 2048]);
    expect(lengthLevels([128, 512, 2048])).toEqual([128, 2048]);
    expect(lengthLevels([256])).toEqual([256]);
  });

  it('orders models smallest first when parameter counts are known, else keeps program order', () => {
    expect(orderModels(['big', 'small'], PARAMS)).toEqual(['small', 'big']);
    expect(orderModels(['big', 'small'])).toEqual(['big', 'small']);
    expect(orderModels(['a', 'big', 'small'], PARAMS)).toEqual(['small', 'big', 'a']);
  });

  it('per server: 3 batch levels at the first lengths, then the length levels at the max batch; servers contiguous', () => {
    const d = gridDesign(SPACE, { modelParams: PARAMS });
    // 2 models × 3 quants × (3 + 3 × 2 − 1) points.
    expect(d).toHaveLength(2 * 3 * 8);
    expect(d.slice(0, 8)).toEqual([
      p('small', 'bf16', 1, 512, 128),
      p('small', 'bf16', 8, 512, 128),
      p('small', 'bf16', 64, 512, 128),
      p('small', 'bf16', 64, 512, 512),
      p('small', 'bf16', 64, 128, 128),
      p('small', 'bf16', 64, 128, 512),
      p('small', 'bf16', 64, 2048, 128),
      p('small', 'bf16', 64, 2048, 512),
    ]);
    const servers = d.map((x) => `${x.model}/${x.quant}`);
    expect([...new Set(servers)]).toEqual(['small/bf16', 'small/fp8', 'small/awq', 'big/bf16', 'big/fp8', 'big/awq']);
    // Contiguous: each server appears in one run.
    const runs = servers.filter((s, i) => i === 0 || servers[i - 1] !== s);
    expect(runs).toHaveLength(6);
    expect(new Set(d.map(pointKey)).size).toBe(d.length);
    expect(gridDesign(SPACE)).toEqual(gridDesign(SPACE));
  });

  it('the strategy walks the design skipping observed points and explains each point', async () => {
    const g = createGridStrategy(SPACE, { modelParams: PARAMS });
    const d = gridDesign(SPACE, { modelParams: PARAMS });
    expect(await g.propose([], 2)).toEqual(d.slice(0, 2));
    expect(await g.propose([obs(d[0]!), obs(d[2]!)], 2)).toEqual([d[1], d[3]]);
    expect(await g.propose(d.map((x) => obs(x)), 5)).toEqual([]);
    const why = g.explain(d[1]!, []);
    expect(why).toMatch(/^grid point 2\/48: small bf16 batch 8 — coarse grid/);
    expect(why).toContain('batch {1, 8, 64} (min, geometric middle, max)');
    expect(why).toContain('input {512, 128, 2048} × output {128, 512} at batch 64');
  });

  it('the exhaustive grid is the full factorial in the grid order', async () => {
    const order = exhaustiveGridOrder(SPACE, { modelParams: PARAMS });
    expect(order).toHaveLength(spaceSize(SPACE));
    expect(new Set(order.map(pointKey))).toEqual(new Set(allPoints(SPACE).map(pointKey)));
    expect(order.slice(0, 3)).toEqual([p('small', 'bf16', 1, 512, 128), p('small', 'bf16', 1, 512, 512), p('small', 'bf16', 1, 128, 128)]);
    expect(order[6]).toEqual(p('small', 'bf16', 2, 512, 128));
    expect(order[42]).toEqual(p('small', 'fp8', 1, 512, 128));
    const s = createExhaustiveGridStrategy(SPACE, { modelParams: PARAMS });
    expect(await s.propose([obs(order[0]!)], 1)).toEqual([order[1]]);
  });
});

describe('random strategy', () => {
  it('is deterministic for a seed and differs between seeds', async () => {
    const a = await createRandomStrategy(SPACE, 7).propose([], 20);
    const b = await createRandomStrategy(SPACE, 7).propose([], 20);
    const c = await createRandomStrategy(SPACE, 8).propose([], 20);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(seededShuffle([1, 2, 3, 4, 5], 1)).toEqual(seededShuffle([1, 2, 3, 4, 5], 1));
  });

  it('samples without replacement: every point exactly once, observed ones skipped, then nothing', async () => {
    const r = createRandomStrategy(SPACE, 3);
    const history: Observation[] = [];
    for (;;) {
      const [next] = await r.propose(history, 1);
      if (!next) break;
      history.push(obs(next, 'random'));
    }
    expect(history).toHaveLength(spaceSize(SPACE));
    expect(new Set(history.map((o) => pointKey(o.point))).size).toBe(spaceSize(SPACE));
    // A point observed by another phase is skipped; the rest of the order is unchanged.
    const first3 = await r.propose([], 3);
    expect(await r.propose([obs(first3[0]!)], 2)).toEqual(first3.slice(1, 3));
    expect(r.explain(first3[0]!, [obs(first3[1]!)])).toBe(`random: uniform draw without replacement among the ${spaceSize(SPACE) - 1} unobserved points of the ${spaceSize(SPACE)}-point space (seed 3)`);
  });

  it('samples huge spaces by rejection, still deterministic for a history and without repeats', async () => {
    const n = 60;
    const huge: SearchSpace = { models: Array.from({ length: n }, (_, i) => `m${i}`), quant: Array.from({ length: n }, (_, i) => `q${i}`), batch: Array.from({ length: n }, (_, i) => i + 1), inputLen: [1, 2], outputLen: [1, 2] };
    expect(spaceSize(huge)).toBeGreaterThan(PERMUTATION_LIMIT);
    const r = createRandomStrategy(huge, 5);
    const a = await r.propose([], 50);
    expect(a).toHaveLength(50);
    expect(new Set(a.map(pointKey)).size).toBe(50);
    expect(await createRandomStrategy(huge, 5).propose([], 50)).toEqual(a);
    const history = a.slice(0, 10).map((x) => obs(x));
    const b = await r.propose(history, 50);
    expect(b.some((x) => history.some((h) => pointKey(h.point) === pointKey(x)))).toBe(false);
  });
});
