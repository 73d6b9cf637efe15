import { hasCoveringIndex, selectAtLeastAsFast, selectBpbGroups, selectFrontColumns, selectGroupAnchors, } from './query.js';
/** `a` dominates `b`; both oriented so that smaller is better, same length, finite. */
function dominates(a, b) {
    let strictlyBetter = false;
    for (let i = 0; i < a.length; i++) {
        const x = a[i];
        const y = b[i];
        if (x > y)
            return false;
        if (x < y)
            strictlyBetter = true;
    }
    return strictlyBetter;
}
function lexicographic(a, b) {
    for (let i = 0; i < a.length; i++) {
        const d = a[i] - b[i];
        if (d !== 0)
            return d;
    }
    return 0;
}
/**
 * The non-dominated items, in input order: the same answer as src/agent/pareto.ts's paretoFront
 * (items missing any objective's value are left out; items equal on every objective are all kept),
 * computed by a sorted sweep.
 */
export function paretoFrontSorted(items, objectives) {
    if (objectives.length === 0)
        return [...items];
    const scored = [];
    items.forEach((item, index) => {
        const v = [];
        for (const o of objectives) {
            const raw = o.value(item);
            if (raw === null || !Number.isFinite(raw))
                return;
            v.push(o.direction === 'min' ? raw : -raw);
        }
        scored.push({ index, item, v });
    });
    scored.sort((a, b) => lexicographic(a.v, b.v) || a.index - b.index);
    const front = [];
    for (const s of scored) {
        if (!front.some((f) => dominates(f.v, s.v)))
            front.push(s);
    }
    return front.sort((a, b) => a.index - b.index).map((s) => s.item);
}
export const PARETO_OBJECTIVES_TEXT = {
    sci_bpb_tok_s: 'SCI min × BPB min × tok/s max',
    sci_tok_s: 'SCI min × tok/s max (no experiment has a BPB)',
};
const finite = (x) => x !== null && x !== undefined && Number.isFinite(x);
/** Whether a point takes part in a front over `basis`. */
export function comparableOn(p, basis) {
    return finite(p.sciUg) && finite(p.tokS) && (basis === 'sci_tok_s' || finite(p.bpb));
}
function frontOf(basis, front, selected, compared) {
    const onFront = new Set(front.map((p) => p.id));
    return {
        basis,
        frontIds: [...front].sort((a, b) => a.sciUg - b.sciUg || a.id - b.id).map((p) => p.id),
        flagOf: (p) => (comparableOn(p, basis) ? onFront.has(p.id) : null),
        selected,
        compared,
    };
}
/** The basis the rule above gives for these points. */
export function paretoBasisOf(points) {
    return points.some((p) => finite(p.sciUg) && finite(p.tokS) && finite(p.bpb)) ? 'sci_bpb_tok_s' : 'sci_tok_s';
}
/**
 * Flags every point. `basis` may be imposed when `points` is a subset whose basis was decided on the
 * whole selection (`top` looks only at the rows with SCI ≤ its last row's: every possible dominator of
 * those rows is among them, since a dominator's SCI is no larger).
 */
export function paretoAnalysis(points, opts = {}) {
    const n = points.length;
    const columns = { id: new Float64Array(n), sciUg: new Float64Array(n), bpb: new Float64Array(n), tokS: new Float64Array(n) };
    points.forEach((p, i) => {
        columns.id[i] = p.id;
        columns.sciUg[i] = p.sciUg ?? NaN;
        columns.bpb[i] = p.bpb ?? NaN;
        columns.tokS[i] = p.tokS ?? NaN;
    });
    return paretoAnalysisColumns(columns, opts);
}
/**
 * paretoAnalysis on columns. Before the exact sweep, one linear pass drops the points that their own
 * BPB group's two corners dominate (the group's lowest-SCI point, ties to the higher tok/s, and its
 * highest-tok/s point, ties to the lower SCI): a dropped point is dominated, so it is off the front,
 * and whatever it dominated is dominated by its dominator too, so the front is unchanged. With real
 * data (the greenest config of a model and quant is usually also among its fastest) that leaves a few
 * hundred of 100,000 points for the sweep.
 */
