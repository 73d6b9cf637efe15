/**
 * HF transformers, offline: a long-lived Python process (scripts/transformers_runner.py) holds the model
 * and answers JSON lines over its stdin/stdout (stderr goes to engine.log). One load "request" is one
 * batched `generate` call of `batch` sequences with exactly `input_len` random prompt tokens (unique per
 * sequence and per call) and exactly `output_len` new tokens (EOS suppressed); calls run back to back.
 * BPB is a direct forward pass over the held-out text (DESIGN section 6).
 *
 * Models (program.md). Without `random_weights`, `models[].id` — or `models[].variants.<quant>` when the
 * model has one — is a local model directory (config.json, weights, tokenizer); nothing is ever
 * downloaded (`local_files_only`, HF_HUB_OFFLINE=1). A model with random weights is written with
 * `engine_options.random_weights` (decided here; engine_options are program-wide, so the option says how
 * to read the model ids, and the ids say which architecture each model has):
 *
 *   engine: transformers
 *   engine_options: { random_weights: true }     # every models[].id names an architecture:
 *   models:
 *     - { id: qwen2.5-0.5b, params: 0.494e9, family: qwen2.5 }   # a built-in preset (RANDOM_WEIGHT_PRESETS)
 *     - { id: ./archs/my-config.json }                         # or a transformers config.json (model_type required)
 *
 * `random_weights: "<preset or config.json>"` instead gives every model that one architecture (the ids are
 * then only labels). Random weights measure the energy of the architecture's arithmetic with no checkpoint
 * to download; their BPB (≈ log2(vocab) bits per byte-token, byte-level fallback: no tokenizer) is not a
 * quality figure and says so in its method.
 *
 * Engine options (anything else is rejected):
 *   random_weights  true | a preset name | a path to a config.json (see above)
 *   device          cuda | cpu | auto (default auto: cuda when torch sees one; the load answer says which)
 *   python          the interpreter (default resolveTorchPython(): $CARBONBENCH_PYTHON, else the first of
 *                   ./.venv and python3 that imports torch and transformers)
 *   seed            seed of the random weights and of the prompts (default 0)
 *
 * Stopping: the load generator's stop() sends SIGUSR1, which ends the running `generate` at its next token
 * step (the thermal watchdog needs the load to stop at once, not at the end of a long batch), then the
 * server's stop() sends `shutdown` and stops the whole process group.
 */
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { EngineError, InputError, describeValue } from '../errors.js';
import type { Logger } from '../log.js';
import type { Clock } from '../runner/clock.js';
import { BatchCalls, type BatchCall } from '../workload/batch-calls.js';
import type { LoadGenerator, RequestRecord, Segment } from '../workload/types.js';
import { resolveTorchPython } from './probe.js';
import { launch, tailLines, type EngineProcess } from './process.js';
import type { BpbResult, Engine, EngineContext, EngineServer, ExperimentConfig } from './types.js';

export const TRANSFORMERS_QUANTS = ['bf16', 'fp16', 'fp32'] as const;
export type TransformersQuant = (typeof TRANSFORMERS_QUANTS)[number];

export const TRANSFORMERS_OPTION_KEYS = ['random_weights', 'device', 'python', 'seed'] as const;
export const TRANSFORMERS_DEVICES = ['cuda', 'cpu', 'auto'] as const;

/** Tokens per BPB chunk: fixed, because BPB is cached per (engine, model, quant, text) and depends on it. */
export const TRANSFORMERS_BPB_MAX_LEN = 2048;

/** The runner shipped in scripts/ (works from src/ under vitest and from dist/ when installed). */
export const RUNNER_SCRIPT = fileURLToPath(new URL('../../scripts/transformers_runner.py', import.meta.url));

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
/** A transformers config as JSON (top-level keys of config.json; nested values such as rope_scaling pass through). */
export type ArchConfig = Readonly<Record<string, JsonValue>>;

/**
 * Architectures for random-weights models, from the published config.json of each checkpoint
 * (Qwen/Qwen2.5-0.5B and Qwen/Qwen2.5-1.5B on the Hugging Face hub; parameter counts with transformers
 * 5.17: 494,032,768 and 1,543,714,304, matching the model cards' 0.49B and 1.54B). `tiny-qwen2` is a
 * 0.2M-parameter model of the same architecture for tests and CPU smoke runs.
 */
