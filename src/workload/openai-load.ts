/**
 * Closed-loop load against an OpenAI-compatible completions server (vLLM, llama-server): exactly
 * `batch` streaming requests in flight, each of exactly `inputLen` prompt tokens and `outputLen` output
 * tokens, and every output token counted at the time it arrived (DESIGN sections 5.3-5.4, 6).
 *
 * Dialects (what each server understands, from its source):
 * - vllm (vllm/entrypoints/openai/serving_completion.py, protocol.py): `/tokenize {model, prompt,
 *   add_special_tokens: false}` → `{count, max_model_len, tokens}`; completions with `ignore_eos`,
 *   `min_tokens`, `stream_options: {include_usage, continuous_usage_stats}`: every chunk then carries
 *   the cumulative `usage.completion_tokens`, a last chunk (`choices: []`) the totals, then [DONE].
 * - llamacpp (tools/server/server-task.cpp params_from_json_cmpl and the to_json_oaicompat of partial
 *   and final results; server-context.cpp send_partial_response): `/tokenize {content, add_special:
 *   false}` → `{tokens}`; completions with `n_predict` (and `max_tokens`), `ignore_eos`,
 *   `cache_prompt: false`, `timings_per_token: true`: every partial chunk then carries `timings`
 *   (`predicted_n` = tokens decoded so far); the final chunk (finish_reason set, empty text) carries
 *   `usage` whatever stream_options say, then [DONE].
 * A token-id prompt is used as given by both servers (no BOS is added), so its length is exact.
 *
 * Token accounting: a TokenEvent per SSE chunk at its arrival time; tokens per chunk = the increase of
 * the running count when the server sends one, else what the chunk carries (token_ids or logprobs
 * arrays, else 1 per non-empty text). At the end the server's final usage is authoritative: if the
 * chunk counts disagree, they are scaled to it and the request is marked `tokenTiming: 'approximate'`.
 * Tokens count by arrival time whatever the request's fate (warm-up, failed, aborted): they are real
 * GPU work inside the window, which is what makes tokens and energy cover the same window.
 *
 * HTTP: the lean HTTP/1.1 client of http1.ts (keep-alive connections, one per request in flight),
 * which stamps each network read before parsing anything; node:http put 2 ms more between the
 * server's send and the client's stamp at p99 (bench/RESULTS.md, issue 7.1). Streamed tokens parsed
 * per CPU-second of the client on the 2-core box: see bench/RESULTS.md (far above the 50 k tokens/s
 * target).
 */
import { setMaxListeners } from 'node:events';
import { EngineError } from '../errors.js';
import type { Clock } from '../runner/clock.js';
import { Http1Client } from './http1.js';
import { ThreadedHttp1Client, defaultReaderThreads, readerThreadEntry, type Http1Requester } from './reader-threads.js';
import { createPromptBuilder, seededText, textWordsFor, type PromptBuilder } from './prompts.js';
import { SseParser } from './sse.js';
import type { LoadGenerator, RequestRecord, Segment, TokenEvent } from './types.js';

export type OpenAiDialect = 'vllm' | 'llamacpp';

export interface OpenAiLoadOptions {
  /** http://host:port, no trailing /v1. */
  baseUrl: string;
  /** The model name the server expects in requests. */
  model: string;
  /** Concurrency: requests in flight at all times. */
  batch: number;
  inputLen: number;
  outputLen: number;
  seed: number;
  dialect: OpenAiDialect;
  clock: Clock;
  /** Segment width for {@link LoadGenerator.segments}, seconds (default 1). */
  binS?: number;
  /** A request that takes longer is aborted and recorded as failed (default 600 s). */
  requestTimeoutS?: number;
  /** Aborts the load like stop(). */
  signal?: AbortSignal;
  /**
   * Number of the first prompt (see prompts.ts). Default: a per-server counter in this process, so
   * that two experiments on the same running server never send the same prompt (its prefix cache
   * outlives an experiment).
   */
  firstPromptIndex?: number;
  /**
   * Threads that read the streams (reader-threads.ts): 0 reads them on the main thread with `clock`;
   * default defaultReaderThreads(batch) (one per 32 streams, at most 8, at most the CPUs but two; none
   * below 4 CPUs), or 0 when the compiled reader-thread entry is missing. Reader threads stamp with their own
   * sub-millisecond epoch clock (createEpochClock), whatever `clock` is.
   */
  readerThreads?: number;
}

