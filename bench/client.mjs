#!/usr/bin/env node
// Load-generator capacity (issue 7, item 1): src/workload/openai-load.ts (createOpenAiLoad, the vLLM
// dialect with per-chunk running usage) against bench/lib/stream-stub.mjs, a loopback server in its own
// process that streams one token per chunk as fast as it can and records when it sent each chunk.
//
// For each concurrency: warm-up, then a measured window of --window seconds. Measured:
// - tokens_per_s, requests_per_s: output tokens that arrived / requests that completed in the window,
//   per wall second;
// - cpu_core_fraction: CPU (user + system, all threads) of this process (the client) in the window ÷
//   wall time; tokens_per_cpu_s = tokens parsed per CPU-second of the client;
// - itl_error_ms: for every request that started and finished inside the window, every inter-token
//   interval as the client timestamped it (OpenAiRequestRecord.itlMs) against the interval between
//   the stub's send times of the same two chunks: |client ITL − stub send interval|;
// - lag_ms: client arrival timestamp − stub send time (both epoch clocks from performance.timeOrigin,
//   so it also holds the two processes' clock offset, microseconds on one machine).
// With two or more cores the client is pinned to CPU 0 and the stub to the last CPU (taskset), so the
// client really has one core. Top-level figures are the worst concurrency: the lowest tokens_per_s
// (with its requests_per_s and cpu_core_fraction), the lowest tokens_per_cpu_s, the highest
// itl_error_ms_p99.
//
//   npm run build && node bench/client.mjs [--json] [--concurrency 1,64,256] [--window 8]
//     [--input-len 128] [--output-len 128] [--step-ms MS] [--no-pin]
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { cpuSeconds, ensureBuilt, machine, parseArgs, percentile, pin, progress, repoRoot, report, round } from './lib/common.mjs';

const args = parseArgs({
  json: { type: 'boolean', default: false, help: 'one JSON document on stdout' },
  concurrency: { type: 'numbers', default: [1, 64, 256], help: 'requests in flight, one run each' },
  window: { type: 'number', default: 8, help: 'measured seconds per concurrency' },
  'input-len': { type: 'number', default: 128, help: 'prompt tokens' },
  'output-len': { type: 'number', default: 128, help: 'output tokens per request' },
  'step-ms': { type: 'number', default: undefined, help: 'pace the stub: one decode step every MS ms (default: as fast as it can)' },
  'no-pin': { type: 'boolean', default: false, help: 'do not pin client and stub to separate CPUs' },
  'cpu-prof': { type: 'boolean', default: false, help: '(set by node --cpu-prof runs; no effect)' },
});
ensureBuilt();
const { createOpenAiLoad } = await import('../dist/workload/openai-load.js');
const { realClock } = await import('../dist/runner/clock.js');

// Sub-millisecond epoch clock: the stub stamps with the same expression.
const hiresClock = { now: () => (performance.timeOrigin + performance.now()) / 1000, sleep: realClock.sleep, virtual: false };

