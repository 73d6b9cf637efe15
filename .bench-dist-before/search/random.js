/**
 * The random phase: uniform sampling without replacement among the points not observed yet, seeded.
 *
 * For spaces up to PERMUTATION_LIMIT points, the seed fixes one permutation of the whole factorial
 * (Fisher–Yates with mulberry32); a proposal is the first points of that permutation not observed yet.
 * So the proposal depends only on (space, seed, set of observed points): a resumed run proposes what
 * the uninterrupted run would have, and points observed by other phases are simply skipped.
 *
 * Larger spaces (program.md allows up to 100 models × 64⁴ values) cannot be permuted in memory; there
 * each draw is a rejection sample from a generator seeded by (seed, number of observations), which is
 * just as deterministic for a given history.
 */
import { hash32, mulberry32 } from '../workload/prompts.js';
import { allPoints, observedKeys, pointAt, spaceSize } from './space.js';
import { pointKey } from './types.js';
export const PERMUTATION_LIMIT = 200_000;
/** Rejection draws per wanted point before giving up on a nearly exhausted huge space. */
const MAX_REJECTIONS = 10_000;
/** The seeded permutation of `points` (Fisher–Yates). */
export function seededShuffle(points, seed) {
    const out = [...points];
    const rnd = mulberry32(hash32(seed, 0x52414e44)); // "RAND"
    for (let i = out.length - 1; i > 0; i--) {
        const j = Math.floor(rnd() * (i + 1));
        [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
}
export function createRandomStrategy(space, seed) {
    const size = spaceSize(space);
    const order = size <= PERMUTATION_LIMIT ? seededShuffle(allPoints(space), seed) : null;
    return {
        name: 'random',
        async propose(history, n) {
            const seen = observedKeys(history);
            const out = [];
            if (order) {
                for (const p of order) {
                    if (out.length >= n)
                        break;
                    if (!seen.has(pointKey(p)))
                        out.push(p);
                }
                return out;
            }
            const rnd = mulberry32(hash32(seed, history.length));
            const taken = new Set();
            let rejections = 0;
            while (out.length < n && rejections < MAX_REJECTIONS * n) {
                const p = pointAt(space, Math.floor(rnd() * size));
                const key = pointKey(p);
                if (seen.has(key) || taken.has(key)) {
                    rejections++;
                    continue;
                }
                taken.add(key);
                out.push(p);
            }
            return out;
        },
        explain(_point, history) {
            const left = size - observedKeys(history).size;
            return `random: uniform draw without replacement among the ${left} unobserved points of the ${size}-point space (seed ${seed})`;
        },
    };
}
//# sourceMappingURL=random.js.map