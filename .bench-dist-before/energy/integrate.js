/**
 * Energy from power samples: the trapezoid over [from, to], with the power at each edge linearly
 * interpolated between the neighbouring samples. A window the samples do not cover — an edge outside
 * the trace, or a gap between usable samples longer than `maxGapS` — is an error, never an
 * extrapolation. Missing values (null) are not samples: a run of `[N/A]` is a gap.
 */
import { EnergyWindowError } from '../errors.js';
import { isoFromEpochS } from '../util/time.js';
/** DESIGN section 6: a gap over 3 s between samples makes a window unmeasurable. */
export const DEFAULT_MAX_GAP_S = 3;
/**
 * nvidia-smi's `power.draw` is a trailing one-second average on Ampere and newer, so the value printed
 * at t describes [t − 1, t]; its midpoint is t − 0.5 s. bench/RESULTS.md (energy alignment) measured
 * on the recorded H100/H200 traces that this halves the error against the NVML counter.
 */
export const POWER_DRAW_ALIGN_S = 0.5;
/** Sorted points of the usable (non-null) values, shifted earlier by `alignS`. */
export function toPowerPoints(samples, alignS = 0) {
    const points = [];
    for (const s of samples)
        if (s.powerW !== null)
            points.push({ tS: s.tS - alignS, powerW: s.powerW });
    points.sort((a, b) => a.tS - b.tS);
    return points;
}
/** Every interval between consecutive points longer than `minS`. */
export function findGaps(points, minS) {
    const gaps = [];
    for (let i = 1; i < points.length; i++) {
        const seconds = points[i].tS - points[i - 1].tS;
        if (seconds > minS)
            gaps.push({ fromS: points[i - 1].tS, toS: points[i].tS, seconds });
    }
    return gaps;
}
function median(values) {
    const sorted = [...values].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
function interpolate(a, b, tS) {
    if (b.tS === a.tS)
        return a.powerW;
    return a.powerW + ((b.powerW - a.powerW) * (tS - a.tS)) / (b.tS - a.tS);
}
/** Checks that [fromS, toS] is covered; throws EnergyWindowError naming what is missing. */
export function assertCovered(points, fromS, toS, maxGapS = DEFAULT_MAX_GAP_S) {
    if (!(toS > fromS)) {
        throw new EnergyWindowError(`energy window is empty or reversed: from ${isoFromEpochS(fromS)} to ${isoFromEpochS(toS)}`);
    }
    if (points.length < 2) {
        throw new EnergyWindowError(`energy window ${isoFromEpochS(fromS)} → ${isoFromEpochS(toS)} has ${points.length} usable power sample(s); at least 2 are needed`);
    }
    const first = points[0].tS;
    const last = points[points.length - 1].tS;
    if (fromS < first) {
        throw new EnergyWindowError(`energy window starts at ${isoFromEpochS(fromS)}, ${(first - fromS).toFixed(3)} s before the first usable power sample (${isoFromEpochS(first)}): not covered by the trace`);
    }
    if (toS > last) {
        throw new EnergyWindowError(`energy window ends at ${isoFromEpochS(toS)}, ${(toS - last).toFixed(3)} s after the last usable power sample (${isoFromEpochS(last)}): not covered by the trace`);
    }
    const blocking = findGaps(points, maxGapS).filter((g) => g.toS > fromS && g.fromS < toS);
    if (blocking.length > 0) {
        const list = blocking.map((g) => `${isoFromEpochS(g.fromS)} → ${isoFromEpochS(g.toS)} (${g.seconds.toFixed(3)} s)`).join(', ');
        throw new EnergyWindowError(`energy window has ${blocking.length} gap(s) over ${maxGapS} s without usable power samples: ${list}`);
    }
}
/** Trapezoid of power over [fromS, toS] with interpolated edges. */
export function integratePower(points, fromS, toS, opts = {}) {
    assertCovered(points, fromS, toS, opts.maxGapS ?? DEFAULT_MAX_GAP_S);
    // Index of the last point at or before fromS, and the first at or after toS.
    let lo = 0;
    while (lo + 1 < points.length && points[lo + 1].tS <= fromS)
        lo++;
    let hi = points.length - 1;
    while (hi - 1 >= 0 && points[hi - 1].tS >= toS)
        hi--;
    const inner = points.slice(lo + 1, hi).filter((p) => p.tS > fromS && p.tS < toS);
    const startW = points[lo].tS === fromS ? points[lo].powerW : interpolate(points[lo], points[lo + 1], fromS);
    const endW = points[hi].tS === toS ? points[hi].powerW : interpolate(points[hi - 1], points[hi], toS);
    const path = [{ tS: fromS, powerW: startW }, ...inner, { tS: toS, powerW: endW }];
    let energyJ = 0;
    for (let i = 1; i < path.length; i++) {
        energyJ += ((path[i].powerW + path[i - 1].powerW) / 2) * (path[i].tS - path[i - 1].tS);
    }
    const onEdges = points.filter((p) => p.tS >= fromS && p.tS <= toS);
    const peakPowerW = onEdges.length > 0 ? Math.max(...onEdges.map((p) => p.powerW)) : Math.max(startW, endW);
    const intervals = points.slice(1).map((p, i) => p.tS - points[i].tS);
    const typical = median(intervals);
    const missedSamples = findGaps(points, 1.5 * typical).filter((g) => g.toS > fromS && g.fromS < toS);
    const durationS = toS - fromS;
    return {
        energyJ,
        durationS,
        samples: onEdges.length,
        meanPowerW: energyJ / durationS,
        peakPowerW,
        fromS,
        toS,
        missedSamples,
    };
}
//# sourceMappingURL=integrate.js.map