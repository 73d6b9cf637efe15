#!/usr/bin/env node
// A minimal OpenAI-compatible completions server for the load-generator benchmark (bench/client.mjs),
// run as its own process so that the client's CPU is measured alone. It speaks the vLLM dialect that
// src/workload/openai-load.ts sends (POST /tokenize, POST /v1/completions with stream,
// stream_options.include_usage + continuous_usage_stats) and streams chunks of vLLM's shape: one
// token per chunk with the running usage, a final `choices: []` usage chunk, then `data: [DONE]`.
//
// Pacing: a decode loop like a continuous-batching engine. Every step writes one chunk to each running
// stream, then yields to the event loop (setImmediate) so new requests join; with --step-ms the steps
// are paced (a step every that many ms), without it the stub streams as fast as it can.
// Backpressure is honoured: a stream whose socket still holds unsent bytes gets no new chunk until
// that write completes (otherwise chunks would pile up in this process and their "send times" would
// be the times they were queued, not sent). The HTTP chunked framing is written straight to the socket:
// ServerResponse.write corks the socket until the next tick, which would send every chunk of a step
// together after the step, later than stamped.
//
// Send times: for every token chunk, the time the bytes were handed to the kernel (epoch seconds from
// performance.timeOrigin + performance.now(): sub-microsecond resolution, and the same time base as
// the client's clock in bench/client.mjs). A chunk written to a socket with an empty buffer is sent
// during the write call; one that had to wait is stamped when its write completes. GET /sendlog
// answers and clears the log: { "<first 8 prompt token ids>": [send times of the token chunks] } of
// the requests finished since the last call; GET /cpu: this process's CPU and step counters.
//
// Usage: node bench/lib/stream-stub.mjs [--port N] [--step-ms MS]
// Prints {"port": N} on stdout once it listens; stops on SIGTERM/SIGINT.
import http from 'node:http';
import { performance } from 'node:perf_hooks';

const argv = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = argv.indexOf(name);
  return i >= 0 && i + 1 < argv.length ? Number(argv[i + 1]) : fallback;
};
const port = opt('--port', 0);
const stepMs = opt('--step-ms', 0);

const origin = performance.timeOrigin;
const nowS = () => (origin + performance.now()) / 1000;

// Tokenizer: each word → a stable id in [1000, 33000).
function wordId(word) {
  let h = 2166136261;
  for (let i = 0; i < word.length; i++) h = Math.imul(h ^ word.charCodeAt(i), 16777619);
  return 1000 + ((h >>> 0) % 32000);
}

/** Finished requests since the last /sendlog: key → send times. */
let sendLog = {};
/** Streams being decoded. */
const active = new Set();
let scheduled = false;
let counter = 0;
/** Counters for /cpu: decode steps, chunks written, chunks that had to wait for the socket. */
const counts = { steps: 0, chunks: 0, queued: 0 };
const created = Math.floor(Date.now() / 1000);

// Paced steps run on a fixed grid (t0 + k × stepMs), so timer rounding does not slow the average rate.
let gridStartMs = null;
let nextStep = 0;

function schedule() {
  if (scheduled) return;
  scheduled = true;
  if (!(stepMs > 0)) return void setImmediate(step);
  const nowMs = performance.now();
  if (gridStartMs === null || nowMs - (gridStartMs + nextStep * stepMs) > 50 * stepMs) {
    // First step, or idle for a while: start a new grid.
    gridStartMs = nowMs;
    nextStep = 0;
  }
  const dueMs = gridStartMs + ++nextStep * stepMs;
  setTimeout(step, Math.max(0, dueMs - nowMs));
}

function step() {
  scheduled = false;
  counts.steps++;
  let ready = 0;
  for (const s of active) {
    if (s.blocked) continue;
    writeNext(s);
    if (!s.blocked && active.has(s)) ready++;
  }
  if (ready > 0) schedule();
}

/** One HTTP/1.1 chunk (the response's own chunked framing, written straight to the socket). */
function frame(text) {
  return `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`;
}

