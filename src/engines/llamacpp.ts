/**
 * llama.cpp: one GGUF file per quant (`models[].variants.<quant>` → path, or `models[].id` itself a
 * .gguf path when a model has no variants).
 *
 * Server mode (default): `llama-server -m GGUF --host 127.0.0.1 --port P -ngl 99 -np <batch> -c <ctx>
 * [-fa on|off|auto] [-ctk T] [-ctv T] [extra_args…]`, load through the shared OpenAI-compatible load
 * generator. Readiness = GET /health answers 200 (503 "Loading model" while it loads is progress) and
 * one real completion succeeds; a process that exits while loading fails at once with its log tail.
 *
 * Offline mode (`engine_options.mode: batched`): repeated `llama-batched-bench -m GGUF -ngl 99 -c <ctx>
 * -npp IN -ntg OUT -npl BATCH --output-format jsonl` runs; each run is one segment whose tokens are
 * pl × tg of its rows, the measurement window snaps to run boundaries, and the energy counter is read
 * at each run's end (onBoundary, as for transformers calls). A segment spans the whole
 * process, so its energy includes the tool's model load and warm-up decode: batched_repeats puts several
 * rows in one process to amortize that.
 *
 * BPB: `llama-perplexity -m GGUF -f TEXT -c 512 -ngl 99`, bits from its final PPL and bytes from the
 * pieces of the very tokens it scored (llama-server POST /tokenize with the same GGUF: the running
 * server, or in offline mode a tokenizer-only one started for the purpose); see llamacpp-parse.ts.
 * Needs a llama.cpp whose -fa takes a value (on|off|auto) when flash_attn is set.
 *
 * Engine options (program.md `engine_options`; anything else is rejected):
 *   mode             server | batched                        (default server)
 *   flash_attn       true | false | on | off | auto          (default: llama.cpp's own, no flag)
 *   cache_type       KV cache type for K and V (-ctk/-ctv); cache_type_k / cache_type_v set one each
 *   n_gpu_layers     -ngl (default 99: everything on the GPU)
 *   batched_repeats  rows per llama-batched-bench process (-npl B,B,…; default 1): amortizes its model load
 *   extra_args       more flags for llama-server / llama-batched-bench: a JSON array of strings, or a
 *                    whitespace-separated string (split on whitespace only: no quoting, no expansion)
 *   llama_server, llama_batched_bench, llama_perplexity   executables (else $CARBONBENCH_LLAMA_SERVER,
 *                    $CARBONBENCH_LLAMA_BATCHED_BENCH, $CARBONBENCH_LLAMA_PERPLEXITY, else on PATH)
 *
 * No argument ever reaches a shell: every path is one argv element (a GGUF named `a;b $(x).gguf` is a
 * file with that name, nothing else).
 */
