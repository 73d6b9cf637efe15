// Shared parts of the stub engines (tests/fakes/vllm, tests/fakes/llama-server): a deterministic
// tokenizer, a continuous-batching "GPU" that paces token generation, request statistics for the
// tests, and the HTTP plumbing. Node builtins only.
//
// Environment knobs (both stubs):
//   STUB_LOAD_DELAY_S=S        seconds of "model loading" before ready (default 1)
//   STUB_TOKENS_PER_S=N        decode speed of one sequence when it runs alone (default 400)
//   STUB_BATCH_SLOWDOWN=F      each extra running sequence makes a decode step F× longer (default 0.02)
//   STUB_SLOW_TOKEN_MS=MS      extra milliseconds added to every decode step
//   STUB_PREFILL_TOKENS_PER_S  prompt processing speed (default 200000)
//   STUB_TOKENS_PER_CHUNK=N    stream a chunk every N tokens (vLLM's --stream-interval; default 1)
//   STUB_CRASH_ON_START=1      die while loading, with the engine's real out-of-memory messages
//   STUB_HANG=1                listen, but never answer any request (/health included)
//   STUB_NEVER_LISTEN=1        load forever: never open the port
//   STUB_DIE_AFTER_S=N         exit N s after becoming ready, dropping connections mid-stream
//   STUB_DROP_EOS_FLAGS=1      behave like a server that does not know ignore_eos / min_tokens
//   STUB_NO_TOKEN_COUNTS=1     no running token counts in the stream (an older server: vLLM without
//                              continuous_usage_stats, llama-server without timings_per_token)
//   STUB_IGNORE_SIGTERM=1      ignore SIGTERM (to test the SIGKILL escalation)
// Test-only endpoints: GET /stub/stats (concurrency, prompts seen, pids), POST /stub/reset.
import http from 'node:http';
import { spawn } from 'node:child_process';

const env = process.env;

export function envNumber(name, fallback) {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const v = Number(raw);
  if (!Number.isFinite(v)) {
    process.stderr.write(`stub: ${name}=${raw} is not a number\n`);
    process.exit(2);
  }
  return v;
}

export const knobs = {
  loadDelayS: envNumber('STUB_LOAD_DELAY_S', 1),
  tokensPerS: envNumber('STUB_TOKENS_PER_S', 400),
  batchSlowdown: envNumber('STUB_BATCH_SLOWDOWN', 0.02),
  slowTokenMs: envNumber('STUB_SLOW_TOKEN_MS', 0),
  prefillTokensPerS: envNumber('STUB_PREFILL_TOKENS_PER_S', 200000),
  tokensPerChunk: Math.max(1, Math.floor(envNumber('STUB_TOKENS_PER_CHUNK', 1))),
  crashOnStart: env.STUB_CRASH_ON_START === '1',
  hang: env.STUB_HANG === '1',
  neverListen: env.STUB_NEVER_LISTEN === '1',
  dieAfterS: env.STUB_DIE_AFTER_S ? envNumber('STUB_DIE_AFTER_S', 0) : null,
  dropEosFlags: env.STUB_DROP_EOS_FLAGS === '1',
  noTokenCounts: env.STUB_NO_TOKEN_COUNTS === '1',
  ignoreSigterm: env.STUB_IGNORE_SIGTERM === '1',
};

export const out = (line) => process.stdout.write(`${line}\n`);
export const err = (line) => process.stderr.write(`${line}\n`);
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// Tokenizer: ids 0 <s>, 1 </s>, 2..257 the bytes 0x00..0xff, then common words, each as "word" and
// " word". Text splits into pieces (an optional space + a word, an optional space + one symbol, or
// one whitespace character); a piece in the vocabulary is one token, anything else falls back to its
// UTF-8 bytes. Deterministic and reversible: detokenize(tokenize(s)) === s.
// ---------------------------------------------------------------------------------------------
const WORDS = (
  'the of and to in is was that for on as with by he at from his an were are which this be or had not ' +
  'first one their its new after but who they has her she been two when there all during into school time ' +
  'may years more most only over city some world would where later up such used many can state about ' +
  'national out known university united then made other between through three several own well part since ' +
  'also under both while these area people american until work film team each before became second county ' +
  'high family number them early life however john being war following any called age season same ' +
  'against north south east west day because year music river government history public group long ' +
  'general born served series four did home last member around took played major large ' +
  'based within company name five small place power water light energy carbon token model engine measure ' +
  'window sample signal garden morning quiet market winter summer letter voice story simple center field ' +
  'green blue red little great good old right big different next young important few'
).split(' ');