export function paretoAnalysisColumns(c, opts = {}) {
    const n = c.id.length;
    let anyBpb = false;
    const comparable = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
        if (Number.isFinite(c.sciUg[i]) && Number.isFinite(c.tokS[i])) {
            comparable[i] = 1;
            if (Number.isFinite(c.bpb[i]))
                anyBpb = true;
        }
    }
    const basis = opts.basis ?? (anyBpb ? 'sci_bpb_tok_s' : 'sci_tok_s');
    const useBpb = basis === 'sci_bpb_tok_s';
    if (useBpb)
        for (let i = 0; i < n; i++)
            if (comparable[i] === 1 && !Number.isFinite(c.bpb[i]))
                comparable[i] = 0;
    // Group by BPB value (one group without BPB); corners per group.
    const groupOf = new Int32Array(n).fill(-1);
    const groups = new Map();
    const minSciAt = [];
    const maxTokAt = [];
    for (let i = 0; i < n; i++) {
        if (comparable[i] === 0)
            continue;
        const key = useBpb ? c.bpb[i] : 0;
        let g = groups.get(key);
        if (g === undefined) {
            g = minSciAt.length;
            groups.set(key, g);
            minSciAt.push(i);
            maxTokAt.push(i);
        }
        groupOf[i] = g;
        const a = minSciAt[g];
        if (c.sciUg[i] < c.sciUg[a] || (c.sciUg[i] === c.sciUg[a] && c.tokS[i] > c.tokS[a]))
            minSciAt[g] = i;
        const b = maxTokAt[g];
        if (c.tokS[i] > c.tokS[b] || (c.tokS[i] === c.tokS[b] && c.sciUg[i] < c.sciUg[b]))
            maxTokAt[g] = i;
    }
    // Same BPB: q dominates p when sci_q ≤ sci_p and tok_q ≥ tok_p, one of them strictly.
    const dominatedBy = (q, p) => c.sciUg[q] <= c.sciUg[p] && c.tokS[q] >= c.tokS[p] && (c.sciUg[q] < c.sciUg[p] || c.tokS[q] > c.tokS[p]);
    const candidates = [];
    for (let i = 0; i < n; i++) {
        const g = groupOf[i];
        if (g < 0 || dominatedBy(minSciAt[g], i) || dominatedBy(maxTokAt[g], i))
            continue;
        candidates.push({ id: c.id[i], sciUg: c.sciUg[i], bpb: useBpb ? c.bpb[i] : null, tokS: c.tokS[i] });
    }
    let compared = 0;
    for (let i = 0; i < n; i++)
        compared += comparable[i];
    const front = frontOf(basis, paretoFrontSorted(candidates, objectivesOf(basis)), n, compared);
    // flag(id) without a Map of every id (a Map of 100,000 entries costs more than the whole front):
    // the compared ids in a sorted typed array, looked up by binary search.
    const comparedIds = new Float64Array(compared);
    for (let i = 0, j = 0; i < n; i++)
        if (comparable[i] === 1)
            comparedIds[j++] = c.id[i];
    let sorted = true; // rows come back from a scan in id order: sort only when they did not
    for (let i = 1; i < comparedIds.length && sorted; i++)
        sorted = comparedIds[i - 1] <= comparedIds[i];
    if (!sorted)
        comparedIds.sort();
    const isCompared = (id) => {
        let lo = 0;
        let hi = comparedIds.length - 1;
        while (lo <= hi) {
            const mid = (lo + hi) >>> 1;
            const v = comparedIds[mid];
            if (v === id)
                return true;
            if (v < id)
                lo = mid + 1;
            else
                hi = mid - 1;
        }
        return false;
    };
    const onFront = new Set(front.frontIds);
    return { ...front, flag: (id) => (onFront.has(id) ? true : isCompared(id) ? false : null) };
}
function objectivesOf(basis) {
    return [
        { value: (p) => p.sciUg, direction: 'min' },
        ...(basis === 'sci_bpb_tok_s' ? [{ value: (p) => p.bpb, direction: 'min' }] : []),
        { value: (p) => p.tokS, direction: 'max' },
    ];
}
// ---------------------------------------------------------------------------------------------------
// From a results database
/** Above this many distinct BPB values the grouped query below gives way to reading every row. */
const MAX_BPB_GROUPS = 2000;
/**
 * The front of the selected experiments, without reading most of them. BPB depends on (engine, model,
 * quant) only, so the selection falls into a few BPB groups. In each group its lowest-SCI experiment
 * (the highest tok/s among ties) dominates every experiment of the group that is strictly slower: same
 * BPB, SCI no lower, tok/s lower. So: (1) per BPB group the count and the lowest SCI (GROUP BY); (2) the
 * tok/s of those lowest-SCI rows (`sci_ug IN (…)`); (3) only the rows at least as fast as their group's
 * lowest-SCI row, through one CASE on BPB (a binary search in SQL: ~log₂(groups) comparisons a row);
 * (4) the exact front of those few rows (paretoAnalysisColumns). Every front row survives (3): a slower
 * one is dominated. With the index named in query.ts all three queries read the index only; without
 * it, or without BPB (a front over SCI × tok/s), or with very many distinct BPB values, every selected
 * row's four metrics are read instead.
 */
export async function paretoFromDb(reader, sel = {}) {
    if (!(await hasCoveringIndex(reader)))
        return paretoAnalysisColumns(await selectFrontColumns(reader, sel));
    const groups = await selectBpbGroups(reader, sel);
    const selected = groups.reduce((s, g) => s + g.count, 0);
    const withBpb = groups.filter((g) => g.bpb !== null && g.comparable > 0);
    if (withBpb.length === 0 || withBpb.length > MAX_BPB_GROUPS)
        return paretoAnalysisColumns(await selectFrontColumns(reader, sel));
    const anchors = await selectGroupAnchors(reader, sel, withBpb);
    const survivors = await selectAtLeastAsFast(reader, sel, anchors);
    const front = paretoAnalysisColumns(survivors, { basis: 'sci_bpb_tok_s' });
    // Not `flag(id)`: the rows left out in (3) were never read, so only flagOf (from a row's metrics) holds.
    return { basis: front.basis, frontIds: front.frontIds, flagOf: front.flagOf, selected, compared: withBpb.reduce((s, g) => s + g.comparable, 0) };
}
//# sourceMappingURL=pareto.js.map