/** A request record with what the generic record leaves out. */
export interface OpenAiRequestRecord extends RequestRecord {
  /** Start order, from 0. */
  seq: number;
  /** The prompt number (prompts.ts). */
  promptIndex: number;
  /** 'approximate' when the chunk counts disagreed with the final usage and were scaled to it. */
  tokenTiming: 'exact' | 'approximate';
  finishReason: string | null;
  /** Prompt tokens the server took from its cache (llama-server timings.cache_n, vLLM cached_tokens). */
  cachedPromptTokens: number | null;
  /** SSE chunks that carried output tokens. */
  tokenChunks: number;
}

export interface OpenAiLoad extends LoadGenerator {
  /** Every finished request with the fields above, in start order. */
  records(): OpenAiRequestRecord[];
  /** Requests in flight now. */
  inFlight(): number;
  /** Every token event so far (all requests, warm-up included), in arrival order. */
  tokenEvents(): TokenEvent[];
  /** The prompt builder, once the pool was tokenized. */
  readonly prompts: PromptBuilder | null;
  /** Threads reading the streams (0: the main thread). */
  readonly readerThreads: number;
}

const DEFAULT_TIMEOUT_S = 600;
/** Connection errors with no byte from the server for this long mean the server is gone. */
const GONE_AFTER_S = 3;
const CONNECTION_BACKOFF_MS = 100;
const ERROR_BODY_MAX = 2000;

const CONNECTION_ERROR_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ENOTCONN', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND']);

/** Per base URL: the next prompt number (prompts never repeat on one server within this process). */
const nextPromptIndexByServer = new Map<string, number>();

type OutcomeKind = 'ok' | 'http' | 'protocol' | 'connection' | 'timeout' | 'aborted';

interface Outcome {
  kind: OutcomeKind;
  error: string | null;
  /** A connection error on a reused keep-alive socket before any response: safe to retry at once. */
  retryable: boolean;
}