import { mkdirSync, statSync, writeFileSync, appendFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { EngineError, InputError, describeValue } from '../errors.js';
import type { Clock } from '../runner/clock.js';
import { createOpenAiLoad } from '../workload/openai-load.js';
import { BatchCalls, type BatchCall } from '../workload/batch-calls.js';
import type { LoadGenerator, RequestRecord, Segment } from '../workload/types.js';
import { which } from '../util/which.js';
import {
  batchedBenchNoRowsReason,
  generatedTokens,
  parseBatchedBenchJsonl,
  parseLlamaFailure,
  perplexityBits,
  scoredBytes,
  scoredTokensPerChunk,
  type BatchedBenchRow,
  type TokenPiece,
} from './llamacpp-parse.js';
import { freePort, launch, processGroupMembers, tailLines, waitForHealth, type EngineProcess } from './process.js';
import type { BpbResult, Engine, EngineContext, EngineServer, ExperimentConfig } from './types.js';

// ---------------------------------------------------------------------------------------------------
// options

export const LLAMACPP_OPTION_KEYS = [
  'mode',
  'flash_attn',
  'cache_type',
  'cache_type_k',
  'cache_type_v',
  'n_gpu_layers',
  'batched_repeats',
  'extra_args',
  'llama_server',
  'llama_batched_bench',
  'llama_perplexity',
] as const;

/** KV cache types llama.cpp's -ctk/-ctv accept (common/arg.cpp `kv_cache_types`). */
export const LLAMA_KV_CACHE_TYPES = ['f32', 'f16', 'bf16', 'q8_0', 'q4_0', 'q4_1', 'iq4_nl', 'q5_0', 'q5_1'] as const;

/** llama-perplexity's context per chunk: its own default, fixed so that BPB depends on (model, quant, text) only. */
export const LLAMA_PPL_CTX = 512;

/** Context cells per slot are rounded up to this (llama.cpp pads KV sizes to 256 cells). */
const CTX_ROUND = 256;

type OptValue = string | number | boolean | undefined;

function opt(config: ExperimentConfig, key: (typeof LLAMACPP_OPTION_KEYS)[number]): OptValue {
  return config.engineOptions?.[key];
}

export type LlamaMode = 'server' | 'batched';

export function llamaMode(config: ExperimentConfig): LlamaMode {
  return opt(config, 'mode') === 'batched' ? 'batched' : 'server';
}

const EXECUTABLES = {
  llama_server: { env: 'CARBONBENCH_LLAMA_SERVER', name: 'llama-server' },
  llama_batched_bench: { env: 'CARBONBENCH_LLAMA_BATCHED_BENCH', name: 'llama-batched-bench' },
  llama_perplexity: { env: 'CARBONBENCH_LLAMA_PERPLEXITY', name: 'llama-perplexity' },
} as const;

/** engine option → $CARBONBENCH_LLAMA_… → the plain name (found on PATH by the OS). */
export function llamaExecutable(config: ExperimentConfig, tool: keyof typeof EXECUTABLES, env: NodeJS.ProcessEnv = process.env): string {
  const fromOption = opt(config, tool);
  if (typeof fromOption === 'string' && fromOption !== '') return fromOption;
  const fromEnv = env[EXECUTABLES[tool].env];
  if (fromEnv) return fromEnv;
  return EXECUTABLES[tool].name;
}

/** extra_args as an argv array: a JSON array of strings, or a string split on whitespace (nothing else). */
export function parseExtraArgs(value: OptValue): string[] {
  if (value === undefined) return [];
  if (typeof value !== 'string') throw new InputError(`engine_options.extra_args ${describeValue(value)} is invalid; allowed: a JSON array of strings or a whitespace-separated string`);
  const trimmed = value.trim();
  if (trimmed === '') return [];
  let args: string[];
  if (trimmed.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch {
      throw new InputError(`engine_options.extra_args ${describeValue(value)} starts with "[" but is not JSON; allowed: a JSON array of strings or a whitespace-separated string`);
    }
    if (!Array.isArray(parsed) || parsed.some((a) => typeof a !== 'string')) {
      throw new InputError(`engine_options.extra_args ${describeValue(value)} is not an array of strings; allowed: a JSON array of strings or a whitespace-separated string`);
    }
    args = parsed as string[];
  } else {
    args = trimmed.split(/\s+/);
  }
  if (args.some((a) => a.includes('\0'))) throw new InputError(`engine_options.extra_args ${describeValue(value)} contains a NUL byte`);
  return args;
}

function flashAttnValue(config: ExperimentConfig): 'on' | 'off' | 'auto' | null {
  const v = opt(config, 'flash_attn');
  if (v === undefined) return null;
  if (v === true || v === 'on') return 'on';
  if (v === false || v === 'off') return 'off';
  return 'auto';
}

function cacheTypes(config: ExperimentConfig): { k: string | null; v: string | null } {
  const both = opt(config, 'cache_type');
  const k = opt(config, 'cache_type_k') ?? both;
  const v = opt(config, 'cache_type_v') ?? both;
  return { k: k === undefined ? null : String(k), v: v === undefined ? null : String(v) };
}

function nGpuLayers(config: ExperimentConfig): number {
  const v = opt(config, 'n_gpu_layers');
  return typeof v === 'number' ? v : 99;
}

/**
 * Total context: `batch` slots of input + output tokens each, plus one cell for the BOS token the server
 * adds to a text prompt, rounded up per slot to 256 cells so that ctx / np is exactly the slot size.
 */
export function contextSize(config: Pick<ExperimentConfig, 'batch' | 'inputLen' | 'outputLen'>): number {
  const perSlot = Math.ceil((config.inputLen + config.outputLen + 1) / CTX_ROUND) * CTX_ROUND;
  return config.batch * perSlot;
}

// ---------------------------------------------------------------------------------------------------
// validation and the GGUF path

function isGgufName(path: string): boolean {
  return /\.gguf$/i.test(path);
}

function ggufProblem(value: string | undefined, cwd: string): string | null {
  if (value === undefined) return 'is not set';
  if (value.trim() === '') return 'is empty';
  if (value.includes('\0')) return 'contains a NUL byte';
  if (!isGgufName(value)) return 'does not end in .gguf';
  const abs = resolve(cwd, value);
  try {
    const st = statSync(abs);
    if (!st.isFile()) return `(resolved to ${abs}) is not a regular file`;
  } catch {
    return `(resolved to ${abs}) does not exist`;
  }
  return null;
}

/** Quants of this model whose variant is an existing .gguf file. */
function quantsWithFiles(config: ExperimentConfig, cwd: string): string[] {
  return Object.entries(config.model.variants ?? {})
    .filter(([, path]) => ggufProblem(path, cwd) === null)
    .map(([quant]) => quant);
}

/**
 * The absolute GGUF path for this config's quant, or an InputError naming the key, the value and what
 * is allowed. Relative paths resolve against the working directory.
 */
export function resolveGguf(config: ExperimentConfig, cwd: string = process.cwd()): string {
  const variants = config.model.variants;
  const hasVariants = variants !== undefined && Object.keys(variants).length > 0;
  const key = hasVariants ? `models[].variants.${config.quant}` : 'models[].id';
  const value = hasVariants ? variants[config.quant] : config.model.id;
  const problem = ggufProblem(value, cwd);
  if (problem === null) return resolve(cwd, value!);
  let allowed: string;
  if (hasVariants) {
    const ok = quantsWithFiles(config, cwd);
    allowed = ok.length > 0 ? `quants of model ${JSON.stringify(config.model.id)} that have a .gguf file: ${ok.join(', ')}` : `a path to an existing .gguf file (no variant of model ${JSON.stringify(config.model.id)} has one)`;
  } else {
    allowed = `a path to an existing .gguf file as models[].id, or models[].variants mapping each quant to one`;
  }
  throw new InputError(`${key} ${value === undefined ? '(missing)' : describeValue(value)} ${problem}; allowed: ${allowed}`);
}

/**
 * The absolute GGUF path without checking the file (validate() and start() did): a file that vanished
 * since then is reported by the tool itself ("failed to open GGUF file '…'").
 */
export function ggufPathOf(config: ExperimentConfig, cwd: string = process.cwd()): string {
  const variants = config.model.variants;
  const value = variants !== undefined && Object.keys(variants).length > 0 ? variants[config.quant] : config.model.id;
  return value === undefined ? resolveGguf(config, cwd) : resolve(cwd, value);
}

function positiveInteger(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) throw new InputError(`${name} ${describeValue(value)} is invalid; allowed: a positive integer`);
}

