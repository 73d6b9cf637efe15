#!/usr/bin/env node
// Load-generator capacity (issue 7, item 1): src/workload/openai-load.ts (createOpenAiLoad, the vLLM
// dialect with per-chunk running usage) against bench/lib/stream-stub.mjs, a loopback server in its own
// process that streams one token per chunk and records when it sent each chunk.
//
// Runs: each --concurrency with the stub as fast as it can (capacity), then each --paced-concurrency
// with the stub paced at --rate tokens/s in all (timestamp fidelity at the target rate, where the client
// is not saturated), each with its own stub. Per run: warm-up, then a window of --window seconds:
// - tokens_per_s, requests_per_s: output tokens that arrived / requests that completed in the window,
//   per wall second;
// - cpu_core_fraction: CPU (user + system, all threads) of this process (the client) in the window ÷
//   wall time; tokens_per_cpu_s = tokens parsed per CPU-second of the client; main_thread_* the same for
//   the main thread alone (/proc/PID/task/PID/stat, 10 ms ticks), which parses every stream while the
//   reader threads (--reader-threads) stamp and frame; the 50,000 tokens/s per core target is checked
//   on it;
// - itl_error_ms: for every request that started and finished inside the window, every inter-token
//   interval as the client timestamped it (OpenAiRequestRecord.itlMs) against the interval between
//   the stub's send times of the same two chunks: |client ITL − stub send interval|;
// - lag_ms: client arrival timestamp − stub send time (both epoch clocks from performance.timeOrigin,
//   so it also holds the two processes' clock offset, microseconds on one machine);
// - the client's own stalls: event-loop delay, GC pauses, heap.
// First, an idle control: this process's event-loop delay while doing nothing (the machine's
// scheduling noise floor: where it is above 1 ms, no ITL figure here can be within 1 ms).
// With two or more cores the stub is pinned to the last CPU and the client to the others (taskset), so
// neither competes with the other; CPU is counted per process, so the client's figures are its own. Top-level figures are the worst flat-out run: the lowest tokens_per_s
// (with its requests_per_s and cpu_core_fraction), the lowest tokens_per_cpu_s, the highest
// itl_error_ms_p99; itl_error_ms_p99_at_rate is the highest of the paced runs.
//
//   npm run build && node bench/client.mjs [--json] [--concurrency 1,64,256] [--window 8]
//     [--rate 50000] [--paced-concurrency 64,256] [--input-len 128] [--output-len 128] [--no-pin]
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { PerformanceObserver, monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { cpuSeconds, ensureBuilt, machine, parseArgs, percentile, pin, procCpuS, progress, repoRoot, report, round } from './lib/common.mjs';

const args = parseArgs({
  json: { type: 'boolean', default: false, help: 'one JSON document on stdout' },
  concurrency: { type: 'numbers', default: [1, 64, 256], help: 'requests in flight, one run each' },
  window: { type: 'number', default: 8, help: 'measured seconds per concurrency' },
  'input-len': { type: 'number', default: 128, help: 'prompt tokens' },
  'output-len': { type: 'number', default: 128, help: 'output tokens per request' },
  rate: { type: 'number', default: 50000, help: 'tokens/s of the paced runs' },
  'paced-concurrency': { type: 'numbers', default: [64, 256], help: 'concurrencies of the paced runs' },
  'no-pin': { type: 'boolean', default: false, help: 'do not pin client and stub to separate CPUs' },
  'client-cpus': { type: 'string', default: '', help: 'CPUs of the client, taskset list syntax (default: 0). One CPU puts V8\'s background threads (compiler, GC helpers) on the event loop\'s CPU' },
  'stub-cpus': { type: 'string', default: '', help: 'CPUs of the stub, taskset list syntax (default: the last CPU)' },
  spin: { type: 'boolean', default: false, help: 'keep the client\'s event loop busy (a setImmediate chain) so the process never sleeps in epoll: tests whether wake-up latency is what delays the stamps' },
  'reader-threads': { type: 'count', help: 'threads reading the streams (OpenAiLoadOptions.readerThreads; 0 = the main thread); default: the product default for each concurrency' },
  'main-stall-ms': { type: 'number', default: undefined, help: 'block the main thread this long (a busy wait) ten times a second during the window, like NVML counter reads (2–5 ms each on the H100) at 10 Hz: shows what other main-thread work does to the stamps' },
  dist: { type: 'string', default: '', help: 'another build of carbonbench (a dist/ folder) to measure, e.g. the previous commit for an A/B run' },
});
const distDir = args.dist ? resolve(args.dist) : (ensureBuilt(), join(repoRoot, 'dist'));
const { createOpenAiLoad } = await import(pathToFileURL(join(distDir, 'workload/openai-load.js')).href);
const { realClock } = await import(pathToFileURL(join(distDir, 'runner/clock.js')).href);

// Sub-millisecond epoch clock: the stub stamps with the same expression.
const hiresClock = { now: () => (performance.timeOrigin + performance.now()) / 1000, sleep: realClock.sleep, virtual: false };

async function startStub(stepMs) {
  const stubArgs = [join(repoRoot, 'bench', 'lib', 'stream-stub.mjs')];
  if (stepMs !== undefined) stubArgs.push('--step-ms', String(stepMs));
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

async function runOne(baseUrl, concurrency) {
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
    readerThreads: args['reader-threads'],
  });
  await load.warmUp({ minS: 1.5, minRequests: concurrency });
  await getJson(`${baseUrl}/sendlog`); // drop the warm-up's send times
  const stubCpu0 = await getJson(`${baseUrl}/cpu`);
  // Diagnostics of the client's own stalls in the window: event-loop delay and GC pauses.
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  const gcPausesMs = [];
  const gcSpans = [];
  const gcObserver = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gcPausesMs.push(e.duration);
      // Epoch seconds on the clock the chunks are stamped with (hiresClock).
      gcSpans.push([(performance.timeOrigin + e.startTime) / 1000, (performance.timeOrigin + e.startTime + e.duration) / 1000]);
    }
  });
  gcObserver.observe({ entryTypes: ['gc'] });
  loopDelay.enable();
  // --spin: a setImmediate chain keeps libuv polling with a zero timeout, so an arriving chunk never
  // waits for this process to be woken up (costs the rest of a core).
  let spinning = args.spin;
  const spin = () => {
    if (spinning) setImmediate(spin);
  };
  if (spinning) setImmediate(spin);
  const stallMs = args['main-stall-ms'];
  const stalls = stallMs === undefined ? null : setInterval(() => {
    const end = performance.now() + stallMs;
    while (performance.now() < end);
  }, 100);
  const cpu0 = process.cpuUsage();
  const mainCpu0 = procCpuS(process.pid, process.pid);
  const fromS = await load.openWindow();
  await new Promise((r) => setTimeout(r, args.window * 1000));
  const toS = await load.closeWindow();
  spinning = false;
  if (stalls) clearInterval(stalls);
  const cpu = cpuSeconds(process.cpuUsage(cpu0));
  const mainCpu1 = procCpuS(process.pid, process.pid);
  const mainCpuS = mainCpu0 !== null && mainCpu1 !== null ? mainCpu1 - mainCpu0 : null;
  loopDelay.disable();
  gcObserver.disconnect();
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
  let coalesced = 0;
  let stretched = 0;
  let lateOver1ms = 0;
  let lateDuringGc = 0;
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
      const stubMs = (sends[i + 1] - sends[i]) * 1000;
      const errorMs = Math.abs(r.itlMs[i] - stubMs);
      errors.push(errorMs);
      // Two chunks of one stream delivered by one socket read (the client read later than the second send).
      if (r.itlMs[i] < 0.05 && stubMs > 0.5) coalesced++;
      else if (r.itlMs[i] > stubMs + 1) stretched++;
      if (errorMs > 1) {
        // Which of the two chunks waited (the larger lag), and did a GC pause of this process fall
        // between its send and its arrival? Then the pause delayed its stamp.
        const prevArrivalS = arrivalS;
        const nextArrivalS = arrivalS + r.itlMs[i] / 1000;
        const waited = nextArrivalS - sends[i + 1] >= prevArrivalS - sends[i] ? [sends[i + 1], nextArrivalS] : [sends[i], prevArrivalS];
        lateOver1ms++;
        if (gcSpans.some(([a, b]) => a < waited[1] && b > waited[0])) lateDuringGc++;
      }
      arrivalS += r.itlMs[i] / 1000;
      lags.push((arrivalS - sends[i + 1]) * 1000);
    }
  }
  const stubCpuS = cpuSeconds({ user: stubCpu1.cpu.user - stubCpu0.cpu.user, system: stubCpu1.cpu.system - stubCpu0.cpu.system });
  return {
    concurrency,
    reader_threads: load.readerThreads ?? 0,
    main_stall_ms_at_10_hz: stallMs ?? null,
    window_s: round(wallS, 3),
    tokens,
    requests,
    tokens_per_s: round(tokens / wallS, 0),
    requests_per_s: round(requests / wallS, 1),
    cpu_core_fraction: round(cpu / wallS, 3),
    tokens_per_cpu_s: round(tokens / cpu, 0),
    main_thread_cpu_core_fraction: mainCpuS === null ? null : round(mainCpuS / wallS, 3),
    tokens_per_main_thread_cpu_s: mainCpuS ? round(tokens / mainCpuS, 0) : null,
    itl_error_ms_p50: round(percentile(errors, 0.5), 4),
    itl_error_ms_p99: round(percentile(errors, 0.99), 4),
    itl_error_ms_max: round(percentile(errors, 1), 3),
    itl_pairs: errors.length,
    itl_pairs_coalesced: coalesced,
    itl_pairs_late_over_1ms: stretched,
    itl_errors_over_1ms: lateOver1ms,
    itl_errors_over_1ms_during_gc: lateDuringGc,
    requests_compared: matched,
    requests_unmatched: unmatched,
    lag_ms_p50: round(percentile(lags, 0.5), 3),
    lag_ms_p99: round(percentile(lags, 0.99), 3),
    stub_cpu_core_fraction: round(stubCpuS / (stubCpu1.t - stubCpu0.t), 3),
    event_loop_delay_ms_p99: round(loopDelay.percentile(99) / 1e6, 2),
    event_loop_delay_ms_max: round(loopDelay.max / 1e6, 2),
    gc_pauses: gcPausesMs.length,
    gc_pause_ms_total: round(gcPausesMs.reduce((a, b) => a + b, 0), 1),
    gc_pause_ms_max: round(percentile(gcPausesMs, 1), 2),
    heap_used_mib: round(process.memoryUsage().heapUsed / 2 ** 20, 0),
  };
}