export class Tokenizer {
  constructor() {
    this.BOS = 0;
    this.EOS = 1;
    this.pieces = ['<s>', '</s>'];
    for (let b = 0; b < 256; b++) this.pieces.push(null);
    const seen = new Set();
    for (const w of WORDS) {
      if (seen.has(w)) continue;
      seen.add(w);
      this.pieces.push(w, ` ${w}`);
    }
    this.index = new Map();
    this.pieces.forEach((p, id) => {
      if (p !== null && id > 1) this.index.set(p, id);
    });
    this.vocabSize = this.pieces.length;
    // Output tokens: the " word" forms, so generated text reads as words.
    this.outputIds = [];
    for (const [p, id] of this.index) if (p.startsWith(' ')) this.outputIds.push(id);
  }

  tokenize(text, addSpecial) {
    const ids = addSpecial ? [this.BOS] : [];
    const re = / ?[A-Za-z0-9']+| ?[^A-Za-z0-9'\s]|\s/gu;
    let m;
    let last = 0;
    while ((m = re.exec(text)) !== null) {
      if (m.index !== last) this.bytes(text.slice(last, m.index), ids); // (cannot happen; defensive)
      const id = this.index.get(m[0]);
      if (id !== undefined) ids.push(id);
      else this.bytes(m[0], ids);
      last = m.index + m[0].length;
    }
    if (last < text.length) this.bytes(text.slice(last), ids);
    return ids;
  }

  bytes(s, ids) {
    for (const b of Buffer.from(s, 'utf8')) ids.push(2 + b);
  }

  valid(id) {
    return Number.isInteger(id) && id >= 0 && id < this.vocabSize;
  }

  /** Text of `ids`; special tokens are skipped (skip_special_tokens), byte runs are decoded as UTF-8. */
  detokenize(ids) {
    let text = '';
    let bytes = [];
    const flush = () => {
      if (bytes.length > 0) text += Buffer.from(bytes).toString('utf8');
      bytes = [];
    };
    for (const id of ids) {
      if (id >= 2 && id < 258) bytes.push(id - 2);
      else {
        flush();
        if (id > 1) text += this.pieces[id] ?? '';
      }
    }
    flush();
    return text;
  }

  /** The text of one token as vLLM shows it in decoded_token. */
  piece(id) {
    if (id >= 2 && id < 258) return Buffer.from([id - 2]).toString('utf8');
    return this.pieces[id] ?? '';
  }
}

