/**
 * `carbonbench run`: the autonomous sweep (DESIGN sections 1 and 7). Each step: re-read program.md
 * (steering), plan the next config (search phase, optional agent), run it under the measurement
 * protocol, store it. Stops on budget, on convergence of the last phase, on SIGINT/SIGTERM (the current
 * experiment is stored as interrupted, exit 0), or on a fatal environment error (exit 1). Resumable:
 * results.db is the one source of truth, so a new invocation continues the last unfinished run.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { resolveIntensity } from '../carbon/regions.js';
import type { CarbonIntensityConfig } from '../carbon/timed-intensity.js';
import { getEngine } from '../engines/registry.js';
import type { Engine, ExperimentConfig, ModelSpec } from '../engines/types.js';
import type { BoundaryMode } from '../energy/boundary.js';
import { CarbonbenchError, InputError, TelemetryError, describeValue } from '../errors.js';
import { parseProgram, type ParsedProgram } from '../program/parse.js';
import { DEFAULT_HEARTBEAT_TIMEOUT_S, type Program } from '../program/schema.js';
import { baselineBpbs, bestFeasible, bpbLimit, parseConstraint } from '../search/space.js';
import { SearchPipeline } from '../search/pipeline.js';
import { plannerAgentFromProgram, type PlannerAgent } from '../agent/agent.js';
import { pointKey, type Observation, type Proposal, type SearchSpace, type Strategy } from '../search/types.js';
import { isPostgresUrl, openStore, parsePgUrl, redactPgUrl } from '../store/index.js';
import type { ExperimentRecord, Store } from '../store/types.js';
import { DEFAULT_PROTOCOL, runExperiment, type ExperimentDeps, type ProtocolOptions } from './experiment.js';
import { observationsOf, pointOf } from './history.js';
import { acquireRunLock } from './lock.js';
import { ServerPool } from './server-pool.js';
import { openSession, simFaultsOf, type Session, type SessionOptions } from './setup.js';

export interface RunOptions {
  programFile: string;
  /** --db (default ./results.db); program.md's `storage:` or --storage may replace it (chooseStorage). */
  db: string;
  /** --db was given on the command line. */
  dbExplicit?: boolean;
  /** --storage: a PostgreSQL URL. */
  storage?: string;
  engine?: string;
  maxExperiments?: number;
  maxHours?: number;
  noAgent: boolean;
  seed?: number;
  dryRun: boolean;
  fresh: boolean;
  nvidiaSmi?: string;
  gpus?: readonly number[];
  /** sysfs for RAPL / hwmon (issue 9). */
  sysfsRoot?: string;
  /** Seconds an engine may take to become ready (default DEFAULT_PROTOCOL.startTimeoutS). */
  startTimeoutS?: number;
  /** Join this shared study as one of its workers (issue 10; overrides program.md `study`). */
  study?: string;
  /** Host label of this worker (default os.hostname()). */
  hostLabel?: string;
  /** Seconds without a heartbeat after which a worker's trial is re-queued (default program.md, else 60). */
  heartbeatTimeoutS?: number;
  /** Progress lines on stderr. */
  progress: (line: string) => void;
}

export interface RunSummary {
  runId: number | null;
  resumed: boolean;
  status: 'completed' | 'interrupted' | 'failed' | 'dry-run';
  stopReason: string;
  experiments: number;
  ok: number;
  failed: number;
  phases: { from: string; to: string; reason: string }[];
  best: { id: number; model: string; quant: string | null; batch: number | null; inputLen: number | null; outputLen: number | null; sciUg: number | null; bpb: number | null } | null;
  plan?: Proposal[];
  /** Worker mode (`--study`): the study as this worker left it. */
  study?: { name: string; host: string; hardware: string; phase: string | null; finished: number; budget: number; lost: number };
  /** Where the results went: the results.db path, or the PostgreSQL URL with its password redacted. */
  db: string;
}

/**
 * The database a run writes to: --storage, else an explicit --db, else program.md's `storage:`, else
 * the default --db. --storage and an explicit --db that differ are a usage error (which one was meant?).
 */