function writeNext(s) {
  const n = ++s.sent;
  const last = n === s.maxTokens;
  const chunk =
    s.head +
    (last ? '"length"' : 'null') +
    ',"stop_reason":null}],"usage":{"prompt_tokens":' +
    s.promptTokens +
    ',"total_tokens":' +
    (s.promptTokens + n) +
    ',"completion_tokens":' +
    n +
    '}}\n\n';
  const socket = s.socket;
  let queued = false;
  socket.write(frame(chunk), () => {
    if (!queued) return;
    // The bytes that had to wait reached the kernel now.
    s.sends[n - 1] = nowS();
    s.blocked = false;
    if (s.done) sendLog[s.key] = Array.from(s.sends);
    else schedule();
  });
  counts.chunks++;
  if (socket.writableLength > 0) {
    counts.queued++;
    queued = true;
    s.blocked = true;
  } else {
    s.sends[n - 1] = nowS();
  }
  if (last) finish(s);
}

function finish(s) {
  active.delete(s);
  s.socket.write(frame(`data: {"id":"${s.id}","object":"text_completion","created":${created},"model":"${s.model}","choices":[],"usage":{"prompt_tokens":${s.promptTokens},"total_tokens":${s.promptTokens + s.sent},"completion_tokens":${s.sent}}}\n\ndata: [DONE]\n\n`));
  // The response wrote no body bytes itself: end() adds only the terminating 0-length chunk.
  s.res.end();
  s.done = true;
  if (!s.blocked) sendLog[s.key] = Array.from(s.sends);
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d) => (body += d));
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}

function sendJson(res, status, obj) {
  const body = JSON.stringify(obj);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

const server = http.createServer(async (req, res) => {
  const url = req.url ?? '/';
  if (req.method === 'GET' && url === '/health') return sendJson(res, 200, {});
  if (req.method === 'GET' && url === '/sendlog') {
    const log = sendLog;
    sendLog = {};
    return sendJson(res, 200, log);
  }
  if (req.method === 'GET' && url === '/cpu') return sendJson(res, 200, { cpu: process.cpuUsage(), t: nowS(), ...counts });
  if (req.method !== 'POST') return sendJson(res, 404, { detail: 'Not Found' });
  let body;
  try {
    body = JSON.parse(await readBody(req));
  } catch {
    return sendJson(res, 400, { message: 'body is not JSON' });
  }
  if (url === '/tokenize') {
    const words = String(body.prompt ?? body.content ?? '').split(/\s+/).filter(Boolean);
    const tokens = words.map(wordId);
    return sendJson(res, 200, { count: tokens.length, max_model_len: 1 << 20, tokens });
  }
  if (url !== '/v1/completions') return sendJson(res, 404, { detail: 'Not Found' });
  const prompt = body.prompt;
  const maxTokens = body.max_tokens;
  if (!Array.isArray(prompt) || !Number.isInteger(maxTokens) || maxTokens < 1 || body.stream !== true) {
    return sendJson(res, 400, { message: 'this stub answers streaming token-id prompts with max_tokens only' });
  }
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'transfer-encoding': 'chunked' });
  res.flushHeaders();
  res.socket.setNoDelay(true);
  const id = `cmpl-${++counter}`;
  const model = String(body.model ?? 'stub');
  const s = {
    id,
    model,
    key: prompt.slice(0, 8).join('.'),
    res,
    socket: res.socket,
    promptTokens: prompt.length,
    maxTokens,
    sent: 0,
    sends: new Float64Array(maxTokens),
    blocked: false,
    done: false,
    head: `data: {"id":"${id}","object":"text_completion","created":${created},"model":"${model}","choices":[{"index":0,"text":" w","logprobs":null,"finish_reason":`,
  };
  res.on('close', () => active.delete(s));
  active.add(s);
  schedule();
});
server.keepAliveTimeout = 120_000;
server.headersTimeout = 130_000;
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port, pid: process.pid })}\n`);
});
const shutdown = () => {
  server.close();
  server.closeAllConnections();
  process.exit(0);
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