export const RANDOM_WEIGHT_PRESETS: Readonly<Record<string, ArchConfig>> = {
  'qwen2.5-0.5b': {
    model_type: 'qwen2',
    hidden_size: 896,
    intermediate_size: 4864,
    num_hidden_layers: 24,
    num_attention_heads: 14,
    num_key_value_heads: 2,
    vocab_size: 151936,
    max_position_embeddings: 32768,
    max_window_layers: 24,
    sliding_window: 32768,
    use_sliding_window: false,
    rope_theta: 1000000.0,
    rms_norm_eps: 1e-6,
    hidden_act: 'silu',
    tie_word_embeddings: true,
    bos_token_id: 151643,
    eos_token_id: 151643,
    initializer_range: 0.02,
  },
  'qwen2.5-1.5b': {
    model_type: 'qwen2',
    hidden_size: 1536,
    intermediate_size: 8960,
    num_hidden_layers: 28,
    num_attention_heads: 12,
    num_key_value_heads: 2,
    vocab_size: 151936,
    max_position_embeddings: 131072,
    max_window_layers: 28,
    sliding_window: 131072,
    use_sliding_window: false,
    rope_theta: 1000000.0,
    rms_norm_eps: 1e-6,
    hidden_act: 'silu',
    tie_word_embeddings: true,
    bos_token_id: 151643,
    eos_token_id: 151643,
    initializer_range: 0.02,
  },
  'tiny-qwen2': {
    model_type: 'qwen2',
    hidden_size: 64,
    intermediate_size: 128,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    vocab_size: 1000,
    max_position_embeddings: 4096,
    tie_word_embeddings: true,
  },
};

type OptValue = string | number | boolean | undefined;

function opt(config: ExperimentConfig, key: (typeof TRANSFORMERS_OPTION_KEYS)[number]): OptValue {
  return config.engineOptions?.[key];
}

/** Where the weights come from. */
export type ModelSource =
  | { kind: 'directory'; path: string }
  | { kind: 'random'; name: string; arch: ArchConfig; seed: number };

function presetList(): string {
  return Object.keys(RANDOM_WEIGHT_PRESETS).join(', ');
}

