/**
 * The bayesian phase (DESIGN section 7): Optuna's TPE sampler (multivariate; multi-objective SCI × BPB
 * when the program asks for a front) in a long-lived Python process, scripts/optuna_bridge.py, spoken to
 * in JSON lines over stdio with request ids and timeouts. The study is rebuilt from results.db on every
 * start (`add_trial` of each observation), so results.db stays the one source of truth; with an RDB
 * `storage` URL (issue 10) the study persists and only the observations it lacks are added.
 *
 * Decisions (measured on the 300-point synthetic space of tests/search/bayesian.test.ts, trials until the
 * exact optimum, mean of 10 seeds, Optuna 5.0 / 3.1; random search needs 150.5 on average):
 * - Distributions: model and quant categorical; batch, input and output length an integer index into the
 *   sorted list (ordinal, so TPE shares evidence between neighbours): 23.7 trials, against 34.8 with the
 *   lengths and batch sizes as categories.
 * - Duplicates: in a discrete space TPE often proposes a point already observed. Such a trial is told as
 *   PRUNED (kind "duplicate") and asked again: TPE ranks pruned trials without intermediate values below
 *   every complete one, so the point moves to the "bad" density and the next sample moves away from it,
 *   usually to a neighbour of the good region (23.7 / 34.6 trials). Telling the known value again (the
 *   workaround in optuna/optuna#2021) pulls TPE back to the same point (35.7 / 37.0); telling FAIL leaves
 *   the model unchanged and the same point comes back (42.0 / 40.0). After `maxDuplicateAsks` duplicates
 *   in a row the slot, and the rest of that call, is filled with seeded random unobserved points, each
 *   enqueued so it is a trial of the study like any other.
 * - Constraint: BPB − limit ≤ 0 is a constraint value of the trial (Optuna's constraints API), never folded
 *   into the objective. A complete observation whose constraint is unknown counts as infeasible.
 * - Failed experiments are told as FAIL (TPE ignores them; the rebuilt study keeps them).
 * - Trials asked by propose() but never told (the runner or the agent ran something else) are told FAIL
 *   (kind "abandoned") at the next propose() or close(), so no RUNNING trial is left in a shared study.
 */
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { z } from 'zod';
import { resolvePython } from '../engines/probe.js';
import { CarbonbenchError, EnvironmentError } from '../errors.js';
import { pointKey, type Observation, type SearchSpace, type SpacePoint, type Strategy } from './types.js';

export const BRIDGE_SCRIPT = fileURLToPath(new URL('../../scripts/optuna_bridge.py', import.meta.url));

/** The bridge failed after it started: it died, timed out, or refused a request. */
export class OptunaBridgeError extends CarbonbenchError {}

// ---- the wire ------------------------------------------------------------------------------------

export const wirePointSchema = z.object({
  model: z.string(),
  quant: z.string(),
  batch: z.number(),
  input_len: z.number(),
  output_len: z.number(),
});
export type WirePoint = z.infer<typeof wirePointSchema>;

const helloSchema = z.object({
  event: z.literal('hello'),
  ok: z.boolean(),
  error: z.string().optional(),
  optuna: z.string().optional(),
  python: z.string().optional(),
  set_constraint: z.boolean().optional(),
});

const answerSchema = z.looseObject({ id: z.number().nullable(), ok: z.boolean(), error: z.string().optional() });

const trialSummarySchema = z.object({
  trial_number: z.number(),
  state: z.string(),
  kind: z.string(),
  point: wirePointSchema.nullable(),
});
const initAnswerSchema = z.looseObject({ n_trials: z.number(), trials: z.array(trialSummarySchema) });
const askAnswerSchema = z.looseObject({ trial_number: z.number(), point: wirePointSchema });
const bestAnswerSchema = z.looseObject({
  trials: z.array(
    z.object({ trial_number: z.number(), point: wirePointSchema, values: z.array(z.number()), constraint: z.number().nullable() }),
  ),
});
const summaryAnswerSchema = z.looseObject({
  n_trials: z.number(),
  states: z.record(z.string(), z.number()),
  kinds: z.record(z.string(), z.number()),
  experiments: z.record(z.string(), z.number()),
  pending: z.array(z.number()),
});

