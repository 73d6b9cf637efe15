/**
 * The grid phase: a coarse design over the space, not the full factorial.
 *
 * ## The design
 *
 *   for every model × every quant (one server each):
 *     batch ∈ {min, geometric middle, max}                    at the first input and output length
 *     every (input, output) of the length levels ≠ the first  at the max batch
 *   where the length levels of a list are its first (most common), shortest and longest values.
 *
 * Size: M × Q × (3 + L_in × L_out − 1) with L ≤ 3 levels per length list: 6 points per server for two
 * input and two output lengths (120 for 4 models × 5 quants, against 560 for the full factorial with 7
 * batches), and at most 11 per server whatever the lists' lengths.
 *
 * Why these factors:
 * - model and quant choose the server (a new server costs a model load) and the quality (BPB): every
 *   (model, quant) pair is seen, so the later phases know which servers are feasible, which fail (out
 *   of memory) and roughly how each scales.
 * - Batch moves SCI by one to two orders of magnitude (a memory-bound decode amortizes the weights over
 *   the batch), mostly monotonically until memory or compute saturates: its two ends and the geometric
 *   middle (batch lists are usually powers of two, so the middle in log space) show the trend at three
 *   points per server, at the workload program.md lists first.
 * - The lengths move SCI by up to ~2× (the prefill share of a request and the KV-cache traffic of each
 *   decode step grow with them) and they interact with the model and batch, so looking only at the
 *   first lengths can miss the best region entirely (bench/search/RESULTS.md measures this). Their
 *   extremes are measured once per server, at the max batch: the load where SCI is usually lowest and
 *   where the length effects (KV traffic, memory) are largest; a max batch that runs out of memory at
 *   some lengths rules those out cheaply (the pipeline skips points dominated by a failure).
 *
 * The rest of the factorial (middle batches at other lengths, middle lengths) is left to the random and
 * bayesian phases.
 *
 * ## The order
 *
 * - Models from the smallest to the largest (by parameter count when known, else program order): small
 *   models load fast, fail least, and usually give the lowest SCI per token, so the phase's convergence
 *   test (patience) has a good incumbent early and the larger models are judged against it.
 * - Within a model, quants from the highest precision down (space.ts): the model's baseline BPB is then
 *   known before any of its lower-precision points is judged against `bpb <= F * baseline`.
 * - Within a (model, quant), batch ascending. All points of one (model, quant) are adjacent, so the
 *   runner reuses the server for them (DESIGN section 5.2).
 *
 * The design is deterministic (no seed). The "exhaustive grid" that search-bench compares against is
 * the full factorial in the same order (model → quant → batch → input → output).
 */
import { byPrecision, observedKeys } from './space.js';
import { pointKey } from './types.js';
/** The levels of a length list the grid visits: the first (most common), the shortest and the longest; distinct, in that order. */
export function lengthLevels(values) {
    const sorted = [...values].sort((a, b) => a - b);
    return [...new Set([values[0], sorted[0], sorted[sorted.length - 1]])];
}
/** Distinct, ascending: min, the value nearest the geometric middle of min and max, max. */
export function batchLevels(batches) {
    const sorted = [...new Set(batches)].sort((a, b) => a - b);
    if (sorted.length <= 2)
        return sorted;
    const lo = sorted[0];
    const hi = sorted[sorted.length - 1];
    const target = Math.sqrt(lo * hi);
    let mid = sorted[1];
    for (const b of sorted.slice(1, -1))
        if (Math.abs(Math.log(b / target)) < Math.abs(Math.log(mid / target)))
            mid = b;
    return [lo, mid, hi];
}
/** Models smallest first (known parameter counts), then the others in program order. */
export function orderModels(models, modelParams = {}) {
    return models
        .map((m, i) => ({ m, i, p: modelParams[m] }))
        .sort((a, b) => {
        const pa = a.p ?? Infinity;
        const pb = b.p ?? Infinity;
        return pa !== pb ? pa - pb : a.i - b.i;
    })
        .map((x) => x.m);
}
/** The grid design in run order (see the file header); duplicates (short lists) removed. */
export function gridDesign(space, opts = {}) {
    const out = [];
    const inputLen = space.inputLen[0];
    const outputLen = space.outputLen[0];
    const levels = batchLevels(space.batch);
    const maxBatch = levels[levels.length - 1];
    const inputs = lengthLevels(space.inputLen);
    const outputs = lengthLevels(space.outputLen);
    for (const model of orderModels(space.models, opts.modelParams))
        for (const quant of byPrecision(space.quant)) {
            for (const batch of levels)
                out.push({ model, quant, batch, inputLen, outputLen });
            for (const i of inputs)
                for (const o of outputs)
                    if (i !== inputLen || o !== outputLen)
                        out.push({ model, quant, batch: maxBatch, inputLen: i, outputLen: o });
        }
    return out;
}
/** The full factorial in the grid's order: models smallest first, quants by precision, batch ascending, lengths in program order. */
export function exhaustiveGridOrder(space, opts = {}) {
    const out = [];
    const batches = [...space.batch].sort((a, b) => a - b);
    for (const model of orderModels(space.models, opts.modelParams))
        for (const quant of byPrecision(space.quant))
            for (const batch of batches)
                for (const inputLen of space.inputLen)
                    for (const outputLen of space.outputLen)
                        out.push({ model, quant, batch, inputLen, outputLen });
    return out;
}
/** A strategy that walks `points` in order, skipping observed ones. */
export function sequenceStrategy(points, explain) {
    const indexOf = new Map(points.map((p, i) => [pointKey(p), i]));
    return {
        name: 'grid',
        async propose(history, n) {
            const seen = observedKeys(history);
            const out = [];
            for (const p of points) {
                if (out.length >= n)
                    break;
                if (!seen.has(pointKey(p)))
                    out.push(p);
            }
            return out;
        },
        explain(point) {
            return explain(point, indexOf.get(pointKey(point)) ?? -1);
        },
    };
}
/** The grid phase's strategy: {@link gridDesign} in order, observed points skipped. */
export function createGridStrategy(space, opts = {}) {
    const design = gridDesign(space, opts);
    const levels = batchLevels(space.batch);
    const summary = `coarse grid: every model × every quant at batch {${levels.join(', ')}} (min, geometric middle, max) with the first lengths (input ${space.inputLen[0]}, output ${space.outputLen[0]}), ` +
        `plus input {${lengthLevels(space.inputLen).join(', ')}} × output {${lengthLevels(space.outputLen).join(', ')}} at batch ${levels[levels.length - 1]}; ` +
        `${design.length} points, models smallest first, quants highest precision first so each model's baseline BPB comes first, one server (model + quant) at a time`;
    return sequenceStrategy(design, (p, i) => `grid point ${i + 1}/${design.length}: ${p.model} ${p.quant} batch ${p.batch} — ${summary}`);
}
/** The full factorial in the grid's order, as search-bench's "exhaustive grid" baseline. */
export function createExhaustiveGridStrategy(space, opts = {}) {
    const order = exhaustiveGridOrder(space, opts);
    return sequenceStrategy(order, (_p, i) => `exhaustive grid point ${i + 1}/${order.length}: the full factorial in the grid's order`);
}
//# sourceMappingURL=grid.js.map