/** A preset name or a config.json path → the architecture; InputError naming `key` otherwise. */
function resolveArch(key: string, value: string, cwd: string): { name: string; arch: ArchConfig } {
  const preset = RANDOM_WEIGHT_PRESETS[value];
  if (preset) return { name: value, arch: preset };
  const allowed = `a preset (${presetList()}) or a path to a transformers config.json with a model_type`;
  if (!/\.json$/i.test(value)) throw new InputError(`${key} ${describeValue(value)} is not a known architecture; allowed: ${allowed}`);
  const abs = resolve(cwd, value);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(abs, 'utf8'));
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : `cannot be read as JSON (${(err as Error).message})`;
    throw new InputError(`${key} ${describeValue(value)} (resolved to ${abs}) ${why}; allowed: ${allowed}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new InputError(`${key} ${describeValue(value)}: ${abs} is not a JSON object; allowed: ${allowed}`);
  const arch = parsed as Record<string, JsonValue>; // JSON.parse yields JSON values only
  if (typeof arch.model_type !== 'string') throw new InputError(`${key} ${describeValue(value)}: ${abs} has no "model_type"; allowed: ${allowed}`);
  return { name: abs, arch };
}

/** The weights of this config: a local directory or a random-weights architecture (validated). */
export function resolveModelSource(config: ExperimentConfig, cwd: string = process.cwd()): ModelSource {
  const random = opt(config, 'random_weights');
  const seed = Number(opt(config, 'seed') ?? 0);
  if (random === true) {
    const { name, arch } = resolveArch('models[].id', config.model.id, cwd);
    return { kind: 'random', name, arch, seed };
  }
  if (typeof random === 'string' && random !== '') {
    const { name, arch } = resolveArch('engine_options.random_weights', random, cwd);
    return { kind: 'random', name, arch, seed };
  }
  if (random !== undefined && random !== false) {
    throw new InputError(`engine_options.random_weights ${describeValue(random)} is invalid; allowed: true (each models[].id names an architecture), a preset (${presetList()}), or a path to a config.json`);
  }
  const variant = config.model.variants?.[config.quant];
  const key = variant !== undefined ? `models[].variants.${config.quant}` : 'models[].id';
  const value = variant ?? config.model.id;
  const abs = resolve(cwd, value);
  const allowed = `a local transformers model directory (config.json and weights; nothing is downloaded), or engine_options.random_weights (true, a preset: ${presetList()}, or a config.json path)`;
  let isDir = false;
  try {
    isDir = statSync(abs).isDirectory();
  } catch {
    throw new InputError(`${key} ${describeValue(value)} (resolved to ${abs}) does not exist; allowed: ${allowed}`);
  }
  if (!isDir) throw new InputError(`${key} ${describeValue(value)} (resolved to ${abs}) is not a directory; allowed: ${allowed}`);
  if (!existsSync(join(abs, 'config.json'))) throw new InputError(`${key} ${describeValue(value)} (resolved to ${abs}) has no config.json; allowed: ${allowed}`);
  return { kind: 'directory', path: abs };
}

function positiveInteger(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) throw new InputError(`${name} ${describeValue(value)} is invalid; allowed: a positive integer`);
}

export function validateTransformers(config: ExperimentConfig, cwd: string = process.cwd()): void {
  if (!(TRANSFORMERS_QUANTS as readonly string[]).includes(config.quant)) {
    throw new InputError(`quant ${describeValue(config.quant)} is invalid for the transformers engine; allowed: ${TRANSFORMERS_QUANTS.join(', ')}`);
  }
  positiveInteger('batch', config.batch);
  positiveInteger('input_len', config.inputLen);
  positiveInteger('output_len', config.outputLen);
  for (const [key, value] of Object.entries(config.engineOptions ?? {})) {
    if (!(TRANSFORMERS_OPTION_KEYS as readonly string[]).includes(key)) {
      throw new InputError(`engine_options.${key} ${describeValue(value)} is not a transformers option; allowed: ${TRANSFORMERS_OPTION_KEYS.join(', ')}`);
    }
  }
  const device = opt(config, 'device');
  if (device !== undefined && !(TRANSFORMERS_DEVICES as readonly OptValue[]).includes(device)) {
    throw new InputError(`engine_options.device ${describeValue(device)} is invalid; allowed: ${TRANSFORMERS_DEVICES.join(', ')}`);
  }
  const python = opt(config, 'python');
  if (python !== undefined && (typeof python !== 'string' || python.trim() === '' || python.includes('\0'))) {
    throw new InputError(`engine_options.python ${describeValue(python)} is invalid; allowed: a Python interpreter name or path`);
  }
  const seed = opt(config, 'seed');
  if (seed !== undefined && !(typeof seed === 'number' && Number.isInteger(seed) && seed >= 0)) {
    throw new InputError(`engine_options.seed ${describeValue(seed)} is invalid; allowed: an integer >= 0`);
  }
  resolveModelSource(config, cwd);
}

function deviceOf(config: ExperimentConfig): (typeof TRANSFORMERS_DEVICES)[number] {
  const d = opt(config, 'device');
  return d === 'cuda' || d === 'cpu' ? d : 'auto';
}

async function pythonOf(config: ExperimentConfig, fallback?: string): Promise<string> {
  const p = opt(config, 'python');
  return typeof p === 'string' && p !== '' ? p : (fallback ?? resolveTorchPython());
}

/** Configs that share this key share one runner (model + quant + device + interpreter). */
export function transformersServerKey(config: ExperimentConfig, cwd: string = process.cwd()): string {
  let source: string;
  try {
    const s = resolveModelSource(config, cwd);
    source = s.kind === 'directory' ? `dir:${s.path}` : `random:${s.name}:seed=${s.seed}`;
  } catch {
    source = `unresolved:${config.model.id}`;
  }
  return JSON.stringify({ engine: 'transformers', source, quant: config.quant, device: deviceOf(config), python: typeof opt(config, 'python') === 'string' ? opt(config, 'python') : null });
}

// ---------------------------------------------------------------------------------------------------
// the JSON-lines channel

const errorAnswer = z.object({ ok: z.literal(false), error: z.string(), oom: z.boolean().optional(), cancelled: z.boolean().optional() });
const loadAnswer = z.object({
  ok: z.literal(true),
  params: z.number(),
  dtype: z.string(),
  device: z.string(),
  load_s: z.number(),
  model_type: z.string().nullable().optional(),
  vocab_size: z.number().optional(),
  tokenizer: z.boolean().optional(),
  torch: z.string().optional(),
  transformers: z.string().optional(),
});
const generateAnswer = z.object({ ok: z.literal(true), t_start: z.number(), t_end: z.number(), output_tokens: z.number(), prompt_tokens: z.number() });
const bpbAnswer = z.object({ ok: z.literal(true), bits: z.number(), bytes: z.number(), tokens: z.number(), chunks: z.number().optional(), method: z.string() });
const startedEvent = z.object({ event: z.literal('started'), t_start: z.number() });

export type RunnerLoadAnswer = z.infer<typeof loadAnswer>;
export type RunnerErrorAnswer = z.infer<typeof errorAnswer>;
type RunnerMessage = Record<string, unknown>;

interface Pending {
  op: string;
  resolve: (answer: RunnerMessage) => void;
  reject: (err: Error) => void;
  onEvent?: (event: RunnerMessage) => void;
}

/**
 * Requests and answers over the runner's stdin/stdout. The runner answers in order, so answers match the
 * pending requests first in, first out; `{"event": …}` lines belong to the oldest pending request.
 * Once the process dies (or its stdout closes), every pending and later request rejects with why.
 */
export class RunnerChannel {
  private readonly pending: Pending[] = [];
  private closed: Error | null = null;

  constructor(
    private readonly proc: EngineProcess,
    private readonly log: Logger,
  ) {
    const stdout = proc.stdout;
    const stdin = proc.stdin;
    if (!stdout || !stdin) throw new EngineError(`${proc.command[0]} was launched without a stdio channel`, { command: proc.command });
    stdin.on('error', (err: Error) => this.close(new EngineError(`writing to the transformers runner failed: ${err.message}${this.tail()}`, { command: proc.command, cause: err })));
    const lines = createInterface({ input: stdout, crlfDelay: Infinity });
    lines.on('line', (line) => this.onLine(line));
    lines.on('close', () => {
      // The process is ending: prefer its own account (exit code, log tail), which `died` brings.
      const fallback = new Promise<never>((_, reject) =>
        setTimeout(() => reject(new EngineError(`the transformers runner closed its output${this.tail()}`, { command: proc.command, outputTail: tailLines(proc.logFile) })), 3000).unref(),
      );
      Promise.race([proc.died, fallback]).catch((err: Error) => this.close(err));
    });
    proc.died.catch((err: Error) => this.close(err));
  }

  private tail(): string {
    const t = tailLines(this.proc.logFile);
    return t ? `; last log lines:\n${t}` : '';
  }

  get failure(): Error | null {
    return this.closed;
  }

  private onLine(line: string): void {
    if (line.trim() === '') return;
    let msg: unknown;
    try {
      msg = JSON.parse(line);
    } catch {
      // The runner points fd 1 at stderr, so nothing but answers should come here; never fatal.
      this.log.warn({ line: line.slice(0, 300) }, 'transformers runner: a line on its answer channel is not JSON');
      return;
    }
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) return;
    const head = this.pending[0];
    if (!head) {
      this.log.warn({ line: line.slice(0, 300) }, 'transformers runner: an answer nobody asked for');
      return;
    }
    const message = msg as RunnerMessage;
    if ('event' in message) {
      head.onEvent?.(message);
      return;
    }
    this.pending.shift();
    head.resolve(message);
  }

  private close(err: Error): void {
    if (this.closed) return;
    this.closed = err;
    for (const p of this.pending.splice(0)) p.reject(err);
  }

  request(message: RunnerMessage & { op: string }, onEvent?: (event: RunnerMessage) => void): Promise<RunnerMessage> {
    if (this.closed) return Promise.reject(this.closed);
    return new Promise<RunnerMessage>((resolve, reject) => {
      this.pending.push({ op: message.op, resolve, reject, onEvent });
      this.proc.stdin!.write(`${JSON.stringify(message)}\n`);
    });
  }

  /** True while a request is waiting for its answer. */
  get busy(): boolean {
    return this.pending.length > 0;
  }
}

/** An answer checked against its schema; `{ok: false}` and malformed answers become EngineErrors. */
function expectAnswer<T>(schema: z.ZodType<T>, answer: RunnerMessage, what: string, command: readonly string[]): T {
  const failed = errorAnswer.safeParse(answer);
  if (failed.success) throw new EngineError(`${what} failed: ${failed.data.error}`, { command });
  const ok = schema.safeParse(answer);
  if (!ok.success) throw new EngineError(`${what}: the runner answered ${JSON.stringify(answer).slice(0, 300)}, which is not a valid answer`, { command });
  return ok.data;
}

// ---------------------------------------------------------------------------------------------------
// the offline load generator

interface RunningCall {
  /** Resolves with t_start when the runner says the call started (or undefined when it never did). */
  started: Promise<number | undefined>;
  /** Resolves with t_end of a successful call, undefined otherwise (the loop records what happened). */
  done: Promise<number | undefined>;
}

export interface TransformersLoadOptions {
  channel: RunnerChannel;
  /** Receives SIGUSR1 to cancel the running generate (the runner's pid). */
  pid: number;
  command: readonly string[];
  batch: number;
  inputLen: number;
  outputLen: number;
  /** Seed of the next call's prompts: unique per call on one runner (see the server's counter). */
  nextSeed: () => number;
  clock: Clock;
  signal?: AbortSignal;
  /** How long stop() waits for a cancelled call to answer before giving up on it (default 60 s). */
  cancelWaitMs?: number;
}

/**
 * Back-to-back `generate` calls, one segment each. openWindow() resolves with the t_start of the next call
 * to start; closeWindow() waits for the running call and returns its t_end, so a window holds whole calls.
 * Calls go on after closeWindow() until stop(), as llama-batched-bench runs do: the GPU stays loaded
 * while the energy meter waits for the nvidia-smi sample that closes the window, and stop() cancels the
 * call in flight at its next token step, so going on costs nothing. A request (for warm-up and
 * requestsCompletedBetween) is one sequence, as for HTTP engines: a call completes `batch` of them; the
 * RequestRecord is one per call (ttft unknown, e2e = the call's duration).
 */
export class TransformersLoad implements LoadGenerator {
  /** The finished calls, warm-up, boundary listeners and waiting windows. */
  private readonly calls = new BatchCalls();
  private readonly records: RequestRecord[] = [];
  private current: RunningCall | null = null;
  private loop: Promise<void> | null = null;
  private stopped = false;
  private stopPromise: Promise<void> | null = null;
  private readonly onAbort = (): void => void this.stop();

  constructor(private readonly o: TransformersLoadOptions) {
    if (o.signal?.aborted) this.stopped = true;
    else o.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  get failure(): Error | null {
    return this.calls.failure;
  }

  private ensureLoop(): void {
    if (this.stopped || this.calls.failure || this.loop !== null) return;
    this.loop = this.runLoop().finally(() => {
      this.loop = null;
    });
  }

  private describe(): string {
    return `generate (batch ${this.o.batch}, input ${this.o.inputLen}, output ${this.o.outputLen} tokens)`;
  }

  private async runLoop(): Promise<void> {
    while (!this.stopped && this.calls.failure === null) {
      const warmup = this.calls.warmingUp;
      let onStarted: (tS: number | undefined) => void = () => {};
      const started = new Promise<number | undefined>((r) => (onStarted = r));
      let onDone: (tS: number | undefined) => void = () => {};
      const done = new Promise<number | undefined>((r) => (onDone = r));
      this.current = { started, done };
      const requestedS = this.o.clock.now();
      let answer: RunnerMessage;
      try {
        answer = await this.o.channel.request(
          { op: 'generate', batch: this.o.batch, input_len: this.o.inputLen, output_len: this.o.outputLen, seed: this.o.nextSeed(), progress: true },
          (event) => {
            const ev = startedEvent.safeParse(event);
            if (!ev.success) return;
            // The window snaps to this call's start.
            this.calls.callStarted(ev.data.t_start);
            onStarted(ev.data.t_start);
          },
        );
      } catch (err) {
        onStarted(undefined);
        onDone(undefined);
        this.current = null;
        this.calls.fail(err as Error);
        break;
      }
      onStarted(undefined); // no-op when the event came
      const failed = errorAnswer.safeParse(answer);
      if (failed.success) {
        this.current = null;
        onDone(undefined);
        if (failed.data.cancelled && this.stopped) break; // stop() cancelled it: not a request, not a failure
        const t = generateTimes(answer, requestedS, this.o.clock.now());
        this.records.push(this.record(t.startS, t.endS, warmup, failed.data.error));
        this.calls.fail(new EngineError(`${this.describe()} failed: ${failed.data.error}`, { command: this.o.command }));
        break;
      }
      const ok = generateAnswer.safeParse(answer);
      const expected = this.o.batch * this.o.outputLen;
      if (!ok.success || ok.data.output_tokens !== expected) {
        this.current = null;
        onDone(undefined);
        const why = ok.success ? `it reported ${ok.data.output_tokens} output tokens, expected ${expected}` : `malformed answer ${JSON.stringify(answer).slice(0, 300)}`;
        this.records.push(this.record(requestedS, this.o.clock.now(), warmup, why));
        this.calls.fail(new EngineError(`${this.describe()}: ${why}`, { command: this.o.command }));
        break;
      }
      const { t_start: startS, t_end: endS } = ok.data;
      this.calls.add({ startS, endS, tokens: expected, sequences: this.o.batch, warmup });
      this.records.push(this.record(startS, endS, warmup, null));
      // After the next call has been issued (below, in this same turn): a listener's counter read (~4 ms on
      // an H100) must not delay the GPU's next batch.
      if (this.calls.hasBoundaryListeners) setImmediate(() => this.calls.notifyBoundary());
      // current is cleared and the next call issued without an await in between: closeWindow() always
      // finds the call that ends the window.
      this.current = null;
      onDone(endS);
      this.calls.countWarmUp(endS, this.o.batch);
    }
    this.current = null;
  }

  private record(startS: number, endS: number, warmup: boolean, error: string | null): RequestRecord {
    return {
      startS,
      endS,
      success: error === null,
      error: error === null ? null : error.slice(0, 500),
      promptTokens: error === null ? this.o.batch * this.o.inputLen : null,
      outputTokens: error === null ? this.o.batch * this.o.outputLen : null,
      ttftMs: null,
      itlMs: [],
      e2eMs: (endS - startS) * 1000,
      warmup,
    };
  }

  /** Runs calls until at least `minRequests` sequences completed and `minS` passed, counted at call ends. */
  warmUp(opts: { minS: number; minRequests: number }): Promise<void> {
    if (this.calls.failure) return Promise.reject(this.calls.failure);
    if (this.stopped) return Promise.reject(new EngineError('the transformers load was stopped'));
    const p = this.calls.warmUp(opts, this.o.clock.now());
    this.ensureLoop();
    return p;
  }

  openWindow(): Promise<number> {
    if (this.calls.failure) return Promise.reject(this.calls.failure);
    if (this.stopped) return Promise.reject(new EngineError('the transformers load was stopped'));
    const p = this.calls.nextStart();
    this.ensureLoop();
    return p;
  }

  async closeWindow(): Promise<number> {
    if (this.calls.failure) throw this.calls.failure;
    const running = this.current;
    if (running !== null) {
      const endS = await running.done;
      if (endS === undefined) throw this.calls.failure ?? new EngineError('the transformers load was stopped before the window closed');
      return endS;
    }
    return this.calls.lastEndS() ?? this.o.clock.now();
  }

  /** Output tokens of the calls wholly inside [fromS, toS]. */
  tokensBetween(fromS: number, toS: number): number {
    return this.calls.tokensBetween(fromS, toS);
  }

  /** Sequences (batch per call) of the calls wholly inside [fromS, toS]. */
  requestsCompletedBetween(fromS: number, toS: number): number {
    return this.calls.requestsCompletedBetween(fromS, toS);
  }

  onBoundary(listener: () => void): () => void {
    return this.calls.onBoundary(listener);
  }

  segments(fromS: number, toS: number): Segment[] {
    return this.calls.segments(fromS, toS);
  }

  requests(): RequestRecord[] {
    return [...this.records];
  }

  /** Stops issuing calls and cancels the one in flight (SIGUSR1 once it has started); resolves when it answered. */
  stop(): Promise<void> {
    if (this.stopPromise) return this.stopPromise;
    this.stopped = true;
    this.o.signal?.removeEventListener('abort', this.onAbort);
    this.stopPromise = (async () => {
      this.calls.stop(new EngineError('the transformers load was stopped'));
      const running = this.current;
      if (running !== null) {
        // The runner clears its cancel flag when a call starts: signal only once this call has started
        // (or ended), so the signal can neither be lost nor cancel a later call.
        await Promise.race([running.started, running.done]);
        if (this.current === running) {
          try {
            process.kill(this.o.pid, 'SIGUSR1');
          } catch {
            // the runner is gone: the channel fails the call
          }
        }
        // Bounded: a runner that does not answer is the server's problem (its stop() kills the group).
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([running.done, new Promise<void>((r) => (timer = setTimeout(r, this.o.cancelWaitMs ?? 60_000)))]);
        clearTimeout(timer);
      }
    })();
    return this.stopPromise;
  }

  /** Every finished call (for tests and artifacts). */
  completedCalls(): readonly Readonly<BatchCall>[] {
    return this.calls.finished;
  }
}

/** t_start/t_end of a failed answer when the runner gave them, else Node's own times. */
function generateTimes(answer: RunnerMessage, fallbackStartS: number, fallbackEndS: number): { startS: number; endS: number } {
  const t = z.object({ t_start: z.number(), t_end: z.number() }).safeParse(answer);
  return t.success ? { startS: t.data.t_start, endS: t.data.t_end } : { startS: fallbackStartS, endS: fallbackEndS };
}

// ---------------------------------------------------------------------------------------------------
// the engine

export interface TransformersEngineOptions {
  /** The runner script (tests substitute a fake speaking the same protocol). */
  runnerScript?: string;
  /** The interpreter when engine_options.python is not set (default resolveTorchPython()). */
  python?: string;
  /** Grace period of the process-group stop (default 10 s). */
  stopGraceMs?: number;
}

function rejectAfter(ms: number, message: () => string): { promise: Promise<never>; cancel: () => void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new EngineError(message())), ms);
  });
  promise.catch(() => {});
  return { promise, cancel: () => clearTimeout(timer) };
}

function abortPromise(signal: AbortSignal | undefined): Promise<never> {
  if (!signal) return new Promise<never>(() => {});
  const p = new Promise<never>((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
  p.catch(() => {});
  return p;
}

export function createTransformersEngine(engineOpts: TransformersEngineOptions = {}): Engine {
  const engine: Engine = {
    name: 'transformers',
    simulated: false,
    validate: (config) => validateTransformers(config),
    serverKey: (config) => transformersServerKey(config),
    start: (config, ctx) => startRunner(engine, engineOpts, config, ctx),
  };
  return engine;
}

/** The running runner; `loadInfo` is what it reported at load (parameters, device, versions), for provenance. */
export interface TransformersServer extends EngineServer {
  readonly loadInfo: RunnerLoadAnswer;
}

async function startRunner(engine: Engine, engineOpts: TransformersEngineOptions, config: ExperimentConfig, ctx: EngineContext): Promise<TransformersServer> {
  validateTransformers(config);
  const source = resolveModelSource(config);
  mkdirSync(ctx.artifactDir, { recursive: true });
  const logFile = join(ctx.artifactDir, 'engine.log');
  const python = await pythonOf(config, engineOpts.python);
  const script = engineOpts.runnerScript ?? RUNNER_SCRIPT;
  const env: Record<string, string> = {
    PYTHONUNBUFFERED: '1',
    // Never a download: a missing file is an error, not a fetch from the hub.
    HF_HUB_OFFLINE: '1',
    TRANSFORMERS_OFFLINE: '1',
    TOKENIZERS_PARALLELISM: 'false',
    ...(ctx.gpus.length > 0 ? { CUDA_VISIBLE_DEVICES: ctx.gpus.join(',') } : {}),
  };
  const proc = launch({ command: python, args: [script], logFile, env, stdio: 'pipe' });
  const command = proc.command;
  if (proc.pid < 0) {
    await proc.died; // rejects with why the interpreter could not start
  }
  const channel = new RunnerChannel(proc, ctx.log);
  const label = source.kind === 'directory' ? source.path : `random weights ${source.name}`;
  ctx.log.info({ command, pid: proc.pid, model: label, quant: config.quant }, 'transformers runner starting');

  const timeout = rejectAfter(ctx.startTimeoutS * 1000, () => {
    const tail = tailLines(logFile);
    return `the transformers runner did not load ${label} within ${ctx.startTimeoutS} s${tail ? `; last log lines:\n${tail}` : ''}`;
  });
  let loaded: RunnerLoadAnswer;
  try {
    const answer = await Promise.race([
      channel.request({
        op: 'load',
        model: source.kind === 'directory' ? source.path : null,
        dtype: config.quant,
        random_weights: source.kind === 'random' ? { ...source.arch } : null,
        device: deviceOf(config),
        seed: source.kind === 'random' ? source.seed : Number(opt(config, 'seed') ?? 0),
      }),
      timeout.promise,
      abortPromise(ctx.signal),
    ]);
    const failed = errorAnswer.safeParse(answer);
    if (failed.success) {
      // stderr reaches engine.log through a stream, a moment behind the answer on stdout.
      await new Promise((r) => setTimeout(r, 200));
      const tail = tailLines(logFile);
      throw new EngineError(`the transformers runner could not load ${label} as ${config.quant}: ${failed.data.error}${tail ? `; last log lines:\n${tail}` : ''}`, {
        command,
        outputTail: tail,
      });
    }
    loaded = expectAnswer(loadAnswer, answer, `loading ${label}`, command);
  } catch (err) {
    await proc.stop(engineOpts.stopGraceMs).catch(() => {});
    throw err;
  } finally {
    timeout.cancel();
  }
  ctx.log.info({ pid: proc.pid, params: loaded.params, device: loaded.device, dtype: loaded.dtype, loadS: loaded.load_s, torch: loaded.torch, transformers: loaded.transformers }, 'transformers runner ready');

  // Prompt seeds count up per runner: no two calls on one runner share a prompt, and a fixed start keeps
  // a sweep reproducible.
  let seedCounter = Number(opt(config, 'seed') ?? 0) * 1_000_000;
  let stopping: Promise<void> | null = null;

  const server: TransformersServer = {
    key: engine.serverKey(config),
    baseUrl: null,
    pid: proc.pid,
    logFile,
    died: proc.died,
    loadInfo: loaded,
    load: (cfg, c) =>
      new TransformersLoad({
        channel,
        pid: proc.pid,
        command,
        batch: cfg.batch,
        inputLen: cfg.inputLen,
        outputLen: cfg.outputLen,
        nextSeed: () => seedCounter++,
        clock: c.clock,
        signal: c.signal,
      }),
    bpb: async (_cfg, text, c): Promise<BpbResult> => {
      const answer = await Promise.race([channel.request({ op: 'bpb', text, max_len: TRANSFORMERS_BPB_MAX_LEN }), abortPromise(c.signal)]);
      const r = expectAnswer(bpbAnswer, answer, `BPB of ${label}`, command);
      if (!(r.bytes > 0) || !Number.isFinite(r.bits)) throw new EngineError(`BPB of ${label}: the runner reported ${r.bits} bits over ${r.bytes} bytes`, { command });
      return { bpb: r.bits / r.bytes, bits: r.bits, bytes: r.bytes, tokens: r.tokens, method: r.method };
    },
    stop: () => {
      stopping ??= (async () => {
        if (!proc.exited && channel.failure === null) {
          // A polite shutdown first (the runner frees the GPU and exits 0); the group stop follows anyway.
          const grace = rejectAfter(5000, () => 'no answer to shutdown');
          await Promise.race([channel.request({ op: 'shutdown' }), grace.promise]).catch(() => {});
          grace.cancel();
        }
        await proc.stop(engineOpts.stopGraceMs);
      })();
      return stopping;
    },
  };
  return server;
}

/** The registry's transformers engine (scripts/transformers_runner.py, the interpreter from resolveTorchPython()). */
export const transformersEngine: Engine = createTransformersEngine();