/** Mutable state of one request while it runs. */
interface RequestState {
  seq: number;
  promptIndex: number;
  startS: number;
  warmup: boolean;
  /** Arrival times (epoch s) and output tokens of the chunks that carried tokens. */
  times: number[];
  tokens: number[];
  /** What each of those chunks carried by itself (token_ids, logprobs, or 1 per text). */
  carried: number[];
  /** Σ tokens (before reconciliation). */
  counted: number;
  /** Some chunk was counted by what it carried, not by a running count from the server. */
  usedFallback: boolean;
  finalCompletionTokens: number | null;
  promptTokens: number | null;
  cachedPromptTokens: number | null;
  finishReason: string | null;
  streamError: string | null;
  sawDone: boolean;
  /** Arrival time of the last network read of the answer (the read that completed it, once complete). */
  lastReadS: number | null;
  approximate: boolean;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/**
 * Scales chunk token counts to the server's final count (usage is authoritative). Returns the counts
 * unchanged when they agree. Pure.
 */
export function reconcileTokens(tokens: readonly number[], finalTokens: number): { tokens: number[]; approximate: boolean } {
  let sum = 0;
  for (const t of tokens) sum += t;
  if (sum === finalTokens) return { tokens: [...tokens], approximate: false };
  if (sum <= 0) {
    // No chunk carried a countable token: all of them at the last chunk (callers handle no chunk).
    const out = tokens.map(() => 0);
    if (out.length > 0) out[out.length - 1] = finalTokens;
    return { tokens: out, approximate: true };
  }
  const f = finalTokens / sum;
  return { tokens: tokens.map((t) => t * f), approximate: true };
}

/** The error text of an HTTP error body (OpenAI `{error: {message}}`, vLLM `{message}`, or raw text). */
function errorBodyMessage(text: string): string {
  try {
    const j: unknown = JSON.parse(text);
    if (isRecord(j)) {
      if (isRecord(j.error) && typeof j.error.message === 'string') return j.error.message;
      if (typeof j.message === 'string') return j.message;
      if (typeof j.detail === 'string') return j.detail;
    }
  } catch {
    // not JSON
  }
  return text.trim().slice(0, 500);
}

function describeError(err: unknown): { message: string; connection: boolean } {
  const e = err as NodeJS.ErrnoException & { cause?: unknown };
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const message = e instanceof Error ? e.message : String(err);
  const connection = (code !== undefined && CONNECTION_ERROR_CODES.has(code)) || message === 'socket hang up';
  return { message: code && !message.includes(code) ? `${code}: ${message}` : message, connection };
}

class StopReason extends Error {}

export function createOpenAiLoad(opts: OpenAiLoadOptions): OpenAiLoad {
  return new OpenAiLoadImpl(opts);
}

class OpenAiLoadImpl implements OpenAiLoad {
  private readonly o: Required<Omit<OpenAiLoadOptions, 'signal' | 'firstPromptIndex' | 'readerThreads'>> & { signal?: AbortSignal };
  private readonly url: URL;
  private readonly completionsPath: string;
  private readonly http: Http1Requester;
  readonly readerThreads: number;
  private readonly controller = new AbortController();
  private readonly states: RequestState[] = [];
  private readonly finished: OpenAiRequestRecord[] = [];
  private readonly inflight = new Set<RequestState>();
  private builder: PromptBuilder | null = null;
  private startPromise: Promise<void> | null = null;
  private workers: Promise<void>[] = [];
  private stopPromise: Promise<void> | null = null;
  private stopping = false;
  private windowOpen = false;
  private seq = 0;
  private promptCounter: number | null = null;
  private okCount = 0;
  /** Outcomes (true = success) of the last 2 × batch finished requests, aborts excluded. */
  private recent: boolean[] = [];
  private lastError: string | null = null;
  /** Last time any byte came from the server (or the loop started). */
  private lastContactS = 0;
  private failureError: Error | null = null;
  private readonly onOuterAbort = (): void => {
    void this.stop().catch(() => {});
  };

  constructor(opts: OpenAiLoadOptions) {
    for (const key of ['batch', 'inputLen', 'outputLen'] as const) {
      const v = opts[key];
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`Expected \`${key}\` to be a positive integer, got \`${String(v)}\` (${typeof v})`);
    }
    if (opts.binS !== undefined && !(opts.binS > 0)) throw new RangeError(`Expected \`binS\` to be positive, got \`${opts.binS}\``);
    this.o = {
      baseUrl: opts.baseUrl,
      model: opts.model,
      batch: opts.batch,
      inputLen: opts.inputLen,
      outputLen: opts.outputLen,
      seed: opts.seed,
      dialect: opts.dialect,
      clock: opts.clock,
      binS: opts.binS ?? 1,
      requestTimeoutS: opts.requestTimeoutS ?? DEFAULT_TIMEOUT_S,
      signal: opts.signal,
    };
    this.url = new URL(opts.baseUrl.endsWith('/') ? opts.baseUrl : `${opts.baseUrl}/`);
    this.completionsPath = new URL('v1/completions', this.url).pathname;
    // Keep-alive connections: one per request in flight (the closed loop), reused request after request.
    if (opts.readerThreads !== undefined && !(Number.isInteger(opts.readerThreads) && opts.readerThreads >= 0)) {
      throw new RangeError(`Expected \`readerThreads\` to be a non-negative integer, got \`${String(opts.readerThreads)}\``);
    }
    const threads = opts.readerThreads ?? defaultReaderThreads(opts.batch);
    const entry = threads === 0 ? null : readerThreadEntry();
    this.readerThreads = entry === null ? 0 : threads;
    this.http = entry === null ? new Http1Client(this.url, opts.clock) : new ThreadedHttp1Client(this.url, threads, entry);
    // Every request in flight listens on the one abort signal (plus warm-up and back-off sleeps).
    setMaxListeners(2 * opts.batch + 16, this.controller.signal);
    if (opts.firstPromptIndex !== undefined) this.promptCounter = opts.firstPromptIndex;
    if (opts.signal) {
      if (opts.signal.aborted) this.onOuterAbort();
      else opts.signal.addEventListener('abort', this.onOuterAbort, { once: true });
    }
  }