export function validateLlamacpp(config: ExperimentConfig, cwd: string = process.cwd()): void {
  positiveInteger('batch', config.batch);
  positiveInteger('input_len', config.inputLen);
  positiveInteger('output_len', config.outputLen);
  for (const [key, value] of Object.entries(config.engineOptions ?? {})) {
    if (!(LLAMACPP_OPTION_KEYS as readonly string[]).includes(key)) {
      throw new InputError(`engine_options.${key} ${describeValue(value)} is not a llamacpp option; allowed: ${LLAMACPP_OPTION_KEYS.join(', ')}`);
    }
  }
  const bad = (key: string, value: OptValue, allowed: string): InputError => new InputError(`engine_options.${key} ${describeValue(value)} is invalid; allowed: ${allowed}`);
  const mode = opt(config, 'mode');
  if (mode !== undefined && mode !== 'server' && mode !== 'batched') throw bad('mode', mode, 'server, batched');
  const fa = opt(config, 'flash_attn');
  if (fa !== undefined && typeof fa !== 'boolean' && !['on', 'off', 'auto'].includes(String(fa))) throw bad('flash_attn', fa, 'true, false, on, off, auto');
  for (const key of ['cache_type', 'cache_type_k', 'cache_type_v'] as const) {
    const v = opt(config, key);
    if (v !== undefined && !(LLAMA_KV_CACHE_TYPES as readonly string[]).includes(String(v))) throw bad(key, v, LLAMA_KV_CACHE_TYPES.join(', '));
  }
  const ngl = opt(config, 'n_gpu_layers');
  if (ngl !== undefined && !(typeof ngl === 'number' && Number.isInteger(ngl) && ngl >= 0)) throw bad('n_gpu_layers', ngl, 'an integer >= 0');
  const reps = opt(config, 'batched_repeats');
  if (reps !== undefined && !(typeof reps === 'number' && Number.isInteger(reps) && reps >= 1 && reps <= 1000)) throw bad('batched_repeats', reps, 'an integer from 1 to 1000');
  parseExtraArgs(opt(config, 'extra_args'));
  for (const key of ['llama_server', 'llama_batched_bench', 'llama_perplexity'] as const) {
    const v = opt(config, key);
    if (v !== undefined && (typeof v !== 'string' || v.trim() === '' || v.includes('\0'))) throw bad(key, v, 'an executable name or path');
  }
  resolveGguf(config, cwd);
}

// ---------------------------------------------------------------------------------------------------
// argv

/** The exact argv after `llama-server`. */
export function llamaServerArgs(config: ExperimentConfig, gguf: string, port: number): string[] {
  const args = ['-m', gguf, '--host', '127.0.0.1', '--port', String(port), '-ngl', String(nGpuLayers(config))];
  // -np is a server flag (the number of slots = concurrent sequences): a different batch needs a new
  // server, so batch is part of the server key through these args.
  args.push('-np', String(config.batch), '-c', String(contextSize(config)));
  const fa = flashAttnValue(config);
  if (fa !== null) args.push('-fa', fa);
  const { k, v } = cacheTypes(config);
  if (k !== null) args.push('-ctk', k);
  if (v !== null) args.push('-ctv', v);
  args.push(...parseExtraArgs(opt(config, 'extra_args')));
  return args;
}

