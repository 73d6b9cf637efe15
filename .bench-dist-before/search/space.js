/**
 * The search space as a set of points, the BPB constraint, and feasibility (DESIGN sections 4 and 7).
 * Pure functions: nothing here measures, logs or stores.
 *
 * ## Feasibility under `bpb <= F * baseline`
 *
 * The baseline BPB of a model is the BPB of its highest-precision quantization *observed so far*, in
 * this order (highest first):
 *
 *   fp32 > bf16 > fp16 (= f16) > fp8 > int8 = w8a8 = q8_0 > q6_k > q5_* > 4-bit (awq*, gptq*, int4,
 *   nf4, bitsandbytes, q4_*) > anything unknown
 *
 * Ties (two 4-bit formats, say) take the lower BPB of the tied quants: the stricter limit. So
 * feasibility can change as observations arrive: before a model's bf16 point is measured, its fp8
 * point is its own baseline (ratio 1, feasible); once bf16 is measured, fp8 is judged against it. The
 * grid measures every model's highest precision first for that reason. BPB depends on (model, quant)
 * only (it is cached per checkpoint), so observations of one (model, quant) agree; if they do not, their
 * mean is used.
 *
 * An observation is feasible when it is `ok`, has an SCI, and (under a constraint) a BPB within the
 * limit. An `ok` observation without BPB (BPB failed) is infeasible under a constraint: its quality is
 * unknown.
 */
import { InputError, describeValue } from '../errors.js';
import { pointKey } from './types.js';
/** Relative slack in `bpb <= limit`, so that the baseline itself (F = 1) never fails on rounding. */
const LIMIT_EPS_REL = 1e-12;
// ---------------------------------------------------------------------------------------------------
// Space
/** Number of points: the full factorial. */
export function spaceSize(space) {
    return space.models.length * space.quant.length * space.batch.length * space.inputLen.length * space.outputLen.length;
}
/**
 * Every point of the full factorial, nested model → quant → batch → input → output (each in the
 * space's order), so that points sharing a server (model + quant) are adjacent.
 */
