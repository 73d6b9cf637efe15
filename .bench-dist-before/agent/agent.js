/**
 * The LLM planner (DESIGN section 7): one chat-completions call per step against any OpenAI-compatible
 * endpoint (the `openai` package), validated against the space; anything else falls back to the
 * strategy's first candidate, and repeated failures switch the agent off for the run.
 *
 * The agent chooses configs only: its answer is parsed as data (validate.ts) and never reaches a shell,
 * a file path or SQL text. The caller calls `choose` between experiments, never during a measurement
 * window.
 *
 * Secrets: the API key lives in private fields only (not enumerable, not in toJSON), is sent as
 * `Authorization: Bearer …` by the openai client, and is masked out of every note, log line and error
 * this module produces (including text echoed back by the endpoint).
 */
import { promises as dns } from 'node:dns';
import { hostname as osHostname, networkInterfaces } from 'node:os';
import OpenAI from 'openai';
import { CarbonbenchError, InputError } from '../errors.js';
import { maskSecrets, secretValues } from '../log.js';
import { buildMessages, formatPoint } from './prompt.js';
import { answerJsonSchema, sanitizeText, validateAnswer } from './validate.js';
/** The agent is misconfigured (missing base URL or key, bad URL): the run turns this into "agent off". */
export class AgentConfigError extends InputError {
}
export const DEFAULT_AGENT_TIMEOUT_MS = 60_000;
export const DEFAULT_MAX_CONSECUTIVE_FAILURES = 3;
/** Shorter values (`EMPTY`, `none`: dummies for local servers) are not secrets and would garble notes. */
const MIN_MASKED_KEY_CHARS = 8;
export function machineIdentity() {
    const full = osHostname().toLowerCase();
    const short = full.split('.')[0] ?? full;
    const addresses = [];
    for (const list of Object.values(networkInterfaces()))
        for (const a of list ?? [])
            addresses.push(a.address.toLowerCase());
    return { hostnames: [...new Set([full, short])].filter((h) => h !== ''), addresses };
}
/** The URL's host in a comparable form: lower case, no IPv6 brackets, no trailing dot. */
function normalizedHost(baseUrl) {
    let url;
    try {
        url = new URL(baseUrl);
    }
    catch {
        return null;
    }
    return url.hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
}
function isLoopbackAddress(host) {
    if (/^\d+\.\d+\.\d+\.\d+$/.test(host))
        return host.startsWith('127.') || host === '0.0.0.0';
    if (host === '::1' || host === '::')
        return true;
    // IPv4-mapped IPv6; WHATWG URL writes ::ffff:127.0.0.1 as ::ffff:7f00:1.
    const mapped = /^::ffff:(?:(\d+)\.\d+\.\d+\.\d+|([0-9a-f]{1,4}):[0-9a-f]{1,4})$/.exec(host);
    if (mapped) {
        const firstOctet = mapped[1] !== undefined ? Number(mapped[1]) : parseInt(mapped[2], 16) >> 8;
        return firstOctet === 127;
    }
    return false;
}
/**
 * Whether the endpoint runs on this machine: localhost (and *.localhost), 127.0.0.0/8, 0.0.0.0, ::1,
 * IPv4-mapped loopback, one of this machine's interface addresses, or its host name. A local model on
 * the GPU under test changes idle power and free memory, so the run records this.
 *
 * Host names are matched generously (the short name, or the short name followed by a domain) because a
 * false "local" only adds a flag to the run, while a missed one hides a confound. Other names that
 * resolve to this machine through DNS need `resolvesToThisMachine`.
 */