const cores = machine().cores;
let pinned = false;
// The stub gets the last CPU to itself and the client every other one: pinning the client to a single
// CPU puts V8's background threads (compiler, GC helpers) on the event loop's CPU, which cost ITL p99
// 3–6 ms against 0.6–2.5 ms unpinned on the H100 host (bench/RESULTS.md, session 3).
const clientCpu = args['client-cpus'] || (cores > 2 ? `0-${cores - 2}` : '0');
const stubCpu = args['stub-cpus'] || String(cores - 1);
/** One run with its own stub process (paced runs need their own step interval). */
async function withStub(stepMs, fn) {
  const stub = await startStub(stepMs);
  try {
    pinned = !args['no-pin'] && cores >= 2 && pin(process.pid, clientCpu) && pin(stub.child.pid, stubCpu);
    return await fn(stub);
  } finally {
    stub.child.kill('SIGTERM');
    await once(stub.child, 'exit');
  }
}

// Control: the event-loop delay of this process doing nothing. On a machine whose cores are shared with
// other work it is milliseconds at p99, and no timestamp taken on an event loop (the client's or the
// stub's) can then be trusted to 1 ms: the ITL figures below measure the machine, not the client.
progress('client: idle control (3 s)…');
const idleLoop = monitorEventLoopDelay({ resolution: 1 });
idleLoop.enable();
await new Promise((r) => setTimeout(r, 3000));
idleLoop.disable();
const idleControl = { event_loop_delay_ms_p99: round(idleLoop.percentile(99) / 1e6, 2), event_loop_delay_ms_max: round(idleLoop.max / 1e6, 2), loadavg: machine().loadavg };