  get failure(): Error | null {
    return this.failureError;
  }

  get timing(): string {
    return this.readerThreads > 0
      ? `request sent and token arrival times stamped at the socket by ${this.readerThreads} reader thread(s) (sub-millisecond epoch clock)`
      : 'request sent and token arrival times stamped at the socket on the main thread (the run clock)';
  }

  get prompts(): PromptBuilder | null {
    return this.builder;
  }

  inFlight(): number {
    return this.inflight.size;
  }

  // ---- lifecycle ------------------------------------------------------------------------------

  async warmUp(opts: { minS: number; minRequests: number }): Promise<void> {
    await this.start();
    const { clock } = this.o;
    const t0 = clock.now();
    const okAtStart = this.okCount;
    for (;;) {
      if (this.failureError) throw this.failureError;
      if (this.stopping) throw new EngineError('the load was stopped during warm-up');
      if (clock.now() - t0 >= opts.minS && this.okCount - okAtStart >= opts.minRequests) return;
      try {
        await clock.sleep(20, this.controller.signal);
      } catch {
        // stopped or failed: the checks above say which
      }
    }
  }

  async openWindow(): Promise<number> {
    await this.start();
    if (this.failureError) throw this.failureError;
    this.windowOpen = true;
    return this.o.clock.now();
  }

  async closeWindow(): Promise<number> {
    return this.o.clock.now();
  }

  stop(): Promise<void> {
    if (this.stopPromise) return this.stopPromise;
    this.stopping = true;
    this.controller.abort(new StopReason('the load was stopped'));
    this.stopPromise = (async () => {
      if (this.startPromise) await this.startPromise.catch(() => {});
      await Promise.all(this.workers);
      await this.http.destroy();
      this.o.signal?.removeEventListener('abort', this.onOuterAbort);
    })();
    return this.stopPromise;
  }

  private start(): Promise<void> {
    if (!this.startPromise) {
      this.startPromise = (async () => {
        if (this.stopping) throw new EngineError('the load was stopped before it started');
        try {
          const pool = await this.tokenizePool();
          this.builder = createPromptBuilder(pool, this.o.inputLen, this.o.seed);
        } catch (err) {
          if (this.stopping) throw new EngineError('the load was stopped before it started');
          const e = err instanceof EngineError ? err : new EngineError(`could not prepare prompts: ${describeError(err).message}`, { cause: err });
          this.fail(e);
          throw e;
        }
        if (this.stopping) throw new EngineError('the load was stopped before it started');
        this.lastContactS = this.o.clock.now();
        for (let i = 0; i < this.o.batch; i++) this.workers.push(this.worker());
      })();
    }
    return this.startPromise;
  }

  private fail(err: Error): void {
    if (this.failureError || this.stopping) return;
    this.failureError = err;
    // The experiment fails with this; requests in flight are moot. Close the sockets once idle.
    this.controller.abort(err);
    void Promise.all(this.workers).then(() => this.http.destroy());
  }

  // ---- prompts ----------------------------------------------------------------------------------

  private async tokenizePool(): Promise<number[]> {
    const text = seededText(this.o.seed, textWordsFor(this.o.inputLen));
    const body =
      this.o.dialect === 'vllm'
        ? { model: this.o.model, prompt: text, add_special_tokens: false }
        : { content: text, add_special: false };
    const { status, text: answer } = await this.postJson('tokenize', body, 60_000);
    if (status !== 200) throw new EngineError(`POST ${new URL('tokenize', this.url).href} answered HTTP ${status}: ${errorBodyMessage(answer)}`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(answer);
    } catch {
      throw new EngineError(`POST /tokenize answered something that is not JSON: ${answer.slice(0, 200)}`);
    }
    const tokens = isRecord(parsed) ? parsed.tokens : undefined;
    if (!Array.isArray(tokens) || tokens.length === 0) throw new EngineError(`POST /tokenize answered no \`tokens\` array: ${answer.slice(0, 200)}`);
    // llama-server answers {id, piece} objects when asked with_pieces; accept both shapes.
    const ids = tokens.map((t: unknown) => (isRecord(t) ? t.id : t));
    if (!ids.every((t): t is number => Number.isInteger(t) && (t as number) >= 0)) throw new EngineError(`POST /tokenize answered tokens that are not token ids: ${answer.slice(0, 200)}`);
    return ids;
  }

