/**
 * Shared shapes of the analysis outputs: the JSON of one experiment (snake_case, units in names, the
 * `results` view's column names) and the cells of the human tables. Used by the CLI commands (top,
 * leaderboard, pareto, fit, calc) so that they print one experiment the same way, and by the report.
 */
import { excludedCounts } from './query.js';
/** One experiment in JSON output. `pareto`: true on the front, false dominated, null not comparable. */
export function experimentJson(row, pareto) {
    return {
        id: row.id,
        run_id: row.runId,
        phase: row.phase,
        engine: row.engine,
        model: row.model,
        params: row.params,
        quant: row.quant,
        batch: row.batch,
        input_len: row.inputLen,
        output_len: row.outputLen,
        sci_ug: row.sciUg,
        sci_op_ug: row.sciOpUg,
        sci_emb_ug: row.sciEmbUg,
        bpb: row.bpb,
        tok_s: row.tokS,
        j_per_token: row.jPerToken,
        energy_j: row.energyJ,
        tokens_out: row.tokensOut,
        window_s: row.windowS,
        energy_source: row.energySource,
        energy_ci_rel: row.energyCiRel,
        region: row.region,
        intensity_g_kwh: row.intensityGKwh,
        hardware_id: row.hardwareId,
        simulated: row.simulated,
        ...(pareto === undefined ? {} : { pareto }),
    };
}
/** The selection that the `--include-simulated` and `--include-manual` flags ask for. */
export function selectionFromFlags(flags) {
    return { includeSimulated: flags.includeSimulated === true, includeManual: flags.includeManual === true };
}
export function selectionJson(sel) {
    return { include_simulated: sel.includeSimulated === true, include_manual: sel.includeManual === true };
}
/** A number rounded to `digits` significant digits, kept a number so that tables right-align it. */
export function round(value, digits = 4) {
    if (value === null || value === undefined || !Number.isFinite(value))
        return null;
    return Number(value.toPrecision(digits));
}
/** Pareto flag in a table. */
export const paretoCell = (flag) => (flag === true ? 'yes' : flag === false ? 'no' : 'n/a');
/** `in/out` token lengths in a table. */
export const lengthsCell = (row) => `${row.inputLen ?? '–'}/${row.outputLen ?? '–'}`;
/** The label of a simulated row in a table. */
export const dataCell = (row) => (row.simulated ? 'SIMULATED' : 'measured');
export const SIMULATED_FOOTNOTE = 'SIMULATED: sim or table engine, not a real measurement.';
export const PARETO_FOOTNOTE = 'Pareto n/a: not comparable (no BPB while the front uses BPB, or no throughput).';
/**
 * Why a selection is empty, in one sentence that says which flag would help; null when the database
 * has no scored experiment at all that a flag could add.
 */
export async function emptySelectionMessage(reader, sel) {
    const c = await excludedCounts(reader);
    if (c.scored === 0)
        return `no finished experiment with an SCI in ${reader.location} yet (run \`carbonbench run\` first)`;
    const hints = [];
    if (sel.includeSimulated !== true && c.simulated > 0)
        hints.push(`${c.simulated} simulated (pass --include-simulated; they stay labelled)`);
    if (sel.includeManual !== true && c.manual > 0)
        hints.push(`${c.manual} from \`carbonbench measure\` (pass --include-manual)`);
    return `no experiment matches: of the ${c.scored} scored experiments in ${reader.location}, ${hints.length > 0 ? hints.join(' and ') : 'none is selected'}`;
}
//# sourceMappingURL=present.js.map