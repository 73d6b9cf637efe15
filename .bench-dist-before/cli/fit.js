/** `carbonbench fit [--family F]`: power law SCI = a · params^b over models, extrapolated to frontier models. */
import { InputError, describeValue } from '../errors.js';
import { SIMULATED_FOOTNOTE, emptySelectionMessage, round, selectionFromFlags, selectionJson, } from '../analysis/present.js';
import { openResultsReader } from '../analysis/query.js';
import { formatFit, scalingFromDb } from '../analysis/scaling.js';
import { formatTable, printJson, printText } from './output.js';
export function scalingGroupJson(g) {
    return {
        family: g.family,
        models: g.points.length,
        fit: g.fit === null
            ? null
            : {
                formula: formatFit(g.fit),
                a_ug: g.fit.a,
                b: g.fit.b,
                r2: g.fit.r2,
                n: g.fit.n,
                df: g.fit.df,
                b_std_err: g.fit.bStdErr,
                t975: g.fit.t975,
                b_ci95: [g.fit.bLow, g.fit.bHigh],
                params_min: g.fit.paramsMin,
                params_max: g.fit.paramsMax,
            },
        message: g.message,
        points: g.points.map((p) => ({
            model: p.model,
            family: p.family,
            params: p.params,
            sci_ug: p.sciUg,
            experiment_id: p.experimentId,
            engine: p.engine,
            quant: p.quant,
            batch: p.batch,
            input_len: p.inputLen,
            output_len: p.outputLen,
            simulated: p.simulated,
        })),
        extrapolation: g.extrapolation.map((e) => ({
            name: e.name,
            params_total: e.paramsTotal,
            params_active: e.paramsActive,
            params_used: e.paramsUsed,
            moe: e.moe,
            sci_ug: e.sciUg,
            sci_low_ug: e.sciLowUg,
            sci_high_ug: e.sciHighUg,
            estimate: e.estimate,
            extrapolation_factor: e.extrapolationFactor,
            basis: e.basis,
            source: e.source,
        })),
    };
}
const billions = (params) => `${Number((params / 1e9).toPrecision(3))}B`;
export async function fitCommand(flags, global) {
    const sel = selectionFromFlags(flags);
    const reader = await openResultsReader(global.db);
    try {
        const analysis = await scalingFromDb(reader, sel);
        let chosen = analysis.all;
        if (flags.family !== undefined) {
            const wanted = flags.family.trim().toLowerCase();
            const found = analysis.families.find((f) => f.family.toLowerCase() === wanted);
            if (!found) {
                const known = analysis.families.map((f) => f.family);
                throw new InputError(`--family ${describeValue(flags.family)} is not a family of the selected experiments; allowed: ${known.length > 0 ? known.join(', ') : '(none: no model has a parameter count yet)'}`);
            }
            chosen = found;
        }
        const empty = analysis.all.points.length === 0 && analysis.skipped.length === 0 ? await emptySelectionMessage(reader, sel) : null;
        if (global.json) {
            printJson({
                db: reader.location,
                selection: selectionJson(sel),
                // `family`: the one asked for, or `all` (every family pooled).
                ...scalingGroupJson(chosen),
                ...(flags.family === undefined ? { families: analysis.families.map(scalingGroupJson) } : {}),
                skipped: analysis.skipped,
                notes: analysis.notes,
                ...(empty === null ? {} : { message: empty }),
            });
            return 0;
        }
        if (empty !== null) {
            printText(empty);
            return 0;
        }
        const scope = chosen.family === 'all' ? `all families (${analysis.families.map((f) => f.family).join(', ')})` : `family ${chosen.family}`;
        if (chosen.fit === null) {
            printText(`scaling law, ${scope}: no fit: ${chosen.message}`);
        }
        else {
            const f = chosen.fit;
            printText(`scaling law, ${scope}:\n  ${formatFit(f, 4)}`);
            printText(`  exponent b = ${f.b.toPrecision(4)}, 95% interval [${f.bLow.toPrecision(4)}, ${f.bHigh.toPrecision(4)}] (t = ${f.t975}, ${f.df} df)`);
        }
        if (chosen.points.length > 0) {
            printText('\npoints (each model\'s lowest SCI):');
            printText(formatTable(['model', 'family', 'params', 'SCI µgCO2e/token', 'id', 'quant', 'batch', 'in/out tokens'], chosen.points.map((p) => [p.model + (p.simulated ? ' (SIMULATED)' : ''), p.family, billions(p.params), round(p.sciUg), p.experimentId, p.quant, p.batch, `${p.inputLen ?? '–'}/${p.outputLen ?? '–'}`])));
        }
        if (flags.family === undefined && analysis.families.length > 1) {
            printText('\nper family:');
            for (const g of analysis.families)
                printText(`  ${g.family}: ${g.fit === null ? `no fit: ${g.message}` : formatFit(g.fit)}`);
        }
        if (analysis.skipped.length > 0) {
            printText(`\nleft out: ${analysis.skipped.map((s) => `${s.model} (${s.reason})`).join('; ')}`);
        }
        if (chosen.fit !== null) {
            printText('\nfrontier models — ESTIMATES extrapolated from the fit, not measurements (mixture-of-experts: active parameters):');
            printText(formatTable(['model', 'params total', 'params used', 'MoE', 'SCI µgCO2e/token (estimate)', '95% prediction interval µgCO2e/token', '× largest fitted'], chosen.extrapolation.map((e) => [
                e.name + (e.basis === 'estimate' ? ' (size estimated)' : ''),
                billions(e.paramsTotal),
                billions(e.paramsUsed),
                e.moe ? 'yes' : 'no',
                round(e.sciUg, 3),
                `${round(e.sciLowUg, 3)} – ${round(e.sciHighUg, 3)}`,
                round(e.extrapolationFactor, 3),
            ])));
        }
        if (chosen.points.some((p) => p.simulated))
            printText(`\n${SIMULATED_FOOTNOTE}`);
        return 0;
    }
    finally {
        await reader.close();
    }
}
//# sourceMappingURL=fit.js.map