  private nextPromptIndex(): number {
    if (this.promptCounter === null) {
      // One shared counter per server: loads on the same server never reuse a prompt number.
      const key = this.url.href;
      const u = nextPromptIndexByServer.get(key) ?? 0;
      nextPromptIndexByServer.set(key, u + 1);
      return u;
    }
    return this.promptCounter++;
  }

  private requestBody(prompt: number[]): string {
    const { outputLen, model } = this.o;
    const body =
      this.o.dialect === 'vllm'
        ? {
            model,
            prompt,
            max_tokens: outputLen,
            min_tokens: outputLen,
            ignore_eos: true,
            temperature: 0,
            stream: true,
            stream_options: { include_usage: true, continuous_usage_stats: true },
          }
        : {
            model,
            prompt,
            n_predict: outputLen,
            max_tokens: outputLen,
            ignore_eos: true,
            temperature: 0,
            cache_prompt: false,
            timings_per_token: true,
            stream: true,
            stream_options: { include_usage: true },
          };
    return JSON.stringify(body);
  }

  // ---- the closed loop ----------------------------------------------------------------------------

  private async worker(): Promise<void> {
    while (!this.stopping && !this.failureError) {
      const promptIndex = this.nextPromptIndex();
      const body = this.requestBody(this.builder!.prompt(promptIndex));
      let st = this.newState(promptIndex);
      let outcome = await this.runRequest(st, body);
      if (outcome.retryable && !this.stopping && !this.failureError) {
        // A keep-alive socket the server had closed: the request never reached it. Retry once.
        this.discardState(st);
        st = this.newState(promptIndex, st.seq);
        outcome = await this.runRequest(st, body);
      }
      this.finish(st, outcome);
      if (outcome.kind === 'connection' && !this.stopping && !this.failureError) {
        try {
          await this.o.clock.sleep(CONNECTION_BACKOFF_MS, this.controller.signal);
        } catch {
          // stopped
        }
      }
    }
  }

  private newState(promptIndex: number, seq?: number): RequestState {
    const st: RequestState = {
      seq: seq ?? this.seq++,
      promptIndex,
      startS: this.o.clock.now(),
      warmup: !this.windowOpen,
      times: [],
      tokens: [],
      carried: [],
      counted: 0,
      usedFallback: false,
      finalCompletionTokens: null,
      promptTokens: null,
      cachedPromptTokens: null,
      finishReason: null,
      streamError: null,
      sawDone: false,
      lastReadS: null,
      approximate: false,
    };
    this.states.push(st);
    this.inflight.add(st);
    return st;
  }

  private discardState(st: RequestState): void {
    this.inflight.delete(st);
    const i = this.states.lastIndexOf(st);
    if (i >= 0) this.states.splice(i, 1);
  }

