import { describe, expect, it } from 'vitest';
import { paretoFront, paretoObservations } from '../../src/agent/pareto.js';
import { LARGE, SMALL, obs, point } from './fixtures.js';

describe('paretoFront', () => {
  const min = (i: number) => ({ value: (t: number[]) => t[i] ?? null, direction: 'min' as const });
  const max = (i: number) => ({ value: (t: number[]) => t[i] ?? null, direction: 'max' as const });

  it('keeps exactly the non-dominated points', () => {
    const pts = [
      [1, 5],
      [2, 2],
      [5, 1],
      [3, 3], // dominated by [2, 2]
      [6, 6], // dominated by all
    ];
    expect(paretoFront(pts, [min(0), min(1)])).toEqual([
      [1, 5],
      [2, 2],
      [5, 1],
    ]);
  });

  it('orients maximized objectives and keeps ties', () => {
    const pts = [
      [1, 10],
      [1, 10],
      [1, 9], // same cost, less throughput: dominated
      [0.5, 2],
    ];
    expect(paretoFront(pts, [min(0), max(1)])).toEqual([
      [1, 10],
      [1, 10],
      [0.5, 2],
    ]);
  });

  it('leaves out items with a missing or non-finite metric; empty input gives an empty front', () => {
    const pts = [[1, Number.NaN], [2, 2], [Number.POSITIVE_INFINITY, 0]];
    expect(paretoFront(pts, [min(0), min(1)])).toEqual([[2, 2]]);
    expect(paretoFront([], [min(0)])).toEqual([]);
  });
});

describe('paretoObservations (SCI min, BPB min, tok/s max)', () => {
  it('uses all three metrics and ignores failed experiments', () => {
    const a = obs(point(SMALL, 'bf16', 32), 60, 0.98, 1000); // greenest
    const b = obs(point(LARGE, 'bf16', 8), 300, 0.74, 180); // best quality
    const c = obs(point(SMALL, 'bf16', 8), 200, 0.98, 400); // dominated by a
    const d = obs(point(SMALL, 'fp8', 32), 55, 0.99, 1100); // greener and faster than a, worse BPB: on the front
    const f = obs(point(LARGE, 'awq', 32), null, null, null, 'failed');
    expect(paretoObservations([a, b, c, d, f])).toEqual([a, b, d]);
  });

  it('falls back to SCI × tok/s when no experiment has a BPB', () => {
    const a = obs(point(SMALL, 'bf16', 32), 60, null, 1000);
    const b = obs(point(SMALL, 'bf16', 8), 200, null, 400);
    expect(paretoObservations([a, b])).toEqual([a]);
  });
});
