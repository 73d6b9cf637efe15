/** The p-th percentile (0 ≤ p ≤ 100) of ascending `sorted` values, linear interpolation; null if empty. */
export function percentile(sorted, p) {
    if (sorted.length === 0)
        return null;
    if (!(p >= 0 && p <= 100))
        throw new RangeError(`Expected \`p\` to be within [0, 100], got ${p}`);
    const rank = (p / 100) * (sorted.length - 1);
    const lo = Math.floor(rank);
    const hi = Math.ceil(rank);
    const a = sorted[lo];
    const b = sorted[hi];
    return a + (b - a) * (rank - lo);
}
function ascending(values) {
    const out = Float64Array.from(values);
    out.sort();
    return Array.from(out);
}
function mean(values) {
    if (values.length === 0)
        return null;
    let s = 0;
    for (const v of values)
        s += v;
    return s / values.length;
}
/** Latency percentiles over `records` (filter them first, e.g. with {@link windowRecords}). */
export function latencyMetrics(records) {
    const ok = records.filter((r) => r.success);
    const warnings = [];
    if (records.length > 0 && ok.length === 0)
        warnings.push(`all ${records.length} requests failed; first error: ${records[0].error ?? 'unknown'}`);
    else if (records.length === 0)
        warnings.push('no requests');
    const ttft = ascending(ok.flatMap((r) => (r.ttftMs === null ? [] : [r.ttftMs])));
    const itlValues = [];
    for (const r of ok)
        for (const v of r.itlMs)
            itlValues.push(v);
    const itl = ascending(itlValues);
    const e2e = ascending(ok.map((r) => r.e2eMs));
    let outputTokens = 0;
    for (const r of ok)
        outputTokens += r.outputTokens ?? 0;
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
export function requestMetrics(records) {
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
export function windowRecords(records, fromS, toS) {
    return records.filter((r) => !r.warmup && r.endS >= fromS && r.endS <= toS);
}
/** Output tokens per second over a window (tokens counted by arrival time inside it). */
export function throughput(tokensOut, fromS, toS) {
    const windowS = toS - fromS;
    return { tokens_out: tokensOut, window_s: windowS, tok_s: windowS > 0 ? tokensOut / windowS : null };
}
//# sourceMappingURL=metrics.js.map