export function toWire(p: SpacePoint): WirePoint {
  return { model: p.model, quant: p.quant, batch: p.batch, input_len: p.inputLen, output_len: p.outputLen };
}

export function fromWire(p: WirePoint): SpacePoint {
  return { model: p.model, quant: p.quant, batch: p.batch, inputLen: p.input_len, outputLen: p.output_len };
}

const STDERR_TAIL_CHARS = 8000;
const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;
/** init may connect to an RDB storage and load its trials (unless requestTimeoutMs is given). */
const INIT_TIMEOUT_MS = 120_000;
/** Python start plus `import optuna` (1-3 s here; a cold disk can take much longer). */
const HELLO_TIMEOUT_MS = 60_000;
const CLOSE_TIMEOUT_MS = 10_000;

export interface OptunaBridgeOptions {
  python?: string;
  /** Per-request limit; a request past it kills the bridge (its state is then unknown). */
  requestTimeoutMs?: number;
  helloTimeoutMs?: number;
  /** Each stderr line of the bridge (its log), e.g. to the run's logger. */
  onStderr?: (line: string) => void;
}

interface PendingRequest {
  cmd: string;
  resolve: (answer: Record<string, unknown>) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

function missingOptunaMessage(python: string, detail: string): string {
  return `Optuna is not available to ${python}: run \`bash scripts/setup.sh\` (it makes .venv with scripts/requirements.txt), or set CARBONBENCH_PYTHON (${detail})`;
}

/**
 * One bridge process. `start()` spawns it (argument array, no shell) and waits for its hello line;
 * `request()` sends one command and resolves with its answer. After the process dies every pending and
 * later request rejects with an OptunaBridgeError carrying its exit status and stderr tail.
 */
export class OptunaBridge {
  readonly python: string;
  readonly command: readonly string[];
  optunaVersion = '';
  /** Optuna ≥ 5.0: Trial.set_constraint instead of constraints_func. */
  setConstraintApi = false;
  private child: ResultPromise | null = null;
  private stderr = '';
  private nextId = 1;
  private readonly inflight = new Map<number, PendingRequest>();
  private dead: OptunaBridgeError | null = null;
  private exited: Promise<void> = Promise.resolve();
  private onHello: ((line: string) => void) | null = null;
  private readonly requestTimeoutMs: number;
  private readonly helloTimeoutMs: number;
  private readonly onStderr: ((line: string) => void) | undefined;

  constructor(opts: OptunaBridgeOptions = {}) {
    this.python = opts.python ?? resolvePython();
    this.command = [this.python, BRIDGE_SCRIPT];
    this.requestTimeoutMs = opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.helloTimeoutMs = opts.helloTimeoutMs ?? HELLO_TIMEOUT_MS;
    this.onStderr = opts.onStderr;
  }

  get pid(): number {
    return this.child?.pid ?? -1;
  }

  /** The last lines the bridge wrote to stderr. */
  get stderrTail(): string {
    return this.stderr;
  }

  /** Spawns the bridge; rejects with EnvironmentError when this python cannot run it with Optuna. */
  async start(): Promise<void> {
    if (this.child) throw new Error('OptunaBridge already started');
    const startedAtMs = Date.now();
    const child = execa(this.python, [BRIDGE_SCRIPT], {
      stdin: 'pipe',
      stdout: 'pipe',
      stderr: 'pipe',
      buffer: false,
      reject: false,
      cleanup: true,
      // Line-buffered answers; no .pyc next to the script in a read-only install.
      env: { PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1', PYTHONIOENCODING: 'utf-8' },
    });
    this.child = child;
    // A write after the bridge died raises EPIPE on stdin: the exit handler reports it, not a crash.
    child.stdin?.on('error', () => undefined);
    let partial = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      this.stderr = (this.stderr + text).slice(-STDERR_TAIL_CHARS);
      if (this.onStderr) {
        const lines = (partial + text).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) if (line.trim() !== '') this.onStderr(line);
      }
    });
    createInterface({ input: child.stdout! }).on('line', (line) => this.handleLine(line));

