/**
 * `carbonbench search-bench --table T.csv [--budget N] [--seeds K] [--target 0.05] [--constraint C]
 * [--noise R] [--json]`: replays a tabular benchmark for every strategy (src/search/bench.ts) and prints
 * the experiments each needs to come within the target of the table's feasible optimum.
 *
 * Carbon inputs: the grid intensity from --intensity or --region (default US-NE-ISNE, 210 gCO2e/kWh);
 * the embodied carbon from --hardware, else from a `# hardware: <profile id>` comment in the table,
 * else the DGX Spark (DESIGN's reference machine). The bayesian strategy is Optuna's TPE through
 * scripts/optuna_bridge.py; without Python/Optuna it is skipped with a warning (--no-bayesian skips it
 * on purpose).
 */
import { chooseHardware } from '../carbon/hardware.js';
import { resolveIntensity } from '../carbon/regions.js';
import { loadTable } from '../engines/table.js';
import { MAX_SIM_NOISE } from '../engines/sim.js';
import { benchJson, runSearchBench } from '../search/bench.js';
import { baselineBpbs, bpbLimit, parseConstraint } from '../search/space.js';
import { intFlag, numberFlag } from './flags.js';
import { formatTable, printJson, printText, sig, warn } from './output.js';
import { InputError } from '../errors.js';
export const DEFAULT_BENCH_HARDWARE = 'dgx-spark';
/** The Optuna TPE strategy for one bench run, with the BPB constraint as a constraint value. */
export async function optunaBenchFactory(ctx) {
    const { createBayesianStrategy } = await import('../search/bayesian.js');
    const constraint = ctx.constraint;
    return createBayesianStrategy({
        space: ctx.space,
        seed: ctx.seed,
        constraint: constraint !== null,
        constraintValue: constraint
            ? (obs) => {
                if (obs.bpb === null)
                    return null;
                const limit = bpbLimit(constraint, obs.point.model, baselineBpbs(ctx.history()));
                return Number.isFinite(limit) ? obs.bpb - limit : null;
            }
            : undefined,
    });
}
function hardwareFromComments(comments) {
    for (const c of comments) {
        const m = /^hardware:\s*([A-Za-z0-9_.-]+)/i.exec(c);
        if (m)
            return m[1];
    }
    return undefined;
}
export async function searchBenchCommand(flags, global, deps = {}) {
    if (!flags.table)
        throw new InputError('--table is required; allowed: the path of a CSV with columns model,quant,batch,input_len,output_len,tok_s,power_w,bpb');
    const table = loadTable(flags.table);
    const budget = intFlag('--budget', flags.budget, 1, 1_000_000);
    const seeds = intFlag('--seeds', flags.seeds, 1, 1000) ?? 5;
    const targetRel = numberFlag('--target', flags.target, 0, 10, 'a relative distance to the optimum (0.05 = within 5%)') ?? 0.05;
    const noise = numberFlag('--noise', flags.noise, 0, MAX_SIM_NOISE, 'a relative σ') ?? 0;
    const patience = intFlag('--patience', flags.patience, 1, 10_000);
    const constraint = flags.constraint === undefined ? null : parseConstraint(flags.constraint, '--constraint');
    const intensityGPerKwh = numberFlag('--intensity', flags.intensity, 0, 2000, 'gCO2e/kWh');
    const intensity = resolveIntensity({ region: intensityGPerKwh === undefined ? flags.region : undefined, intensityGPerKwh });
    const hardwareId = flags.hardware ?? hardwareFromComments(table.comments) ?? DEFAULT_BENCH_HARDWARE;
    const hardware = chooseHardware(null, 1, { hardware: hardwareId });
    const carbon = {
        intensityGPerKwh: intensity.intensityGPerKwh,
        embodiedTotalKg: hardware.embodiedTotalKg,
        lifetimeYears: hardware.lifetimeYears,
        gpusTotal: hardware.gpusTotal,
    };
    const bayesianFactory = flags.bayesian === false ? undefined : (deps.bayesianFactory ?? optunaBenchFactory);
    let bayesWarned = false;
    const result = await runSearchBench({
        table,
        budget,
        seeds,
        targetRel,
        constraint,
        noise,
        carbon,
        patience,
        bayesianFactory,
        onProgress: (message) => {
            if (message.startsWith('bayesian skipped:') && !bayesWarned) {
                bayesWarned = true;
                warn(`${message} (the bayesian strategy and the pipeline's bayesian phase are left out)`);
            }
        },
    });
    if (flags.bayesian === false)
        result.strategies.bayesian.skipped = '--no-bayesian';
    if (global.json) {
        printJson(benchJson(result));
        return 0;
    }
    printText(humanReport(result, { file: flags.table, constraintText: constraint?.text ?? null, noise, hardwareId, region: intensity.region, intensityGPerKwh: intensity.intensityGPerKwh }));
    return 0;
}
function humanReport(r, ctx) {
    const lines = [];
    lines.push(`table: ${ctx.file} (${r.configs} configs of a ${r.spacePoints}-point space; ${r.feasible} feasible under ${ctx.constraintText ? `"${ctx.constraintText}"` : 'no constraint'})`);
    const o = r.optimum;
    lines.push(o ? `optimum: ${o.model} ${o.quant} batch ${o.batch} input ${o.input_len} output ${o.output_len}: ${sig(o.sci_ug)} µgCO2e/token (bpb ${sig(o.bpb)}, ${sig(o.tok_s)} tok/s, ${sig(o.power_w)} W)` : 'optimum: none (no feasible config)');
    lines.push(`settings: budget ${r.budget} experiments, ${r.seeds} seeds, target within ${Number((100 * r.targetRel).toPrecision(3))}% of the optimum, noise σ ${ctx.noise}, carbon ${ctx.intensityGPerKwh} gCO2e/kWh (${ctx.region ?? 'intensity given'}) and ${ctx.hardwareId} embodied`);
    lines.push('');
    const names = { grid: 'grid (exhaustive)', random: 'random', bayesian: 'bayesian', pipeline: 'pipeline' };
    const rows = Object.keys(names).map((k) => {
        const s = r.strategies[k];
        if (s.skipped)
            return [names[k], null, null, null, 'skipped'];
        return [names[k], s.median, s.iqr?.[0] ?? null, s.iqr?.[1] ?? null, `${s.reached}/${r.seeds}`];
    });
    lines.push(formatTable(['strategy', 'median', 'q1', 'q3', 'reached'], rows));
    lines.push('');
    lines.push('median, q1, q3: experiments until the best feasible SCI found is within the target of the optimum; – = not reached within the budget by enough seeds.');
    for (const k of Object.keys(names)) {
        const why = r.strategies[k].skipped;
        if (why)
            lines.push(`${k} skipped: ${why}`);
    }
    const g = r.strategies.grid.median;
    const p = r.strategies.pipeline.median;
    if (g !== null && p !== null)
        lines.push(`pipeline / exhaustive grid: ${p} / ${g} = ${(p / g).toFixed(2)} of the experiments (goal: at most 1/3 = 0.33)`);
    const sw = r.strategies.pipeline.switches ?? [];
    if (sw.length > 0) {
        lines.push('', 'pipeline phase switches (seed 0, until it reached the target or stopped):');
        for (const s of sw)
            lines.push(`  after ${s.atExperiment}: ${s.from} → ${s.to}: ${s.reason}`);
    }
    return lines.join('\n');
}
//# sourceMappingURL=search-bench.js.map