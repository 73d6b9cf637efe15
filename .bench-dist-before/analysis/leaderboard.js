/**
 * The greenest configurations (`carbonbench top`) and the leaderboards by model, quantization, engine
 * or batch (`carbonbench leaderboard`): best SCI per group with the config that reached it.
 *
 * Both start from a Selection (query.ts): finished experiments with an SCI; by default real
 * measurements only and no `carbonbench measure` one-offs. Simulated rows, when included, keep their
 * `simulated` flag so that every output can label them. Ties on SCI go to the lower id (the earlier
 * experiment), in SQL and in memory alike.
 */
import { paretoAnalysis, paretoFromDb } from './pareto.js';
import { anyWithBpb, selectGroupBests, selectTop, selectUpToSci, } from './query.js';
export { GROUP_COLUMNS } from './query.js';
export const GROUP_KEYS = ['model', 'quant', 'engine', 'batch'];
const bySciThenId = (a, b) => (a.sciUg ?? Infinity) - (b.sciUg ?? Infinity) || a.id - b.id;
/** The n lowest-SCI rows (ties: lower id first), each with its Pareto flag among `rows`. */
export function topGreenest(rows, n) {
    const pareto = paretoAnalysis(rows);
    const top = [...rows].filter((r) => r.sciUg !== null && Number.isFinite(r.sciUg)).sort(bySciThenId).slice(0, n);
    return { rows: top.map((r) => ({ ...r, pareto: pareto.flagOf(r) })), basis: pareto.basis };
}
export const groupLabel = (key) => (key === null ? '(none)' : String(key));
function median(sorted) {
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
/** Best SCI per group, groups ordered by that best SCI; Pareto flags among all of `rows`. */
export function leaderboardOf(rows, by) {
    const pareto = paretoAnalysis(rows);
    const groups = new Map();
    for (const row of rows) {
        if (row.sciUg === null || !Number.isFinite(row.sciUg))
            continue;
        const key = row[by];
        const list = groups.get(key);
        if (list)
            list.push(row);
        else
            groups.set(key, [row]);
    }
    const out = [...groups.entries()].map(([key, list]) => {
        const sorted = [...list].sort(bySciThenId);
        const best = sorted[0];
        return {
            key,
            group: groupLabel(key),
            best: { ...best, pareto: pareto.flagOf(best) },
            count: list.length,
            medianSciUg: median(sorted.map((r) => r.sciUg)),
        };
    });
    return { groups: out.sort((a, b) => bySciThenId(a.best, b.best)), basis: pareto.basis };
}
// ---------------------------------------------------------------------------------------------------
// From a results database (the CLI): filtering, ordering and grouping in SQL
/**
 * `top`: the n greenest selected experiments with their Pareto flags, without reading the other rows:
 * whatever dominates one of them has an SCI no larger, so it is among the rows with SCI ≤ the n-th's.
 * Those are the n rows themselves unless the n-th SCI is tied, and only then are the ties read.
 */
export async function topFromDb(reader, sel, n) {
    const rows = await selectTop(reader, sel, n + 1);
    const top = rows.slice(0, n);
    const last = top[top.length - 1];
    const tied = last !== undefined && rows.length > n && rows[n].sciUg === last.sciUg;
    const candidates = tied ? await selectUpToSci(reader, sel, last.sciUg) : top;
    const basis = (await anyWithBpb(reader, sel)) ? 'sci_bpb_tok_s' : 'sci_tok_s';
    const pareto = paretoAnalysis(candidates, { basis });
    return { rows: top.map((r) => ({ ...r, pareto: pareto.flagOf(r) })), basis };
}
/** `leaderboard --by`: best per group and the group statistics from SQL; flags from the whole front. */
export async function leaderboardFromDb(reader, sel, by) {
    const groups = await selectGroupBests(reader, sel, by, { medians: true });
    const pareto = await paretoFromDb(reader, sel);
    const out = groups.map((g) => ({
        key: g.key,
        group: groupLabel(g.key),
        best: { ...g.best, pareto: pareto.flagOf(g.best) },
        count: g.count,
        medianSciUg: g.medianSciUg,
    }));
    return { groups: out.sort((a, b) => bySciThenId(a.best, b.best)), basis: pareto.basis };
}
//# sourceMappingURL=leaderboard.js.map