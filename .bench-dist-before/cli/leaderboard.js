/** `carbonbench leaderboard [--by model|quant|engine|batch]`: best SCI per group with its config. */
import { InputError, describeValue } from '../errors.js';
import { GROUP_KEYS, leaderboardFromDb } from '../analysis/leaderboard.js';
import { PARETO_OBJECTIVES_TEXT } from '../analysis/pareto.js';
import { PARETO_FOOTNOTE, SIMULATED_FOOTNOTE, dataCell, emptySelectionMessage, experimentJson, lengthsCell, paretoCell, round, selectionFromFlags, selectionJson, } from '../analysis/present.js';
import { openResultsReader } from '../analysis/query.js';
import { formatTable, printJson, printText } from './output.js';
export function parseGroupKey(text) {
    if (text === undefined)
        return 'model';
    const key = text.trim().toLowerCase();
    if (!GROUP_KEYS.includes(key)) {
        throw new InputError(`--by ${describeValue(text)} is invalid; allowed: ${GROUP_KEYS.join(', ')}`);
    }
    return key;
}
export async function leaderboardCommand(flags, global) {
    const by = parseGroupKey(flags.by);
    const sel = selectionFromFlags(flags);
    const reader = await openResultsReader(global.db);
    try {
        const { groups, basis } = await leaderboardFromDb(reader, sel, by);
        const message = groups.length === 0 ? await emptySelectionMessage(reader, sel) : null;
        if (global.json) {
            printJson({
                db: reader.location,
                by,
                selection: selectionJson(sel),
                pareto_objectives: PARETO_OBJECTIVES_TEXT[basis],
                groups: groups.map((g, i) => ({
                    rank: i + 1,
                    group: g.key,
                    experiments: g.count,
                    best_sci_ug: g.best.sciUg,
                    median_sci_ug: g.medianSciUg,
                    best: experimentJson(g.best, g.best.pareto),
                })),
                ...(message === null ? {} : { message }),
            });
            return 0;
        }
        if (message !== null) {
            printText(message);
            return 0;
        }
        // The grouping column is the first one; the config columns repeat the others.
        const configColumns = ['model', 'quant', 'engine', 'batch'].filter((c) => c !== by);
        const anySimulated = groups.some((g) => g.best.simulated);
        const header = [
            '#',
            by,
            'experiments',
            'best SCI µgCO2e/token',
            'median SCI µgCO2e/token',
            'id',
            ...configColumns,
            'in/out tokens',
            'BPB bits/byte',
            'tok/s',
            'Pareto',
            ...(anySimulated ? ['data'] : []),
        ];
        printText(formatTable(header, groups.map((g, i) => [
            i + 1,
            g.group,
            g.count,
            round(g.best.sciUg),
            round(g.medianSciUg),
            g.best.id,
            ...configColumns.map((c) => g.best[c]),
            lengthsCell(g.best),
            round(g.best.bpb),
            round(g.best.tokS),
            paretoCell(g.best.pareto),
            ...(anySimulated ? [dataCell(g.best)] : []),
        ])));
        printText(`\nPareto: ${PARETO_OBJECTIVES_TEXT[basis]}. ${groups.some((g) => g.best.pareto === null) ? PARETO_FOOTNOTE : ''}`.trimEnd());
        if (anySimulated)
            printText(SIMULATED_FOOTNOTE);
        return 0;
    }
    finally {
        await reader.close();
    }
}
//# sourceMappingURL=leaderboard.js.map