export function chooseStorage(opts: { db: string; dbExplicit?: boolean; storage?: string; programStorage?: string }): string {
  if (opts.storage !== undefined) {
    if (!isPostgresUrl(opts.storage)) {
      throw new InputError(
        `--storage ${describeValue(redactPgUrl(opts.storage))} is not a PostgreSQL URL; allowed: postgresql://user@host:5432/dbname ` +
          `(password from PGPASSWORD); for a results.db file use --db`,
      );
    }
    parsePgUrl(opts.storage, '--storage');
    if (opts.dbExplicit === true && opts.db !== opts.storage) {
      throw new InputError(
        `--storage ${redactPgUrl(opts.storage)} and --db ${redactPgUrl(opts.db)} name different databases; give one of them`,
      );
    }
    return opts.storage;
  }
  if (opts.dbExplicit === true) return opts.db;
  return opts.programStorage ?? opts.db;
}

function readProgram(file: string): ParsedProgram {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new InputError(`cannot read ${file}: ${(err as Error).message} (run \`carbonbench init\` to write an example)`);
  }
  return parseProgram(text, file);
}

export function spaceOf(program: Program): SearchSpace {
  return {
    models: program.models.map((m) => m.id),
    quant: program.space.quant,
    batch: program.space.batch,
    inputLen: program.space.input_len,
    outputLen: program.space.output_len,
  };
}

export function modelParamsOf(program: Program): Record<string, number> {
  return Object.fromEntries(program.models.filter((m) => m.params !== undefined).map((m) => [m.id, m.params!]));
}

export function configFor(program: Program, engine: Engine, p: Proposal['point']): ExperimentConfig {
  const model = program.models.find((m) => m.id === p.model);
  if (!model) throw new InputError(`model ${JSON.stringify(p.model)} is not in program.md's models`);
  const spec: ModelSpec = { id: model.id, params: model.params, family: model.family, variants: model.variants };
  return { engine: engine.name, model: spec, quant: p.quant, batch: p.batch, inputLen: p.inputLen, outputLen: p.outputLen, engineOptions: program.engine_options };
}

/** Every (model, quant) of the space must be valid for the engine before anything starts. */
function validateSpace(program: Program, engine: Engine): void {
  const problems: string[] = [];
  for (const m of program.models) {
    for (const quant of program.space.quant) {
      try {
        engine.validate(configFor(program, engine, { model: m.id, quant, batch: program.space.batch[0]!, inputLen: program.space.input_len[0]!, outputLen: program.space.output_len[0]! }));
      } catch (err) {
        problems.push(`${m.id} × ${quant}: ${(err as Error).message}`);
      }
    }
  }
  if (problems.length > 0) throw new InputError(`program.md's space does not fit the ${engine.name} engine:\n  ${problems.join('\n  ')}`);
}