export function allPoints(space) {
    const out = [];
    for (const model of space.models)
        for (const quant of space.quant)
            for (const batch of space.batch)
                for (const inputLen of space.inputLen)
                    for (const outputLen of space.outputLen)
                        out.push({ model, quant, batch, inputLen, outputLen });
    return out;
}
/** The point at `index` of {@link allPoints}' order without building the list (for huge spaces). */
export function pointAt(space, index) {
    let i = index;
    const o = i % space.outputLen.length;
    i = Math.floor(i / space.outputLen.length);
    const n = i % space.inputLen.length;
    i = Math.floor(i / space.inputLen.length);
    const b = i % space.batch.length;
    i = Math.floor(i / space.batch.length);
    const q = i % space.quant.length;
    const m = Math.floor(i / space.quant.length);
    return { model: space.models[m], quant: space.quant[q], batch: space.batch[b], inputLen: space.inputLen[n], outputLen: space.outputLen[o] };
}
/** Throws InputError unless every list is non-empty, free of duplicates, and the numbers positive integers. */
export function validateSpace(space) {
    const lists = [
        ['models', space.models, false],
        ['space.quant', space.quant, false],
        ['space.batch', space.batch, true],
        ['space.input_len', space.inputLen, true],
        ['space.output_len', space.outputLen, true],
    ];
    for (const [key, values, numeric] of lists) {
        if (values.length === 0)
            throw new InputError(`${key} is empty; allowed: a non-empty list`);
        const seen = new Set();
        for (const v of values) {
            if (numeric ? !(typeof v === 'number' && Number.isInteger(v) && v > 0) : !(typeof v === 'string' && v.length > 0)) {
                throw new InputError(`${key} value ${describeValue(v)} is invalid; allowed: ${numeric ? 'positive integers' : 'non-empty strings'}`);
            }
            if (seen.has(v))
                throw new InputError(`${key} lists ${describeValue(v)} twice; allowed: distinct values`);
            seen.add(v);
        }
    }
}
/** Whether `p` is a point of `space`. */
export function inSpace(space, p) {
    return space.models.includes(p.model) && space.quant.includes(p.quant) && space.batch.includes(p.batch) && space.inputLen.includes(p.inputLen) && space.outputLen.includes(p.outputLen);
}
/** Throws InputError naming the key, the value and what is allowed when `p` is not in `space`. */
export function validatePoint(space, p) {
    const checks = [
        ['model', p.model, space.models],
        ['quant', p.quant, space.quant],
        ['batch', p.batch, space.batch],
        ['input_len', p.inputLen, space.inputLen],
        ['output_len', p.outputLen, space.outputLen],
    ];
    for (const [key, value, allowed] of checks) {
        if (!allowed.includes(value))
            throw new InputError(`${key} ${describeValue(value)} is not in the space; allowed: ${allowed.join(', ')}`);
    }
}
/** Keys of every observed point (ok or failed). */
export function observedKeys(history) {
    return new Set(history.map((o) => pointKey(o.point)));
}
// ---------------------------------------------------------------------------------------------------
// Quantization precision
/** Higher = more precise; see the file header. Unknown quants rank 0 (lowest). */
export function quantPrecision(quant) {
    const q = quant.toLowerCase();
    if (q === 'fp32' || q === 'f32' || q === 'float32')
        return 100;
    if (q === 'bf16' || q === 'bfloat16')
        return 90;
    if (q === 'fp16' || q === 'f16' || q === 'float16' || q === 'half')
        return 85;
    if (q === 'fp8' || q.startsWith('fp8_'))
        return 70;
    if (q === 'int8' || q === 'w8a8' || q === 'q8_0' || q.startsWith('q8'))
        return 60;
    if (q.startsWith('q6'))
        return 50;
    if (q.startsWith('q5'))
        return 45;
    if (q.startsWith('awq') || q.startsWith('gptq') || q === 'int4' || q === 'nf4' || q === 'bitsandbytes' || q.startsWith('q4') || q === 'w4a16')
        return 30;
    if (q.startsWith('q3') || q.startsWith('q2'))
        return 20;
    return 0;
}
/** `quants` ordered highest precision first; ties keep their given order. */
export function byPrecision(quants) {
    return quants.map((q, i) => ({ q, i })).sort((a, b) => quantPrecision(b.q) - quantPrecision(a.q) || a.i - b.i).map((x) => x.q);
}
// ---------------------------------------------------------------------------------------------------
// Constraint
const NUMBER = String.raw `(\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?`;
const RELATIVE_RE = new RegExp(String.raw `^\s*bpb\s*(?:<=|≤)\s*(${NUMBER})\s*\*\s*baseline\s*$`, 'i');
const ABSOLUTE_RE = new RegExp(String.raw `^\s*bpb\s*(?:<=|≤)\s*(${NUMBER})\s*$`, 'i');
export const CONSTRAINT_FORMS = '"bpb <= F * baseline" (F a factor such as 1.02; baseline = the model\'s highest-precision BPB) or "bpb <= X" (X an absolute bits-per-byte limit such as 0.9)';
/**
 * Parses `bpb <= 1.02 * baseline` or `bpb <= 0.9`; anything else is an InputError naming `key` (where
 * the text came from), the value and both forms.
 */