/** The exact argv after `llama-batched-bench` for one run. */
export function batchedBenchArgs(config: ExperimentConfig, gguf: string): string[] {
  const reps = Number(opt(config, 'batched_repeats') ?? 1);
  const npl = Array.from({ length: reps }, () => String(config.batch)).join(',');
  // -c: llama-batched-bench silently skips a pl whose pl × (pp + tg) exceeds its context.
  const args = ['-m', gguf, '-ngl', String(nGpuLayers(config)), '-c', String(contextSize(config))];
  args.push('-npp', String(config.inputLen), '-ntg', String(config.outputLen), '-npl', npl, '--output-format', 'jsonl');
  const fa = flashAttnValue(config);
  if (fa !== null) args.push('-fa', fa);
  const { k, v } = cacheTypes(config);
  if (k !== null) args.push('-ctk', k);
  if (v !== null) args.push('-ctv', v);
  args.push(...parseExtraArgs(opt(config, 'extra_args')));
  return args;
}

/**
 * The exact argv after `llama-perplexity`. Deliberately without cache types, flash-attn or extra args:
 * BPB is cached per (engine, model, quant, text) and must not depend on server flags.
 */
export function perplexityArgs(gguf: string, textFile: string, nCtx: number = LLAMA_PPL_CTX, nGpuLayers_ = 99): string[] {
  return ['-m', gguf, '-f', textFile, '-c', String(nCtx), '-ngl', String(nGpuLayers_)];
}

/**
 * A tokenizer-only server (batched mode has none running): no layers on the GPU, a minimal context, and
 * no warm-up decode (which would page the whole model in and run it on the CPU).
 */
export function tokenizerServerArgs(gguf: string, port: number): string[] {
  return ['-m', gguf, '--host', '127.0.0.1', '--port', String(port), '-ngl', '0', '-np', '1', '-c', String(CTX_ROUND), '--no-warmup'];
}

function gpuEnv(ctx: EngineContext): Record<string, string> {
  return ctx.gpus.length > 0 ? { CUDA_VISIBLE_DEVICES: ctx.gpus.join(',') } : {};
}

// ---------------------------------------------------------------------------------------------------
// HTTP helpers

async function raceDied<T>(p: Promise<T>, died: Promise<never> | null): Promise<T> {
  return died ? Promise.race([p, died]) : p;
}

