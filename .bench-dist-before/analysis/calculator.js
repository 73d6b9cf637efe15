/**
 * The carbon calculator (`carbonbench calc`, the report's `calculator` and `by-region` sections):
 * an experiment's operational, embodied and total carbon per token recomputed for another grid
 * region or intensity, with the very function the run scored it with (src/carbon/sci.ts computeSci).
 *
 * Inputs come from the stored experiment: energy_j, tokens_out, window_s, and the embodied inputs
 * (TE, lifetime, GPU share), found in this order:
 * 1. `provenance`: the run wrote `…; TE <kg> kg over <years> y, <used>/<total> GPUs` under
 *    `embodied_g`. Those are the exact numbers it passed to computeSci; they are used when they
 *    reproduce the stored `embodied_g`.
 * 2. `stored`: the stored `embodied_g` itself (the run's M for this window, whatever produced it),
 *    passed as TE = embodied_g over a lifetime of one window and one GPU of one: computeSci returns it
 *    unchanged.
 * 3. `hardware-profile`: no stored figure (an older or hand-made row): the hardware profile named by
 *    `hardware_id` (data/hardware.csv), charging the GPUs used in full (gpus_total = gpus_used).
 * Embodied carbon does not depend on the grid; only the operational part changes with the region.
 *
 * Given the run's own intensity the results equal the stored sci_op_ug, sci_emb_ug and sci_ug
 * exactly (same function, same inputs: tests/analysis/calculator.test.ts checks it bit for bit).
 */
import { InputError, describeValue } from '../errors.js';
import { loadHardwareProfiles } from '../carbon/hardware.js';
import { loadRegions, resolveIntensity } from '../carbon/regions.js';
import { J_PER_KWH, SECONDS_PER_YEAR, computeSci } from '../carbon/sci.js';
const PROVENANCE_RE = /;\s*TE\s+(\S+)\s+kg\s+over\s+(\S+)\s+y,\s*(\d+)\/(\d+)\s+GPUs\s*$/;
/** Throws InputError when the experiment has nothing to recompute from. */
function measured(exp) {
    const missing = ['energyJ', 'tokensOut', 'windowS'].filter((k) => exp[k] === null);
    if (exp.status !== 'ok' || missing.length > 0 || !(exp.tokensOut > 0) || !(exp.windowS > 0)) {
        const why = exp.status !== 'ok' ? `its status is ${exp.status}` : `it has no ${missing.length > 0 ? missing.join(', ') : 'tokens or window'}`;
        throw new InputError(`experiment ${exp.id} cannot be recomputed: ${why}; the calculator needs a finished experiment (status ok) with energy, tokens and a window`);
    }
    return { energyJ: exp.energyJ, tokensOut: exp.tokensOut, windowS: exp.windowS };
}
export function embodiedInputsOf(exp) {
    const { windowS } = measured(exp);
    const text = exp.provenance?.embodied_g;
    if (typeof text === 'string' && exp.embodiedG !== null) {
        const m = PROVENANCE_RE.exec(text);
        if (m) {
            const teKg = Number(m[1]);
            const years = Number(m[2]);
            const used = Number(m[3]);
            const total = Number(m[4]);
            const inputs = { embodiedTotalG: teKg * 1000, lifetimeS: years * SECONDS_PER_YEAR, gpusUsed: used, gpusTotal: total };
            const ok = Number.isFinite(teKg) && teKg >= 0 && years > 0 && used >= 1 && used <= total;
            // The same expression as computeSci's M: the parsed inputs must give back the stored figure.
            if (ok && Math.abs(inputs.embodiedTotalG * (windowS / inputs.lifetimeS) * (used / total) - exp.embodiedG) <= 1e-12 * Math.max(1e-300, exp.embodiedG)) {
                return { basis: 'provenance', ...inputs, description: text };
            }
        }
    }
    if (exp.embodiedG !== null) {
        return {
            basis: 'stored',
            embodiedTotalG: exp.embodiedG,
            lifetimeS: windowS,
            gpusUsed: 1,
            gpusTotal: 1,
            description: `stored embodied_g = ${exp.embodiedG} g for this window`,
        };
    }
    const profile = exp.hardwareId === null ? undefined : loadHardwareProfiles().find((p) => p.id === exp.hardwareId);
    if (!profile) {
        throw new InputError(`experiment ${exp.id} has no embodied carbon figure and no known hardware profile (hardware_id ${describeValue(exp.hardwareId)}): nothing to compute M from`);
    }
    const gpus = exp.gpusUsed ?? 1;
    return {
        basis: 'hardware-profile',
        embodiedTotalG: profile.embodiedKg * gpus * 1000,
        lifetimeS: profile.lifetimeYears * SECONDS_PER_YEAR,
        gpusUsed: gpus,
        gpusTotal: gpus,
        description: `hardware profile ${profile.id}: ${profile.embodiedKg} kg per unit over ${profile.lifetimeYears} y, ${gpus}/${gpus} GPUs (no stored figure)`,
    };
}
/** The experiment recomputed under `intensity` (a region's or a given one). */
export function recomputeCarbon(exp, intensity, regionName = null) {
    const { energyJ, tokensOut, windowS } = measured(exp);
    const embodied = embodiedInputsOf(exp);
    const sci = computeSci({
        energyJ,
        tokensOut,
        intensityGPerKwh: intensity.intensityGPerKwh,
        embodiedTotalG: embodied.embodiedTotalG,
        lifetimeS: embodied.lifetimeS,
        windowS,
        gpusUsed: embodied.gpusUsed,
        gpusTotal: embodied.gpusTotal,
    });
    return {
        experimentId: exp.id,
        region: intensity.region,
        regionName,
        intensityGKwh: intensity.intensityGPerKwh,
        intensitySource: intensity.source,
        isRunIntensity: exp.intensityGKwh !== null && intensity.intensityGPerKwh === exp.intensityGKwh && (intensity.region === null || exp.region === null || intensity.region === exp.region),
        energyJ,
        tokensOut,
        windowS,
        sci,
        embodied,
        simulated: exp.simulated,
    };
}
/** For a region id (any case) or a direct intensity, validated like program.md's carbon block. */
export function recomputeFor(exp, opts) {
    const choice = resolveIntensity(opts);
    const name = choice.region === null ? null : (loadRegions().find((r) => r.id === choice.region)?.name ?? null);
    return recomputeCarbon(exp, choice, name);
}
/** Every grid region of data/grid-regions.csv, in file order. */
export function recomputeAllRegions(exp, regions = loadRegions()) {
    return regions.map((r) => recomputeCarbon(exp, { intensityGPerKwh: r.intensityGPerKwh, region: r.id, source: `${r.name}: ${r.source}` }, r.name));
}
/** The run's own intensity: what reproduces the stored scores. */
export function recomputeAsRun(exp) {
    if (exp.intensityGKwh === null)
        throw new InputError(`experiment ${exp.id} has no stored intensity_g_kwh`);
    const name = exp.region === null ? null : (loadRegions().find((r) => r.id === exp.region)?.name ?? null);
    return recomputeCarbon(exp, { intensityGPerKwh: exp.intensityGKwh, region: exp.region, source: 'the run\'s own intensity' }, name);
}
/** kWh in a joule figure, with the constant computeSci uses (for callers that show energy). */
export const joulesToKwh = (energyJ) => energyJ / J_PER_KWH;
//# sourceMappingURL=calculator.js.map