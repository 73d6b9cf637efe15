/**
 * Request metrics: pure functions from request records to flat records whose field names carry their
 * unit (STYLE.md, vLLM benchmarks). Percentiles interpolate linearly between closest ranks (numpy's
 * default, which vLLM's benchmark uses), so figures compare with `vllm bench serve`.
 *
 * Only successful requests enter the latency figures: a failed request has no meaningful latency. A
 * set where everything failed gives nulls and a warning, not an exception.
 */
import type { RequestRecord } from './types.js';

/** The p-th percentile (0 ≤ p ≤ 100) of ascending `sorted` values, linear interpolation; null if empty. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  if (!(p >= 0 && p <= 100)) throw new RangeError(`Expected \`p\` to be within [0, 100], got ${p}`);
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  const a = sorted[lo]!;
  const b = sorted[hi]!;
  return a + (b - a) * (rank - lo);
}

function ascending(values: Iterable<number>): number[] {
  const out = Float64Array.from(values);
  out.sort();
  return Array.from(out);
}

function mean(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  let s = 0;
  for (const v of values) s += v;
  return s / values.length;
}

export interface LatencyMetrics {
  /** Records given. */
  requests: number;
  /** Of which successful: the latency figures come from these. */
  requests_ok: number;
  requests_failed: number;
  ttft_mean_ms: number | null;
  ttft_p50_ms: number | null;
  ttft_p90_ms: number | null;
  ttft_p99_ms: number | null;
  /** Over every inter-token gap of every successful request (vLLM's definition). */
  itl_mean_ms: number | null;
  itl_p50_ms: number | null;
  itl_p90_ms: number | null;
  itl_p99_ms: number | null;
  e2e_mean_ms: number | null;
  e2e_p50_ms: number | null;
  e2e_p90_ms: number | null;
  e2e_p99_ms: number | null;
  /** Output tokens of the successful requests, from the servers' usage data. */
  output_tokens: number;
  warnings: string[];
}

/** Latency percentiles over `records` (filter them first, e.g. with {@link windowRecords}). */
export function latencyMetrics(records: readonly RequestRecord[]): LatencyMetrics {
  const ok = records.filter((r) => r.success);
  const warnings: string[] = [];
  if (records.length > 0 && ok.length === 0) warnings.push(`all ${records.length} requests failed; first error: ${records[0]!.error ?? 'unknown'}`);
  else if (records.length === 0) warnings.push('no requests');
  const ttft = ascending(ok.flatMap((r) => (r.ttftMs === null ? [] : [r.ttftMs])));
  const itlValues: number[] = [];
  for (const r of ok) for (const v of r.itlMs) itlValues.push(v);
  const itl = ascending(itlValues);
  const e2e = ascending(ok.map((r) => r.e2eMs));
  let outputTokens = 0;
  for (const r of ok) outputTokens += r.outputTokens ?? 0;
  return {
    requests: records.length,
    requests_ok: ok.length,
    requests_failed: records.length - ok.length,
    ttft_mean_ms: mean(ttft),
    ttft_p50_ms: percentile(ttft, 50),
    ttft_p90_ms: percentile(ttft, 90),
    ttft_p99_ms: percentile(ttft, 99),
    itl_mean_ms: mean(itl),
    itl_p50_ms: percentile(itl, 50),
    itl_p90_ms: percentile(itl, 90),
    itl_p99_ms: percentile(itl, 99),
    e2e_mean_ms: mean(e2e),
    e2e_p50_ms: percentile(e2e, 50),
    e2e_p90_ms: percentile(e2e, 90),
    e2e_p99_ms: percentile(e2e, 99),
    output_tokens: outputTokens,
    warnings,
  };
}

/**
 * The nine percentile columns of the `experiments` table, named as the store names them
 * (src/store/types.ts: ttftP50Ms ↔ ttft_p50_ms): what the experiment runner spreads into its row.
 */
export interface RequestMetrics {
  ttftP50Ms: number | null;
  ttftP90Ms: number | null;
  ttftP99Ms: number | null;
  itlP50Ms: number | null;
  itlP90Ms: number | null;
  itlP99Ms: number | null;
  e2eP50Ms: number | null;
  e2eP90Ms: number | null;
  e2eP99Ms: number | null;
}

export function requestMetrics(records: readonly RequestRecord[]): RequestMetrics {
  const m = latencyMetrics(records);
  return {
    ttftP50Ms: m.ttft_p50_ms,
    ttftP90Ms: m.ttft_p90_ms,
    ttftP99Ms: m.ttft_p99_ms,
    itlP50Ms: m.itl_p50_ms,
    itlP90Ms: m.itl_p90_ms,
    itlP99Ms: m.itl_p99_ms,
    e2eP50Ms: m.e2e_p50_ms,
    e2eP90Ms: m.e2e_p90_ms,
    e2eP99Ms: m.e2e_p99_ms,
  };
}

/** Measured requests of a window: not warm-up, completed (successfully or not) inside [fromS, toS]. */
export function windowRecords(records: readonly RequestRecord[], fromS: number, toS: number): RequestRecord[] {
  return records.filter((r) => !r.warmup && r.endS >= fromS && r.endS <= toS);
}

export interface ThroughputMetrics {
  tokens_out: number;
  window_s: number;
  /** tokens_out / window_s; null for an empty window. */
  tok_s: number | null;
}

/** Output tokens per second over a window (tokens counted by arrival time inside it). */
export function throughput(tokensOut: number, fromS: number, toS: number): ThroughputMetrics {
  const windowS = toS - fromS;
  return { tokens_out: tokensOut, window_s: windowS, tok_s: windowS > 0 ? tokensOut / windowS : null };
}