// ---------------------------------------------------------------------------------------------
// Deterministic "model": greedy output depends only on the prompt; EOS appears now and then (a test
// must catch a server that does not ignore it).
// ---------------------------------------------------------------------------------------------
export function hash32(a, b) {
  let h = (Math.imul(a >>> 0, 0x9e3779b1) ^ Math.imul((b >>> 0) + 0x7f4a7c15, 0x85ebca6b)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d) >>> 0;
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

export function promptHash(ids) {
  let h = 0x811c9dc5;
  for (const id of ids) h = hash32(h, id);
  return h;
}

/** About one EOS every EOS_EVERY tokens when EOS is not ignored. */
const EOS_EVERY = 50;

export function makeModel(tokenizer) {
  return {
    eosId: tokenizer.EOS,
    /** The i-th output token (0-based): the best word `id`, and whether EOS would beat it. */
    next(h, i) {
      const r = hash32(h, i + 1);
      return { id: tokenizer.outputIds[(r >>> 8) % tokenizer.outputIds.length], eos: r % EOS_EVERY === 0 };
    },
    /** Deterministic log-probability of `token` after `prev` (always ≤ −0.5). */
    logprob(prev, token) {
      return -(0.5 + (hash32(prev + 7, token) % 700) / 100);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Continuous batching: every decode step, each running sequence gets one token. A step takes
// 1/tokensPerS × (1 + slowdown × (running − 1)) + slowTokenMs, like a GPU whose step time grows with
// the batch. At most maxSeqs sequences run; the rest wait in a queue (vLLM's --max-num-seqs,
// llama-server's -np slots).
// ---------------------------------------------------------------------------------------------
export class BatchEngine {
  constructor({ maxSeqs }) {
    this.maxSeqs = maxSeqs;
    this.running = [];
    this.waiting = [];
    this.timer = null;
    this.nextStepAt = 0;
  }

  /**
   * seq: { promptLen, maxTokens, minTokens, ignoreEos, hash, model, onAdmit?(), onTokens(ids, finish) }
   * finish is null, 'length' or 'stop'. Returns a cancel function.
   */
  submit(seq) {
    seq.generated = 0;
    seq.pending = [];
    seq.done = false;
    this.waiting.push(seq);
    this.admit();
    return () => this.cancel(seq);
  }

  cancel(seq) {
    if (seq.done) return;
    seq.done = true;
    this.running = this.running.filter((s) => s !== seq);
    this.waiting = this.waiting.filter((s) => s !== seq);
    this.admit();
  }

  admit() {
    const now = performance.now();
    while (this.running.length < this.maxSeqs && this.waiting.length > 0) {
      const seq = this.waiting.shift();
      seq.readyAt = now + (seq.promptLen / knobs.prefillTokensPerS) * 1000;
      seq.onAdmit?.();
      this.running.push(seq);
    }
    this.schedule();
  }

  stepMs() {
    const n = Math.max(1, this.running.length);
    return (1000 / knobs.tokensPerS) * (1 + knobs.batchSlowdown * (n - 1)) + knobs.slowTokenMs;
  }

  schedule() {
    if (this.timer || this.running.length === 0) return;
    const now = performance.now();
    if (this.nextStepAt < now - 50) this.nextStepAt = now; // idle or late: do not try to catch up
    let at = Math.max(this.nextStepAt, now);
    const earliestReady = Math.min(...this.running.map((s) => s.readyAt));
    if (earliestReady > at) at = earliestReady;
    this.timer = setTimeout(() => this.step(), Math.max(0, at - now));
  }

  step() {
    this.timer = null;
    const now = performance.now();
    this.nextStepAt = Math.max(this.nextStepAt, now - 50) + this.stepMs();
    const finished = [];
    for (const seq of this.running) {
      if (seq.readyAt > now) continue;
      // EOS is allowed once min_tokens were generated, unless ignored; a suppressed EOS gives way to the
      // next-best token (always a word).
      const { id, eos } = seq.model.next(seq.hash, seq.generated);
      const stopsHere = eos && !seq.ignoreEos && seq.generated >= seq.minTokens;
      seq.generated++;
      seq.pending.push(stopsHere ? seq.model.eosId : id);
      let finish = null;
      if (stopsHere) finish = 'stop';
      else if (seq.generated >= seq.maxTokens) finish = 'length';
      if (finish || seq.pending.length >= knobs.tokensPerChunk) {
        const ids = seq.pending;
        seq.pending = [];
        if (finish) {
          seq.done = true;
          finished.push(seq);
        }
        seq.onTokens(ids, finish);
      }
    }
    if (finished.length > 0) this.running = this.running.filter((s) => !s.done);
    this.admit();
  }
}

// ---------------------------------------------------------------------------------------------
// Statistics for the tests: concurrency of completion requests (max and time-weighted), prompts seen.
// ---------------------------------------------------------------------------------------------
export class Stats {
  constructor() {
    this.reset();
  }

  reset() {
    this.inFlight = this.inFlight ?? 0;
    this.maxInFlight = this.inFlight;
    this.completions = 0;
    this.prompts = [];
    this.lastBody = null;
    this.concurrencyS = {};
    this.since = performance.now();
  }

  account() {
    const now = performance.now();
    const k = String(this.inFlight);
    this.concurrencyS[k] = (this.concurrencyS[k] ?? 0) + (now - this.since) / 1000;
    this.since = now;
  }

  begin(promptIds, body) {
    this.account();
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    this.completions++;
    this.lastBody = { ...body, prompt: Array.isArray(body.prompt) ? `[${body.prompt.length} items]` : body.prompt };
    // Length and the first 32 ids: enough to check exact lengths and unique prefixes.
    if (promptIds) this.prompts.push({ len: promptIds.length, head: promptIds.slice(0, 32).join(',') });
  }

  end() {
    this.account();
    this.inFlight--;
  }

  snapshot(extra) {
    this.account();
    return {
      inFlight: this.inFlight,
      maxInFlight: this.maxInFlight,
      completions: this.completions,
      concurrencyS: this.concurrencyS,
      prompts: this.prompts,
      lastBody: this.lastBody,
      ...extra,
    };
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP plumbing
// ---------------------------------------------------------------------------------------------
export function readBody(req) {
  return new Promise((resolve) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => resolve(''));
  });
}

export function sendJson(res, status, obj) {
  const body = obj === undefined ? '' : JSON.stringify(obj);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

export function startSse(res) {
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
}

export function sse(res, obj) {
  res.write(`data: ${typeof obj === 'string' ? obj : JSON.stringify(obj)}\n\n`);
}

/**
 * The HTTP server of a stub: `handle(req, res, url)` answers; `logLine(req, res)` is printed when a
 * response finishes. STUB_HANG holds every request forever.
 */
export function createServer({ handle, logLine }) {
  const sockets = new Set();
  const server = http.createServer((req, res) => {
    if (knobs.hang) return; // never answer
    res.on('finish', () => out(logLine(req, res)));
    const url = new URL(req.url ?? '/', 'http://stub');
    Promise.resolve(handle(req, res, url)).catch((e) => {
      err(`stub: handler failed: ${e?.stack ?? e}`);
      if (!res.headersSent) sendJson(res, 500, { error: { message: String(e?.message ?? e), code: 500 } });
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5000; // uvicorn's and cpp-httplib's default idle timeout is 5 s too
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return { server, sockets };
}

/** Listens on host:port; an address in use exits 1 like the real servers. */
export function listen(server, host, port, onError) {
  return new Promise((resolve) => {
    server.once('error', (e) => {
      onError(e);
      process.exit(1);
    });
    server.listen(port, host, () => resolve());
  });
}

/** STUB_DIE_AFTER_S: exit abruptly (connections drop mid-stream). */
export function armDieAfter(message, beforeExit) {
  if (knobs.dieAfterS === null) return;
  setTimeout(() => {
    err(message);
    beforeExit?.();
    process.exit(1);
  }, knobs.dieAfterS * 1000);
}

/** SIGTERM/SIGINT: shut down (or, with STUB_IGNORE_SIGTERM, refuse to). */
export function onShutdown(message, cleanup) {
  const handler = (sig) => {
    if (knobs.ignoreSigterm && sig === 'SIGTERM') {
      err(`stub: ignoring ${sig}`);
      return;
    }
    out(message);
    cleanup?.();
    process.exit(0);
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}

/** A child process that lives as long as the server (vLLM's engine-core process). */
export function spawnChild(title) {
  const child = spawn(process.execPath, ['-e', `process.title = ${JSON.stringify(title)}; setInterval(() => {}, 1 << 30);`], {
    stdio: 'ignore',
  });
  return child;
}

/** Timestamp in vLLM's log format: MM-DD HH:MM:SS. */
export function vllmStamp() {
  const d = new Date();
  const p = (n) => String(n).padStart(2, '0');
  return `${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** Keeps the process alive without doing anything (STUB_NEVER_LISTEN). */
export function idleForever() {
  setInterval(() => {}, 1 << 30);
}
