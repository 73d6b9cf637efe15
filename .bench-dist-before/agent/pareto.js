/**
 * `a` dominates `b`: no worse on every objective and strictly better on at least one.
 * Both value arrays must be finite and oriented so that smaller is better.
 */
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
/**
 * The non-dominated items, in input order. Items missing any objective's value are left out (dominance
 * with a missing metric is undefined). Items equal on every objective are all kept.
 */
export function paretoFront(items, objectives) {
    if (objectives.length === 0)
        return [...items];
    const scored = [];
    for (const item of items) {
        const v = [];
        let complete = true;
        for (const o of objectives) {
            const raw = o.value(item);
            if (raw === null || !Number.isFinite(raw)) {
                complete = false;
                break;
            }
            // Orient every objective as "smaller is better".
            v.push(o.direction === 'min' ? raw : -raw);
        }
        if (complete)
            scored.push({ item, v });
    }
    return scored.filter((s) => !scored.some((o) => o !== s && dominates(o.v, s.v))).map((s) => s.item);
}
/**
 * The Pareto set of measured observations: SCI min, BPB min, tok/s max. Failed observations never
 * count. When no measured observation has a BPB (an engine without BPB support, or BPB not computed
 * yet), the front is taken over SCI × tok/s alone instead of being empty.
 */
export function paretoObservations(history) {
    const ok = history.filter((o) => o.status === 'ok');
    const objectives = [
        { value: (o) => o.sciUg, direction: 'min' },
        { value: (o) => o.tokS, direction: 'max' },
    ];
    if (ok.some((o) => o.bpb !== null && Number.isFinite(o.bpb)))
        objectives.push({ value: (o) => o.bpb, direction: 'min' });
    return paretoFront(ok, objectives);
}
//# sourceMappingURL=pareto.js.map