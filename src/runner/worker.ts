/**
 * `carbonbench run --study NAME`: one worker of a shared study (issue 10). Start the same command on each
 * host against one PostgreSQL database (or, on one machine, one results.db): every worker joins the
 * Optuna study of that name in the database's Optuna RDB storage, claims its configs through the study
 * (src/search/study.ts), measures them under the usual protocol, stores them in the shared results
 * store with its host label and hardware, and tells the study the result.
 *
 * - Phases and budget are per study (src/search/study-plan.ts): each switch is taken once by one
 *   worker, convergence is computed over all hosts' results, and budget.experiments (or
 *   --max-experiments) counts the experiments of all workers. budget.hours is per worker.
 * - Heartbeats: while it holds a trial, a worker's bridge stamps it every heartbeat_timeout_s / 4
 *   seconds from a thread (scripts/optuna_bridge.py; the bridge exits with its worker). Optuna's own
 *   heartbeat only runs inside study.optimize(), not for ask/tell, so the workers do it themselves:
 *   each step, a worker fails the other workers' RUNNING trials that have been silent for
 *   longer than the timeout (exactly one worker wins each), marks their half-done experiment rows
 *   interrupted, and re-queues their configs; a config whose result was stored before its worker died
 *   is added to the study as it is, not run again.
 * - The agent is not consulted in worker mode: claims come from the shared study.
 * - A worker never resumes: each invocation is a new run row of the study; what a dead worker left is
 *   recovered by the others through the study.
 */
import { resolve } from 'node:path';
import { CarbonbenchError, TelemetryError } from '../errors.js';
import type { Engine } from '../engines/types.js';
import type { ParsedProgram } from '../program/parse.js';
import type { Program } from '../program/schema.js';
import { SearchPipeline } from '../search/pipeline.js';
import { allPoints, baselineBpbs, bpbLimit, parseConstraint } from '../search/space.js';
import { claimProblem, overBudget, phaseRank, planStudyStep, type StudyPhase } from '../search/study-plan.js';
import { SharedStudy, studyStorageUrl, type StudyClaim, type TrialResult } from '../search/study.js';
import { pointKey, type Observation, type SpacePoint } from '../search/types.js';
import { isPostgresUrl, redactPgUrl } from '../store/pg-url.js';
import type { ExperimentRecord, Store } from '../store/types.js';
import { runExperiment } from './experiment.js';
import { observationsOf } from './history.js';
import { acquireRunLock } from './lock.js';
import { configFor, experimentDepsOf, modelParamsOf, protocolOf, spaceOf, steer, sessionOptionsOf, summarize, type RunOptions, type RunSummary } from './run.js';
import { ServerPool } from './server-pool.js';
import { openSession, type Session } from './setup.js';

export interface WorkerOptions {
  run: RunOptions;
  parsed: ParsedProgram;
  engine: Engine;
  seed: number;
  study: string;
  hostLabel: string;
  heartbeatTimeoutS: number;
}

/** The study's coordination went wrong in a way a restart does not fix by itself. */
export class StudyError extends CarbonbenchError {}

const FINAL = ['ok', 'failed', 'aborted_thermal'] as const;

/**
 * Every experiment of the study, all hosts, in the order stored: one query on experiments.study (every
 * row a worker stores carries its study), read each step of every worker.
 */
export async function studyExperiments(store: Store, study: string): Promise<ExperimentRecord[]> {
  return store.listExperiments({ study });
}


