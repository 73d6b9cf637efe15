/**
 * The report's numbers come from src/analysis, the functions behind `carbonbench top`, `leaderboard`,
 * `pareto`, `fit` and `calc`: a figure is computed in one place, so the page and the CLI agree. This
 * file only chooses the rows and adapts the results to the page's document (types.ts).
 */
import { embodiedInputsOf } from '../analysis/calculator.js';
import { GROUP_KEYS, leaderboardOf, topGreenest } from '../analysis/leaderboard.js';
import { PARETO_OBJECTIVES_TEXT, paretoAnalysis } from '../analysis/pareto.js';
import { isSelected } from '../analysis/query.js';
import { familyOf, modelPoints, scalingAnalysis } from '../analysis/scaling.js';
export { loadFrontierModels } from '../analysis/scaling.js';
/**
 * What the report shows by default: every finished experiment with an SCI, simulated and
 * `carbonbench measure` ones included (and labelled): a report of a sim sweep must not be empty. The
 * CLI's rankings leave those out unless asked; `top --include-simulated --include-manual` matches.
 */
export const REPORT_SELECTION = { includeSimulated: true, includeManual: true };
export function selectRows(rows, sel = REPORT_SELECTION) {
    return rows.filter((e) => isSelected(e, sel));
}
/** program.md's `family` (kept in config_json), else derived from the model id: scaling.ts's rule. */
export function familyOfExperiment(e) {
    const f = e.config.family;
    return familyOf(e.model, typeof f === 'string' ? f : null);
}
export function analyse(rows, frontier, topN) {
    const pareto = paretoAnalysis(rows);
    const top = topGreenest(rows, topN).rows;
    const byId = new Map(rows.map((r) => [r.id, r]));
    const leaderboards = GROUP_KEYS.map((by) => ({
        by,
        groups: leaderboardOf(rows, by).groups.map((g) => ({ group: g.group, best: byId.get(g.best.id), count: g.count, medianSciUg: g.medianSciUg })),
    }));
    const { points, skipped } = modelPoints(rows, familyOfExperiment);
    return {
        pareto,
        paretoObjectives: PARETO_OBJECTIVES_TEXT[pareto.basis],
        top: top.map((t) => byId.get(t.id)),
        leaderboards,
        scaling: scalingAnalysis(points, frontier, skipped),
    };
}
/** The embodied inputs `carbonbench calc` uses for this experiment; null when it cannot recompute it. */
export function embodiedInputs(e) {
    try {
        return embodiedInputsOf(e);
    }
    catch {
        return null;
    }
}
//# sourceMappingURL=analysis.js.map