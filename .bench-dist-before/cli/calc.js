/**
 * `carbonbench calc --experiment ID (--region R | --intensity G | --all-regions)`: an experiment's
 * operational, embodied and total carbon per token under another grid, with the run's own SCI function.
 */
import { InputError, describeValue } from '../errors.js';
import { recomputeAllRegions, recomputeFor } from '../analysis/calculator.js';
import { SIMULATED_FOOTNOTE, round } from '../analysis/present.js';
import { openResultsReader } from '../analysis/query.js';
import { numberFlag } from './flags.js';
import { formatTable, printJson, printText } from './output.js';
export function recalcJson(r) {
    return {
        region: r.region,
        region_name: r.regionName,
        intensity_g_kwh: r.intensityGKwh,
        intensity_source: r.intensitySource,
        is_run_intensity: r.isRunIntensity,
        operational_g: r.sci.operationalG,
        embodied_g: r.sci.embodiedG,
        total_g: r.sci.totalG,
        sci_op_ug: r.sci.sciOpUg,
        sci_emb_ug: r.sci.sciEmbUg,
        sci_ug: r.sci.sciUg,
    };
}
export async function calcCommand(flags, global) {
    if (flags.experiment === undefined)
        throw new InputError('calc needs --experiment ID (an experiment id from `carbonbench top` or the results view)');
    const id = Number(flags.experiment);
    if (!/^\s*\d+\s*$/.test(flags.experiment) || !Number.isSafeInteger(id) || id < 1) {
        throw new InputError(`--experiment ${describeValue(flags.experiment)} is invalid; allowed: an experiment id, a positive integer (see \`carbonbench top\`)`);
    }
    const chosen = [flags.region !== undefined, flags.intensity !== undefined, flags.allRegions === true].filter(Boolean).length;
    if (chosen !== 1) {
        throw new InputError(`calc needs exactly one of --region R (a grid region id, see \`carbonbench regions\`), --intensity G (gCO2e/kWh) or --all-regions; got ${chosen === 0 ? 'none' : 'several'}`);
    }
    const intensity = numberFlag('--intensity', flags.intensity, 0, 2000, 'a number of gCO2e/kWh');
    const reader = await openResultsReader(global.db);
    try {
        const exp = await reader.store.getExperiment(id);
        if (!exp)
            throw new InputError(`--experiment ${describeValue(flags.experiment)}: no experiment with id ${id} in ${reader.location}`);
        const results = flags.allRegions === true
            ? recomputeAllRegions(exp).sort((a, b) => a.intensityGKwh - b.intensityGKwh || (a.region ?? '').localeCompare(b.region ?? ''))
            : [flags.region !== undefined ? recomputeFor(exp, { region: flags.region }) : recomputeFor(exp, { intensityGPerKwh: intensity })];
        const e = results[0].embodied;
        const doc = {
            db: reader.location,
            experiment: {
                id: exp.id,
                run_id: exp.runId,
                engine: exp.engine,
                model: exp.model,
                quant: exp.quant,
                batch: exp.batch,
                input_len: exp.inputLen,
                output_len: exp.outputLen,
                simulated: exp.simulated,
                energy_j: results[0].energyJ,
                energy_kwh: results[0].sci.energyKwh,
                tokens_out: results[0].tokensOut,
                window_s: results[0].windowS,
                j_per_token: results[0].sci.jPerToken,
            },
            stored: { region: exp.region, intensity_g_kwh: exp.intensityGKwh, sci_op_ug: exp.sciOpUg, sci_emb_ug: exp.sciEmbUg, sci_ug: exp.sciUg },
            embodied: {
                basis: e.basis,
                te_g: e.embodiedTotalG,
                lifetime_s: e.lifetimeS,
                gpus_used: e.gpusUsed,
                gpus_total: e.gpusTotal,
                description: e.description,
            },
            results: results.map(recalcJson),
        };
        if (global.json) {
            printJson(doc);
            return 0;
        }
        const r0 = results[0];
        printText([
            `experiment ${exp.id}: ${exp.model} ${exp.quant ?? ''} batch ${exp.batch ?? '–'} in/out ${exp.inputLen ?? '–'}/${exp.outputLen ?? '–'} (${exp.engine})${exp.simulated ? ' SIMULATED' : ''}`,
            `energy: ${round(r0.energyJ, 6)} J over ${round(r0.windowS, 5)} s for ${r0.tokensOut} tokens (${round(r0.sci.jPerToken, 4)} J/token)`,
            `embodied: ${round(r0.sci.embodiedG, 4)} gCO2e for the window (${e.basis}: ${e.description})`,
            `stored: ${exp.region ?? 'given intensity'} ${exp.intensityGKwh ?? '–'} gCO2e/kWh → SCI ${round(exp.sciUg)} µgCO2e/token`,
            '',
        ].join('\n'));
        printText(formatTable(['region', 'name', 'gCO2e/kWh', 'operational µgCO2e/token', 'embodied µgCO2e/token', 'total µgCO2e/token', 'total gCO2e'], results.map((r) => [
            (r.region ?? 'custom') + (r.isRunIntensity ? ' *' : ''),
            r.regionName ?? (r.region === null ? 'given intensity' : ''),
            r.intensityGKwh,
            round(r.sci.sciOpUg),
            round(r.sci.sciEmbUg),
            round(r.sci.sciUg),
            round(r.sci.totalG),
        ])));
        if (results.some((r) => r.isRunIntensity))
            printText('\n* the intensity the run scored with: these numbers equal the stored ones.');
        if (exp.simulated)
            printText(SIMULATED_FOOTNOTE);
        return 0;
    }
    finally {
        await reader.close();
    }
}
//# sourceMappingURL=calc.js.map