const runs = [];
for (const c of args.concurrency) {
  progress(`client: concurrency ${c}, stub as fast as it can, ${args.window} s window…`);
  const r = await withStub(undefined, (stub) => runOne(stub.baseUrl, c));
  progress(`  ${r.tokens_per_s} tokens/s, ${r.cpu_core_fraction} of a core (${r.tokens_per_cpu_s} tokens per CPU-s), ITL error p99 ${r.itl_error_ms_p99} ms`);
  runs.push({ stub: 'as fast as it can', ...r });
}
// Timestamp fidelity at the target rate: a client that is saturated (the stub outruns it) timestamps
// chunks when it gets to them, so the flat-out runs measure its queueing; these measure the client at
// --rate tokens/s in total, one decode step every concurrency / rate seconds.
const paced = [];
for (const c of args['paced-concurrency']) {
  const stepMs = (c * 1000) / args.rate;
  if (stepMs < 1) {
    progress(`client: concurrency ${c} cannot be paced at ${args.rate} tokens/s (a step every ${stepMs.toFixed(3)} ms is below timer resolution); skipped`);
    continue;
  }
  progress(`client: concurrency ${c}, stub paced at ${args.rate} tokens/s (a step every ${stepMs.toFixed(2)} ms), ${args.window} s window…`);
  const r = await withStub(stepMs, (stub) => runOne(stub.baseUrl, c));
  progress(`  ${r.tokens_per_s} tokens/s, ${r.cpu_core_fraction} of a core, ITL error p99 ${r.itl_error_ms_p99} ms`);
  paced.push({ stub: `paced: a step every ${round(stepMs, 3)} ms`, ...r });
}