export function protocolOf(program: Program, startTimeoutS: number | undefined): ProtocolOptions {
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
export function best(experiments: readonly ExperimentRecord[], constraintText: string | undefined): RunSummary['best'] {
  const measured = experiments.filter((e) => e.phase !== 'manual');
  const winner = bestFeasible(observationsOf(measured), constraintText ? parseConstraint(constraintText) : null);
  if (!winner) return null;
  const b = measured.filter((e) => e.status === 'ok' && e.sciUg === winner.sciUg && JSON.stringify(pointOf(e)) === JSON.stringify(winner.point))[0];
  if (!b) return null;
  return { id: b.id, model: b.model, quant: b.quant, batch: b.batch, inputLen: b.inputLen, outputLen: b.outputLen, sciUg: b.sciUg, bpb: b.bpb };
}

/** The run to continue: the last one that did not complete. */
async function resumable(store: Store): Promise<number | null> {
  const runs = await store.listRuns();
  const last = runs[runs.length - 1];
  return last && last.status !== 'completed' ? last.id : null;
}

/**
 * What a plain run and a study worker both open their session with, from program.md and the CLI flags:
 * one place, so that a new program.md key reaches both (it did not: workers ignored --sysfs-root,
 * energy.boundary and the grid-intensity provider until session 3).
 */
export function sessionOptionsOf(parsed: ParsedProgram, opts: Pick<RunOptions, 'db' | 'nvidiaSmi' | 'sysfsRoot' | 'gpus'>, engine: Engine, seed: number): SessionOptions {
  const { program } = parsed;
  return {
    db: opts.db,
    engine,
    programText: parsed.text,
    programHash: parsed.sha256,
    seed,
    nvidiaSmi: opts.nvidiaSmi,
    sysfsRoot: opts.sysfsRoot,
    nvmlHz: program.energy.nvml_hz,
    gpus: opts.gpus ?? program.gpus,
    carbon: {
      region: program.carbon.region,
      intensity: program.carbon.intensity,
      hardware: program.carbon.hardware,
      embodiedKg: program.carbon.embodied_kg,
      lifetimeYears: program.carbon.lifetime_years,
      gpusTotal: program.carbon.gpus_total,
      timed: timedIntensityOf(program.carbon),
    },
    simHardware: typeof program.engine_options.sim_hardware === 'string' ? program.engine_options.sim_hardware : undefined,
    simFaults: simFaultsOf(program.engine_options),
  };
}

/**
 * What an experiment runs with, from its session (one place for plain runs, study workers, `measure` and
 * the benchmarks, like sessionOptionsOf). Runs pass protocolOf(program) and the program's energy.boundary.
 */
export function experimentDepsOf(session: Session, pool: ServerPool, engine: Engine, protocol: ProtocolOptions, energyBoundary?: BoundaryMode): ExperimentDeps {
  return {
    store: session.store,
    telemetry: session.telemetry,
    pool,
    engine,
    clock: session.clock,
    log: session.log,
    runId: session.runId,
    runDir: session.runDir,
    protocol,
    carbon: session.carbon,
    idlePowerW: session.idlePowerW,
    bpbText: session.bpbText,
    signal: session.signal,
    ...(energyBoundary !== undefined ? { energyBoundary } : {}),
  };
}

/** program.md's carbon.intensity_provider, zone and signal (issue 9 part 2). */
export function timedIntensityOf(carbon: Program['carbon']): CarbonIntensityConfig {
  return {
    provider: carbon.intensity_provider ?? 'static',
    ...(carbon.zone !== undefined ? { zone: carbon.zone } : {}),
    ...(carbon.signal !== undefined ? { signal: carbon.signal } : {}),
  };
}

export async function runSweep(options: RunOptions): Promise<RunSummary> {
  let parsed = readProgram(options.programFile);
  const opts: RunOptions = { ...options, db: chooseStorage({ db: options.db, dbExplicit: options.dbExplicit, storage: options.storage, programStorage: parsed.program.storage }) };
  const dbShown = isPostgresUrl(opts.db) ? redactPgUrl(opts.db) : opts.db;
  const engine = await getEngine(opts.engine ?? parsed.program.engine);
  validateSpace(parsed.program, engine);
  // Fix (issue 6, tests/fixtures/bad/region-unknown.md): an unknown carbon.region was found only when the
  // session opened, after the lock and results.db had been created; check it with the rest of the input.
  resolveIntensity({ region: parsed.program.carbon.region, intensityGPerKwh: parsed.program.carbon.intensity });
  const constraint = parsed.program.objective.constraint ? parseConstraint(parsed.program.objective.constraint) : null;
  const seed = opts.seed ?? parsed.program.seed ?? 0;

  if (opts.dryRun) {
    const pipeline = new SearchPipeline({ space: spaceOf(parsed.program), constraint, budgetExperiments: opts.maxExperiments ?? parsed.program.budget.experiments, seed, modelParams: modelParamsOf(parsed.program) });
    const plan: Proposal[] = [];
    const history: Observation[] = [];
    // Plan the deterministic part (baseline and grid), as if every grid experiment improved on the last
    // (so the grid is listed whole; a real run may converge earlier).
    for (let i = 0; i < 500; i++) {
      const p = await pipeline.next(history);
      if (!p || (p.phase !== 'baseline' && p.phase !== 'grid')) break;
      plan.push(p);
      const obs: Observation = { point: p.point, status: 'ok', sciUg: p.phase === 'baseline' ? 1 : 1 / (i + 1), bpb: 1, tokS: 1, phase: p.phase };
      history.push(obs);
      pipeline.observe(obs);
    }
    return { runId: null, resumed: false, status: 'dry-run', stopReason: 'dry run: nothing was measured', experiments: 0, ok: 0, failed: 0, phases: [], best: null, plan, db: dbShown };
  }

  const studyName = opts.study ?? (typeof parsed.program.study === 'string' ? parsed.program.study : parsed.program.study?.name);
  if (studyName !== undefined) {
    if (opts.fresh) throw new InputError('--fresh has no meaning for a study worker: each worker invocation is a new run of the study');
    const { runStudyWorker } = await import('./worker.js');
    const programTimeout = typeof parsed.program.study === 'object' ? parsed.program.study.heartbeat_timeout_s : undefined;
    return runStudyWorker({
      run: opts,
      parsed,
      engine,
      seed,
      study: studyName,
      hostLabel: opts.hostLabel ?? hostname(),
      heartbeatTimeoutS: opts.heartbeatTimeoutS ?? programTimeout ?? DEFAULT_HEARTBEAT_TIMEOUT_S,
    });
  }
  // The lock file sits beside results.db; a PostgreSQL database is shared by design (several workers).
  const lock = isPostgresUrl(opts.db) ? { release: () => undefined } : acquireRunLock(resolve(opts.db));
  let session: Session | null = null;
  const pool = new ServerPool();
  const phases: RunSummary['phases'] = [];
  let resumed = false;
  let status: 'completed' | 'interrupted' | 'failed' = 'completed';
  let stopReason = '';
  try {
    let resumeRunId: number | undefined;
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
      } finally {
        await probe.close();
      }
    }
    resumed = resumeRunId !== undefined;
    session = await openSession({ ...sessionOptionsOf(parsed, opts, engine, seed), resumeRunId });
    const { store, runId } = session;
    if (resumed) await store.addNote(runId, 'resume', `resumed by pid ${process.pid}`);
    const run = await store.getRun(runId);
    const runStartMs = run ? Date.parse(run.startedAt) : Date.now();

    const agent = opts.noAgent || !parsed.program.agent ? null : await makeAgent(parsed.program, session);
    const onPhaseSwitch = (s: { from: string; to: string; reason: string; atExperiment: number }): void => {
      phases.push({ from: s.from, to: s.to, reason: s.reason });
      // Fix (issue 6, tests/faults/disk.test.ts): this promise was not awaited nor caught, so a failing
      // write (a full disk) crashed the process with an unhandled rejection instead of stopping the run
      // with a clear error; the next awaited write reports the same failure.
      store.addNote(runId, 'phase_switch', `${s.from} → ${s.to} after ${s.atExperiment} experiments: ${s.reason}`).catch((err: unknown) => session!.log.warn({ err }, 'phase switch note not stored'));
      session!.log.info(s, 'phase switch');
      opts.progress(`phase ${s.from} → ${s.to}: ${s.reason}`);
    };
    // `history` (declared below, updated every step) is read live by the bayesian factory's constraint.
    let history: Observation[] = [];
    const makePipeline = async (program: Program): Promise<SearchPipeline> =>
      new SearchPipeline({
        space: spaceOf(program),
        constraint: program.objective.constraint ? parseConstraint(program.objective.constraint) : null,
        budgetExperiments: opts.maxExperiments ?? program.budget.experiments,
        seed,
        modelParams: modelParamsOf(program),
        patience: program.search.patience,
        shares: { ...(program.search.grid_share !== undefined ? { grid: program.search.grid_share } : {}), ...(program.search.random_share !== undefined ? { random: program.search.random_share } : {}) },
        log: session!.log,
        bayesianFactory: async (): Promise<Strategy> => {
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
      let proposal: Proposal | null;
      try {
        proposal = await pipeline.next(history);
      } catch (err) {
        // The Optuna bridge died (or another strategy failure): note it, rebuild the pipeline from
        // results.db (a new bridge replays the history) and try once more.
        await store.addNote(runId, 'warning', `search strategy failed, rebuilding it from results.db: ${(err as Error).message.slice(0, 500)}`);
        await pipeline.close().catch(() => {});
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
        if (choice.note) await store.addNote(runId, choice.source === 'agent' ? 'agent' : 'agent_fallback', choice.note);
        if (choice.notebook) await store.addNote(runId, 'agent_notebook', choice.notebook);
        proposal = choice.proposal;
        rationale = choice.proposal.rationale;
      }
      const config = configFor(parsed.program, engine, proposal.point);
      const point = proposal.point;
      // Fix (issue 6): repetitions counted from results.db, so a resumed run draws the same sim noise as
      // an uninterrupted one (see EngineContext.repetition).
      const repetition = history.filter((o) => pointKey(o.point) === pointKey(point)).length;
      const record = await runExperiment(
        { config, phase: proposal.phase, rationale, repetition, labels: { host: session.host } },
        experimentDepsOf(session, pool, engine, protocolOf(parsed.program, opts.startTimeoutS), parsed.program.energy.boundary),
      );
      const obs = observationsOf([record])[0];
      if (obs) pipeline.observe(obs);
      const all = await store.listExperiments({ runId });
      const b = best(all, parsed.program.objective.constraint);
      const failures = all.filter((e) => e.status === 'failed' || e.status === 'aborted_thermal').length;
      const doneNow = all.filter((e) => e.phase !== 'manual' && ['ok', 'failed', 'aborted_thermal'].includes(e.status)).length;
      const perExperimentMs = (Date.now() - runStartMs) / Math.max(1, doneNow);
      const etaMin = session.clock.virtual ? 0 : ((budgetExperiments - doneNow) * perExperimentMs) / 60_000;
      opts.progress(
        `[${doneNow}/${budgetExperiments}] ${proposal.phase.padEnd(8)} ${record.status.padEnd(15)} ${config.model.id} ${config.quant} b=${config.batch} in=${config.inputLen} out=${config.outputLen}` +
          `  SCI ${record.sciUg?.toPrecision(4) ?? '–'} µg/tok  best ${b?.sciUg?.toPrecision(4) ?? '–'}  failures ${failures}${session.clock.virtual ? '' : `  ETA ${etaMin.toFixed(0)} min`}`,
      );
      // Checked first (fix, issue 6): an experiment stopped by a telemetry failure is `interrupted` too,
      // and must end the run as failed (exit 1), not as a clean stop on a signal.
      if (session.telemetry.failure) throw new TelemetryError(`telemetry failed; the run cannot measure energy any more: ${session.telemetry.failure.message}`);
      if (record.status === 'interrupted') {
        status = 'interrupted';
        stopReason = 'interrupted by a signal';
        break;
      }
    }
    await pipeline.close();
    return { ...(await summarize(store, runId, resumed, status, stopReason, phases, parsed.program.objective.constraint)), db: dbShown };
  } catch (err) {
    status = 'failed';
    if (!(err instanceof CarbonbenchError)) session?.log.error({ err }, 'run failed');
    throw err;
  } finally {
    await pool.release().catch(() => {});
    await session?.close(status);
    lock.release();
  }
}

export async function summarize(store: Store, runId: number, resumed: boolean, status: RunSummary['status'], stopReason: string, phases: RunSummary['phases'], constraintText: string | undefined): Promise<Omit<RunSummary, 'db'>> {
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
export function steer(file: string, current: ParsedProgram, engine: Engine): { program: ParsedProgram; note: string | null; kind: string } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return { program: current, note: `program.md could not be re-read (${(err as Error).message}); continuing with the last good version`, kind: 'warning' };
  }
  const sha = createHash('sha256').update(text).digest('hex');
  if (sha === current.sha256) return { program: current, note: null, kind: '' };
  try {
    const next = parseProgram(text, file);
    if (next.program.engine !== current.program.engine) throw new InputError(`engine cannot change during a run (${current.program.engine} → ${next.program.engine}); start a new run with --fresh`);
    // A run's SCI figures must share one boundary mode (issue 9).
    if (next.program.energy.boundary !== current.program.energy.boundary) throw new InputError(`energy.boundary cannot change during a run (${current.program.energy.boundary} → ${next.program.energy.boundary}); start a new run with --fresh`);
    validateSpace(next.program, engine);
    const changed = (['space', 'budget', 'safety', 'models', 'objective', 'engine_options', 'search'] as const).filter((k) => JSON.stringify(next.program[k]) !== JSON.stringify(current.program[k]));
    const prose = next.prose !== current.prose ? ['prose'] : [];
    return { program: next, note: `program.md changed (${[...changed, ...prose].join(', ') || 'formatting'}); applied from the next experiment`, kind: 'program_change' };
  } catch (err) {
    return { program: current, note: `program.md edit ignored, the last good version stays in force: ${(err as Error).message}`, kind: 'warning' };
  }
}

async function makeAgent(program: Program, session: Session): Promise<PlannerAgent | null> {
  try {
    const timeoutS = program.agent!.timeout_s;
    const agent = plannerAgentFromProgram(program.agent!, { log: session.log, ...(timeoutS !== undefined ? { timeoutMs: timeoutS * 1000 } : {}) });
    if (agent.isLocalEndpoint) await session.store.addNote(session.runId, 'warning', 'the agent endpoint is on this machine: a local model on the GPU under test changes idle power and free memory');
    return agent;
  } catch (err) {
    await session.store.addNote(session.runId, 'agent_fallback', `agent off for this run: ${(err as Error).message}`);
    return null;
  }
}

export { pointOf };
