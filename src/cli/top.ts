/** `carbonbench top [-n 5]`: the greenest configurations, with their Pareto flags. */
import { topFromDb } from '../analysis/leaderboard.js';
import { PARETO_OBJECTIVES_TEXT } from '../analysis/pareto.js';
import {
  PARETO_FOOTNOTE,
  SIMULATED_FOOTNOTE,
  dataCell,
  emptySelectionMessage,
  experimentJson,
  lengthsCell,
  paretoCell,
  round,
  selectionFromFlags,
  selectionJson,
} from '../analysis/present.js';
import { openResultsReader } from '../analysis/query.js';
import { intFlag } from './flags.js';
import { formatTable, printJson, printText, type GlobalOptions } from './output.js';

export interface TopFlags {
  /** How many (commander's `-n`). */
  n?: string;
  includeSimulated?: boolean;
  includeManual?: boolean;
  /** Only this hardware profile id. */
  hardware?: string;
}

export const TOP_DEFAULT_N = 5;

export async function topCommand(flags: TopFlags, global: GlobalOptions): Promise<number> {
  const n = intFlag('-n', flags.n, 1, 100_000) ?? TOP_DEFAULT_N;
  const sel = selectionFromFlags(flags);
  const reader = await openResultsReader(global.db);
  try {
    const { rows, basis } = await topFromDb(reader, sel, n);
    const message = rows.length === 0 ? await emptySelectionMessage(reader, sel) : null;
    if (global.json) {
      printJson({
        db: reader.location,
        n,
        selection: selectionJson(sel),
        pareto_objectives: PARETO_OBJECTIVES_TEXT[basis],
        experiments: rows.map((r, i) => ({ rank: i + 1, ...experimentJson(r, r.pareto) })),
        ...(message === null ? {} : { message }),
      });
      return 0;
    }
    if (message !== null) {
      printText(message);
      return 0;
    }
    const anySimulated = rows.some((r) => r.simulated);
    const header = ['#', 'id', 'model', 'quant', 'batch', 'in/out tokens', 'SCI µgCO2e/token', 'BPB bits/byte', 'tok/s', 'J/token', 'Pareto', ...(anySimulated ? ['data'] : [])];
    printText(
      formatTable(
        header,
        rows.map((r, i) => [
          i + 1,
          r.id,
          r.model,
          r.quant,
          r.batch,
          lengthsCell(r),
          round(r.sciUg),
          round(r.bpb),
          round(r.tokS),
          round(r.jPerToken),
          paretoCell(r.pareto),
          ...(anySimulated ? [dataCell(r)] : []),
        ]),
      ),
    );
    printText(`\nPareto: ${PARETO_OBJECTIVES_TEXT[basis]}. ${rows.some((r) => r.pareto === null) ? PARETO_FOOTNOTE : ''}`.trimEnd());
    if (anySimulated) printText(SIMULATED_FOOTNOTE);
    return 0;
  } finally {
    await reader.close();
  }
}