export function parseConstraint(text, key = 'objective.constraint') {
    const rel = RELATIVE_RE.exec(text);
    if (rel) {
        const factor = Number(rel[1]);
        if (!(Number.isFinite(factor) && factor >= 1 && factor <= 10)) {
            throw new InputError(`${key} ${describeValue(text)}: factor ${rel[1]} is out of range; allowed: a factor from 1 to 10 in ${CONSTRAINT_FORMS}`);
        }
        return { maxBpb: null, factor, text: text.trim() };
    }
    const abs = ABSOLUTE_RE.exec(text);
    if (abs) {
        const maxBpb = Number(abs[1]);
        if (!(Number.isFinite(maxBpb) && maxBpb > 0 && maxBpb <= 100)) {
            throw new InputError(`${key} ${describeValue(text)}: limit ${abs[1]} is out of range; allowed: a BPB limit above 0 and at most 100 in ${CONSTRAINT_FORMS}`);
        }
        return { maxBpb, factor: null, text: text.trim() };
    }
    throw new InputError(`${key} ${describeValue(text)} is not understood; allowed: ${CONSTRAINT_FORMS}`);
}
/** Per model: the BPB of its highest-precision quant among `ok` observations with a BPB (file header). */
export function baselineBpbs(history) {
    // Mean BPB per (model, quant).
    const sums = new Map();
    for (const o of history) {
        if (o.status !== 'ok' || o.bpb === null || !Number.isFinite(o.bpb))
            continue;
        const key = JSON.stringify([o.point.model, o.point.quant]);
        const s = sums.get(key) ?? { model: o.point.model, quant: o.point.quant, sum: 0, n: 0 };
        s.sum += o.bpb;
        s.n++;
        sums.set(key, s);
    }
    const out = new Map();
    for (const s of sums.values()) {
        const bpb = s.sum / s.n;
        const rank = quantPrecision(s.quant);
        const cur = out.get(s.model);
        if (!cur || rank > cur.rank || (rank === cur.rank && bpb < cur.bpb))
            out.set(s.model, { quant: s.quant, bpb, rank });
    }
    return new Map([...out].map(([m, b]) => [m, { quant: b.quant, bpb: b.bpb }]));
}
/** The BPB limit for `model` under `constraint` given the baselines; Infinity without a constraint. */
export function bpbLimit(constraint, model, baselines) {
    if (!constraint)
        return Infinity;
    if (constraint.maxBpb !== null)
        return constraint.maxBpb;
    const base = baselines.get(model);
    // A model with no BPB observed has no baseline; its observations have no BPB either (infeasible).
    return base ? (constraint.factor ?? 1) * base.bpb : -Infinity;
}
/** Whether one observation is feasible given the baselines (see the file header). */
export function isFeasible(o, constraint, baselines) {
    if (o.status !== 'ok' || o.sciUg === null || !Number.isFinite(o.sciUg))
        return false;
    if (!constraint)
        return true;
    if (o.bpb === null || !Number.isFinite(o.bpb))
        return false;
    const limit = bpbLimit(constraint, o.point.model, baselines);
    return o.bpb <= limit * (1 + LIMIT_EPS_REL);
}
/** The feasible observations of `history`, with baselines from `history` itself. */
export function feasibleObservations(history, constraint) {
    const baselines = baselineBpbs(history);
    return history.filter((o) => isFeasible(o, constraint, baselines));
}
/** The feasible observation with the lowest SCI (the first of equals), or null. */
export function bestFeasible(history, constraint) {
    let best = null;
    for (const o of feasibleObservations(history, constraint))
        if (best === null || o.sciUg < best.sciUg)
            best = o;
    return best;
}
/**
 * The best feasible SCI after each prefix of `history`: out[i] = best over history[0..i], or null while
 * nothing is feasible. Incremental: the prefix is rescanned only when a model's baseline changes (at
 * most once per (model, quant)), since that can make earlier observations infeasible.
 */
export function bestFeasibleTrajectory(history, constraint) {
    const out = [];
    const seen = [];
    let baselines = new Map();
    let best = null;
    // Only a relative limit depends on the baselines.
    const relative = constraint !== null && constraint.factor !== null;
    for (const o of history) {
        seen.push(o);
        const changesBaseline = relative && o.status === 'ok' && o.bpb !== null && baselineWouldChange(baselines, o);
        if (changesBaseline) {
            baselines = baselineBpbs(seen);
            best = null;
            for (const s of seen)
                if (isFeasible(s, constraint, baselines) && (best === null || s.sciUg < best))
                    best = s.sciUg;
        }
        else if (isFeasible(o, constraint, baselines) && (best === null || o.sciUg < best)) {
            best = o.sciUg;
        }
        out.push(best);
    }
    return out;
}
function baselineWouldChange(baselines, o) {
    const cur = baselines.get(o.point.model);
    if (!cur)
        return true;
    const rank = quantPrecision(o.point.quant);
    const curRank = quantPrecision(cur.quant);
    // Same quant as the baseline: its mean BPB may move (only when observations disagree).
    return rank > curRank || (rank === curRank && (o.point.quant !== cur.quant ? o.bpb < cur.bpb : o.bpb !== cur.bpb));
}
//# sourceMappingURL=space.js.map