    const hello = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.kill();
        reject(this.startError(`the bridge did not answer within ${this.helloTimeoutMs} ms`, startedAtMs));
      }, this.helloTimeoutMs);
      this.onHello = (line) => {
        clearTimeout(timer);
        resolve(line);
      };
      this.exited = child.then((result) => {
        clearTimeout(timer);
        const spawnCode = (result as { code?: unknown }).code;
        const status =
          result.exitCode === undefined && !result.signal && typeof spawnCode === 'string'
            ? spawnCode === 'ENOENT'
              ? `${this.python} not found`
              : `${this.python} could not be started (${spawnCode})`
            : `exit code ${result.exitCode ?? 'none'}${result.signal ? `, signal ${result.signal}` : ''}`;
        this.markDead(status, result.exitCode ?? null, Date.now() - startedAtMs);
        // Before the hello: this python cannot run the bridge at all.
        reject(this.startError(`the bridge exited before it was ready: ${status}`, startedAtMs, result.exitCode ?? null));
      });
    });
    const line = await hello;
    this.onHello = null;
    let parsed: z.infer<typeof helloSchema>;
    try {
      parsed = helloSchema.parse(JSON.parse(line));
    } catch (err) {
      this.kill();
      throw this.startError(`the bridge's first line is not its hello: ${line.slice(0, 200)}`, startedAtMs, null, err);
    }
    if (!parsed.ok) {
      await this.waitExit(CLOSE_TIMEOUT_MS);
      throw new EnvironmentError(missingOptunaMessage(this.python, parsed.error ?? 'import failed'), {
        command: this.command,
        exitCode: null,
        outputTail: this.stderr,
        durationMs: Date.now() - startedAtMs,
      });
    }
    this.optunaVersion = parsed.optuna ?? 'unknown';
    this.setConstraintApi = parsed.set_constraint ?? false;
  }

  private startError(reason: string, startedAtMs: number, exitCode: number | null = null, cause?: unknown): EnvironmentError {
    const tail = tailLines(this.stderr, 10);
    return new EnvironmentError(missingOptunaMessage(this.python, `${reason}${tail ? `; stderr: ${tail}` : ''}`), {
      command: this.command,
      exitCode,
      outputTail: this.stderr,
      durationMs: Date.now() - startedAtMs,
      cause,
    });
  }

  private handleLine(line: string): void {
    if (this.onHello) {
      this.onHello(line);
      return;
    }
    let answer: z.infer<typeof answerSchema>;
    try {
      answer = answerSchema.parse(JSON.parse(line));
    } catch {
      this.stderr = `${this.stderr}[stdout, not an answer] ${line.slice(0, 500)}\n`.slice(-STDERR_TAIL_CHARS);
      return;
    }
    if (answer.id === null) {
      // The bridge could not read a request line at all: fail the oldest request (answers are in order).
      const oldest = this.inflight.keys().next();
      if (!oldest.done) this.settle(oldest.value, answer);
      return;
    }
    this.settle(answer.id, answer);
  }

  private settle(id: number, answer: z.infer<typeof answerSchema>): void {
    const req = this.inflight.get(id);
    if (!req) return; // late answer to a request that timed out
    this.inflight.delete(id);
    clearTimeout(req.timer);
    if (answer.ok) req.resolve(answer);
    else req.reject(new OptunaBridgeError(`Optuna bridge refused \`${req.cmd}\`: ${answer.error ?? 'no reason given'}`, { command: this.command }));
  }

  private markDead(status: string, exitCode: number | null, durationMs: number): void {
    if (this.dead) return;
    const tail = tailLines(this.stderr, 20);
    this.dead = new OptunaBridgeError(`Optuna bridge (pid ${this.pid}, ${this.python}) is gone: ${status}${tail ? `\n${tail}` : ''}`, {
      command: this.command,
      exitCode,
      outputTail: this.stderr,
      durationMs,
    });
    for (const [id, req] of this.inflight) {
      clearTimeout(req.timer);
      this.inflight.delete(id);
      req.reject(new OptunaBridgeError(`${this.dead.message}\n(while running \`${req.cmd}\`)`, this.dead.details));
    }
  }

  /** Sends one command; resolves with its answer, rejects with OptunaBridgeError. */
  request(cmd: string, payload: Record<string, unknown> = {}, timeoutMs = this.requestTimeoutMs): Promise<Record<string, unknown>> {
    if (this.dead) return Promise.reject(new OptunaBridgeError(this.dead.message, this.dead.details));
    if (!this.child?.stdin || this.onHello) return Promise.reject(new Error('OptunaBridge not started'));
    const id = this.nextId++;
    const line = `${JSON.stringify({ ...payload, id, cmd })}\n`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.inflight.delete(id);
        reject(
          new OptunaBridgeError(`Optuna bridge did not answer \`${cmd}\` within ${timeoutMs} ms; killed it${tailSuffix(this.stderr)}`, {
            command: this.command,
            outputTail: this.stderr,
            durationMs: timeoutMs,
          }),
        );
        this.kill();
      }, timeoutMs);
      this.inflight.set(id, { cmd, resolve, reject, timer });
      this.child!.stdin!.write(line);
    });
  }

  /** Asks the bridge to exit and waits for it (SIGKILL after a grace period). Idempotent. */
  async close(): Promise<void> {
    if (!this.child) return;
    if (!this.dead) {
      try {
        await this.request('shutdown', {}, CLOSE_TIMEOUT_MS);
      } catch {
        // dead or deaf: killed below
      }
      this.child.stdin?.end();
    }
    if (!(await this.waitExit(CLOSE_TIMEOUT_MS))) {
      this.kill();
      await this.waitExit(CLOSE_TIMEOUT_MS);
    }
  }

  kill(): void {
    this.child?.kill('SIGKILL');
  }

  private async waitExit(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const done = await Promise.race([this.exited.then(() => true), timeout]);
    clearTimeout(timer);
    return done;
  }
}