  /** One streaming request. Never rejects: every failure is an Outcome. */
  private async runRequest(st: RequestState, body: string): Promise<Outcome> {
    const { clock } = this.o;
    const signal = this.controller.signal;
    if (signal.aborted) return { kind: 'aborted', error: this.abortMessage(), retryable: false };
    let status = 0;
    let errorText = '';
    // The client stamps each network read and parses after the burst (http1.ts): every SSE event gets
    // the arrival time of the read that carried it (text is pushed only after st.lastReadS is set).
    const parser = new SseParser((ev) => this.onEvent(st, ev.data, st.lastReadS!));
    const r = await this.http.request({
      method: 'POST',
      path: this.completionsPath,
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body,
      signal,
      timeoutMs: this.o.requestTimeoutS * 1000,
      // The request's start is when it went out, on the clock that stamps its tokens (a reader thread's
      // sub-millisecond clock): TTFT = first token's arrival − this.
      onSent: (t) => {
        st.startS = t;
      },
      onHead: (s) => {
        status = s;
        this.lastContactS = clock.now();
      },
      onText: (text, t) => {
        this.lastContactS = t;
        st.lastReadS = t;
        if (status !== 200) {
          if (errorText.length < ERROR_BODY_MAX) errorText += text;
          return;
        }
        parser.push(text);
      },
    });
    if (r.status === 200) parser.end();
    if (r.aborted || (signal.aborted && !r.complete)) return { kind: 'aborted', error: this.abortMessage(), retryable: false };
    if (r.timedOut) return { kind: 'timeout', error: `no complete answer within ${this.o.requestTimeoutS} s (requestTimeoutS)`, retryable: false };
    if (r.status !== null && r.status !== 200) return { kind: 'http', error: `HTTP ${r.status}: ${errorBodyMessage(errorText)}`, retryable: false };
    if (r.error) {
      if (r.error.protocol) return { kind: 'protocol', error: `the server's HTTP answer is malformed: ${r.error.message}`, retryable: false };
      const d = describeError(r.error);
      if (r.status === null) return { kind: 'connection', error: d.message, retryable: r.reusedConnection };
      return { kind: 'connection', error: `connection lost mid-stream: ${d.message}`, retryable: false };
    }
    return { kind: 'ok', error: null, retryable: false };
  }

  private abortMessage(): string {
    return this.failureError ? `aborted: the load failed (${this.failureError.message})` : 'aborted: the load was stopped';
  }

  /** One SSE event of a completion stream. */
  private onEvent(st: RequestState, data: string, arrivalS: number): void {
    if (data === '[DONE]') {
      st.sawDone = true;
      return;
    }
    let obj: unknown;
    try {
      obj = JSON.parse(data);
    } catch {
      st.streamError ??= `a stream chunk is not JSON: ${data.slice(0, 200)}`;
      return;
    }
    if (!isRecord(obj)) return;
    if (obj.error !== undefined || obj.object === 'error') {
      const e = isRecord(obj.error) ? obj.error : obj;
      st.streamError ??= `the server sent an error in the stream: ${typeof e.message === 'string' ? e.message : JSON.stringify(e).slice(0, 300)}`;
      return;
    }
    // Cumulative output tokens: vLLM's continuous usage, else llama-server's per-token timings.
    const usage = isRecord(obj.usage) ? obj.usage : null;
    const timings = isRecord(obj.timings) ? obj.timings : null;
    let cumulative: number | null = null;
    if (usage) {
      const c = num(usage.completion_tokens);
      if (c !== null) {
        cumulative = c;
        st.finalCompletionTokens = c;
      }
      const p = num(usage.prompt_tokens);
      if (p !== null) st.promptTokens = p;
      const details = isRecord(usage.prompt_tokens_details) ? usage.prompt_tokens_details : null;
      const cached = details ? num(details.cached_tokens) : null;
      if (cached !== null) st.cachedPromptTokens = cached;
    }
    if (timings) {
      if (cumulative === null) cumulative = num(timings.predicted_n);
      const cacheN = num(timings.cache_n);
      if (cacheN !== null) st.cachedPromptTokens = cacheN;
    }
    const choices = Array.isArray(obj.choices) ? obj.choices : null;
    const choice: unknown = choices && choices.length > 0 ? choices[0] : null;
    let carried = 0;
    if (isRecord(choice)) {
      if (typeof choice.finish_reason === 'string') st.finishReason = choice.finish_reason;
      carried = tokensCarried(choice);
    }
    if (cumulative === null && carried > 0) st.usedFallback = true;
    // Once a chunk had to be counted by what it carried, a later running count (e.g. the usage of the
    // final chunk) is no per-chunk figure any more: it only sets the final count.
    const n = cumulative !== null && !st.usedFallback ? cumulative - st.counted : carried;
    if (n > 0) {
      st.times.push(arrivalS);
      st.tokens.push(n);
      st.carried.push(carried);
      st.counted += n;
    }
  }

