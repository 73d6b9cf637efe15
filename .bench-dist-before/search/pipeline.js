/**
 * The phase pipeline (DESIGN section 7): baseline → grid → random → bayesian. Pure planning: it proposes
 * the next point; the caller measures it and appends the observation to the history.
 *
 * ## Phases
 *
 * 1. baseline: one config measured BASELINE_REPEATS (3) times; the relative std of its SCI is the noise
 *    floor of the convergence test (convergence.ts). The baseline config is the smallest model (by
 *    parameter count when given, else the first model) at its highest-precision quant (space.ts's
 *    order), the median batch (the lower middle for an even count) and the first input and output
 *    lengths: the cheapest server to load, the least likely to run out of memory, a load in the middle
 *    of the batch range, and the workload program.md lists first. If a repeat fails, the phase ends and
 *    the floor defaults to DEFAULT_NOISE_FLOOR_REL.
 * 2. grid: the coarse design of grid.ts, at most `shares.grid` (35%) of the experiment budget.
 * 3. random: seeded sampling without replacement (random.ts), at most `shares.random` (25%).
 * 4. bayesian: the injected strategy (Optuna TPE), for the rest of the budget.
 *
 * Shares are fractions of the whole experiment budget (baseline repeats included) and are caps: a phase
 * also ends when it converges (no improvement of the best feasible SCI larger than the noise floor in
 * its last `patience` experiments) or runs out of points. Why 35/25/40: the grid is a fixed design whose
 * size does not grow with the budget, so the cap only matters on small budgets, where it keeps room for
 * the adaptive phases (the design runs smallest models first, so a cap cuts the largest ones); random
 * sampling mainly guards against a grid that missed a region (25% is enough
 * to hit any region that holds a few percent of the space with high probability on a 100+ budget); the
 * model-based phase, which learns from everything before it, gets the largest share. When the bayesian
 * strategy is unavailable (no factory, or the factory throws: no Python or Optuna), the switch records
 * why, and random keeps going over the rest of the budget until it converges.
 *
 * Every phase switch is reported once through `onPhaseSwitch` with its reason and the number of
 * experiments done at that moment.
 *
 * ## Rules for every proposal
 *
 * - Never an observed point (ok or failed), except the baseline repeats.
 * - Never a point dominated by a failure: same model and quant, and batch, input and output length all
 *   ≥ those of a failed point. Memory grows with each of them, so such a point would fail as out of
 *   memory too (a table engine's missing configs and the sim's OOMs behave so).
 * - Never a point of a server (model + quant) known to violate the BPB constraint: BPB depends on the
 *   checkpoint only (DESIGN section 6), so one observation of a (model, quant) over the limit rules out
 *   all its other points. "Known" means over an absolute limit, or over a relative limit whose baseline
 *   is final (the model's highest-precision quant of the space has been measured). Off with
 *   `pruneInfeasible: false`, for a program that asks for an SCI × BPB front (objective.front), where
 *   infeasible points still shape the front.
 *
 * ## State and resume
 *
 * The history is the source of truth. The phase is the latest phase present in the history (phases only
 * move forward), and every end condition is computed from the history, so a pipeline constructed again on
 * the same history proposes what the uninterrupted one would have. The bayesian strategy is built by its
 * factory when the bayesian phase is first reached (in this instance) and told the whole history with
 * tell() — so a factory must not replay the history itself; later observations reach it through
 * `observe()` or, for entries the caller did not pass there, at the next `next()`. If the strategy
 * fails after it started (its process died), it is closed and the phase ends with that reason. After a
 * resume a switch whose new phase has no observation yet is reported again (same
 * `atExperiment`): consumers may drop such duplicates.
 */
import { BASELINE_REPEATS, convergence, noiseFloor } from './convergence.js';
import { createGridStrategy, orderModels } from './grid.js';
import { createRandomStrategy } from './random.js';
import { baselineBpbs, bpbLimit, byPrecision, inSpace, observedKeys, quantPrecision, spaceSize, validateSpace } from './space.js';
import { pointKey } from './types.js';
export const PHASES = ['baseline', 'grid', 'random', 'bayesian'];
export const DEFAULT_PATIENCE = 8;
export const DEFAULT_SHARES = { grid: 0.35, random: 0.25 };
/**
 * Noise floor when the baseline could not be repeated: 2%, a little above the standard error (~1.5%) of
 * an experiment whose J/token 95% CI the protocol holds within ±3% (DESIGN section 5.4).
 */