function tailLines(text: string, n: number): string {
  return text.trim().split('\n').slice(-n).join('\n');
}

function tailSuffix(text: string): string {
  const tail = tailLines(text, 5);
  return tail ? `; stderr:\n${tail}` : '';
}

// ---- the strategy --------------------------------------------------------------------------------

export interface BayesianOptions {
  space: SearchSpace;
  seed: number;
  /** Two objectives, SCI and BPB (a Pareto front), instead of SCI alone. */
  multiObjective?: boolean;
  /** Pass each observation's constraint value (BPB − limit ≤ 0 is feasible). Default: constraintValue given. */
  constraint?: boolean;
  /** Everything observed so far (results.db), replayed into the study. */
  history?: readonly Observation[];
  python?: string;
  /** null: an in-memory study (rebuilt from history). A URL: Optuna RDB storage (shared study). */
  storage?: string | null;
  studyName?: string;
  /** The constraint value of an observation: ≤ 0 feasible; null when unknown (then infeasible). */
  constraintValue?: (obs: Observation) => number | null;
  /** Duplicate proposals in a row before a slot falls back to a random unobserved point. Default 10. */
  maxDuplicateAsks?: number;
  /** TPE's random start-up trials (Optuna's default 10); replayed history counts towards them. */
  startupTrials?: number;
  requestTimeoutMs?: number;
  onStderr?: (line: string) => void;
}

export interface BestTrial {
  trialNumber: number;
  point: SpacePoint;
  /** [sciUg] or [sciUg, bpb]. */
  values: number[];
  /** The stored constraint value (≤ 0 feasible), or null without a constraint. */
  constraint: number | null;
}