  /** Turns a finished request into its record and watches for a dead or broken server. */
  private finish(st: RequestState, outcome: Outcome): void {
    this.inflight.delete(st);
    // A complete answer ended with the read that completed it, stamped like its tokens; anything else
    // ends now.
    const endS = outcome.kind === 'ok' && st.lastReadS !== null ? st.lastReadS : this.o.clock.now();
    let error = outcome.error;
    if (outcome.kind === 'ok') error = st.streamError ?? null;
    // Usage is authoritative: reconcile what the chunks said with the final count. Running counts
    // (continuous usage, per-token timings) give exact chunk sizes; if any chunk had to be counted by
    // what it carried, all chunks are re-counted that way and scaled to the final usage.
    const final = st.finalCompletionTokens;
    if (final !== null && (st.usedFallback || final !== st.counted)) {
      if (st.times.length === 0) {
        if (final > 0) {
          st.times.push(endS);
          st.tokens.push(final);
          st.carried.push(0);
        }
        st.approximate = final > 0;
      } else {
        const r = reconcileTokens(st.usedFallback ? st.carried : st.tokens, final);
        st.approximate = r.approximate;
        // Chunks left with no token after scaling are no token events.
        const times: number[] = [];
        const tokens: number[] = [];
        r.tokens.forEach((t, i) => {
          if (t > 0) {
            times.push(st.times[i]!);
            tokens.push(t);
          }
        });
        st.times = times;
        st.tokens = tokens;
      }
      st.counted = final;
    }
    if (error === null) {
      const { inputLen, outputLen } = this.o;
      if (st.finalCompletionTokens === null) {
        error = st.sawDone
          ? 'the server reported no usage (completion_tokens) for this request'
          : 'the stream ended without usage (completion_tokens) and without data: [DONE]';
      } else if (st.promptTokens !== null && st.promptTokens !== inputLen) {
        error = `prompt_tokens ${st.promptTokens} != input_len ${inputLen}: the server changed the token-id prompt (added a BOS token?)`;
      } else if (st.finalCompletionTokens !== outputLen) {
        const fin = st.finishReason ? ` (finish_reason ${st.finishReason})` : '';
        const hint =
          st.finalCompletionTokens > outputLen
            ? 'the server generated more than max_tokens'
            : st.finishReason === 'length'
              ? 'the context (max_model_len, or -c per slot) is too small?'
              : 'EOS was not ignored?';
        error = `completion_tokens ${st.finalCompletionTokens} != output_len ${outputLen}${fin}: ${hint}`;
      }
    }
    const success = error === null;
    const itlMs: number[] = [];
    for (let i = 1; i < st.times.length; i++) itlMs.push((st.times[i]! - st.times[i - 1]!) * 1000);
    const record: OpenAiRequestRecord = {
      startS: st.startS,
      endS,
      success,
      error,
      promptTokens: st.promptTokens,
      // The server's usage; for a request cut off before its usage arrived, what the stream counted.
      outputTokens: st.finalCompletionTokens ?? (st.counted > 0 ? st.counted : null),
      ttftMs: st.times.length > 0 ? (st.times[0]! - st.startS) * 1000 : null,
      itlMs,
      e2eMs: (endS - st.startS) * 1000,
      warmup: st.warmup,
      seq: st.seq,
      promptIndex: st.promptIndex,
      tokenTiming: st.approximate ? 'approximate' : 'exact',
      finishReason: st.finishReason,
      cachedPromptTokens: st.cachedPromptTokens,
      tokenChunks: st.times.length,
    };
    this.finished.push(record);
    if (outcome.kind === 'aborted') return;
    if (success) this.okCount++;
    else this.lastError = error;

    // The server is gone: connection errors and no byte from it for GONE_AFTER_S.
    if (outcome.kind === 'connection' && endS - this.lastContactS >= GONE_AFTER_S) {
      this.fail(new EngineError(`the server at ${this.o.baseUrl} is gone: ${error} (no answer for ${(endS - this.lastContactS).toFixed(1)} s)`));
      return;
    }
    // Every one of the last 2 × batch requests failed (connection errors have the rule above).
    if (outcome.kind === 'connection') return;
    const window = 2 * this.o.batch;
    this.recent.push(success);
    if (this.recent.length > window) this.recent.shift();
    if (this.recent.length === window && !this.recent.includes(true)) {
      this.fail(new EngineError(`all of the last ${window} requests to ${this.o.baseUrl} failed; last error: ${this.lastError ?? 'unknown'}`));
    }
  }

