/**
 * A shared Optuna study (issue 10): several `carbonbench run --study NAME` workers, on one or many hosts,
 * coordinate through one Optuna RDB storage (PostgreSQL, or an SQLite file for workers on one machine).
 * Nothing here is a home-made coordinator: every decision that must be taken once is taken by the
 * database behind Optuna (scripts/optuna_bridge.py says which guarantee each command relies on):
 *
 * - claim: an enqueued (WAITING) trial goes to exactly one worker (Study.ask pops it under a row lock);
 * - elect: one worker per study and key wins (a marker study; study names are UNIQUE);
 * - reap: a RUNNING trial whose heartbeats stopped is failed by exactly one worker (row lock), which
 *   re-queues its config.
 *
 * This class is the typed client of those bridge commands; the worker loop is src/runner/worker.ts and
 * the pure step planning src/search/study-plan.ts.
 */
import { z } from 'zod';
import { isPostgresUrl, toSqlAlchemyUrl } from '../store/pg-url.js';
import { OptunaBridge, fromWire, toWire, wirePointSchema, type OptunaBridgeOptions } from './bayesian.js';
import type { SearchSpace, SpacePoint } from './types.js';

const trialInfoSchema = z.object({
  trial_number: z.number(),
  point: wirePointSchema.nullable(),
  phase: z.string().nullable(),
  host: z.string().nullable(),
  requeued_from: z.number().nullable(),
});
const stateSchema = z.looseObject({
  phase: z.string().nullable(),
  waiting: z.array(trialInfoSchema),
  running: z.array(trialInfoSchema.extend({ mine: z.boolean() })),
  finished: z.number(),
  lost: z.number(),
});
const claimSchema = z.looseObject({
  trial_number: z.number().nullable(),
  point: wirePointSchema.optional(),
  phase: z.string().optional(),
  requeued_from: z.number().nullable().optional(),
});
const reapSchema = z.looseObject({ reaped: z.array(trialInfoSchema.extend({ age_s: z.number() })) });
const tellSchema = z.looseObject({ state: z.string(), already_finished: z.boolean().optional() });

export interface StudyTrial {
  trialNumber: number;
  /** null for a trial of another space (program.md edited between workers). */
  point: SpacePoint | null;
  phase: string | null;
  host: string | null;
  requeuedFrom: number | null;
}

export interface StudyState {
  /** The study's current phase (set by the worker that won the switch), null before the first. */
  phase: string | null;
  waiting: StudyTrial[];
  running: (StudyTrial & { mine: boolean })[];
  /** Experiments the study counts towards the budget: complete trials and failed measurements. */
  finished: number;
  /** Trials failed because their worker stopped sending heartbeats. */
  lost: number;
}

export interface StudyClaim {
  trialNumber: number;
  point: SpacePoint;
  phase: string;
  requeuedFrom: number | null;
}

/** What a measured config tells its trial. */
export interface TrialResult {
  state: 'complete' | 'fail';
  /** [sciUg] for a complete trial. */
  values: number[] | null;
  /** BPB − limit (≤ 0 feasible), or null. */
  constraint: number | null;
}

export type TrialKind = 'experiment' | 'skipped' | 'released' | 'lost';

export interface SharedStudyOptions extends Pick<OptunaBridgeOptions, 'python' | 'onStderr' | 'requestTimeoutMs'> {
  /** SQLAlchemy URL of the Optuna RDB storage. */
  storage: string;
  studyName: string;
  space: SearchSpace;
  seed: number;
  /** Trials carry a BPB constraint value. */
  constraint: boolean;
  /** The bridge stamps this worker's claimed trials this often (seconds). */
  heartbeatIntervalS: number;
}

export class SharedStudy {
  private constructor(private readonly bridge: OptunaBridge) {}

  /** Starts the bridge and opens (or creates) the study. */
  static async open(opts: SharedStudyOptions): Promise<SharedStudy> {
    const bridge = new OptunaBridge({ python: opts.python, onStderr: opts.onStderr, requestTimeoutMs: opts.requestTimeoutMs });
    await bridge.start();
    try {
      const s = opts.space;
      await bridge.request('init', {
        space: { models: s.models, quant: s.quant, batch: s.batch, input_len: s.inputLen, output_len: s.outputLen },
        seed: opts.seed,
        multi_objective: false,
        constraint: opts.constraint,
        storage: opts.storage,
        study_name: opts.studyName,
        heartbeat_interval_s: opts.heartbeatIntervalS,
      });
      return new SharedStudy(bridge);
    } catch (err) {
      await bridge.close();
      throw err;
    }
  }