function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function runStudyWorker(w: WorkerOptions): Promise<RunSummary> {
  const { run: opts, engine, seed } = w;
  let parsed = w.parsed;
  const lock = acquireRunLock(isPostgresUrl(opts.db) ? opts.db : resolve(opts.db), { study: w.study });
  let session: Session | null = null;
  let study: SharedStudy | null = null;
  const pool = new ServerPool();
  const phases: RunSummary['phases'] = [];
  let status: 'completed' | 'interrupted' | 'failed' = 'completed';
  let stopReason = '';
  const pollMs = Math.max(20, Math.min(250, (w.heartbeatTimeoutS * 1000) / 8));
  try {
    session = await openSession({ ...sessionOptionsOf(parsed, opts, engine, seed), host: w.hostLabel, study: w.study });
    const s = session;
    const { store, runId } = s;
    const storage = studyStorageUrl(opts.db, (p) => resolve(p));
    const constraintOf = (program: Program) => (program.objective.constraint ? parseConstraint(program.objective.constraint) : null);
    study = await SharedStudy.open({
      storage,
      studyName: w.study,
      space: spaceOf(parsed.program),
      seed,
      constraint: constraintOf(parsed.program) !== null,
      heartbeatIntervalS: w.heartbeatTimeoutS / 4,
      onStderr: (line) => s.log.debug({ bridge: line }, 'optuna bridge'),
    });
    const shared = study;
    await store.addNote(runId, 'study', `worker ${w.hostLabel} (pid ${process.pid}, hardware ${s.carbon.hardware.profile.id}) joined study ${w.study}; Optuna storage ${redactPgUrl(storage)}; heartbeat timeout ${w.heartbeatTimeoutS} s`);
    opts.progress(`study ${w.study}: worker ${w.hostLabel} joined (hardware ${s.carbon.hardware.profile.id})`);
    const runStartMs = Date.now();

    const makePipeline = (program: Program): SearchPipeline =>
      new SearchPipeline({
        space: spaceOf(program),
        constraint: constraintOf(program),
        budgetExperiments: opts.maxExperiments ?? program.budget.experiments,
        seed,
        modelParams: modelParamsOf(program),
        patience: program.search.patience,
        shares: { ...(program.search.grid_share !== undefined ? { grid: program.search.grid_share } : {}), ...(program.search.random_share !== undefined ? { random: program.search.random_share } : {}) },
        log: s.log,
      });
    let pipeline = makePipeline(parsed.program);

    const resultOf = (e: ExperimentRecord, history: readonly Observation[]): TrialResult => {
      if (e.status !== 'ok' || e.sciUg === null || !Number.isFinite(e.sciUg)) return { state: 'fail', values: null, constraint: null };
      const constraint = constraintOf(parsed.program);
      const c = constraint && e.bpb !== null ? e.bpb - bpbLimit(constraint, e.model, baselineBpbs(history)) : null;
      return { state: 'complete', values: [e.sciUg], constraint: c !== null && Number.isFinite(c) ? c : null };
    };

    /**
     * Adds the stored result of a trial that was failed as stale to the study, once: both the worker
     * that reaped it and its late owner may try, and the election lets exactly one of them add it.
     */
    const addStoredResult = async (trialNumber: number, point: SpacePoint, result: TrialResult, phase: string, host: string | null): Promise<void> => {
      if (await shared.elect(`result-of-trial:${trialNumber}`)) await shared.addTrial(point, result, phase, host);
    };

    /** Fails the trials of silent workers, marks their rows interrupted and re-queues their configs. */
    const reap = async (): Promise<void> => {
      const reaped = await shared.reap(w.heartbeatTimeoutS);
      if (reaped.length === 0) return;
      const all = await studyExperiments(store, w.study);
      const history = observationsOf(all);
      for (const t of reaped) {
        const rows = all.filter((e) => e.trialNumber === t.trialNumber);
        const why = `worker ${t.host ?? '?'} sent no heartbeat for ${t.ageS.toFixed(1)} s (timeout ${w.heartbeatTimeoutS} s) while it held trial ${t.trialNumber}`;
        for (const e of rows.filter((r) => r.status === 'running' || r.status === 'queued')) {
          // Re-read inside the transaction: a late owner may have stored its result meanwhile.
          await store.transaction(async (tx) => {
            const now = await tx.getExperiment(e.id);
            if (now?.status !== 'running' && now?.status !== 'queued') return;
            await tx.updateExperiment(e.id, { status: 'interrupted', error: `${why}; marked interrupted by worker ${w.hostLabel}, its config re-queued in study ${w.study}` });
            const deadRun = await tx.getRun(e.runId);
            if (deadRun?.status === 'running') await tx.updateRunStatus(e.runId, 'interrupted');
          });
        }
        const stored = rows.find((r) => (FINAL as readonly string[]).includes(r.status));
        if (t.point === null) {
          await store.addNote(runId, 'warning', `${why}; its config is outside this program's space and was not re-queued`);
        } else if (stored) {
          // The result reached the store before its worker died: add it to the study, never run it again.
          await addStoredResult(t.trialNumber, t.point, resultOf(stored, history), t.phase ?? stored.phase ?? 'unknown', t.host);
          await store.addNote(runId, 'requeue', `${why}; experiment ${stored.id} was already stored (${stored.status}): added to the study, not run again`);
        } else {
          await shared.enqueue(t.point, t.phase ?? 'unknown', t.trialNumber);
          await store.addNote(runId, 'requeue', `${why}; re-queued ${describe(t.point)} (phase ${t.phase ?? '?'})`);
          opts.progress(`re-queued trial ${t.trialNumber} of ${t.host ?? '?'}: ${describe(t.point)}`);
        }
      }
    };

    /** Measures one claimed trial, heartbeating meanwhile, and tells the study. Returns the stored row. */
    const measure = async (claim: StudyClaim, history: readonly Observation[]): Promise<ExperimentRecord> => {
      const config = configFor(parsed.program, engine, claim.point);
      const repetition = history.filter((o) => pointKey(o.point) === pointKey(claim.point)).length;
      const record = await runExperiment(
          {
            config,
            phase: claim.phase,
            rationale: `study ${w.study}, trial ${claim.trialNumber}${claim.requeuedFrom !== null ? ` (re-queued from trial ${claim.requeuedFrom})` : ''}: ${claim.phase} config claimed by ${w.hostLabel}`,
            repetition,
            labels: { host: w.hostLabel, study: w.study, trialNumber: claim.trialNumber },
          },
          experimentDepsOf(s, pool, engine, protocolOf(parsed.program, opts.startTimeoutS), parsed.program.energy.boundary),
        );
      if (record.status === 'interrupted') {
        // Stopped here (signal, telemetry): hand the config back at once instead of after the timeout.
        const told = await shared.tell(claim.trialNumber, { state: 'fail', values: null, constraint: null }, 'lost');
        if (!told.alreadyFinished) await shared.enqueue(claim.point, claim.phase, claim.trialNumber);
      } else {
        const after = observationsOf(await studyExperiments(store, w.study));
        const told = await shared.tell(claim.trialNumber, resultOf(record, after), 'experiment');
        if (told.alreadyFinished) {
          // A reaper marked the row interrupted while this worker was still measuring; the result stored
          // since stands, so its reason goes.
          if (record.status === 'ok') await store.updateExperiment(record.id, { error: null });
          await store.addNote(runId, 'warning', `trial ${claim.trialNumber} was failed as stale by another worker before this result was told (heartbeats late by more than ${w.heartbeatTimeoutS} s); experiment ${record.id} stays stored and is added to the study`);
          await addStoredResult(claim.trialNumber, claim.point, resultOf(record, after), claim.phase, w.hostLabel);
        }
      }
      return record;
    };

    let bayesianExhausted = false;
    let electionLostAtMs: number | null = null;
    for (;;) {
      if (s.signal.aborted) {
        status = 'interrupted';
        stopReason = 'interrupted by a signal';
        break;
      }
      const steered = steer(opts.programFile, parsed, engine);
      if (steered.note) {
        await store.addNote(runId, steered.kind, steered.note);
        opts.progress(steered.note);
      }
      if (steered.program !== parsed) {
        parsed = steered.program;
        pipeline = makePipeline(parsed.program);
      }
      const budget = opts.maxExperiments ?? parsed.program.budget.experiments;
      const budgetHours = opts.maxHours ?? parsed.program.budget.hours;
      const elapsedH = (Date.now() - runStartMs) / 3_600_000;
      if (!s.clock.virtual && elapsedH >= budgetHours) {
        stopReason = `time budget of this worker reached (${elapsedH.toFixed(2)} of ${budgetHours} h)`;
        break;
      }
      await reap();
      const history = observationsOf(await studyExperiments(store, w.study));
      const state = await shared.state();
      const step = planStudyStep({ state, history, budgetExperiments: budget, pipeline, bayesianExhausted });
      if (step.kind !== 'switch') electionLostAtMs = null;
      if (step.kind === 'stop') {
        stopReason = step.reason;
        break;
      }
      if (step.kind === 'wait') {
        await sleep(pollMs);
        continue;
      }
      if (step.kind === 'switch') {
        if (await shared.elect(`phase:${step.to}`)) {
          const design = step.to === 'baseline' || step.to === 'grid' || step.to === 'random' ? await pipeline.design(step.to, history) : [];
          for (const p of design) await shared.enqueue(p, step.to);
          await shared.setPhase(step.to);
          phases.push({ from: step.from, to: step.to, reason: step.reason });
          await store.addNote(runId, 'phase_switch', `${step.from} → ${step.to} after ${state.finished} experiments of study ${w.study} (${design.length} configs enqueued by ${w.hostLabel}): ${step.reason}`);
          s.log.info({ ...step, enqueued: design.length }, 'study phase switch');
          opts.progress(`phase ${step.from} → ${step.to} (study ${w.study}, ${design.length} enqueued): ${step.reason}`);
        } else {
          // Another worker is taking this switch; it sets the study's phase once its design is enqueued.
          electionLostAtMs ??= Date.now();
          if (Date.now() - electionLostAtMs > 2 * w.heartbeatTimeoutS * 1000) {
            throw new StudyError(
              `study ${w.study}: the worker that took the switch ${step.from} → ${step.to} did not complete it within ${2 * w.heartbeatTimeoutS} s (it died between enqueueing the design and setting the phase); start a new study (--study with another name) to continue`,
            );
          }
          await sleep(pollMs);
        }
        continue;
      }
      let claim: StudyClaim | null;
      if (step.kind === 'ask') {
        const running = state.running.map((t) => t.point).filter((p): p is SpacePoint => p !== null);
        claim = await shared.askTpe(w.hostLabel, history.map((o) => o.point), running);
        if (!claim) {
          // TPE keeps proposing observed points: a seeded random usable point that nobody is measuring.
          const usable = pipeline.usable(history);
          const busy = new Set(running.map(pointKey));
          const free = allPoints(spaceOf(parsed.program)).filter((p) => usable(p) && !busy.has(pointKey(p)));
          if (free.length === 0) bayesianExhausted = true;
          else await shared.enqueue(free[(seed + history.length) % free.length]!, 'bayesian');
          continue;
        }
      } else {
        claim = await shared.claim(w.hostLabel);
        if (!claim) continue;
      }
      const now = await shared.state();
      if (overBudget(claim, now, budget)) {
        // Others claimed the rest of the budget first: hand it back (it runs if one of theirs is lost).
        await shared.tell(claim.trialNumber, { state: 'fail', values: null, constraint: null }, 'released');
        await shared.enqueue(claim.point, claim.phase, claim.trialNumber);
        await sleep(pollMs);
        continue;
      }
      const drainOf = step.kind === 'drain' ? phaseRank(step.phase) : null;
      const problem = drainOf !== null && phaseRank(claim.phase) <= drainOf ? `phase ${claim.phase} ended: ${step.kind === 'drain' ? step.reason : ''}` : claimProblem(claim, history, now, pipeline.usable(history));
      if (problem) {
        await shared.tell(claim.trialNumber, { state: 'fail', values: null, constraint: null }, 'skipped');
        s.log.info({ trial: claim.trialNumber, point: claim.point, problem }, 'claimed trial skipped');
        continue;
      }
      const record = await measure(claim, history);
      const done = await shared.state().then((st) => st.finished).catch(() => state.finished + 1);
      opts.progress(
        `[${done}/${budget}] ${w.hostLabel} ${claim.phase.padEnd(8)} ${record.status.padEnd(15)} trial ${claim.trialNumber} ${describe(claim.point)}  SCI ${record.sciUg?.toPrecision(4) ?? '–'} µg/tok`,
      );
      if (s.telemetry.failure) throw new TelemetryError(`telemetry failed; the worker cannot measure energy any more: ${s.telemetry.failure.message}`);
      if (s.signal.aborted) {
        status = 'interrupted';
        stopReason = 'interrupted by a signal';
        break;
      }
    }
    const summary = await summarize(store, runId, false, status, stopReason, phases, parsed.program.objective.constraint);
    const final = await shared.state();
    return { ...summary, db: isPostgresUrl(opts.db) ? redactPgUrl(opts.db) : opts.db, study: { name: w.study, host: w.hostLabel, hardware: s.carbon.hardware.profile.id, phase: (final.phase as StudyPhase | null) ?? null, finished: final.finished, budget: opts.maxExperiments ?? parsed.program.budget.experiments, lost: final.lost } };
  } catch (err) {
    status = 'failed';
    if (!(err instanceof CarbonbenchError)) session?.log.error({ err }, 'study worker failed');
    throw err;
  } finally {
    await study?.close().catch(() => {});
    await pool.release().catch(() => {});
    await session?.close(status);
    lock.release();
  }
}

function describe(p: SpacePoint): string {
  return `${p.model} ${p.quant} b=${p.batch} in=${p.inputLen} out=${p.outputLen}`;
}

