/** `carbonbench pareto`: the SCI × BPB × tok/s Pareto front of the finished experiments. */
import { PARETO_OBJECTIVES_TEXT, paretoFromDb } from '../analysis/pareto.js';
import { SIMULATED_FOOTNOTE, dataCell, emptySelectionMessage, experimentJson, lengthsCell, round, selectionFromFlags, selectionJson, } from '../analysis/present.js';
import { openResultsReader, rowsByIds } from '../analysis/query.js';
import { formatTable, printJson, printText } from './output.js';
export async function paretoCommand(flags, global) {
    const sel = selectionFromFlags(flags);
    const reader = await openResultsReader(global.db);
    try {
        const pareto = await paretoFromDb(reader, sel);
        const byId = new Map((await rowsByIds(reader, pareto.frontIds)).map((r) => [r.id, r]));
        const front = pareto.frontIds.map((id) => byId.get(id));
        const selected = pareto.selected;
        const notCompared = selected - pareto.compared;
        const message = selected === 0 ? await emptySelectionMessage(reader, sel) : null;
        if (global.json) {
            printJson({
                db: reader.location,
                selection: selectionJson(sel),
                objectives: PARETO_OBJECTIVES_TEXT[pareto.basis],
                basis: pareto.basis,
                selected,
                compared: pareto.compared,
                not_compared: notCompared,
                front: front.map((r) => experimentJson(r)),
                ...(message === null ? {} : { message }),
            });
            return 0;
        }
        if (message !== null) {
            printText(message);
            return 0;
        }
        const anySimulated = front.some((r) => r.simulated);
        printText(`Pareto front over ${PARETO_OBJECTIVES_TEXT[pareto.basis]}: ${front.length} of ${pareto.compared} compared experiments` +
            (notCompared > 0 ? ` (${notCompared} more without BPB or throughput ${notCompared === 1 ? 'was' : 'were'} not compared)` : '') +
            '\n');
        printText(formatTable(['id', 'model', 'quant', 'batch', 'in/out tokens', 'SCI µgCO2e/token', 'BPB bits/byte', 'tok/s', 'J/token', ...(anySimulated ? ['data'] : [])], front.map((r) => [r.id, r.model, r.quant, r.batch, lengthsCell(r), round(r.sciUg), round(r.bpb), round(r.tokS), round(r.jPerToken), ...(anySimulated ? [dataCell(r)] : [])])));
        if (anySimulated)
            printText(`\n${SIMULATED_FOOTNOTE}`);
        return 0;
    }
    finally {
        await reader.close();
    }
}
//# sourceMappingURL=pareto.js.map