const slowest = runs.reduce((a, b) => (b.tokens_per_s < a.tokens_per_s ? b : a));
const all = [...runs, ...paced];
const result = {
  tokens_per_s: slowest.tokens_per_s,
  requests_per_s: slowest.requests_per_s,
  cpu_core_fraction: slowest.cpu_core_fraction,
  itl_error_ms_p99: Math.max(...runs.map((r) => r.itl_error_ms_p99 ?? Infinity)),
  tokens_per_cpu_s: Math.min(...runs.map((r) => r.tokens_per_cpu_s)),
  tokens_per_main_thread_cpu_s: Math.min(...runs.map((r) => r.tokens_per_main_thread_cpu_s ?? Infinity)),
  itl_error_ms_p99_at_rate: paced.length > 0 ? Math.max(...paced.map((r) => r.itl_error_ms_p99 ?? Infinity)) : null,
  targets: {
    // Parsed on one core: the main thread parses every stream (SSE, JSON, accounting); reader threads
    // only stamp and frame. Whole-process CPU (tokens_per_cpu_s) includes the reader threads.
    tokens_per_main_thread_cpu_s: { target: 50000, met: runs.every((r) => (r.tokens_per_main_thread_cpu_s ?? 0) >= 50000) },
    itl_error_ms_p99_flat_out: { target: 1, met: runs.every((r) => r.itl_error_ms_p99 !== null && r.itl_error_ms_p99 <= 1) },
    itl_error_ms_p99_at_rate: { target: 1, rate_tokens_per_s: args.rate, met: paced.length > 0 && paced.every((r) => r.itl_error_ms_p99 !== null && r.itl_error_ms_p99 <= 1) },
  },
  runs,
  paced,
  idle_control: idleControl,
  setup: {
    input_len: args['input-len'],
    output_len: args['output-len'],
    pinned: pinned ? `client on CPU ${clientCpu}, stub on CPU ${stubCpu}` : 'not pinned',
  },
  machine: machine(),
};
const line = (r) =>
  `concurrency ${r.concurrency} (${r.stub}): ${r.tokens_per_s} tokens/s, ${r.requests_per_s} requests/s, ${r.cpu_core_fraction} of a core (main thread ${r.main_thread_cpu_core_fraction}), ${r.tokens_per_cpu_s} tokens per CPU-s (${r.tokens_per_main_thread_cpu_s} per main-thread CPU-s), ${r.reader_threads} reader threads, ITL error p50/p99/max ${r.itl_error_ms_p50}/${r.itl_error_ms_p99}/${r.itl_error_ms_max} ms over ${r.itl_pairs} intervals, lag p50/p99 ${r.lag_ms_p50}/${r.lag_ms_p99} ms, stub ${r.stub_cpu_core_fraction} of a core, event-loop delay p99/max ${r.event_loop_delay_ms_p99}/${r.event_loop_delay_ms_max} ms, GC ${r.gc_pauses} pauses ${r.gc_pause_ms_total} ms (max ${r.gc_pause_ms_max} ms), heap ${r.heap_used_mib} MiB`;
report(result, args.json, [
  ...all.map(line),
  `tokens_per_s (slowest flat-out run): ${result.tokens_per_s}`,
  `tokens_per_cpu_s (lowest): ${result.tokens_per_cpu_s}`,
  `itl_error_ms_p99 (highest, flat out): ${result.itl_error_ms_p99}`,
  `itl_error_ms_p99 at ${args.rate} tokens/s (highest): ${result.itl_error_ms_p99_at_rate}`,
  `target ≥ 50000 tokens per CPU-second of the parsing (main) thread: ${result.targets.tokens_per_main_thread_cpu_s.met ? 'met' : 'MISSED'}`,
  `target ITL within 1 ms at p99, flat out: ${result.targets.itl_error_ms_p99_flat_out.met ? 'met' : 'MISSED'}`,
  `target ITL within 1 ms at p99, at ${args.rate} tokens/s: ${result.targets.itl_error_ms_p99_at_rate.met ? 'met' : 'MISSED'}`,
  `idle control: event-loop delay of this process doing nothing p99/max ${idleControl.event_loop_delay_ms_p99}/${idleControl.event_loop_delay_ms_max} ms (load average ${idleControl.loadavg.join(' ')})`,
  `setup: ${result.setup.pinned}; load average at the end ${result.machine.loadavg.join(' ')}`,
]);