async function startStub() {
  const stubArgs = [join(repoRoot, 'bench', 'lib', 'stream-stub.mjs')];
  if (args['step-ms'] !== undefined) stubArgs.push('--step-ms', String(args['step-ms']));
  const child = spawn(process.execPath, stubArgs, { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  const [line] = await Promise.race([once(lines, 'line'), once(child, 'exit').then(() => { throw new Error('the stub exited before listening'); })]);
  const { port } = JSON.parse(line);
  return { child, baseUrl: `http://127.0.0.1:${port}` };
}

async function getJson(url) {
  const res = await fetch(url);
  return res.json();
}

async function runOne(baseUrl, stubPid, concurrency) {
  const outputLen = args['output-len'];
  const load = createOpenAiLoad({
    baseUrl,
    model: 'stub',
    batch: concurrency,
    inputLen: args['input-len'],
    outputLen,
    seed: 1,
    dialect: 'vllm',
    clock: hiresClock,
  });
  await load.warmUp({ minS: 1.5, minRequests: concurrency });
  await getJson(`${baseUrl}/sendlog`); // drop the warm-up's send times
  const stubCpu0 = await getJson(`${baseUrl}/cpu`);
  const cpu0 = process.cpuUsage();
  const fromS = await load.openWindow();
  await new Promise((r) => setTimeout(r, args.window * 1000));
  const toS = await load.closeWindow();
  const cpu = cpuSeconds(process.cpuUsage(cpu0));
  const stubCpu1 = await getJson(`${baseUrl}/cpu`);
  const tokens = load.tokensBetween(fromS, toS);
  const requests = load.requestsCompletedBetween(fromS, toS);
  await load.stop();
  const sendLog = await getJson(`${baseUrl}/sendlog`);
  const wallS = toS - fromS;

  // ITL against the stub's send intervals, request by request (matched on the prompt's unique prefix).
  const errors = [];
  const lags = [];
  let matched = 0;
  let unmatched = 0;
  for (const r of load.records()) {
    if (!r.success || r.startS < fromS || r.endS > toS) continue;
    const sends = sendLog[load.prompts.prompt(r.promptIndex).slice(0, 8).join('.')];
    if (!sends || sends.length !== r.tokenChunks || r.itlMs.length !== sends.length - 1 || r.ttftMs === null) {
      unmatched++;
      continue;
    }
    matched++;
    let arrivalS = r.startS + r.ttftMs / 1000;
    lags.push((arrivalS - sends[0]) * 1000);
    for (let i = 0; i < r.itlMs.length; i++) {
      errors.push(Math.abs(r.itlMs[i] - (sends[i + 1] - sends[i]) * 1000));
      arrivalS += r.itlMs[i] / 1000;
      lags.push((arrivalS - sends[i + 1]) * 1000);
    }
  }
  const stubCpuS = cpuSeconds({ user: stubCpu1.cpu.user - stubCpu0.cpu.user, system: stubCpu1.cpu.system - stubCpu0.cpu.system });
  return {
    concurrency,
    window_s: round(wallS, 3),
    tokens,
    requests,
    tokens_per_s: round(tokens / wallS, 0),
    requests_per_s: round(requests / wallS, 1),
    cpu_core_fraction: round(cpu / wallS, 3),
    tokens_per_cpu_s: round(tokens / cpu, 0),
    itl_error_ms_p50: round(percentile(errors, 0.5), 4),
    itl_error_ms_p99: round(percentile(errors, 0.99), 4),
    itl_error_ms_max: round(percentile(errors, 1), 3),
    itl_pairs: errors.length,
    requests_compared: matched,
    requests_unmatched: unmatched,
    lag_ms_p50: round(percentile(lags, 0.5), 3),
    lag_ms_p99: round(percentile(lags, 0.99), 3),
    stub_cpu_core_fraction: round(stubCpuS / (stubCpu1.t - stubCpu0.t), 3),
  };
}

const stub = await startStub();
const cores = machine().cores;
const pinned = !args['no-pin'] && cores >= 2 && pin(process.pid, 0) && pin(stub.child.pid, cores - 1);
const runs = [];
try {
  for (const c of args.concurrency) {
    progress(`client: concurrency ${c}, ${args.window} s window…`);
    const r = await runOne(stub.baseUrl, stub.child.pid, c);
    progress(`  ${r.tokens_per_s} tokens/s, ${r.cpu_core_fraction} of a core (${r.tokens_per_cpu_s} tokens per CPU-s), ITL error p99 ${r.itl_error_ms_p99} ms`);
    runs.push(r);
  }
} finally {
  stub.child.kill('SIGTERM');
}

const slowest = runs.reduce((a, b) => (b.tokens_per_s < a.tokens_per_s ? b : a));
const result = {
  tokens_per_s: slowest.tokens_per_s,
  requests_per_s: slowest.requests_per_s,
  cpu_core_fraction: slowest.cpu_core_fraction,
  itl_error_ms_p99: Math.max(...runs.map((r) => r.itl_error_ms_p99 ?? Infinity)),
  tokens_per_cpu_s: Math.min(...runs.map((r) => r.tokens_per_cpu_s)),
  targets: {
    tokens_per_s_on_one_core: { target: 50000, met: runs.every((r) => r.tokens_per_s >= 50000 || r.tokens_per_cpu_s >= 50000) },
    itl_error_ms_p99: { target: 1, met: runs.every((r) => r.itl_error_ms_p99 !== null && r.itl_error_ms_p99 <= 1) },
  },
  runs,
  setup: {
    input_len: args['input-len'],
    output_len: args['output-len'],
    stub: args['step-ms'] !== undefined ? `one decode step every ${args['step-ms']} ms` : 'as fast as it can (one chunk per stream per event-loop turn, backpressure honoured)',
    pinned: pinned ? `client on CPU 0, stub on CPU ${cores - 1}` : 'not pinned',
  },
  machine: machine(),
};
report(result, args.json, [
  ...runs.map(
    (r) =>
      `concurrency ${r.concurrency}: ${r.tokens_per_s} tokens/s, ${r.requests_per_s} requests/s, ${r.cpu_core_fraction} of a core, ${r.tokens_per_cpu_s} tokens per CPU-s, ITL error p50/p99/max ${r.itl_error_ms_p50}/${r.itl_error_ms_p99}/${r.itl_error_ms_max} ms over ${r.itl_pairs} intervals, lag p50/p99 ${r.lag_ms_p50}/${r.lag_ms_p99} ms, stub ${r.stub_cpu_core_fraction} of a core`,
  ),
  `tokens_per_s (slowest run): ${result.tokens_per_s}`,
  `tokens_per_cpu_s (lowest): ${result.tokens_per_cpu_s}`,
  `itl_error_ms_p99 (highest): ${result.itl_error_ms_p99}`,
  `target ≥ 50000 tokens/s on one core: ${result.targets.tokens_per_s_on_one_core.met ? 'met' : 'MISSED'}`,
  `target ITL within 1 ms at p99: ${result.targets.itl_error_ms_p99.met ? 'met' : 'MISSED'}`,
  `setup: ${result.setup.stub}; ${result.setup.pinned}`,
]);
