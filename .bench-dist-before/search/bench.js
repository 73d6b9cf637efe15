/**
 * search-bench (DESIGN section 7): replays a tabular benchmark for each strategy and counts the
 * experiments each needs until the best feasible SCI it found is within `target` of the table's feasible
 * optimum.
 *
 * - Strategies, each run once per seed on a fresh table evaluator (noise seeded by the seed):
 *   grid = the exhaustive grid, i.e. the full factorial in the grid's order (grid.ts);
 *   random = random.ts with the seed; bayesian = the injected strategy (skipped when absent or when
 *   its factory throws); pipeline = SearchPipeline (baseline → grid → random → bayesian, agent off),
 *   with the same bayesian factory.
 * - "Found" uses the ground truth where a real run could not: the incumbent after each experiment is
 *   the observation with the lowest *observed* SCI among the observations that are feasible under the
 *   table-wide baselines (tableTruth), and the target is reached when the incumbent's *noise-free* SCI
 *   is within (1 + target) × the optimum. So with noise a lucky low draw of a poor config does not
 *   count as reached, and a point counts only if it truly satisfies the constraint (a strategy may
 *   believe an fp8 point feasible before it has seen the model's bf16 BPB).
 * - Experiments needed counts every experiment, failed ones (configs absent from the table) and the
 *   pipeline's baseline repeats included. A seed that does not reach the target within the budget is
 *   censored: it counts as "more than the budget", so the median (and the quartiles) are null when more
 *   than half (a quarter, three quarters) of the seeds did not reach it.
 * - Median and quartiles: linear interpolation between order statistics (R's type 7, numpy's default).
 */