  // ---- small HTTP helper for JSON endpoints ------------------------------------------------------

  private async postJson(path: string, body: unknown, timeoutMs: number): Promise<{ status: number; text: string }> {
    let text = '';
    const r = await this.http.request({
      method: 'POST',
      path: new URL(path, this.url).pathname,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: this.controller.signal,
      timeoutMs,
      onText: (s) => (text += s),
    });
    if (r.aborted) throw this.controller.signal.reason instanceof Error ? this.controller.signal.reason : new EngineError('aborted');
    if (r.timedOut) throw new EngineError(`POST ${new URL(path, this.url).href} answered nothing within ${timeoutMs / 1000} s`);
    if (r.error) throw r.error;
    if (r.status === null || !r.complete) throw new EngineError(`POST ${new URL(path, this.url).href} ended without a complete answer`);
    return { status: r.status, text };
  }

  // ---- pure computations over the recorded events ------------------------------------------------

  tokensBetween(fromS: number, toS: number): number {
    let sum = 0;
    for (const st of this.states) {
      const { times, tokens } = st;
      const n = times.length;
      if (n === 0 || times[n - 1]! < fromS || times[0]! > toS) continue;
      for (let i = 0; i < n; i++) {
        const t = times[i]!;
        if (t >= fromS && t <= toS) sum += tokens[i]!;
      }
    }
    return sum;
  }

  requestsCompletedBetween(fromS: number, toS: number): number {
    let n = 0;
    for (const r of this.finished) if (r.success && r.endS >= fromS && r.endS <= toS) n++;
    return n;
  }

  segments(fromS: number, toS: number): Segment[] {
    return binTokens(this.states, fromS, toS, this.o.binS);
  }

  requests(): RequestRecord[] {
    return this.records();
  }

  records(): OpenAiRequestRecord[] {
    return [...this.finished].sort((a, b) => a.seq - b.seq);
  }

  tokenEvents(): TokenEvent[] {
    const events: TokenEvent[] = [];
    for (const st of this.states) for (let i = 0; i < st.times.length; i++) events.push({ tS: st.times[i]!, tokens: st.tokens[i]! });
    return events.sort((a, b) => a.tS - b.tS);
  }
}

/** Tokens a chunk carries when the server sends no cumulative count. */
function tokensCarried(choice: Record<string, unknown>): number {
  if (Array.isArray(choice.token_ids)) return choice.token_ids.length;
  const lp = choice.logprobs;
  if (isRecord(lp)) {
    if (Array.isArray(lp.tokens)) return lp.tokens.length; // OpenAI/vLLM completions logprobs
    if (Array.isArray(lp.content)) return lp.content.length; // llama-server
  }
  return typeof choice.text === 'string' && choice.text.length > 0 ? 1 : 0;
}

/**
 * Fixed bins of `binS` over [fromS, toS] (the last one partial), each with the tokens that arrived in
 * it: bins are half-open [a, b) except the last, [a, toS], so the bins add up to tokensBetween. Pure.
 */
export function binTokens(events: readonly { times: readonly number[]; tokens: readonly number[] }[], fromS: number, toS: number, binS: number): Segment[] {
  if (!(toS > fromS)) return [];
  const count = Math.max(1, Math.ceil((toS - fromS) / binS - 1e-9));
  const segments: Segment[] = [];
  for (let i = 0; i < count; i++) segments.push({ fromS: fromS + i * binS, toS: i === count - 1 ? toS : fromS + (i + 1) * binS, tokens: 0 });
  for (const { times, tokens } of events) {
    const n = times.length;
    if (n === 0 || times[n - 1]! < fromS || times[0]! > toS) continue;
    for (let i = 0; i < n; i++) {
      const t = times[i]!;
      if (t < fromS || t > toS) continue;
      let k = Math.floor((t - fromS) / binS);
      if (k >= count) k = count - 1;
      // Floating point: make sure the event really lies inside its bin's half-open range.
      while (k > 0 && t < segments[k]!.fromS) k--;
      while (k < count - 1 && t >= segments[k + 1]!.fromS) k++;
      segments[k]!.tokens += tokens[i]!;
    }
  }
  return segments;
}