export const DEFAULT_NOISE_FLOOR_REL = 0.02;
/** The baseline config (see the file header). */
export function baselinePoint(space, modelParams = {}) {
    const batches = [...space.batch].sort((a, b) => a - b);
    return {
        model: orderModels(space.models, modelParams)[0],
        quant: byPrecision(space.quant)[0],
        batch: batches[Math.floor((batches.length - 1) / 2)],
        inputLen: space.inputLen[0],
        outputLen: space.outputLen[0],
    };
}
/**
 * Servers (JSON [model, quant]) known to violate the constraint (see the file header): an ok
 * observation's BPB is over the limit, and the limit is absolute or its model's baseline is final.
 */
export function infeasibleServers(history, constraint, space) {
    const out = new Set();
    if (!constraint)
        return out;
    const baselines = baselineBpbs(history);
    const top = quantPrecision(byPrecision(space.quant)[0]);
    for (const o of history) {
        if (o.status !== 'ok' || o.bpb === null)
            continue;
        const base = baselines.get(o.point.model);
        const final = constraint.maxBpb !== null || (base !== undefined && quantPrecision(base.quant) >= top);
        if (final && o.bpb > bpbLimit(constraint, o.point.model, baselines) * (1 + 1e-12))
            out.add(JSON.stringify([o.point.model, o.point.quant]));
    }
    return out;
}
/** Whether `p` is dominated by a failed observation (see the file header). */
export function dominatedByFailure(p, failures) {
    return failures.some((f) => f.model === p.model && f.quant === p.quant && p.batch >= f.batch && p.inputLen >= f.inputLen && p.outputLen >= f.outputLen);
}
function pct(x) {
    return `${Number((100 * x).toPrecision(3))}%`;
}
function fmtSci(x) {
    return x === null ? 'none feasible yet' : `${Number(x.toPrecision(4))} µgCO2e/token`;
}
export class SearchPipeline {
    baseline;
    patience;
    shares;
    opts;
    grid;
    random;
    size;
    bayes = null;
    bayesTried = false;
    bayesError = null;
    /** History entries the bayesian strategy has been told. */
    told = 0;
    telling = Promise.resolve();
    emitted = new Set();
    /** Random went on past its share because the bayesian strategy is unavailable (reported once). */
    randomExtended = false;
    constructor(opts) {
        validateSpace(opts.space);
        if (!(Number.isInteger(opts.budgetExperiments) && opts.budgetExperiments >= 1))
            throw new RangeError(`budgetExperiments must be an integer >= 1, got ${opts.budgetExperiments}`);
        const patience = opts.patience ?? DEFAULT_PATIENCE;
        if (!(Number.isInteger(patience) && patience >= 1))
            throw new RangeError(`patience must be an integer >= 1, got ${patience}`);
        const shares = { ...DEFAULT_SHARES, ...opts.shares };
        if (!(shares.grid >= 0 && shares.random >= 0 && shares.grid + shares.random <= 1))
            throw new RangeError(`phase shares must be >= 0 and sum to at most 1, got grid ${shares.grid}, random ${shares.random}`);
        this.opts = opts;
        this.patience = patience;
        this.shares = shares;
        this.baseline = baselinePoint(opts.space, opts.modelParams);
        this.grid = createGridStrategy(opts.space, { modelParams: opts.modelParams });
        this.random = createRandomStrategy(opts.space, opts.seed);
        this.size = spaceSize(opts.space);
    }
    /** Experiments the grid (resp. random) phase may use at most. */
    phaseBudget(phase) {
        return Math.floor(this.shares[phase] * this.opts.budgetExperiments);
    }
    /** The phase the history is in: the latest pipeline phase present (baseline when none). */
    currentPhase(history) {
        let idx = 0;
        for (const o of history) {
            const i = PHASES.indexOf(o.phase);
            if (i > idx)
                idx = i;
        }
        return PHASES[idx];
    }
    noiseFloor(history) {
        const f = noiseFloor(history);
        return f.relStd === null ? { rel: DEFAULT_NOISE_FLOOR_REL, source: 'default', repeats: f.repeats } : { rel: f.relStd, source: 'baseline', repeats: f.repeats };
    }
    state(history) {
        const floor = this.noiseFloor(history);
        return { phase: this.currentPhase(history), experiments: history.length, budgetExperiments: this.opts.budgetExperiments, noiseFloorRel: floor.rel, noiseFloorSource: floor.source };
    }
    /**
     * Tells the bayesian strategy (when active) about an observation the caller just appended to its
     * history. Optional: next() tells it whatever history it has not been told.
     */
    observe(obs) {
        if (!this.bayes?.tell)
            return;
        const strategy = this.bayes;
        this.told++;
        // Caught here (an experiment can take minutes before next() awaits it); next() reports it.
        this.telling = this.telling.then(() => strategy.tell(obs)).catch((err) => this.failBayesian(err));
    }
    /** Stops the bayesian strategy's process, if any. */
    async close() {
        await this.telling.catch(() => { });
        await this.bayes?.close?.();
        this.bayes = null;
    }
    /** The next experiment, or null when the budget is spent or the last phase has ended. */
    async next(history) {
        await this.telling;
        const n = history.length;
        let phase = this.currentPhase(history);
        if (n === 0)
            this.emit({ from: 'start', to: 'baseline', reason: `measure the noise floor: ${BASELINE_REPEATS} repeats of the baseline config`, atExperiment: 0 });
        if (n >= this.opts.budgetExperiments) {
            this.emit({ from: phase, to: 'done', reason: `experiment budget spent (${n} of ${this.opts.budgetExperiments})`, atExperiment: n });
            return null;
        }
        for (;;) {
            switch (phase) {
                case 'baseline': {
                    const mine = history.filter((o) => o.phase === 'baseline');
                    const failed = mine.find((o) => o.status === 'failed');
                    if (!failed && mine.length < BASELINE_REPEATS)
                        return this.baselineProposal(mine.length);
                    const floor = this.noiseFloor(history);
                    const reason = failed
                        ? `the baseline config failed (${describe(failed.point)}); the noise floor defaults to ${pct(DEFAULT_NOISE_FLOOR_REL)}`
                        : `noise floor measured: relative std of SCI ${pct(floor.rel)} over ${floor.repeats} repeats of the baseline config`;
                    this.emit({ from: 'baseline', to: 'grid', reason, atExperiment: n });
                    phase = 'grid';
                    break;
                }
                case 'grid': {
                    let reason = this.shareSpent(history, 'grid') ?? this.converged(history, 'grid');
                    if (!reason) {
                        const p = await this.pick(this.grid, history);
                        if (p)
                            return { point: p, phase: 'grid', rationale: this.grid.explain(p, history) };
                        reason = 'grid design complete: every point of the coarse design is observed, dominated by a failure, or of a server known to violate the constraint';
                    }
                    this.emit({ from: 'grid', to: 'random', reason, atExperiment: n });
                    phase = 'random';
                    break;
                }
                case 'random': {
                    let reason = this.converged(history, 'random');
                    const shareSpent = this.shareSpent(history, 'random');
                    if (!reason && shareSpent) {
                        if (await this.ensureBayesian(history))
                            reason = shareSpent;
                        else if (!this.randomExtended) {
                            this.randomExtended = true;
                            this.emit({
                                from: 'random',
                                to: 'random',
                                reason: `${shareSpent}, but the bayesian phase is skipped (${this.bayesError}): random continues over the remaining ${this.opts.budgetExperiments - n} experiments until it converges`,
                                atExperiment: n,
                                skipped: 'bayesian',
                            });
                        }
                    }
                    if (!reason) {
                        const p = await this.pick(this.random, history);
                        if (p)
                            return { point: p, phase: 'random', rationale: this.random.explain(p, history) };
                        reason = `space exhausted: all ${this.size} points are observed, dominated by a failure, or of a server known to violate the constraint`;
                    }
                    if (!(await this.ensureBayesian(history))) {
                        this.emit({ from: 'random', to: 'done', reason: `${reason}; the bayesian phase is skipped: ${this.bayesError}`, atExperiment: n, skipped: 'bayesian' });
                        return null;
                    }
                    this.emit({ from: 'random', to: 'bayesian', reason, atExperiment: n });
                    phase = 'bayesian';
                    break;
                }
                case 'bayesian': {
                    if (!(await this.ensureBayesian(history))) {
                        this.emit({ from: 'bayesian', to: 'done', reason: `the bayesian strategy is unavailable: ${this.bayesError}`, atExperiment: n, skipped: 'bayesian' });
                        return null;
                    }
                    let reason = this.converged(history, 'bayesian');
                    if (!reason) {
                        const strategy = this.bayes;
                        let p;
                        try {
                            await this.catchUp(history);
                            p = await this.pick(strategy, history);
                        }
                        catch (err) {
                            // The strategy broke mid-phase (its Python process died): the phase ends with the reason.
                            await this.failBayesian(err);
                            this.emit({ from: 'bayesian', to: 'done', reason: this.bayesError, atExperiment: n });
                            return null;
                        }
                        if (p)
                            return { point: p, phase: 'bayesian', rationale: `bayesian: the ${strategy.name} strategy's candidate given ${n} observations (Optuna TPE, constraint ${this.opts.constraint?.text ?? 'none'})` };
                        reason = `space exhausted: the bayesian strategy has no unobserved point left of ${this.size}`;
                    }
                    this.emit({ from: 'bayesian', to: 'done', reason, atExperiment: n });
                    return null;
                }
            }
        }
    }
    baselineProposal(done) {
        const p = this.baseline;
        return {
            point: p,
            phase: 'baseline',
            rationale: `baseline repeat ${done + 1}/${BASELINE_REPEATS}: ${describe(p)} — the smallest model at its highest precision, the median batch and the first lengths, repeated to measure the noise floor (relative std of SCI) that decides when a phase has converged`,
        };
    }
    shareSpent(history, phase) {
        const used = history.filter((o) => o.phase === phase).length;
        const cap = this.phaseBudget(phase);
        return used >= cap ? `${phase} spent its share: ${used} experiments (${pct(this.shares[phase])} of the ${this.opts.budgetExperiments}-experiment budget)` : null;
    }
    converged(history, phase) {
        const floor = this.noiseFloor(history);
        const c = convergence(history, phase, this.patience, floor.rel, this.opts.constraint);
        if (!c.converged)
            return null;
        return `${phase} converged: the best feasible SCI improved by ${pct(Math.max(0, c.improvementRel ?? 0))} over the last ${this.patience} ${phase} experiments, not more than the noise floor (${pct(floor.rel)}, ${floor.source === 'baseline' ? `from ${floor.repeats} baseline repeats` : 'default'}); best ${fmtSci(c.bestNowUg)}`;
    }
    /** The first candidate of `strategy` that is in the space, unobserved, not dominated by a failure and not of a server known infeasible. */
    async pick(strategy, history) {
        const seen = observedKeys(history);
        const failures = history.filter((o) => o.status === 'failed').map((o) => o.point);
        const infeasible = this.opts.pruneInfeasible === false ? new Set() : infeasibleServers(history, this.opts.constraint, this.opts.space);
        const usable = (p) => inSpace(this.opts.space, p) && !seen.has(pointKey(p)) && !dominatedByFailure(p, failures) && !infeasible.has(JSON.stringify([p.model, p.quant]));
        let want = 1;
        for (;;) {
            const candidates = await strategy.propose(history, want);
            const ok = candidates.find(usable);
            if (ok)
                return ok;
            // Fewer than asked: the strategy has nothing else; otherwise ask for more.
            if (candidates.length < want || want >= this.size)
                return null;
            want = Math.min(this.size, want * 4);
        }
    }
    /** Builds the bayesian strategy once per instance and replays the history into it. */
    async ensureBayesian(history) {
        if (this.bayes)
            return true;
        if (this.bayesTried)
            return false;
        this.bayesTried = true;
        if (!this.opts.bayesianFactory) {
            this.bayesError = 'no bayesian strategy was configured';
            return false;
        }
        let strategy = null;
        try {
            strategy = await this.opts.bayesianFactory();
            for (const o of history)
                await strategy.tell?.(o);
            this.bayes = strategy;
            this.told = history.length;
            this.opts.log?.info({ strategy: strategy.name, replayed: history.length }, 'bayesian strategy ready');
            return true;
        }
        catch (err) {
            await strategy?.close?.().catch(() => { });
            this.bayesError = err instanceof Error ? err.message : String(err);
            this.opts.log?.warn({ err: this.bayesError }, `bayesian phase skipped: ${this.bayesError}`);
            return false;
        }
    }
    /** Drops a bayesian strategy that failed after it started (closing it); the phase then ends. */
    async failBayesian(err) {
        const strategy = this.bayes;
        this.bayes = null;
        this.bayesTried = true;
        this.bayesError = `the bayesian strategy failed: ${err instanceof Error ? err.message : String(err)}`;
        this.opts.log?.warn({ err: this.bayesError }, this.bayesError);
        await strategy?.close?.().catch(() => { });
    }
    /** Tells the bayesian strategy the history entries it has not been told. */
    async catchUp(history) {
        const strategy = this.bayes;
        if (!strategy?.tell) {
            this.told = history.length;
            return;
        }
        while (this.told < history.length)
            await strategy.tell(history[this.told++]);
    }
    emit(s) {
        const key = `${s.from}>${s.to}@${s.atExperiment}`;
        if (this.emitted.has(key))
            return;
        this.emitted.add(key);
        this.opts.log?.info({ ...s }, `phase ${s.from} → ${s.to}: ${s.reason}`);
        this.opts.onPhaseSwitch?.(s);
    }
}
function describe(p) {
    return `${p.model} ${p.quant} batch ${p.batch} input ${p.inputLen} output ${p.outputLen}`;
}
//# sourceMappingURL=pipeline.js.map