/** One real completion: readiness is "answers a completion", not only "answers /health". */
export async function probeLlamaCompletion(baseUrl: string, model: string, died: Promise<never>, timeoutS: number, signal?: AbortSignal): Promise<void> {
  const signals = [AbortSignal.timeout(Math.max(1, timeoutS) * 1000), ...(signal ? [signal] : [])];
  let res: Response;
  try {
    res = await raceDied(
      fetch(`${baseUrl}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model, prompt: 'Hello', max_tokens: 2, temperature: 0 }),
        signal: AbortSignal.any(signals),
      }),
      died,
    );
  } catch (err) {
    if (err instanceof EngineError) throw err;
    throw new EngineError(`the first completion request to ${baseUrl} failed: ${(err as Error).message}`, { cause: err });
  }
  const body = await res.text();
  if (res.status !== 200) throw new EngineError(`the first completion request failed: HTTP ${res.status} ${body.slice(0, 300)}`);
}

/** POST /tokenize with pieces; the token list exactly as llama-perplexity builds it (BOS, no special parsing). */
export async function tokenizeWithPieces(baseUrl: string, text: string, signal?: AbortSignal): Promise<TokenPiece[]> {
  const res = await fetch(`${baseUrl}/tokenize`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    // add_special: llama-perplexity tokenizes with add_special = true (BOS when the vocab adds one);
    // parse_special: false like common_tokenize's default (servers that predate the field ignore it).
    body: JSON.stringify({ content: text, add_special: true, parse_special: false, with_pieces: true }),
    signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(600_000)]) : AbortSignal.timeout(600_000),
  });
  const body = await res.text();
  if (res.status !== 200) throw new EngineError(`${baseUrl}/tokenize answered HTTP ${res.status}: ${body.slice(0, 300)}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new EngineError(`${baseUrl}/tokenize answered with something that is not JSON: ${body.slice(0, 200)}`);
  }
  const tokens = (parsed as { tokens?: unknown }).tokens;
  if (!Array.isArray(tokens)) throw new EngineError(`${baseUrl}/tokenize answered without a tokens array`);
  return tokens.map((t, i) => {
    const ok =
      typeof t === 'object' &&
      t !== null &&
      typeof (t as TokenPiece).id === 'number' &&
      (typeof (t as TokenPiece).piece === 'string' || (Array.isArray((t as TokenPiece).piece) && ((t as TokenPiece).piece as unknown[]).every((b) => typeof b === 'number')));
    if (!ok) throw new EngineError(`${baseUrl}/tokenize: token ${i} has no {id, piece} (does this llama-server support with_pieces?)`);
    return t as TokenPiece;
  });
}

// ---------------------------------------------------------------------------------------------------
// running a one-shot tool (batched-bench, perplexity)

interface ToolRun {
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  startS: number;
  endS: number;
}

class ToolProcess {
  private readonly child: ResultPromise;
  readonly done: Promise<ToolRun>;
  readonly startS: number;
  private killed = false;

  constructor(command: string, args: readonly string[], logFile: string, env: Record<string, string>, clock: Clock) {
    this.startS = clock.now();
    this.child = execa(command, [...args], {
      detached: true, // its own process group: stop() takes every descendant with it
      stdin: 'ignore',
      stdout: 'pipe',
      // stderr is both kept (for the failure reason) and appended to the engine log.
      stderr: ['pipe', { file: logFile, append: true }],
      env,
      reject: false,
      cleanup: true,
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    this.done = this.child.then((r) => ({
      exitCode: r.exitCode ?? null,
      signal: r.signal ?? null,
      stdout: String(r.stdout ?? ''),
      stderr: String(r.stderr ?? '') + (r.exitCode === undefined && !r.signal && r.shortMessage ? `\n${r.shortMessage}` : ''),
      startS: this.startS,
      endS: clock.now(),
    }));
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get wasKilled(): boolean {
    return this.killed;
  }

  /** SIGTERM to the group, SIGKILL after `graceMs`; resolves when no member is left. */
  async kill(graceMs = 5000): Promise<void> {
    this.killed = true;
    const pid = this.child.pid;
    if (pid === undefined) return;
    const signal = (s: NodeJS.Signals): void => {
      try {
        process.kill(-pid, s);
      } catch {
        // already gone
      }
    };
    signal('SIGTERM');
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline && processGroupMembers(pid).length > 0) await new Promise((r) => setTimeout(r, 25));
    if (processGroupMembers(pid).length > 0) signal('SIGKILL');
    await this.done.catch(() => {});
  }
}

function runFailure(tool: string, args: readonly string[], run: ToolRun, durationMs: number): EngineError {
  const failure = parseLlamaFailure(`${run.stderr}\n${run.stdout}`);
  const how = run.signal ? `was killed by ${run.signal}` : run.exitCode === null ? 'could not be started' : `exited with code ${run.exitCode}`;
  const tail = run.stderr.split(/\r?\n/).filter((l) => l.trim() !== '').slice(-20).join('\n');
  return new EngineError(`${tool} ${how}${failure.reason ? `: ${failure.reason}` : ''}${tail ? `; last log lines:\n${tail}` : ''}`, {
    command: [tool, ...args],
    exitCode: run.exitCode,
    outputTail: tail,
    durationMs,
  });
}

// ---------------------------------------------------------------------------------------------------
// offline load: llama-batched-bench runs

/** One finished run: a batch call whose tokens are pl × tg of its rows. */
interface BenchRun extends BatchCall {
  rows: BatchedBenchRow[];
}

/**
 * A LoadGenerator over repeated llama-batched-bench processes. Each run is one segment; openWindow()
 * resolves when the next run starts, closeWindow() when the running one ends, so the window holds whole
 * runs only. Like transformers calls, runs go on after closeWindow() until stop() (which kills the one
 * running): the GPU stays in use while the energy meter waits for the sample that closes the window, and
 * a window whose confidence interval turns out above its target can be extended by closing it again at a
 * later run's end (decision 42).
 */
export class BatchedBenchLoad implements LoadGenerator {
  /** The finished runs, warm-up, boundary listeners and waiting windows. */
  private readonly runs = new BatchCalls<BenchRun>();
  private readonly records: RequestRecord[] = [];
  private current: ToolProcess | null = null;
  private loop: Promise<void> | null = null;
  private stopped = false;
  private readonly onAbort = (): void => void this.stop();

  constructor(
    private readonly opts: {
      command: string;
      args: readonly string[];
      logFile: string;
      rowsFile: string;
      env: Record<string, string>;
      clock: Clock;
      batch: number;
      inputLen: number;
      outputLen: number;
      signal?: AbortSignal;
    },
  ) {
    opts.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  get failure(): Error | null {
    return this.runs.failure;
  }

  private ensureLoop(): void {
    if (this.stopped || this.runs.failure || this.loop !== null) return;
    this.loop = this.runLoop().finally(() => {
      this.loop = null;
    });
  }

  private async runLoop(): Promise<void> {
    // Edges for onBoundary (segment edges for the energy counter), notified in the tick of the edge: each
    // run's end, read in the tick its endS is taken (only the awaits of its promise in between). The next
    // run starts in that same tick, one read later: its start is the previous end. Only the loop's first
    // run starts at an edge of its own.
    let startsAtPreviousEnd = false;
    while (!this.stopped && this.runs.failure === null) {
      const proc = new ToolProcess(this.opts.command, this.opts.args, this.opts.logFile, this.opts.env, this.opts.clock);
      this.current = proc;
      if (!startsAtPreviousEnd) this.runs.notifyBoundary();
      const warmup = this.runs.warmingUp;
      // The window snaps to this run's start.
      this.runs.callStarted(proc.startS);
      const run = await proc.done;
      this.current = null;
      if (proc.wasKilled || this.stopped) break;
      const durationMs = (run.endS - run.startS) * 1000;
      if (run.exitCode !== 0) {
        this.recordFailure(run, warmup, runFailure(this.opts.command, this.opts.args, run, durationMs));
        break;
      }
      let rows: BatchedBenchRow[];
      try {
        rows = parseBatchedBenchJsonl(run.stdout);
      } catch (err) {
        this.recordFailure(run, warmup, err as Error);
        break;
      }
      if (rows.length === 0) {
        // Exit 0 without rows: every pl was skipped for lack of context (or the tool stopped early).
        const reason = batchedBenchNoRowsReason(run.stderr, { ppTokens: this.opts.inputLen, tgTokens: this.opts.outputLen, pl: [this.opts.batch] });
        this.recordFailure(run, warmup, new EngineError(reason, { command: [this.opts.command, ...this.opts.args], exitCode: 0, outputTail: tailLines(this.opts.logFile), durationMs }));
        break;
      }
      const tokens = rows.reduce((sum, r) => sum + generatedTokens(r), 0);
      const sequences = rows.reduce((sum, r) => sum + r.pl, 0);
      this.runs.add({ startS: run.startS, endS: run.endS, rows, tokens, sequences, warmup });
      // Recorded, then read at once: unlike a transformers call (which fires its listeners after issuing
      // the next batch), no GPU work is queued here, and a counter read (~4 ms on an H100) only delays
      // the next process, whose model load takes seconds.
      this.runs.notifyBoundary();
      startsAtPreviousEnd = true;
      try {
        appendFileSync(this.opts.rowsFile, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
      } catch {
        // artifacts are best effort
      }
      for (const row of rows) {
        for (let j = 0; j < row.pl; j++) {
          this.records.push({
            startS: run.startS,
            endS: run.endS,
            success: true,
            error: null,
            promptTokens: row.ppTokens,
            outputTokens: row.tgTokens,
            // The tool reports per-row prefill and generation times, not per-sequence latencies:
            // TTFT ≈ the batch's prefill time, e2e = its prefill + generation time, no ITLs.
            ttftMs: row.tPpS * 1000,
            itlMs: [],
            e2eMs: row.tS * 1000,
            warmup,
          });
        }
      }
      // Counted before the next run starts, so that its warm-up flag is exact.
      this.runs.countWarmUp(run.endS, sequences);
    }
  }

  private recordFailure(run: ToolRun, warmup: boolean, err: Error): void {
    this.records.push({
      startS: run.startS,
      endS: run.endS,
      success: false,
      error: err.message.slice(0, 500),
      promptTokens: null,
      outputTokens: null,
      ttftMs: null,
      itlMs: [],
      e2eMs: (run.endS - run.startS) * 1000,
      warmup,
    });
    this.runs.fail(err);
  }

  /** Runs until at least `minRequests` sequences completed and `minS` passed, counted at run ends. */
  warmUp(opts: { minS: number; minRequests: number }): Promise<void> {
    if (this.runs.failure) return Promise.reject(this.runs.failure);
    // A stopped load has nothing left to warm up: the caller is stopping anyway.
    if (this.stopped) return Promise.resolve();
    const p = this.runs.warmUp(opts, this.opts.clock.now());
    this.ensureLoop();
    return p;
  }

  openWindow(): Promise<number> {
    if (this.runs.failure) return Promise.reject(this.runs.failure);
    if (this.stopped) return Promise.reject(new EngineError('the llama-batched-bench load was stopped'));
    const p = this.runs.nextStart();
    this.ensureLoop();
    return p;
  }

  async closeWindow(): Promise<number> {
    if (this.runs.failure) throw this.runs.failure;
    // The running run ends the window (the loop starts the next one before this resumes).
    const running = this.current;
    if (running !== null) {
      const run = await running.done;
      if (this.runs.failure) throw this.runs.failure;
      return run.endS;
    }
    return this.runs.lastEndS() ?? this.opts.clock.now();
  }

  tokensBetween(fromS: number, toS: number): number {
    return this.runs.tokensBetween(fromS, toS);
  }

  requestsCompletedBetween(fromS: number, toS: number): number {
    return this.runs.requestsCompletedBetween(fromS, toS);
  }

  onBoundary(listener: () => void): () => void {
    return this.runs.onBoundary(listener);
  }

  segments(fromS: number, toS: number): Segment[] {
    return this.runs.segments(fromS, toS);
  }

  requests(): RequestRecord[] {
    return [...this.records];
  }

  /** Every finished run (for tests and artifacts). */
  completedRuns(): readonly Readonly<BenchRun>[] {
    return this.runs.finished;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.opts.signal?.removeEventListener('abort', this.onAbort);
    const running = this.current;
    if (running) await running.kill();
    this.runs.stop(new EngineError('the llama-batched-bench load was stopped'));
    await this.loop?.catch(() => {});
  }
}

// ---------------------------------------------------------------------------------------------------
// BPB

async function withTokenizerServer<T>(config: ExperimentConfig, gguf: string, ctx: EngineContext, fn: (baseUrl: string) => Promise<T>): Promise<T> {
  const port = await freePort();
  const logFile = join(ctx.artifactDir, 'tokenizer-server.log');
  const proc = launch({ command: llamaExecutable(config, 'llama_server'), args: tokenizerServerArgs(gguf, port), logFile, env: gpuEnv(ctx) });
  const baseUrl = `http://127.0.0.1:${port}`;
  try {
    await waitForHealth({ url: `${baseUrl}/health`, proc, timeoutS: ctx.startTimeoutS, clock: ctx.clock, signal: ctx.signal });
    return await raceDied(fn(baseUrl), proc.died);
  } finally {
    await proc.stop().catch(() => {});
  }
}

/**
 * Bits per byte with llama-perplexity (see llamacpp-parse.ts for the source it follows). `baseUrl` is a
 * running llama-server for the same GGUF (server mode); without one a tokenizer-only server is started
 * for the duration of the tokenization.
 */
export async function llamaBpb(config: ExperimentConfig, text: string, ctx: EngineContext, baseUrl: string | null): Promise<BpbResult> {
  const gguf = ggufPathOf(config);
  mkdirSync(ctx.artifactDir, { recursive: true });
  const textFile = join(ctx.artifactDir, 'bpb-input.txt');
  writeFileSync(textFile, text, 'utf8');
  const command = llamaExecutable(config, 'llama_perplexity');
  const args = perplexityArgs(gguf, textFile, LLAMA_PPL_CTX, nGpuLayers(config));
  const logFile = join(ctx.artifactDir, 'perplexity.log');
  const tool = new ToolProcess(command, args, logFile, gpuEnv(ctx), ctx.clock);
  const onAbort = (): void => void tool.kill();
  ctx.signal?.addEventListener('abort', onAbort, { once: true });
  let run: ToolRun;
  try {
    run = await tool.done;
  } finally {
    ctx.signal?.removeEventListener('abort', onAbort);
  }
  if (ctx.signal?.aborted) throw ctx.signal.reason;
  writeFileSync(join(ctx.artifactDir, 'perplexity.stdout.txt'), run.stdout);
  if (run.exitCode !== 0) throw runFailure(command, args, run, (run.endS - run.startS) * 1000);
  let scored;
  try {
    scored = perplexityBits(run.stdout, run.stderr);
  } catch (err) {
    throw new EngineError(`${(err as Error).message} (${command} ${args.join(' ')})`, { command: [command, ...args], exitCode: 0, outputTail: tailLines(logFile), cause: err });
  }
  // llama-perplexity reads the file and drops one trailing newline (common/arg.cpp, -f): tokenize
  // exactly that string so that token indices line up with the ones it scored.
  const toolText = text.endsWith('\n') ? text.slice(0, -1) : text;
  const pieces = baseUrl !== null ? await tokenizeWithPieces(baseUrl, toolText, ctx.signal) : await withTokenizerServer(config, gguf, ctx, (url) => tokenizeWithPieces(url, toolText, ctx.signal));
  const bytes = scoredBytes(pieces, scored.chunks, scored.nCtx);
  if (bytes <= 0) throw new EngineError('llama-perplexity scored tokens without bytes');
  const perChunk = scoredTokensPerChunk(scored.nCtx);
  return {
    bpb: scored.bits / bytes,
    bits: scored.bits,
    bytes,
    tokens: scored.scoredTokens,
    method:
      `llama-perplexity -c ${scored.nCtx}: ${scored.chunks} chunks × ${perChunk} scored tokens (positions n_ctx/2+1 … n_ctx−1 of each chunk); ` +
      `bits = ${scored.scoredTokens} × log2(final PPL ${scored.ppl}); bytes = UTF-8 bytes of those tokens' pieces from llama-server POST /tokenize ` +
      `(add_special, with_pieces, ${pieces.length} tokens incl. BOS)`,
  };
}

// ---------------------------------------------------------------------------------------------------
// the engine

function batchedLoad(config: ExperimentConfig, ctx: EngineContext): BatchedBenchLoad {
  const gguf = ggufPathOf(config);
  mkdirSync(ctx.artifactDir, { recursive: true });
  return new BatchedBenchLoad({
    command: llamaExecutable(config, 'llama_batched_bench'),
    args: batchedBenchArgs(config, gguf),
    logFile: join(ctx.artifactDir, 'engine.log'),
    rowsFile: join(ctx.artifactDir, 'batched-bench.jsonl'),
    env: gpuEnv(ctx),
    clock: ctx.clock,
    batch: config.batch,
    inputLen: config.inputLen,
    outputLen: config.outputLen,
    signal: ctx.signal,
  });
}

async function startServer(config: ExperimentConfig, ctx: EngineContext): Promise<EngineServer> {
  const gguf = resolveGguf(config);
  mkdirSync(ctx.artifactDir, { recursive: true });
  const port = await freePort();
  const command = llamaExecutable(config, 'llama_server');
  const logFile = join(ctx.artifactDir, 'engine.log');
  const startedMs = Date.now();
  const proc: EngineProcess = launch({ command, args: llamaServerArgs(config, gguf, port), logFile, env: gpuEnv(ctx) });
  const baseUrl = `http://127.0.0.1:${port}`;
  ctx.log.info({ command, pid: proc.pid, port, gguf }, 'llama-server starting');
  try {
    await waitForHealth({ url: `${baseUrl}/health`, proc, timeoutS: ctx.startTimeoutS, clock: ctx.clock, signal: ctx.signal });
    const leftS = ctx.startTimeoutS - (Date.now() - startedMs) / 1000;
    await probeLlamaCompletion(baseUrl, config.model.id, proc.died, Math.max(30, leftS), ctx.signal);
  } catch (err) {
    await proc.stop().catch(() => {});
    throw err;
  }
  return {
    key: llamacppEngine.serverKey(config),
    baseUrl,
    pid: proc.pid,
    logFile,
    died: proc.died,
    load: (cfg, c) =>
      createOpenAiLoad({
        baseUrl,
        model: cfg.model.id,
        batch: cfg.batch,
        inputLen: cfg.inputLen,
        outputLen: cfg.outputLen,
        // Prompts never repeat on one server: openai-load numbers them per server (its prefix cache
        // outlives an experiment), so a fixed seed keeps experiments reproducible.
        seed: 0,
        dialect: 'llamacpp',
        clock: c.clock,
        signal: c.signal,
      }),
    bpb: (cfg, text, c) => llamaBpb(cfg, text, c, baseUrl),
    stop: () => proc.stop(),
  };
}

function startBatched(config: ExperimentConfig, ctx: EngineContext): EngineServer {
  resolveGguf(config);
  const command = llamaExecutable(config, 'llama_batched_bench');
  if (which(command) === null) throw new EngineError(`${command} was not found (engine_options.llama_batched_bench, $CARBONBENCH_LLAMA_BATCHED_BENCH, or PATH)`, { command: [command] });
  const loads: BatchedBenchLoad[] = [];
  return {
    key: llamacppEngine.serverKey(config),
    baseUrl: null,
    // No long-lived process: each run is its own process group, stopped by the load.
    pid: null,
    logFile: join(ctx.artifactDir, 'engine.log'),
    died: new Promise<never>(() => {}),
    load: (cfg, c) => {
      const load = batchedLoad(cfg, c);
      loads.push(load);
      return load;
    },
    bpb: (cfg, text, c) => llamaBpb(cfg, text, c, null),
    stop: async () => {
      await Promise.all(loads.splice(0).map((l) => l.stop()));
    },
  };
}

export const llamacppEngine: Engine = {
  name: 'llamacpp',
  simulated: false,

  validate(config) {
    validateLlamacpp(config);
  },

  serverKey(config) {
    const gguf = resolveGguf(config);
    if (llamaMode(config) === 'batched') {
      // Per-run flags (batch, lengths) go to each llama-batched-bench process: one handle serves all.
      return JSON.stringify(['llamacpp', 'batched', llamaExecutable(config, 'llama_batched_bench'), gguf]);
    }
    // GGUF, -np (= batch), -c (batch × slot size), -fa, -ctk/-ctv, -ngl, extra args: all server flags.
    const args = llamaServerArgs(config, gguf, 0).filter((_, i, all) => all[i - 1] !== '--port' && all[i] !== '--port');
    return JSON.stringify(['llamacpp', 'server', llamaExecutable(config, 'llama_server'), ...args]);
  },

  async start(config, ctx) {
    return llamaMode(config) === 'batched' ? startBatched(config, ctx) : startServer(config, ctx);
  },
};