import { tableEvaluator, tableTruth } from '../engines/table.js';
import { createExhaustiveGridStrategy } from './grid.js';
import { SearchPipeline } from './pipeline.js';
import { createRandomStrategy } from './random.js';
import { spaceSize } from './space.js';
import { pointKey } from './types.js';
export const BENCH_STRATEGIES = ['grid', 'random', 'bayesian', 'pipeline'];
/** Quantile (R type 7) of ascending values, which may end with Infinity (censored). */
export function quantileSorted(sorted, p) {
    if (sorted.length === 0)
        return NaN;
    const h = (sorted.length - 1) * p;
    const lo = Math.floor(h);
    const hi = Math.ceil(h);
    const a = sorted[lo];
    const b = sorted[hi];
    if (lo === hi || a === b)
        return a;
    if (!Number.isFinite(b))
        return Infinity;
    return a + (b - a) * (h - lo);
}
function summarize(perSeed) {
    const sorted = perSeed.map((x) => x ?? Infinity).sort((a, b) => a - b);
    const fin = (x) => (Number.isFinite(x) ? x : null);
    return {
        median: fin(quantileSorted(sorted, 0.5)),
        iqr: [fin(quantileSorted(sorted, 0.25)), fin(quantileSorted(sorted, 0.75))],
        reached: perSeed.filter((x) => x !== null).length,
    };
}
function optimumOf(row, sciUg) {
    return {
        model: row.point.model,
        quant: row.point.quant,
        batch: row.point.batch,
        input_len: row.point.inputLen,
        output_len: row.point.outputLen,
        sci_ug: sciUg,
        bpb: row.bpb,
        tok_s: row.tokS,
        power_w: row.powerW,
    };
}
function strategyRunner(strategy, phase) {
    return {
        async next(history) {
            const [p] = await strategy.propose(history, 1);
            return p ? { point: p, phase } : null;
        },
        async observe(obs) {
            await strategy.tell?.(obs);
        },
        async close() {
            await strategy.close?.();
        },
    };
}
export async function runSearchBench(opts) {
    const { table, constraint, carbon, targetRel } = opts;
    const space = table.space;
    const points = spaceSize(space);
    const budget = opts.budget ?? points;
    const truth = tableTruth(table, constraint, carbon);
    const optimum = truth.optimum;
    const progress = opts.onProgress ?? (() => { });
    /** Experiments until the target is reached with `runner` (null: not within the budget). */
    const measure = async (runner, seed) => {
        if (!optimum)
            return null;
        const evaluate = tableEvaluator(table, { noise: opts.noise, seed, carbon });
        const limitUg = optimum.sciUg * (1 + targetRel);
        const history = [];
        let incumbent = null;
        try {
            for (let i = 0; i < budget; i++) {
                const next = await runner.next(history);
                if (!next)
                    return null;
                const obs = evaluate(next.point, next.phase);
                history.push(obs);
                await runner.observe(obs);
                const key = pointKey(obs.point);
                if (obs.status === 'ok' && truth.feasible.has(key) && (incumbent === null || obs.sciUg < incumbent.sciUg))
                    incumbent = obs;
                if (incumbent && truth.sciUg.get(pointKey(incumbent.point)) <= limitUg)
                    return i + 1;
            }
            return null;
        }
        finally {
            await runner.close();
        }
    };
    const results = {};
    const seeds = Array.from({ length: opts.seeds }, (_, i) => i);
    // grid: the exhaustive grid; its order has no seed, but the noise does.
    {
        const perSeed = [];
        for (const seed of seeds)
            perSeed.push(await measure(strategyRunner(createExhaustiveGridStrategy(space, { modelParams: table.modelParams }), 'grid'), seed));
        results.grid = { ...summarize(perSeed), perSeed };
        progress(`grid: ${perSeed.map((x) => x ?? '–').join(' ')}`);
    }
    {
        const perSeed = [];
        for (const seed of seeds)
            perSeed.push(await measure(strategyRunner(createRandomStrategy(space, seed), 'random'), seed));
        results.random = { ...summarize(perSeed), perSeed };
        progress(`random: ${perSeed.map((x) => x ?? '–').join(' ')}`);
    }
    // bayesian: one strategy per seed; the first factory failure skips it (the same failure would repeat).
    let bayesSkipped = opts.bayesianFactory ? null : 'no bayesian strategy available';
    {
        const perSeed = [];
        for (const seed of seeds) {
            if (bayesSkipped)
                break;
            const history = [];
            let strategy;
            try {
                strategy = await opts.bayesianFactory({ space, seed, constraint, history: () => history });
            }
            catch (err) {
                bayesSkipped = err instanceof Error ? err.message : String(err);
                progress(`bayesian skipped: ${bayesSkipped}`);
                break;
            }
            const inner = strategyRunner(strategy, 'bayesian');
            perSeed.push(await measure({
                next: (h) => inner.next(h),
                async observe(obs) {
                    history.push(obs);
                    await inner.observe(obs);
                },
                close: () => inner.close(),
            }, seed));
        }
        results.bayesian = bayesSkipped ? { median: null, iqr: null, reached: null, skipped: bayesSkipped, perSeed: [] } : { ...summarize(perSeed), perSeed };
        if (!bayesSkipped)
            progress(`bayesian: ${perSeed.map((x) => x ?? '–').join(' ')}`);
    }
    {
        const perSeed = [];
        let switches;
        for (const seed of seeds) {
            const history = [];
            const seen = [];
            const factory = opts.bayesianFactory;
            const pipeline = new SearchPipeline({
                space,
                constraint,
                budgetExperiments: budget,
                seed,
                patience: opts.patience,
                modelParams: table.modelParams,
                // Not offered when the bayesian strategy already failed to start: the pipeline records the skip.
                bayesianFactory: factory && !bayesSkipped ? () => factory({ space, seed, constraint, history: () => history }) : undefined,
                onPhaseSwitch: (s) => seen.push(s),
            });
            perSeed.push(await measure({
                async next(h) {
                    const p = await pipeline.next(h);
                    return p ? { point: p.point, phase: p.phase } : null;
                },
                async observe(obs) {
                    history.push(obs);
                    pipeline.observe(obs);
                },
                close: () => pipeline.close(),
            }, seed));
            switches ??= seen;
        }
        results.pipeline = { ...summarize(perSeed), perSeed, switches };
        progress(`pipeline: ${perSeed.map((x) => x ?? '–').join(' ')}`);
    }
    return {
        configs: table.rows.length,
        feasible: truth.feasible.size,
        optimum: optimum ? optimumOf(optimum.row, optimum.sciUg) : null,
        strategies: results,
        budget,
        seeds: opts.seeds,
        targetRel,
        spacePoints: points,
    };
}
/** The JSON document of search-bench (DESIGN section 7, issue 4). */
export function benchJson(r) {
    const strategies = {};
    for (const name of BENCH_STRATEGIES) {
        const s = r.strategies[name];
        strategies[name] = { median: s.median, iqr: s.iqr, reached: s.reached, ...(s.skipped !== undefined ? { skipped: s.skipped } : {}) };
    }
    return { configs: r.configs, feasible: r.feasible, optimum: r.optimum, strategies };
}
//# sourceMappingURL=bench.js.map