export function isLocalEndpoint(baseUrl, machine = machineIdentity()) {
    const host = normalizedHost(baseUrl);
    if (host === null || host === '')
        return false;
    if (host === 'localhost' || host.endsWith('.localhost'))
        return true;
    if (isLoopbackAddress(host))
        return true;
    if (machine.addresses.some((a) => a.toLowerCase() === host))
        return true;
    return machine.hostnames.some((h) => h !== '' && (host === h || host.startsWith(`${h}.`)));
}
/** isLocalEndpoint, plus a DNS lookup of the host compared with this machine's addresses. Never throws. */
export async function resolvesToThisMachine(baseUrl, machine = machineIdentity(), lookup = async (host) => (await dns.lookup(host, { all: true })).map((a) => a.address)) {
    if (isLocalEndpoint(baseUrl, machine))
        return true;
    const host = normalizedHost(baseUrl);
    if (host === null || host === '')
        return false;
    try {
        const addresses = (await lookup(host)).map((a) => a.toLowerCase());
        return addresses.some((a) => isLoopbackAddress(a) || machine.addresses.includes(a));
    }
    catch {
        return false;
    }
}
/** Strips credentials, query and fragment from a URL for logs and notes. */
function displayUrl(u) {
    return `${u.origin}${u.pathname.replace(/\/$/, '')}`;
}
export class PlannerAgent {
    model;
    /** The endpoint without credentials, query or fragment (safe to log and store). */
    baseUrl;
    isLocalEndpoint;
    timeoutMs;
    maxConsecutiveFailures;
    #apiKey;
    #client;
    #log;
    #prompt;
    #consecutiveFailures = 0;
    #disabledReason = null;
    /** null: not known yet; false: the endpoint rejected it once and plain answers worked. */
    #responseFormat = null;
    constructor(opts) {
        const urlEnv = opts.baseUrlEnv ?? 'the base URL';
        const keyEnv = opts.apiKeyEnv ?? 'the API key';
        if (opts.baseUrl === undefined || opts.baseUrl.trim() === '') {
            throw new AgentConfigError(`agent: ${opts.baseUrlEnv ? `environment variable ${opts.baseUrlEnv}` : urlEnv} is not set; set it to the OpenAI-compatible endpoint (e.g. https://api.openai.com/v1 or http://127.0.0.1:8000/v1), or run with --no-agent`);
        }
        if (opts.apiKey === undefined || opts.apiKey === '') {
            throw new AgentConfigError(`agent: ${opts.apiKeyEnv ? `environment variable ${opts.apiKeyEnv}` : keyEnv} is not set; set it to the endpoint's API key (any non-empty value for a server without authentication), or run with --no-agent`);
        }
        this.#apiKey = opts.apiKey;
        let url;
        try {
            url = new URL(opts.baseUrl.trim());
        }
        catch {
            throw new AgentConfigError(`agent: ${urlEnv} ${JSON.stringify(this.#mask(sanitizeText(opts.baseUrl, 200)))} is not a URL; allowed: an http:// or https:// URL such as https://api.openai.com/v1`);
        }
        if (url.protocol !== 'http:' && url.protocol !== 'https:') {
            throw new AgentConfigError(`agent: ${urlEnv} has the scheme ${JSON.stringify(url.protocol)}; allowed: http: or https:`);
        }
        if (url.username !== '' || url.password !== '') {
            throw new AgentConfigError(`agent: ${urlEnv} contains credentials (user:password@); remove them and put the key in ${keyEnv}`);
        }
        if (opts.model.trim() === '')
            throw new AgentConfigError('agent: agent.model is empty; allowed: the model name the endpoint serves');
        const timeoutMs = opts.timeoutMs ?? DEFAULT_AGENT_TIMEOUT_MS;
        if (!Number.isFinite(timeoutMs) || timeoutMs <= 0)
            throw new AgentConfigError(`agent: timeoutMs must be a positive number of milliseconds, got ${timeoutMs}`);
        const maxFailures = opts.maxConsecutiveFailures ?? DEFAULT_MAX_CONSECUTIVE_FAILURES;
        if (!Number.isInteger(maxFailures) || maxFailures < 1)
            throw new AgentConfigError(`agent: maxConsecutiveFailures must be an integer >= 1, got ${maxFailures}`);
        this.model = opts.model;
        this.baseUrl = displayUrl(url);
        this.timeoutMs = timeoutMs;
        this.maxConsecutiveFailures = maxFailures;
        this.isLocalEndpoint = isLocalEndpoint(url.href, opts.machine);
        this.#log = opts.log;
        this.#prompt = opts.prompt ?? {};
        this.#client = new OpenAI({
            apiKey: opts.apiKey,
            baseURL: url.href,
            timeout: timeoutMs,
            // No retries: a failed step falls back at once and the next step tries again; retrying 429s and
            // 5xx with back-off would stall the sweep between experiments.
            maxRetries: 0,
            // The client's own console logging is off: everything goes through our logger, masked.
            logLevel: 'off',
            // Do not pick up OPENAI_ORG_ID / OPENAI_PROJECT_ID from the environment for a foreign endpoint.
            organization: null,
            project: null,
        });
    }
    get disabled() {
        return this.#disabledReason !== null;
    }
    get disabledReason() {
        return this.#disabledReason;
    }
    get consecutiveFailures() {
        return this.#consecutiveFailures;
    }
    /** Whether structured output (`response_format`) is used: null until the first answer tells. */
    get responseFormatSupported() {
        return this.#responseFormat;
    }
    /** Safe to log or store: no key. */
    toJSON() {
        return { model: this.model, baseUrl: this.baseUrl, isLocalEndpoint: this.isLocalEndpoint, disabled: this.disabled, disabledReason: this.#disabledReason };
    }
    /** Switches the agent off for the rest of the run (also used by the runner, e.g. on --no-agent mid-run). */
    disable(reason) {
        if (this.#disabledReason === null)
            this.#disabledReason = this.#mask(sanitizeText(reason, 500));
    }
    /**
     * One step: asks the endpoint once (twice when it rejects response_format), validates, and falls back
     * to the strategy's first candidate on any failure. Never throws, except for a context without
     * candidates (a caller bug: there is nothing to fall back to).
     */
    async choose(ctx) {
        const fallbackPoint = ctx.candidates[0];
        if (fallbackPoint === undefined)
            throw new CarbonbenchError(`agent: choose() needs at least one candidate from the ${ctx.phase} strategy to fall back to`);
        const fallback = (note) => ({
            proposal: { point: fallbackPoint, phase: ctx.phase, rationale: ctx.candidateRationale ?? `${ctx.phase} strategy's first candidate` },
            source: 'fallback',
            note: this.#mask(note),
        });
        if (this.#disabledReason !== null)
            return fallback(`agent off: ${this.#disabledReason}`);
        const startedMs = Date.now();
        const answer = await this.#ask(ctx);
        let reason;
        if (answer.ok) {
            const taken = [...ctx.history.map((o) => o.point), ...(ctx.pending ?? [])];
            const v = validateAnswer(answer.content, ctx.space, taken);
            if (v.ok) {
                this.#consecutiveFailures = 0;
                const rationale = this.#mask(v.rationale);
                this.#log.info({ agent: this.model, config: formatPoint(v.point), durationMs: Date.now() - startedMs, rationale: rationale.slice(0, 300) }, 'agent: proposal accepted');
                return { proposal: { point: v.point, phase: ctx.phase, rationale }, source: 'agent', note: answer.info, notebook: v.notebook === null ? null : this.#mask(v.notebook) };
            }
            reason = `answer rejected: ${v.reason}`;
        }
        else {
            reason = answer.reason;
        }
        reason = this.#mask(reason);
        this.#consecutiveFailures += 1;
        this.#log.warn({ agent: this.model, reason, consecutiveFailures: this.#consecutiveFailures, durationMs: Date.now() - startedMs, fallback: formatPoint(fallbackPoint) }, "agent: falling back to the strategy's candidate");
        let note = `agent: ${reason}; used the ${ctx.phase} strategy's first candidate`;
        if (this.#consecutiveFailures >= this.maxConsecutiveFailures) {
            this.disable(`${this.#consecutiveFailures} consecutive failures (last: ${reason})`);
            this.#log.warn({ agent: this.model, reason: this.#disabledReason }, 'agent: switched off for the rest of the run');
            note += `; agent switched off for the rest of the run after ${this.#consecutiveFailures} consecutive failures`;
        }
        if (answer.ok && answer.info)
            note += `; ${answer.info}`;
        return fallback(note);
    }
    /** Masks the key (and cleans the text) in anything that leaves this class. */
    #mask(text) {
        // Fix (issue 6, tests/faults/secrets.test.ts): only the agent's own key was masked, so another secret
        // of the environment (OPENAI_API_KEY, HF_TOKEN, …) that the endpoint wrote into an answer was stored
        // verbatim in results.db (rationale, notes) and shown in the report. Mask those too, by the rule the
        // logger uses (src/log.ts secretValues).
        const secrets = [...(this.#apiKey.length >= MIN_MASKED_KEY_CHARS ? [this.#apiKey] : []), ...secretValues()].sort((a, b) => b.length - a.length);
        return maskSecrets(text, secrets);
    }
    async #ask(ctx) {
        const messages = buildMessages(ctx, this.#prompt);
        if (this.#responseFormat === false) {
            const r = await this.#request(messages, null);
            return r.ok ? { ...r, info: null } : r;
        }
        const schema = answerJsonSchema(ctx.space);
        const first = await this.#request(messages, schema);
        if (first.ok) {
            this.#responseFormat = true;
            return { ...first, info: null };
        }
        // 400/422 with response_format: many OpenAI-compatible servers do not know json_schema. Retry once
        // without it; remember only if the plain request then works (a 400 for another reason, say a too
        // long prompt, fails again and changes nothing).
        if (this.#responseFormat === null && (first.status === 400 || first.status === 422)) {
            this.#log.debug({ agent: this.model, reason: first.reason }, 'agent: retrying without response_format');
            const second = await this.#request(messages, null);
            if (second.ok) {
                this.#responseFormat = false;
                return {
                    ...second,
                    info: `the endpoint rejected response_format (HTTP ${first.status}); answers are requested as plain JSON for the rest of the run`,
                };
            }
            return second;
        }
        return first;
    }
    async #request(messages, schema) {
        // Our own deadline on top of the client's timeout: it also covers reading the body.
        const controller = new AbortController();
        const timer = setTimeout(() => controller.abort(), this.timeoutMs);
        try {
            const completion = await this.#client.chat.completions.create({
                model: this.model,
                messages,
                ...(schema ? { response_format: { type: 'json_schema', json_schema: { name: 'carbonbench_next_config', strict: true, schema } } } : {}),
            }, { signal: controller.signal, timeout: this.timeoutMs, maxRetries: 0 });
            // The endpoint is not trusted to follow the format: read the answer as unknown.
            const choices = typeof completion === 'object' && completion !== null ? completion.choices : undefined;
            if (!Array.isArray(choices))
                return { ok: false, reason: 'the endpoint did not answer with a chat completion (no choices list)', status: null };
            if (choices.length === 0)
                return { ok: false, reason: 'the answer had no choices', status: null };
            const message = choices[0]?.message;
            const content = message?.content;
            if (typeof content !== 'string' || content.trim() === '') {
                const refusal = message?.refusal;
                return {
                    ok: false,
                    reason: typeof refusal === 'string' && refusal !== '' ? `the model refused: ${sanitizeText(refusal, 200)}` : 'the answer had no content',
                    status: null,
                };
            }
            return { ok: true, content };
        }
        catch (err) {
            return { ok: false, ...this.#describeError(err, controller.signal.aborted) };
        }
        finally {
            clearTimeout(timer);
        }
    }
    #describeError(err, aborted) {
        const seconds = `${Number((this.timeoutMs / 1000).toPrecision(3))} s`;
        if (aborted || err instanceof OpenAI.APIConnectionTimeoutError || err instanceof OpenAI.APIUserAbortError) {
            return { reason: `timed out after ${seconds}`, status: null };
        }
        if (err instanceof OpenAI.APIError && typeof err.status === 'number') {
            const status = err.status;
            // The client's message starts with the status ("429 Rate limit reached"): keep only the words.
            const detail = this.#mask(sanitizeText(err.message.replace(/^\d{3}\s+/, ''), 200));
            if (status === 429)
                return { reason: `rate limited (HTTP 429): ${detail}`, status };
            return { reason: `the endpoint answered HTTP ${status}: ${detail}`, status };
        }
        if (err instanceof OpenAI.APIConnectionError) {
            const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
            return { reason: `cannot reach the endpoint ${this.baseUrl}${this.#mask(sanitizeText(cause, 200))}`, status: null };
        }
        const message = err instanceof Error ? err.message : String(err);
        return { reason: `request failed: ${this.#mask(sanitizeText(message, 200))}`, status: null };
    }
}
/**
 * The agent for program.md's `agent:` block, reading the base URL and key from the environment variables
 * it names. Throws AgentConfigError when one is missing; the run records "agent off" and goes on.
 */
export function plannerAgentFromProgram(agent, opts) {
    const env = opts.env ?? process.env;
    return new PlannerAgent({
        model: agent.model,
        baseUrl: env[agent.base_url_env],
        apiKey: env[agent.api_key_env],
        baseUrlEnv: agent.base_url_env,
        apiKeyEnv: agent.api_key_env,
        log: opts.log,
        ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
        ...(opts.maxConsecutiveFailures !== undefined ? { maxConsecutiveFailures: opts.maxConsecutiveFailures } : {}),
        ...(opts.machine ? { machine: opts.machine } : {}),
    });
}
//# sourceMappingURL=agent.js.map