export interface StudySummary {
  nTrials: number;
  /** Trials by Optuna state (complete, fail, pruned, running, waiting). */
  states: Record<string, number>;
  /** Trials by why they exist: experiment, duplicate, abandoned. */
  kinds: Record<string, number>;
  /** Experiments (real observations) by state. */
  experiments: Record<string, number>;
  pendingTrialNumbers: number[];
}

export interface BayesianStrategy extends Strategy {
  readonly name: 'bayesian';
  readonly bridgePid: number;
  readonly optunaVersion: string;
  /** Observations of the last history sync outside the space (program.md edited): not replayed. */
  readonly skippedOutOfSpace: number;
  /** Tells the pending trial of this point, or adds the observation as a trial of its own. */
  tell(obs: Observation): Promise<void>;
  /** Abandons pending trials, shuts the bridge down and waits for it to exit. Idempotent. */
  close(): Promise<void>;
  /** Queues a point for the next ask (Optuna's enqueue_trial). */
  enqueue(point: SpacePoint): Promise<void>;
  /** Best feasible experiment (single objective) or the feasible Pareto front (multi-objective). */
  best(): Promise<BestTrial[]>;
  summary(): Promise<StudySummary>;
}

/** Spawns the bridge, opens the study, replays `history`, and returns the strategy. */
export async function createBayesianStrategy(opts: BayesianOptions): Promise<BayesianStrategy> {
  const constraint = opts.constraint ?? opts.constraintValue !== undefined;
  if (constraint && !opts.constraintValue) {
    throw new TypeError('createBayesianStrategy: `constraint` is on but no `constraintValue` function was given');
  }
  const bridge = new OptunaBridge({ python: opts.python, requestTimeoutMs: opts.requestTimeoutMs, onStderr: opts.onStderr });
  await bridge.start();
  try {
    const strategy = new TpeStrategy(bridge, opts, constraint);
    await strategy.init();
    return strategy;
  } catch (err) {
    await bridge.close();
    throw err;
  }
}

