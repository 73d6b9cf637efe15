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
 * HTTP: node:http with a keep-alive Agent. Measured here (2-core box, Node 20, a local server
 * streaming vLLM-shaped chunks), streamed chunks parsed per CPU-second of the client: node:http
 * 0.87-0.90 M vs fetch/undici 0.53-0.55 M with 32 chunks per TCP write, 0.19-0.20 M vs 0.16 M with one
 * chunk per write. This whole generator: 0.70 M (32 per write) and 0.16 M (1 per write) tokens per
 * CPU-second, far above the 50 k tokens/s target.
 */
import { setMaxListeners } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import { EngineError } from '../errors.js';
import { createPromptBuilder, seededText, textWordsFor } from './prompts.js';
import { SseParser } from './sse.js';
const DEFAULT_TIMEOUT_S = 600;
/** Connection errors with no byte from the server for this long mean the server is gone. */
const GONE_AFTER_S = 3;
const CONNECTION_BACKOFF_MS = 100;
const ERROR_BODY_MAX = 2000;
const CONNECTION_ERROR_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ENOTCONN', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND']);
/** Per base URL: the next prompt number (prompts never repeat on one server within this process). */
const nextPromptIndexByServer = new Map();
function isRecord(v) {
    return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function num(v) {
    return typeof v === 'number' && Number.isFinite(v) ? v : null;
}
/**
 * Scales chunk token counts to the server's final count (usage is authoritative). Returns the counts
 * unchanged when they agree. Pure.
 */
export function reconcileTokens(tokens, finalTokens) {
    let sum = 0;
    for (const t of tokens)
        sum += t;
    if (sum === finalTokens)
        return { tokens: [...tokens], approximate: false };
    if (sum <= 0) {
        // No chunk carried a countable token: all of them at the last chunk (callers handle no chunk).
        const out = tokens.map(() => 0);
        if (out.length > 0)
            out[out.length - 1] = finalTokens;
        return { tokens: out, approximate: true };
    }
    const f = finalTokens / sum;
    return { tokens: tokens.map((t) => t * f), approximate: true };
}
/** The error text of an HTTP error body (OpenAI `{error: {message}}`, vLLM `{message}`, or raw text). */
function errorBodyMessage(text) {
    try {
        const j = JSON.parse(text);
        if (isRecord(j)) {
            if (isRecord(j.error) && typeof j.error.message === 'string')
                return j.error.message;
            if (typeof j.message === 'string')
                return j.message;
            if (typeof j.detail === 'string')
                return j.detail;
        }
    }
    catch {
        // not JSON
    }
    return text.trim().slice(0, 500);
}
function describeError(err) {
    const e = err;
    const code = typeof e?.code === 'string' ? e.code : undefined;
    const message = e instanceof Error ? e.message : String(err);
    const connection = (code !== undefined && CONNECTION_ERROR_CODES.has(code)) || message === 'socket hang up';
    return { message: code && !message.includes(code) ? `${code}: ${message}` : message, connection };
}
class StopReason extends Error {
}
export function createOpenAiLoad(opts) {
    return new OpenAiLoadImpl(opts);
}
class OpenAiLoadImpl {
    o;
    url;
    completionsUrl;
    mod;
    agent;
    controller = new AbortController();
    states = [];
    finished = [];
    inflight = new Set();
    builder = null;
    startPromise = null;
    workers = [];
    stopPromise = null;
    stopping = false;
    windowOpen = false;
    seq = 0;
    promptCounter = null;
    okCount = 0;
    /** Outcomes (true = success) of the last 2 × batch finished requests, aborts excluded. */
    recent = [];
    lastError = null;
    /** Last time any byte came from the server (or the loop started). */
    lastContactS = 0;
    failureError = null;
    onOuterAbort = () => {
        void this.stop().catch(() => { });
    };
    constructor(opts) {
        for (const key of ['batch', 'inputLen', 'outputLen']) {
            const v = opts[key];
            if (!Number.isInteger(v) || v < 1)
                throw new RangeError(`Expected \`${key}\` to be a positive integer, got \`${String(v)}\` (${typeof v})`);
        }
        if (opts.binS !== undefined && !(opts.binS > 0))
            throw new RangeError(`Expected \`binS\` to be positive, got \`${opts.binS}\``);
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
        this.completionsUrl = new URL('v1/completions', this.url);
        this.mod = this.url.protocol === 'https:' ? https : http;
        // Sockets for the closed loop plus a few for tokenize; keep-alive so a request reuses a connection.
        const agentOpts = { keepAlive: true, maxSockets: opts.batch + 4, maxFreeSockets: opts.batch + 4 };
        this.agent = this.url.protocol === 'https:' ? new https.Agent(agentOpts) : new http.Agent(agentOpts);
        // Every request in flight listens on the one abort signal (plus warm-up and back-off sleeps).
        setMaxListeners(2 * opts.batch + 16, this.controller.signal);
        if (opts.firstPromptIndex !== undefined)
            this.promptCounter = opts.firstPromptIndex;
        if (opts.signal) {
            if (opts.signal.aborted)
                this.onOuterAbort();
            else
                opts.signal.addEventListener('abort', this.onOuterAbort, { once: true });
        }
    }
    get failure() {
        return this.failureError;
    }
    get prompts() {
        return this.builder;
    }
    inFlight() {
        return this.inflight.size;
    }
    // ---- lifecycle ------------------------------------------------------------------------------
    async warmUp(opts) {
        await this.start();
        const { clock } = this.o;
        const t0 = clock.now();
        const okAtStart = this.okCount;
        for (;;) {
            if (this.failureError)
                throw this.failureError;
            if (this.stopping)
                throw new EngineError('the load was stopped during warm-up');
            if (clock.now() - t0 >= opts.minS && this.okCount - okAtStart >= opts.minRequests)
                return;
            try {
                await clock.sleep(20, this.controller.signal);
            }
            catch {
                // stopped or failed: the checks above say which
            }
        }
    }
    async openWindow() {
        await this.start();
        if (this.failureError)
            throw this.failureError;
        this.windowOpen = true;
        return this.o.clock.now();
    }
    async closeWindow() {
        return this.o.clock.now();
    }
    stop() {
        if (this.stopPromise)
            return this.stopPromise;
        this.stopping = true;
        this.controller.abort(new StopReason('the load was stopped'));
        this.stopPromise = (async () => {
            if (this.startPromise)
                await this.startPromise.catch(() => { });
            await Promise.all(this.workers);
            this.agent.destroy();
            this.o.signal?.removeEventListener('abort', this.onOuterAbort);
        })();
        return this.stopPromise;
    }
    start() {
        if (!this.startPromise) {
            this.startPromise = (async () => {
                if (this.stopping)
                    throw new EngineError('the load was stopped before it started');
                try {
                    const pool = await this.tokenizePool();
                    this.builder = createPromptBuilder(pool, this.o.inputLen, this.o.seed);
                }
                catch (err) {
                    if (this.stopping)
                        throw new EngineError('the load was stopped before it started');
                    const e = err instanceof EngineError ? err : new EngineError(`could not prepare prompts: ${describeError(err).message}`, { cause: err });
                    this.fail(e);
                    throw e;
                }
                if (this.stopping)
                    throw new EngineError('the load was stopped before it started');
                this.lastContactS = this.o.clock.now();
                for (let i = 0; i < this.o.batch; i++)
                    this.workers.push(this.worker());
            })();
        }
        return this.startPromise;
    }
    fail(err) {
        if (this.failureError || this.stopping)
            return;
        this.failureError = err;
        // The experiment fails with this; requests in flight are moot. Close the sockets once idle.
        this.controller.abort(err);
        void Promise.all(this.workers).then(() => this.agent.destroy());
    }
    // ---- prompts ----------------------------------------------------------------------------------
    async tokenizePool() {
        const text = seededText(this.o.seed, textWordsFor(this.o.inputLen));
        const body = this.o.dialect === 'vllm'
            ? { model: this.o.model, prompt: text, add_special_tokens: false }
            : { content: text, add_special: false };
        const { status, text: answer } = await this.postJson('tokenize', body, 60_000);
        if (status !== 200)
            throw new EngineError(`POST ${new URL('tokenize', this.url).href} answered HTTP ${status}: ${errorBodyMessage(answer)}`);
        let parsed;
        try {
            parsed = JSON.parse(answer);
        }
        catch {
            throw new EngineError(`POST /tokenize answered something that is not JSON: ${answer.slice(0, 200)}`);
        }
        const tokens = isRecord(parsed) ? parsed.tokens : undefined;
        if (!Array.isArray(tokens) || tokens.length === 0)
            throw new EngineError(`POST /tokenize answered no \`tokens\` array: ${answer.slice(0, 200)}`);
        // llama-server answers {id, piece} objects when asked with_pieces; accept both shapes.
        const ids = tokens.map((t) => (isRecord(t) ? t.id : t));
        if (!ids.every((t) => Number.isInteger(t) && t >= 0))
            throw new EngineError(`POST /tokenize answered tokens that are not token ids: ${answer.slice(0, 200)}`);
        return ids;
    }
    nextPromptIndex() {
        if (this.promptCounter === null) {
            // One shared counter per server: loads on the same server never reuse a prompt number.
            const key = this.url.href;
            const u = nextPromptIndexByServer.get(key) ?? 0;
            nextPromptIndexByServer.set(key, u + 1);
            return u;
        }
        return this.promptCounter++;
    }
    requestBody(prompt) {
        const { outputLen, model } = this.o;
        const body = this.o.dialect === 'vllm'
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
    async worker() {
        while (!this.stopping && !this.failureError) {
            const promptIndex = this.nextPromptIndex();
            const body = this.requestBody(this.builder.prompt(promptIndex));
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
                }
                catch {
                    // stopped
                }
            }
        }
    }
    newState(promptIndex, seq) {
        const st = {
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
            approximate: false,
        };
        this.states.push(st);
        this.inflight.add(st);
        return st;
    }
    discardState(st) {
        this.inflight.delete(st);
        const i = this.states.lastIndexOf(st);
        if (i >= 0)
            this.states.splice(i, 1);
    }
    /** One streaming request. Never rejects: every failure is an Outcome. */
    runRequest(st, body) {
        const { clock } = this.o;
        return new Promise((resolve) => {
            let settled = false;
            let responded = false;
            let timer = null;
            const settle = (kind, error, retryable = false) => {
                if (settled)
                    return;
                settled = true;
                if (timer)
                    clearTimeout(timer);
                resolve({ kind, error, retryable });
            };
            const signal = this.controller.signal;
            if (signal.aborted)
                return settle('aborted', this.abortMessage());
            let arrivalS = st.startS;
            const parser = new SseParser((ev) => this.onEvent(st, ev.data, arrivalS));
            const req = this.mod.request(this.completionsUrl, {
                method: 'POST',
                agent: this.agent,
                signal,
                headers: {
                    'content-type': 'application/json',
                    'content-length': Buffer.byteLength(body),
                    accept: 'text/event-stream',
                },
            });
            timer = setTimeout(() => {
                req.destroy();
                settle('timeout', `no complete answer within ${this.o.requestTimeoutS} s (requestTimeoutS)`);
            }, this.o.requestTimeoutS * 1000);
            req.on('error', (err) => {
                if (signal.aborted)
                    return settle('aborted', this.abortMessage());
                const d = describeError(err);
                if (!responded && d.connection)
                    return settle('connection', d.message, req.reusedSocket);
                settle(d.connection ? 'connection' : 'protocol', d.message);
            });
            req.on('response', (res) => {
                responded = true;
                this.lastContactS = clock.now();
                const status = res.statusCode ?? 0;
                if (status !== 200) {
                    let text = '';
                    res.setEncoding('utf8');
                    res.on('data', (s) => {
                        if (text.length < ERROR_BODY_MAX)
                            text += s;
                    });
                    res.on('end', () => settle('http', `HTTP ${status}: ${errorBodyMessage(text)}`));
                    res.on('error', () => settle('http', `HTTP ${status}: ${errorBodyMessage(text)}`));
                    return;
                }
                let ended = false;
                res.setEncoding('utf8');
                res.on('data', (s) => {
                    // One clock read per network read: every chunk in it arrived at the same moment.
                    arrivalS = clock.now();
                    this.lastContactS = arrivalS;
                    parser.push(s);
                });
                res.on('end', () => {
                    ended = true;
                    parser.end();
                    settle('ok', null);
                });
                res.on('error', (err) => {
                    if (signal.aborted)
                        return settle('aborted', this.abortMessage());
                    settle('connection', `connection lost mid-stream: ${describeError(err).message}`);
                });
                res.on('close', () => {
                    if (ended)
                        return;
                    if (signal.aborted)
                        return settle('aborted', this.abortMessage());
                    settle('connection', 'connection closed mid-stream');
                });
            });
            req.end(body);
        });
    }
    abortMessage() {
        return this.failureError ? `aborted: the load failed (${this.failureError.message})` : 'aborted: the load was stopped';
    }
    /** One SSE event of a completion stream. */
    onEvent(st, data, arrivalS) {
        if (data === '[DONE]') {
            st.sawDone = true;
            return;
        }
        let obj;
        try {
            obj = JSON.parse(data);
        }
        catch {
            st.streamError ??= `a stream chunk is not JSON: ${data.slice(0, 200)}`;
            return;
        }
        if (!isRecord(obj))
            return;
        if (obj.error !== undefined || obj.object === 'error') {
            const e = isRecord(obj.error) ? obj.error : obj;
            st.streamError ??= `the server sent an error in the stream: ${typeof e.message === 'string' ? e.message : JSON.stringify(e).slice(0, 300)}`;
            return;
        }
        // Cumulative output tokens: vLLM's continuous usage, else llama-server's per-token timings.
        const usage = isRecord(obj.usage) ? obj.usage : null;
        const timings = isRecord(obj.timings) ? obj.timings : null;
        let cumulative = null;
        if (usage) {
            const c = num(usage.completion_tokens);
            if (c !== null) {
                cumulative = c;
                st.finalCompletionTokens = c;
            }
            const p = num(usage.prompt_tokens);
            if (p !== null)
                st.promptTokens = p;
            const details = isRecord(usage.prompt_tokens_details) ? usage.prompt_tokens_details : null;
            const cached = details ? num(details.cached_tokens) : null;
            if (cached !== null)
                st.cachedPromptTokens = cached;
        }
        if (timings) {
            if (cumulative === null)
                cumulative = num(timings.predicted_n);
            const cacheN = num(timings.cache_n);
            if (cacheN !== null)
                st.cachedPromptTokens = cacheN;
        }
        const choices = Array.isArray(obj.choices) ? obj.choices : null;
        const choice = choices && choices.length > 0 ? choices[0] : null;
        let carried = 0;
        if (isRecord(choice)) {
            if (typeof choice.finish_reason === 'string')
                st.finishReason = choice.finish_reason;
            carried = tokensCarried(choice);
        }
        if (cumulative === null && carried > 0)
            st.usedFallback = true;
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
    finish(st, outcome) {
        this.inflight.delete(st);
        const endS = this.o.clock.now();
        let error = outcome.error;
        if (outcome.kind === 'ok')
            error = st.streamError ?? null;
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
            }
            else {
                const r = reconcileTokens(st.usedFallback ? st.carried : st.tokens, final);
                st.approximate = r.approximate;
                // Chunks left with no token after scaling are no token events.
                const times = [];
                const tokens = [];
                r.tokens.forEach((t, i) => {
                    if (t > 0) {
                        times.push(st.times[i]);
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
            }
            else if (st.promptTokens !== null && st.promptTokens !== inputLen) {
                error = `prompt_tokens ${st.promptTokens} != input_len ${inputLen}: the server changed the token-id prompt (added a BOS token?)`;
            }
            else if (st.finalCompletionTokens !== outputLen) {
                const fin = st.finishReason ? ` (finish_reason ${st.finishReason})` : '';
                const hint = st.finalCompletionTokens > outputLen
                    ? 'the server generated more than max_tokens'
                    : st.finishReason === 'length'
                        ? 'the context (max_model_len, or -c per slot) is too small?'
                        : 'EOS was not ignored?';
                error = `completion_tokens ${st.finalCompletionTokens} != output_len ${outputLen}${fin}: ${hint}`;
            }
        }
        const success = error === null;
        const itlMs = [];
        for (let i = 1; i < st.times.length; i++)
            itlMs.push((st.times[i] - st.times[i - 1]) * 1000);
        const record = {
            startS: st.startS,
            endS,
            success,
            error,
            promptTokens: st.promptTokens,
            // The server's usage; for a request cut off before its usage arrived, what the stream counted.
            outputTokens: st.finalCompletionTokens ?? (st.counted > 0 ? st.counted : null),
            ttftMs: st.times.length > 0 ? (st.times[0] - st.startS) * 1000 : null,
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
        if (outcome.kind === 'aborted')
            return;
        if (success)
            this.okCount++;
        else
            this.lastError = error;
        // The server is gone: connection errors and no byte from it for GONE_AFTER_S.
        if (outcome.kind === 'connection' && endS - this.lastContactS >= GONE_AFTER_S) {
            this.fail(new EngineError(`the server at ${this.o.baseUrl} is gone: ${error} (no answer for ${(endS - this.lastContactS).toFixed(1)} s)`));
            return;
        }
        // Every one of the last 2 × batch requests failed (connection errors have the rule above).
        if (outcome.kind === 'connection')
            return;
        const window = 2 * this.o.batch;
        this.recent.push(success);
        if (this.recent.length > window)
            this.recent.shift();
        if (this.recent.length === window && !this.recent.includes(true)) {
            this.fail(new EngineError(`all of the last ${window} requests to ${this.o.baseUrl} failed; last error: ${this.lastError ?? 'unknown'}`));
        }
    }
    // ---- small HTTP helper for JSON endpoints ------------------------------------------------------
    postJson(path, body, timeoutMs) {
        const payload = JSON.stringify(body);
        return new Promise((resolve, reject) => {
            const signal = AbortSignal.any([this.controller.signal, AbortSignal.timeout(timeoutMs)]);
            const req = this.mod.request(new URL(path, this.url), {
                method: 'POST',
                agent: this.agent,
                signal,
                headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
            });
            req.on('error', reject);
            req.on('response', (res) => {
                let text = '';
                res.setEncoding('utf8');
                res.on('data', (s) => (text += s));
                res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
                res.on('error', reject);
            });
            req.end(payload);
        });
    }
    // ---- pure computations over the recorded events ------------------------------------------------
    tokensBetween(fromS, toS) {
        let sum = 0;
        for (const st of this.states) {
            const { times, tokens } = st;
            const n = times.length;
            if (n === 0 || times[n - 1] < fromS || times[0] > toS)
                continue;
            for (let i = 0; i < n; i++) {
                const t = times[i];
                if (t >= fromS && t <= toS)
                    sum += tokens[i];
            }
        }
        return sum;
    }
    requestsCompletedBetween(fromS, toS) {
        let n = 0;
        for (const r of this.finished)
            if (r.success && r.endS >= fromS && r.endS <= toS)
                n++;
        return n;
    }
    segments(fromS, toS) {
        return binTokens(this.states, fromS, toS, this.o.binS);
    }
    requests() {
        return this.records();
    }
    records() {
        return [...this.finished].sort((a, b) => a.seq - b.seq);
    }
    tokenEvents() {
        const events = [];
        for (const st of this.states)
            for (let i = 0; i < st.times.length; i++)
                events.push({ tS: st.times[i], tokens: st.tokens[i] });
        return events.sort((a, b) => a.tS - b.tS);
    }
}
/** Tokens a chunk carries when the server sends no cumulative count. */
function tokensCarried(choice) {
    if (Array.isArray(choice.token_ids))
        return choice.token_ids.length;
    const lp = choice.logprobs;
    if (isRecord(lp)) {
        if (Array.isArray(lp.tokens))
            return lp.tokens.length; // OpenAI/vLLM completions logprobs
        if (Array.isArray(lp.content))
            return lp.content.length; // llama-server
    }
    return typeof choice.text === 'string' && choice.text.length > 0 ? 1 : 0;
}
/**
 * Fixed bins of `binS` over [fromS, toS] (the last one partial), each with the tokens that arrived in
 * it: bins are half-open [a, b) except the last, [a, toS], so the bins add up to tokensBetween. Pure.
 */
export function binTokens(events, fromS, toS, binS) {
    if (!(toS > fromS))
        return [];
    const count = Math.max(1, Math.ceil((toS - fromS) / binS - 1e-9));
    const segments = [];
    for (let i = 0; i < count; i++)
        segments.push({ fromS: fromS + i * binS, toS: i === count - 1 ? toS : fromS + (i + 1) * binS, tokens: 0 });
    for (const { times, tokens } of events) {
        const n = times.length;
        if (n === 0 || times[n - 1] < fromS || times[0] > toS)
            continue;
        for (let i = 0; i < n; i++) {
            const t = times[i];
            if (t < fromS || t > toS)
                continue;
            let k = Math.floor((t - fromS) / binS);
            if (k >= count)
                k = count - 1;
            // Floating point: make sure the event really lies inside its bin's half-open range.
            while (k > 0 && t < segments[k].fromS)
                k--;
            while (k < count - 1 && t >= segments[k + 1].fromS)
                k++;
            segments[k].tokens += tokens[i];
        }
    }
    return segments;
}
//# sourceMappingURL=openai-load.js.map