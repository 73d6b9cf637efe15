/**
 * Convergence of a search phase (DESIGN section 7): the noise floor comes from repeating the baseline
 * config; a phase has converged when the best feasible SCI has not improved by more than that floor
 * over its last `patience` experiments.
 *
 * - Noise floor: the relative standard deviation (sample std / mean) of SCI over the `ok` repeats of the
 *   baseline config (phase `baseline`), defined from 3 repeats on (null before). It is the spread of one
 *   measurement: a smaller "improvement" cannot be told apart from noise.
 * - Improvement is cumulative over the window: the best feasible SCI now against the best just before
 *   the first of the phase's last `patience` experiments. So a run of small gains that together exceed
 *   the floor keeps the phase going, while one lucky draw within the noise does not.
 * - Nothing feasible yet: never converged (there is nothing to converge to; the phase goes on until its
 *   budget).
 */
import { sampleStandardDeviation } from 'simple-statistics';
import { bestFeasibleTrajectory } from './space.js';
import { pointKey } from './types.js';
/** Repeats of the baseline config that measure the noise floor. */
export const BASELINE_REPEATS = 3;
/** The noise floor from the `baseline`-phase observations (only those of `point` when given). */
export function noiseFloor(history, point) {
    const key = point ? pointKey(point) : null;
    const sci = history
        .filter((o) => o.phase === 'baseline' && o.status === 'ok' && o.sciUg !== null && Number.isFinite(o.sciUg) && (key === null || pointKey(o.point) === key))
        .map((o) => o.sciUg);
    const meanSciUg = sci.length > 0 ? sci.reduce((a, b) => a + b, 0) / sci.length : null;
    if (sci.length < BASELINE_REPEATS || meanSciUg === null || meanSciUg <= 0)
        return { relStd: null, repeats: sci.length, meanSciUg };
    return { relStd: sampleStandardDeviation(sci) / meanSciUg, repeats: sci.length, meanSciUg };
}
/** Details of {@link hasConverged}. */
export function convergence(history, phase, patience, floorRel, constraint = null) {
    const idx = [];
    history.forEach((o, i) => {
        if (o.phase === phase)
            idx.push(i);
    });
    const trajectory = bestFeasibleTrajectory(history, constraint);
    const bestNowUg = trajectory.length > 0 ? trajectory[trajectory.length - 1] : null;
    if (idx.length < patience || patience < 1)
        return { converged: false, phaseExperiments: idx.length, bestBeforeUg: null, bestNowUg, improvementRel: null };
    const first = idx[idx.length - patience];
    const bestBeforeUg = first > 0 ? trajectory[first - 1] : null;
    if (bestNowUg === null)
        return { converged: false, phaseExperiments: idx.length, bestBeforeUg, bestNowUg, improvementRel: null };
    const improvementRel = bestBeforeUg === null ? Infinity : (bestBeforeUg - bestNowUg) / bestBeforeUg;
    return { converged: !(improvementRel > floorRel), phaseExperiments: idx.length, bestBeforeUg, bestNowUg, improvementRel };
}
/**
 * True when `phase` has at least `patience` experiments and the best feasible SCI improved by no more
 * than `floorRel` (relative) over the last `patience` of them (see the file header).
 */
export function hasConverged(history, phase, patience, floorRel, constraint = null) {
    return convergence(history, phase, patience, floorRel, constraint).converged;
}
//# sourceMappingURL=convergence.js.map