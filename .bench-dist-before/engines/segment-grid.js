/** Seconds of float slack when snapping to the segment grid. */
export const EPS_S = 1e-6;
/** Index of the first grid edge at or after tS. */
export function ceilK(originS, tS) {
    return Math.ceil(tS - originS - EPS_S);
}
/** Tokens of the segments whose midpoint lies in [fromS, toS] and at or before the horizon. */
export function tokensOnGrid(originS, horizonS, fromS, toS, segmentTokens) {
    let tokens = 0;
    for (let k = Math.max(0, Math.ceil(fromS - originS - 0.5 - EPS_S));; k++) {
        const mid = originS + k + 0.5;
        if (mid > toS + EPS_S || mid > horizonS + EPS_S)
            break;
        tokens += segmentTokens(k);
    }
    return tokens;
}
/** Whole segments inside [fromS, toS] that the load has completed by the horizon. */
export function segmentsOnGrid(originS, horizonS, fromS, toS, segmentTokens) {
    const out = [];
    for (let k = Math.max(0, ceilK(originS, fromS));; k++) {
        const segTo = originS + k + 1;
        if (segTo > toS + EPS_S || segTo > horizonS + EPS_S)
            break;
        out.push({ fromS: originS + k, toS: segTo, tokens: segmentTokens(k) });
    }
    return out;
}
/** How many of the ascending `values` are ≤ x (or < x when `strict`). */
export function countAtOrBefore(values, x, strict = false) {
    let lo = 0;
    let hi = values.length;
    while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (strict ? values[mid] < x : values[mid] <= x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}
/** Requests completed in [fromS, toS], from their ascending end times. */
export function completedBetween(successEnds, fromS, toS) {
    return countAtOrBefore(successEnds, toS + EPS_S) - countAtOrBefore(successEnds, fromS - EPS_S, true);
}
/** Sleeps the virtual clock up to targetS (at once if already there; an aborted signal still throws). */
export async function sleepUntil(clock, targetS, signal) {
    const now = clock.now();
    if (targetS > now)
        await clock.sleep((targetS - now) * 1000, signal);
    else if (signal?.aborted)
        throw signal.reason;
}
//# sourceMappingURL=segment-grid.js.map