#!/usr/bin/env node
// A bare Node client for bench/lib/stream-stub.mjs (issue 7.1: bisecting the ITL tail): 64 streams, one
// clock read per 'data' event, no SSE or JSON work, compared with the stub's send times like
// bench/client.mjs and bench/gpu/ref-client.py. Modes:
//   http      node:http with a keep-alive Agent (what src/workload/openai-load.ts uses)
//   http-close node:http, a new connection per request (Connection: close), no Agent
//   net       node:net sockets, the request written by hand, chunks counted in the raw bytes
//   node bench/gpu/node-ref-client.mjs BASE_URL CONCURRENCY SECONDS MODE   → one JSON line
import http from 'node:http';
import net from 'node:net';
import { performance } from 'node:perf_hooks';

const [base, conc, secs, mode] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4]), process.argv[5] ?? 'http'];
const url = new URL(base);
const agent = new http.Agent({ keepAlive: true, maxSockets: conc + 4 });
const now = () => (performance.timeOrigin + performance.now()) / 1000;
let n = 0;
const finished = [];
const tEnd = now() + secs;

function count(st, s, t) {
  let i = -1;
  while ((i = s.indexOf('"text":', i + 1)) >= 0) st.stamps.push(t);
}

function one() {
  return new Promise((resolve) => {
    n++;
    const prompt = [900000 + n, 7, 7, 7, 7, 7, 7, 7, ...Array(120).fill(5)];
    const body = JSON.stringify({ model: 'stub', prompt, max_tokens: 128, stream: true, stream_options: { include_usage: true, continuous_usage_stats: true } });
    const st = { key: prompt.slice(0, 8).join('.'), stamps: [] };
    if (mode === 'net') {
      const socket = net.connect(Number(url.port), url.hostname);
      socket.setNoDelay(true);
      socket.setEncoding('latin1');
      socket.write(`POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
      socket.on('data', (s) => count(st, s, now()));
      socket.on('close', () => {
        finished.push(st);
        resolve();
      });
      return;
    }
    const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
    const req = http.request(`${base}/v1/completions`, mode === 'http-close' ? { method: 'POST', agent: false, headers: { ...headers, connection: 'close' } } : { method: 'POST', agent, headers });
    req.on('response', (res) => {
      res.setEncoding('utf8');
      res.on('data', (s) => count(st, s, now()));
      res.on('end', () => {
        finished.push(st);
        resolve();
      });
    });
    req.end(body);
  });
}

async function worker() {
  while (now() < tEnd) await one();
}
await Promise.all(Array.from({ length: conc }, worker));
const sendlog = await (await fetch(`${base}/sendlog`)).json();
const errors = [];
let coalesced = 0;
for (const st of finished.slice(conc)) {
  const s = sendlog[st.key];
  if (!s || s.length !== st.stamps.length) continue;
  for (let i = 1; i < s.length; i++) {
    const c = (st.stamps[i] - st.stamps[i - 1]) * 1000;
    if (c === 0) coalesced++;
    errors.push(Math.abs(c - (s[i] - s[i - 1]) * 1000));
  }
}
errors.sort((a, b) => a - b);
const p = (q) => (errors.length ? Number(errors[Math.min(errors.length - 1, Math.floor(q * errors.length))].toFixed(4)) : null);
console.log(JSON.stringify({ client: `node ${mode}`, itl_pairs: errors.length, itl_pairs_coalesced: coalesced, itl_error_ms_p50: p(0.5), itl_error_ms_p99: p(0.99), itl_error_ms_max: errors.length ? Number(errors.at(-1).toFixed(3)) : null, itl_errors_over_1ms: errors.filter((e) => e > 1).length }));
