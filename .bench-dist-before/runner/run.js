/**
 * `carbonbench run`: the autonomous sweep (DESIGN sections 1 and 7). Each step: re-read program.md
 * (steering), plan the next config (search phase, optional agent), run it under the measurement
 * protocol, store it. Stops on budget, on convergence of the last phase, on SIGINT/SIGTERM (the current
 * experiment is stored as interrupted, exit 0), or on a fatal environment error (exit 1). Resumable:
 * results.db is the one source of truth, so a new invocation continues the last unfinished run.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { resolveIntensity } from '../carbon/regions.js';
import { getEngine } from '../engines/registry.js';
import { CarbonbenchError, InputError, TelemetryError } from '../errors.js';
import { parseProgram } from '../program/parse.js';
import { baselineBpbs, bestFeasible, bpbLimit, parseConstraint } from '../search/space.js';
import { SearchPipeline } from '../search/pipeline.js';
import { plannerAgentFromProgram } from '../agent/agent.js';
import { pointKey } from '../search/types.js';
import { openStore } from '../store/index.js';
import { DEFAULT_PROTOCOL, runExperiment } from './experiment.js';
import { observationsOf, pointOf } from './history.js';
import { acquireRunLock } from './lock.js';
import { ServerPool } from './server-pool.js';
import { openSession, simFaultsOf } from './setup.js';
function readProgram(file) {
    let text;
    try {
        text = readFileSync(file, 'utf8');
    }
    catch (err) {
        throw new InputError(`cannot read ${file}: ${err.message} (run \`carbonbench init\` to write an example)`);
    }
    return parseProgram(text, file);
}
export function spaceOf(program) {
    return {
        models: program.models.map((m) => m.id),
        quant: program.space.quant,
        batch: program.space.batch,
        inputLen: program.space.input_len,
        outputLen: program.space.output_len,
    };
}
function modelParamsOf(program) {
    return Object.fromEntries(program.models.filter((m) => m.params !== undefined).map((m) => [m.id, m.params]));
}
export function configFor(program, engine, p) {
    const model = program.models.find((m) => m.id === p.model);
    if (!model)
        throw new InputError(`model ${JSON.stringify(p.model)} is not in program.md's models`);
    const spec = { id: model.id, params: model.params, family: model.family, variants: model.variants };
    return { engine: engine.name, model: spec, quant: p.quant, batch: p.batch, inputLen: p.inputLen, outputLen: p.outputLen, engineOptions: program.engine_options };
}
/** Every (model, quant) of the space must be valid for the engine before anything starts. */
function validateSpace(program, engine) {
    const problems = [];
    for (const m of program.models) {
        for (const quant of program.space.quant) {
            try {
                engine.validate(configFor(program, engine, { model: m.id, quant, batch: program.space.batch[0], inputLen: program.space.input_len[0], outputLen: program.space.output_len[0] }));
            }
            catch (err) {
                problems.push(`${m.id} × ${quant}: ${err.message}`);
            }
        }
    }
    if (problems.length > 0)
        throw new InputError(`program.md's space does not fit the ${engine.name} engine:\n  ${problems.join('\n  ')}`);
}
function protocolOf(program, startTimeoutS) {
    return {
        ...DEFAULT_PROTOCOL,
        // Fix (issue 6, tests/faults/engine.test.ts): `run` had no way to set the start timeout (only
        // `measure --start-timeout-s`), so an engine hanging at start held a sweep for 900 s per config.
        ...(startTimeoutS !== undefined ? { startTimeoutS } : {}),
        experimentSeconds: program.budget.experiment_seconds,
        abortTempC: program.safety.abort_temp_c,
        cooldownTempC: program.safety.cooldown_temp_c,
        cooldownMaxS: program.safety.cooldown_max_s,
    };
}
/** The best experiment that satisfies the program's BPB constraint (lowest SCI). */
function best(experiments, constraintText) {
    const measured = experiments.filter((e) => e.phase !== 'manual');
    const winner = bestFeasible(observationsOf(measured), constraintText ? parseConstraint(constraintText) : null);
    if (!winner)
        return null;
    const b = measured.filter((e) => e.status === 'ok' && e.sciUg === winner.sciUg && JSON.stringify(pointOf(e)) === JSON.stringify(winner.point))[0];
    if (!b)
        return null;
    return { id: b.id, model: b.model, quant: b.quant, batch: b.batch, inputLen: b.inputLen, outputLen: b.outputLen, sciUg: b.sciUg, bpb: b.bpb };
}
/** The run to continue: the last one that did not complete. */
async function resumable(store) {
    const runs = await store.listRuns();
    const last = runs[runs.length - 1];
    return last && last.status !== 'completed' ? last.id : null;
}
export async function runSweep(opts) {
    let parsed = readProgram(opts.programFile);
    const engine = await getEngine(opts.engine ?? parsed.program.engine);
    validateSpace(parsed.program, engine);
    // Fix (issue 6, tests/fixtures/bad/region-unknown.md): an unknown carbon.region was found only when the
    // session opened, after the lock and results.db had been created; check it with the rest of the input.
    resolveIntensity({ region: parsed.program.carbon.region, intensityGPerKwh: parsed.program.carbon.intensity });
    const constraint = parsed.program.objective.constraint ? parseConstraint(parsed.program.objective.constraint) : null;
    const seed = opts.seed ?? parsed.program.seed ?? 0;
    if (opts.dryRun) {
        const pipeline = new SearchPipeline({ space: spaceOf(parsed.program), constraint, budgetExperiments: opts.maxExperiments ?? parsed.program.budget.experiments, seed, modelParams: modelParamsOf(parsed.program) });
        const plan = [];
        const history = [];
        // Plan the deterministic part (baseline and grid), as if every grid experiment improved on the last
        // (so the grid is listed whole; a real run may converge earlier).
        for (let i = 0; i < 500; i++) {
            const p = await pipeline.next(history);
            if (!p || (p.phase !== 'baseline' && p.phase !== 'grid'))
                break;
            plan.push(p);
            const obs = { point: p.point, status: 'ok', sciUg: p.phase === 'baseline' ? 1 : 1 / (i + 1), bpb: 1, tokS: 1, phase: p.phase };
            history.push(obs);
            pipeline.observe(obs);
        }
        return { runId: null, resumed: false, status: 'dry-run', stopReason: 'dry run: nothing was measured', experiments: 0, ok: 0, failed: 0, phases: [], best: null, plan };
    }
    const lock = acquireRunLock(resolve(opts.db));
    let session = null;
    const pool = new ServerPool();
    const phases = [];
    let resumed = false;
    let status = 'completed';
    let stopReason = '';
    try {
        let resumeRunId;
        if (!opts.fresh) {
            const probe = await openStore(opts.db);
            try {
                resumeRunId = (await resumable(probe)) ?? undefined;
                if (resumeRunId !== undefined) {
                    // Experiments a crash left behind as running (kill -9) become interrupted: they run again.
                    for (const e of await probe.listExperiments({ runId: resumeRunId, status: ['running', 'queued'] })) {
                        await probe.updateExperiment(e.id, { status: 'interrupted', error: 'carbonbench stopped during this experiment; it is run again on resume' });
                    }
                }
            }
            finally {
                await probe.close();
            }
        }
        resumed = resumeRunId !== undefined;
        session = await openSession({
            db: opts.db,
            engine,
            programText: parsed.text,
            programHash: parsed.sha256,
            seed,
            nvidiaSmi: opts.nvidiaSmi,
            gpus: opts.gpus ?? parsed.program.gpus,
            carbon: {
                region: parsed.program.carbon.region,
                intensity: parsed.program.carbon.intensity,
                hardware: parsed.program.carbon.hardware,
                embodiedKg: parsed.program.carbon.embodied_kg,
                lifetimeYears: parsed.program.carbon.lifetime_years,
                gpusTotal: parsed.program.carbon.gpus_total,
            },
            simHardware: typeof parsed.program.engine_options.sim_hardware === 'string' ? parsed.program.engine_options.sim_hardware : undefined,
            simFaults: simFaultsOf(parsed.program.engine_options),
            resumeRunId,
        });
        const { store, runId } = session;
        if (resumed)
            await store.addNote(runId, 'resume', `resumed by pid ${process.pid}`);
        const run = await store.getRun(runId);
        const runStartMs = run ? Date.parse(run.startedAt) : Date.now();
        const agent = opts.noAgent || !parsed.program.agent ? null : await makeAgent(parsed.program, session);
        const onPhaseSwitch = (s) => {
            phases.push({ from: s.from, to: s.to, reason: s.reason });
            // Fix (issue 6, tests/faults/disk.test.ts): this promise was not awaited nor caught, so a failing
            // write (a full disk) crashed the process with an unhandled rejection instead of stopping the run
            // with a clear error; the next awaited write reports the same failure.
            store.addNote(runId, 'phase_switch', `${s.from} → ${s.to} after ${s.atExperiment} experiments: ${s.reason}`).catch((err) => session.log.warn({ err }, 'phase switch note not stored'));
            session.log.info(s, 'phase switch');
            opts.progress(`phase ${s.from} → ${s.to}: ${s.reason}`);
        };
        // `history` (declared below, updated every step) is read live by the bayesian factory's constraint.
        let history = [];
        const makePipeline = async (program) => new SearchPipeline({
            space: spaceOf(program),
            constraint: program.objective.constraint ? parseConstraint(program.objective.constraint) : null,
            budgetExperiments: opts.maxExperiments ?? program.budget.experiments,
            seed,
            modelParams: modelParamsOf(program),
            patience: program.search.patience,
            shares: { ...(program.search.grid_share !== undefined ? { grid: program.search.grid_share } : {}), ...(program.search.random_share !== undefined ? { random: program.search.random_share } : {}) },
            log: session.log,
            bayesianFactory: async () => {
                const { createBayesianStrategy } = await import('../search/bayesian.js');
                const constraint = program.objective.constraint ? parseConstraint(program.objective.constraint) : null;
                // No `history` here: the pipeline replays it into the strategy through tell().
                return createBayesianStrategy({
                    space: spaceOf(program),
                    seed,
                    constraint: constraint !== null,
                    // BPB − limit (≤ 0 feasible); the limit follows the baselines observed so far (this run's history).
                    constraintValue: (obs) => (obs.bpb === null ? null : obs.bpb - bpbLimit(constraint, obs.point.model, baselineBpbs(history))),
                });
            },
            onPhaseSwitch,
        });
        history = observationsOf(await store.listExperiments({ runId }));
        let pipeline = await makePipeline(parsed.program);
        for (;;) {
            if (session.signal.aborted) {
                status = 'interrupted';
                stopReason = 'interrupted by a signal';
                break;
            }
            // Steering: program.md is re-read before each step.
            const steered = steer(opts.programFile, parsed, engine);
            if (steered.note) {
                await store.addNote(runId, steered.kind, steered.note);
                opts.progress(steered.note);
            }
            if (steered.program !== parsed) {
                parsed = steered.program;
                await pipeline.close();
                pipeline = await makePipeline(parsed.program);
            }
            const experiments = await store.listExperiments({ runId });
            const done = experiments.filter((e) => e.phase !== 'manual' && ['ok', 'failed', 'aborted_thermal'].includes(e.status)).length;
            const budgetExperiments = opts.maxExperiments ?? parsed.program.budget.experiments;
            const budgetHours = opts.maxHours ?? parsed.program.budget.hours;
            if (done >= budgetExperiments) {
                stopReason = `experiment budget reached (${done}/${budgetExperiments})`;
                break;
            }
            const elapsedH = (Date.now() - runStartMs) / 3_600_000;
            if (!session.clock.virtual && elapsedH >= budgetHours) {
                stopReason = `time budget reached (${elapsedH.toFixed(2)} of ${budgetHours} h)`;
                break;
            }
            history = observationsOf(experiments);
            let proposal;
            try {
                proposal = await pipeline.next(history);
            }
            catch (err) {
                // The Optuna bridge died (or another strategy failure): note it, rebuild the pipeline from
                // results.db (a new bridge replays the history) and try once more.
                await store.addNote(runId, 'warning', `search strategy failed, rebuilding it from results.db: ${err.message.slice(0, 500)}`);
                await pipeline.close().catch(() => { });
                pipeline = await makePipeline(parsed.program);
                proposal = await pipeline.next(history);
            }
            if (!proposal) {
                stopReason = 'the last search phase converged (or the space is exhausted)';
                break;
            }
            let rationale = proposal.rationale;
            // Fix (issue 6, tests/faults/agent.test.ts): the agent was asked during the baseline phase too. The
            // baseline repeats one config to measure the noise floor: an agent that echoed the candidate was
            // rejected ("already measured") twice, counting towards switching it off, and one that chose another
            // point turned a repeat into a different config and corrupted the noise floor. The baseline is
            // protocol, not a choice.
            if (agent && !agent.disabled && proposal.phase !== 'baseline') {
                const choice = await agent.choose({
                    prose: parsed.prose,
                    space: spaceOf(parsed.program),
                    history,
                    phase: proposal.phase,
                    candidates: [proposal.point],
                    candidateRationale: proposal.rationale,
                    objective: `minimize sci${parsed.program.objective.constraint ? `; constraint: ${parsed.program.objective.constraint}` : ''}`,
                    budget: { experimentsDone: done, experimentsTotal: budgetExperiments },
                });
                if (choice.note)
                    await store.addNote(runId, choice.source === 'agent' ? 'agent' : 'agent_fallback', choice.note);
                if (choice.notebook)
                    await store.addNote(runId, 'agent_notebook', choice.notebook);
                proposal = choice.proposal;
                rationale = choice.proposal.rationale;
            }
            const config = configFor(parsed.program, engine, proposal.point);
            const point = proposal.point;
            // Fix (issue 6): repetitions counted from results.db, so a resumed run draws the same sim noise as
            // an uninterrupted one (see EngineContext.repetition).
            const repetition = history.filter((o) => pointKey(o.point) === pointKey(point)).length;
            const record = await runExperiment({ config, phase: proposal.phase, rationale, repetition }, {
                store,
                telemetry: session.telemetry,
                pool,
                engine,
                clock: session.clock,
                log: session.log,
                runId,
                runDir: session.runDir,
                protocol: protocolOf(parsed.program, opts.startTimeoutS),
                carbon: session.carbon,
                idlePowerW: session.idlePowerW,
                bpbText: session.bpbText,
                signal: session.signal,
            });
            const obs = observationsOf([record])[0];
            if (obs)
                pipeline.observe(obs);
            const all = await store.listExperiments({ runId });
            const b = best(all, parsed.program.objective.constraint);
            const failures = all.filter((e) => e.status === 'failed' || e.status === 'aborted_thermal').length;
            const doneNow = all.filter((e) => e.phase !== 'manual' && ['ok', 'failed', 'aborted_thermal'].includes(e.status)).length;
            const perExperimentMs = (Date.now() - runStartMs) / Math.max(1, doneNow);
            const etaMin = session.clock.virtual ? 0 : ((budgetExperiments - doneNow) * perExperimentMs) / 60_000;
            opts.progress(`[${doneNow}/${budgetExperiments}] ${proposal.phase.padEnd(8)} ${record.status.padEnd(15)} ${config.model.id} ${config.quant} b=${config.batch} in=${config.inputLen} out=${config.outputLen}` +
                `  SCI ${record.sciUg?.toPrecision(4) ?? '–'} µg/tok  best ${b?.sciUg?.toPrecision(4) ?? '–'}  failures ${failures}${session.clock.virtual ? '' : `  ETA ${etaMin.toFixed(0)} min`}`);
            // Checked first (fix, issue 6): an experiment stopped by a telemetry failure is `interrupted` too,
            // and must end the run as failed (exit 1), not as a clean stop on a signal.
            if (session.telemetry.failure)
                throw new TelemetryError(`telemetry failed; the run cannot measure energy any more: ${session.telemetry.failure.message}`);
            if (record.status === 'interrupted') {
                status = 'interrupted';
                stopReason = 'interrupted by a signal';
                break;
            }
        }
        await pipeline.close();
        return await summarize(store, runId, resumed, status, stopReason, phases, parsed.program.objective.constraint);
    }
    catch (err) {
        status = 'failed';
        if (!(err instanceof CarbonbenchError))
            session?.log.error({ err }, 'run failed');
        throw err;
    }
    finally {
        await pool.release().catch(() => { });
        await session?.close(status);
        lock.release();
    }
}
async function summarize(store, runId, resumed, status, stopReason, phases, constraintText) {
    const all = await store.listExperiments({ runId });
    const measured = all.filter((e) => e.phase !== 'manual');
    await store.addNote(runId, 'stop', stopReason);
    return {
        runId,
        resumed,
        status,
        stopReason,
        experiments: measured.filter((e) => ['ok', 'failed', 'aborted_thermal'].includes(e.status)).length,
        ok: measured.filter((e) => e.status === 'ok').length,
        failed: measured.filter((e) => e.status === 'failed' || e.status === 'aborted_thermal').length,
        phases,
        best: best(all, constraintText),
    };
}
/** Re-reads program.md; returns the program to use now and what to note. An invalid edit is ignored. */
export function steer(file, current, engine) {
    let text;
    try {
        text = readFileSync(file, 'utf8');
    }
    catch (err) {
        return { program: current, note: `program.md could not be re-read (${err.message}); continuing with the last good version`, kind: 'warning' };
    }
    const sha = createHash('sha256').update(text).digest('hex');
    if (sha === current.sha256)
        return { program: current, note: null, kind: '' };
    try {
        const next = parseProgram(text, file);
        if (next.program.engine !== current.program.engine)
            throw new InputError(`engine cannot change during a run (${current.program.engine} → ${next.program.engine}); start a new run with --fresh`);
        validateSpace(next.program, engine);
        const changed = ['space', 'budget', 'safety', 'models', 'objective', 'engine_options', 'search'].filter((k) => JSON.stringify(next.program[k]) !== JSON.stringify(current.program[k]));
        const prose = next.prose !== current.prose ? ['prose'] : [];
        return { program: next, note: `program.md changed (${[...changed, ...prose].join(', ') || 'formatting'}); applied from the next experiment`, kind: 'program_change' };
    }
    catch (err) {
        return { program: current, note: `program.md edit ignored, the last good version stays in force: ${err.message}`, kind: 'warning' };
    }
}
async function makeAgent(program, session) {
    try {
        const timeoutS = program.agent.timeout_s;
        const agent = plannerAgentFromProgram(program.agent, { log: session.log, ...(timeoutS !== undefined ? { timeoutMs: timeoutS * 1000 } : {}) });
        if (agent.isLocalEndpoint)
            await session.store.addNote(session.runId, 'warning', 'the agent endpoint is on this machine: a local model on the GPU under test changes idle power and free memory');
        return agent;
    }
    catch (err) {
        await session.store.addNote(session.runId, 'agent_fallback', `agent off for this run: ${err.message}`);
        return null;
    }
}
export { pointOf };
//# sourceMappingURL=run.js.map