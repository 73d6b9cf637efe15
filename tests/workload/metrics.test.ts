import { describe, expect, it } from 'vitest';
import { latencyMetrics, percentile, requestMetrics, throughput, windowRecords } from '../../src/workload/metrics.js';
import { binTokens, reconcileTokens } from '../../src/workload/openai-load.js';
import type { RequestRecord } from '../../src/workload/types.js';

function rec(over: Partial<RequestRecord>): RequestRecord {
  return { startS: 0, endS: 1, success: true, error: null, promptTokens: 8, outputTokens: 4, ttftMs: 10, itlMs: [], e2eMs: 100, warmup: false, ...over };
}

describe('percentile (linear interpolation, numpy default)', () => {
  it('matches hand-computed values', () => {
    const v = [1, 2, 3, 4];
    expect(percentile(v, 50)).toBeCloseTo(2.5, 12); // rank 1.5
    expect(percentile(v, 90)).toBeCloseTo(3.7, 12); // rank 2.7
    expect(percentile(v, 99)).toBeCloseTo(3.97, 12); // rank 2.97
    expect(percentile(v, 0)).toBe(1);
    expect(percentile(v, 100)).toBe(4);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNull();
    expect(() => percentile(v, 101)).toThrow(/within \[0, 100\]/);
  });
});

describe('latencyMetrics', () => {
  const records = [
    rec({ ttftMs: 10, itlMs: [1, 2], e2eMs: 100, outputTokens: 3 }),
    rec({ ttftMs: 30, itlMs: [3], e2eMs: 300, outputTokens: 2 }),
    rec({ ttftMs: 20, itlMs: [4, 5, 6], e2eMs: 200, outputTokens: 4 }),
    rec({ success: false, error: 'HTTP 500: boom', ttftMs: 1, itlMs: [100], e2eMs: 1, outputTokens: null }),
  ];

  it('computes units-in-names percentiles over the successful requests only', () => {
    const m = latencyMetrics(records);
    expect(m.requests).toBe(4);
    expect(m.requests_ok).toBe(3);
    expect(m.requests_failed).toBe(1);
    // TTFT sorted [10, 20, 30]: p50 = 20, p90 = rank 1.8 → 28, p99 = rank 1.98 → 29.8.
    expect(m.ttft_p50_ms).toBe(20);
    expect(m.ttft_p90_ms).toBeCloseTo(28, 12);
    expect(m.ttft_p99_ms).toBeCloseTo(29.8, 12);
    expect(m.ttft_mean_ms).toBe(20);
    // ITL over every gap [1..6]: p50 = rank 2.5 → 3.5, p90 = rank 4.5 → 5.5, mean 3.5.
    expect(m.itl_p50_ms).toBe(3.5);
    expect(m.itl_p90_ms).toBeCloseTo(5.5, 12);
    expect(m.itl_p99_ms).toBeCloseTo(5.95, 12);
    expect(m.itl_mean_ms).toBe(3.5);
    expect(m.e2e_p50_ms).toBe(200);
    expect(m.e2e_p99_ms).toBeCloseTo(298, 12);
    expect(m.output_tokens).toBe(9);
    expect(m.warnings).toEqual([]);
  });

  it('everything failed: nulls and a warning, not an exception', () => {
    const m = latencyMetrics([records[3]!]);
    expect(m.ttft_p50_ms).toBeNull();
    expect(m.itl_p99_ms).toBeNull();
    expect(m.e2e_mean_ms).toBeNull();
    expect(m.warnings[0]).toMatch(/all 1 requests failed; first error: HTTP 500: boom/);
    expect(latencyMetrics([]).warnings).toEqual(['no requests']);
  });

  it('requestMetrics gives the store’s nine columns (camelCase of ttft_p50_ms …)', () => {
    const r = requestMetrics(records);
    expect(Object.keys(r).sort()).toEqual(['e2eP50Ms', 'e2eP90Ms', 'e2eP99Ms', 'itlP50Ms', 'itlP90Ms', 'itlP99Ms', 'ttftP50Ms', 'ttftP90Ms', 'ttftP99Ms']);
    expect(r.ttftP50Ms).toBe(20);
    expect(r.itlP50Ms).toBe(3.5);
  });

  it('windowRecords keeps measured requests that ended inside the window', () => {
    const rs = [rec({ endS: 5 }), rec({ endS: 10, warmup: true }), rec({ endS: 10 }), rec({ endS: 20.0001 })];
    expect(windowRecords(rs, 5, 20)).toEqual([rs[0], rs[2]]);
  });

  it('throughput: tok_s over a window', () => {
    expect(throughput(1500, 100, 110)).toEqual({ tokens_out: 1500, window_s: 10, tok_s: 150 });
    expect(throughput(0, 5, 5).tok_s).toBeNull();
  });
});

describe('token accounting helpers', () => {
  it('reconcileTokens: usage is authoritative', () => {
    expect(reconcileTokens([1, 1, 1], 3)).toEqual({ tokens: [1, 1, 1], approximate: false });
    expect(reconcileTokens([1, 1, 2], 8)).toEqual({ tokens: [2, 2, 4], approximate: true });
    expect(reconcileTokens([0, 0], 5)).toEqual({ tokens: [0, 5], approximate: true });
  });

  it('binTokens: fixed bins, last one partial, half-open edges, sums to the window', () => {
    const events = [
      { times: [10, 10.5, 11, 11.99, 12, 12.4], tokens: [1, 2, 3, 4, 5, 6] },
      { times: [9.9, 12.5, 12.6], tokens: [100, 7, 8] },
    ];
    const segs = binTokens(events, 10, 12.5, 1);
    expect(segs).toEqual([
      { fromS: 10, toS: 11, tokens: 3 }, // 10 and 10.5
      { fromS: 11, toS: 12, tokens: 7 }, // 11 and 11.99
      { fromS: 12, toS: 12.5, tokens: 18 }, // 12, 12.4 and 12.5 (the end is inside the last bin)
    ]);
    expect(binTokens(events, 10, 10, 1)).toEqual([]);
    // An exact multiple gives no empty trailing bin.
    expect(binTokens(events, 10, 12, 1).map((s) => [s.fromS, s.toS])).toEqual([[10, 11], [11, 12]]);
  });
});