/** A small seeded PRNG (mulberry32) for the random fallback; deterministic for a seed. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class TpeStrategy implements BayesianStrategy {
  readonly name = 'bayesian' as const;
  skippedOutOfSpace = 0;
  /** pointKey → number of real observations of that point the study holds. */
  private readonly known = new Map<string, number>();
  /**
   * Observation objects already in the study, so that telling one that `history` already replayed
   * (a caller that does both) is not counted twice. Repeats of a point arrive as distinct objects.
   */
  private readonly recorded = new WeakSet<Observation>();
  /** Trials asked by propose() and not told yet: trial number → point. */
  private readonly pending = new Map<number, SpacePoint>();
  private readonly random: () => number;
  private readonly maxDuplicateAsks: number;
  private readonly sets: { models: Set<string>; quant: Set<string>; batch: Set<number>; inputLen: Set<number>; outputLen: Set<number> };
  private closed = false;

  constructor(
    private readonly bridge: OptunaBridge,
    private readonly opts: BayesianOptions,
    private readonly constraint: boolean,
  ) {
    this.random = mulberry32(opts.seed ^ 0x9e3779b9);
    this.maxDuplicateAsks = opts.maxDuplicateAsks ?? 10;
    const s = opts.space;
    this.sets = { models: new Set(s.models), quant: new Set(s.quant), batch: new Set(s.batch), inputLen: new Set(s.inputLen), outputLen: new Set(s.outputLen) };
  }

  get bridgePid(): number {
    return this.bridge.pid;
  }

  get optunaVersion(): string {
    return this.bridge.optunaVersion;
  }

  async init(): Promise<void> {
    const s = this.opts.space;
    const answer = initAnswerSchema.parse(
      await this.bridge.request(
        'init',
        {
          space: { models: s.models, quant: s.quant, batch: s.batch, input_len: s.inputLen, output_len: s.outputLen },
          seed: this.opts.seed,
          multi_objective: this.opts.multiObjective ?? false,
          constraint: this.constraint,
          storage: this.opts.storage ?? null,
          study_name: this.opts.studyName ?? 'carbonbench',
          ...(this.opts.startupTrials === undefined ? {} : { n_startup_trials: this.opts.startupTrials }),
        },
        this.opts.requestTimeoutMs ?? INIT_TIMEOUT_MS,
      ),
    );
    // A persistent study may already hold observations (an earlier run, other hosts): count them so
    // that replaying history adds only what it lacks.
    for (const t of answer.trials) {
      if (t.kind === 'experiment' && (t.state === 'complete' || t.state === 'fail') && t.point) {
        const key = pointKey(fromWire(t.point));
        this.known.set(key, (this.known.get(key) ?? 0) + 1);
      }
    }
    await this.sync(this.opts.history ?? []);
  }

  private inSpace(p: SpacePoint): boolean {
    const s = this.sets;
    return s.models.has(p.model) && s.quant.has(p.quant) && s.batch.has(p.batch) && s.inputLen.has(p.inputLen) && s.outputLen.has(p.outputLen);
  }

  private spaceSize(): number {
    const s = this.sets;
    return s.models.size * s.quant.size * s.batch.size * s.inputLen.size * s.outputLen.size;
  }

  /** Adds the observations of `history` that the study does not hold yet (by point, counting repeats). */
  private async sync(history: readonly Observation[]): Promise<void> {
    const seen = new Map<string, number>();
    let skipped = 0;
    for (const obs of history) {
      if (!this.inSpace(obs.point)) {
        skipped++;
        continue;
      }
      const key = pointKey(obs.point);
      const n = (seen.get(key) ?? 0) + 1;
      seen.set(key, n);
      if (n > (this.known.get(key) ?? 0)) await this.record(obs);
    }
    // Per sync (the whole history each time), so repeated propose() calls do not inflate it.
    this.skippedOutOfSpace = skipped;
  }

  /** What the study is told for an observation. */
  private result(obs: Observation): { state: 'complete' | 'fail'; values: number[] | null; constraint: number | null } {
    const multi = this.opts.multiObjective ?? false;
    const sci = obs.sciUg;
    const bpb = obs.bpb;
    const complete = obs.status === 'ok' && sci !== null && Number.isFinite(sci) && (!multi || (bpb !== null && Number.isFinite(bpb)));
    if (!complete) return { state: 'fail', values: null, constraint: null };
    const c = this.constraint ? (this.opts.constraintValue?.(obs) ?? null) : null;
    return { state: 'complete', values: multi ? [sci, bpb as number] : [sci], constraint: c !== null && Number.isFinite(c) ? c : null };
  }

  /** Tells the pending trial of this point, or adds the observation as a new trial. */
  private async record(obs: Observation): Promise<void> {
    this.recorded.add(obs);
    const key = pointKey(obs.point);
    const r = this.result(obs);
    let trialNumber: number | null = null;
    for (const [n, p] of this.pending) {
      if (pointKey(p) === key) {
        trialNumber = n;
        break;
      }
    }
    if (trialNumber !== null) {
      this.pending.delete(trialNumber);
      await this.bridge.request('tell', { trial_number: trialNumber, values: r.values, state: r.state, constraint: r.constraint });
    } else {
      await this.bridge.request('add_trial', { point: toWire(obs.point), values: r.values, state: r.state, constraint: r.constraint });
    }
    this.known.set(key, (this.known.get(key) ?? 0) + 1);
  }

  private async abandonPending(): Promise<void> {
    for (const n of [...this.pending.keys()]) {
      this.pending.delete(n);
      await this.bridge.request('tell', { trial_number: n, values: null, state: 'fail', constraint: null, kind: 'abandoned' });
    }
  }

  private randomUnobserved(taken: ReadonlySet<string>): SpacePoint | null {
    const s = this.opts.space;
    const free: SpacePoint[] = [];
    for (const model of s.models)
      for (const quant of s.quant)
        for (const batch of s.batch)
          for (const inputLen of s.inputLen)
            for (const outputLen of s.outputLen) {
              const p = { model, quant, batch, inputLen, outputLen };
              const key = pointKey(p);
              if (!this.known.has(key) && !taken.has(key)) free.push(p);
            }
    if (free.length === 0) return null;
    return free[Math.floor(this.random() * free.length)] ?? null;
  }

  async propose(history: readonly Observation[], n: number): Promise<SpacePoint[]> {
    this.assertOpen();
    await this.sync(history);
    await this.abandonPending();
    const out: SpacePoint[] = [];
    const taken = new Set<string>();
    const size = this.spaceSize();
    // Once TPE has spent a slot's attempts on duplicates it keeps proposing them (its model has
    // converged): the remaining slots of this call go straight to the random fallback, so a large n on
    // a mostly observed space costs n asks, not n × maxDuplicateAsks.
    let tpeStuck = false;
    while (out.length < n && this.known.size + taken.size < size) {
      let accepted: { trialNumber: number; point: SpacePoint } | null = null;
      for (let attempt = 0; attempt < this.maxDuplicateAsks && !accepted && !tpeStuck; attempt++) {
        const a = askAnswerSchema.parse(await this.bridge.request('ask'));
        const point = fromWire(a.point);
        const key = pointKey(point);
        if (this.known.has(key)) {
          // Observed already: pruned, so TPE moves away from it (see the header).
          await this.bridge.request('tell', { trial_number: a.trial_number, values: null, state: 'pruned', constraint: null, kind: 'duplicate' });
        } else if (taken.has(key)) {
          // Proposed earlier in this batch and not measured yet: nothing is known about it.
          await this.bridge.request('tell', { trial_number: a.trial_number, values: null, state: 'fail', constraint: null, kind: 'duplicate' });
        } else {
          accepted = { trialNumber: a.trial_number, point };
        }
      }
      if (!accepted) {
        tpeStuck = true;
        const point = this.randomUnobserved(taken);
        if (!point) break;
        await this.bridge.request('enqueue', { point: toWire(point) });
        const a = askAnswerSchema.parse(await this.bridge.request('ask'));
        const got = fromWire(a.point);
        if (pointKey(got) !== pointKey(point) && (this.known.has(pointKey(got)) || taken.has(pointKey(got)))) {
          // Another enqueued point came first (a shared study, or enqueue() by the caller) and is taken.
          await this.bridge.request('tell', { trial_number: a.trial_number, values: null, state: 'fail', constraint: null, kind: 'duplicate' });
          continue;
        }
        accepted = { trialNumber: a.trial_number, point: got };
      }
      this.pending.set(accepted.trialNumber, accepted.point);
      taken.add(pointKey(accepted.point));
      out.push(accepted.point);
    }
    return out;
  }

  async tell(obs: Observation): Promise<void> {
    this.assertOpen();
    // A point outside the space (program.md edited mid-run) cannot be a trial of this study.
    if (!this.inSpace(obs.point) || this.recorded.has(obs)) return;
    await this.record(obs);
  }

  async enqueue(point: SpacePoint): Promise<void> {
    this.assertOpen();
    await this.bridge.request('enqueue', { point: toWire(point) });
  }

  async best(): Promise<BestTrial[]> {
    this.assertOpen();
    const a = bestAnswerSchema.parse(await this.bridge.request('best'));
    return a.trials.map((t) => ({ trialNumber: t.trial_number, point: fromWire(t.point), values: t.values, constraint: t.constraint }));
  }

  async summary(): Promise<StudySummary> {
    this.assertOpen();
    const a = summaryAnswerSchema.parse(await this.bridge.request('summary'));
    return { nTrials: a.n_trials, states: a.states, kinds: a.kinds, experiments: a.experiments, pendingTrialNumbers: a.pending };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.abandonPending();
    } catch {
      // a dead bridge has nothing to abandon
    }
    await this.bridge.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new OptunaBridgeError('the bayesian strategy is closed');
  }
}