  get bridgePid(): number {
    return this.bridge.pid;
  }

  /** True for exactly one caller per study and key, across all hosts. */
  async elect(key: string): Promise<boolean> {
    return z.looseObject({ won: z.boolean() }).parse(await this.bridge.request('elect', { key })).won;
  }

  async state(): Promise<StudyState> {
    const s = stateSchema.parse(await this.bridge.request('state'));
    return { phase: s.phase, waiting: s.waiting.map(trialOf), running: s.running.map((t) => ({ ...trialOf(t), mine: t.mine })), finished: s.finished, lost: s.lost };
  }

  async setPhase(phase: string): Promise<void> {
    await this.bridge.request('set_phase', { phase });
  }

  async enqueue(point: SpacePoint, phase: string, requeuedFrom: number | null = null): Promise<void> {
    await this.bridge.request('enqueue', { point: toWire(point), phase, ...(requeuedFrom !== null ? { requeued_from: requeuedFrom } : {}) });
  }

  /** One enqueued trial for this worker, or null when the queue is empty. */
  async claim(host: string): Promise<StudyClaim | null> {
    return claimOf(claimSchema.parse(await this.bridge.request('claim', { host })));
  }

  /** A new TPE trial (or a re-queued one), never one of `observed` or `running`; null after `maxAsks` duplicates. */
  async askTpe(host: string, observed: readonly SpacePoint[], running: readonly SpacePoint[], maxAsks = 10): Promise<StudyClaim | null> {
    return claimOf(claimSchema.parse(await this.bridge.request('ask_tpe', { host, observed: observed.map(toWire), running: running.map(toWire), max_asks: maxAsks })));
  }

  /** Fails other workers' RUNNING trials silent for more than `timeoutS`; returns those this call failed. */
  async reap(timeoutS: number): Promise<(StudyTrial & { ageS: number })[]> {
    return reapSchema.parse(await this.bridge.request('reap', { timeout_s: timeoutS })).reaped.map((t) => ({ ...trialOf(t), ageS: t.age_s }));
  }

  /** Tells this worker's trial; `alreadyFinished` when another worker failed it as stale meanwhile. */
  async tell(trialNumber: number, result: TrialResult, kind: TrialKind = 'experiment'): Promise<{ alreadyFinished: boolean; state: string }> {
    const a = tellSchema.parse(await this.bridge.request('tell', { trial_number: trialNumber, values: result.values, state: result.state, constraint: result.constraint, kind }));
    return { alreadyFinished: a.already_finished ?? false, state: a.state };
  }

  /** Adds a finished trial (a stored result whose trial was reaped before it was told). */
  async addTrial(point: SpacePoint, result: TrialResult, phase: string, host: string | null): Promise<void> {
    await this.bridge.request('add_trial', { point: toWire(point), values: result.values, state: result.state, constraint: result.constraint, phase, ...(host ? { host } : {}) });
  }

  async close(): Promise<void> {
    await this.bridge.close();
  }
}

function trialOf(t: z.infer<typeof trialInfoSchema>): StudyTrial {
  return { trialNumber: t.trial_number, point: t.point ? fromWire(t.point) : null, phase: t.phase, host: t.host, requeuedFrom: t.requeued_from };
}

function claimOf(a: z.infer<typeof claimSchema>): StudyClaim | null {
  if (a.trial_number === null || !a.point || !a.phase) return null;
  return { trialNumber: a.trial_number, point: fromWire(a.point), phase: a.phase, requeuedFrom: a.requeued_from ?? null };
}

/**
 * The Optuna storage URL of a results database: a PostgreSQL results database holds the study too
 * (SQLAlchemy URL with the psycopg2 driver; it may hold the password: never print it, print
 * redactPgUrl of it); a results.db file gets a sibling SQLite file
 * `<db>.optuna.sqlite` (Optuna's tables stay out of the carbonbench schema).
 */
export function studyStorageUrl(db: string, absolute: (p: string) => string): string {
  if (isPostgresUrl(db)) return toSqlAlchemyUrl(db);
  return `sqlite:///${absolute(db)}.optuna.sqlite`;
}
