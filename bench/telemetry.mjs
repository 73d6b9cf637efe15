#!/usr/bin/env node
// Telemetry cost (issue 7, item 2): CPU that carbonbench's own process spends on the 1 Hz nvidia-smi
// sampler (src/telemetry/smi-sampler.ts, reading the fake nvidia-smi that replays a recorded H200 trace)
// and on the 10 Hz NVML energy poller (src/telemetry/nvml-poller.ts through koffi into the fake
// libnvidia-ml of the tests), alone and together, and the NVML read latency. Target: under 1% of a core
// together.
//
// The fake library answers in microseconds; a real H100 read took 3.96 ms (bench/gpu/README.md). To see
// what that does, the same fake is built with an added read cost (bench/telemetry/slow-nvml.c) and the
// poller runs at 10 Hz with edge reads once a second, three ways: background reads on the event loop
// (the code before the fix), background reads on a worker thread (Nvml.totalEnergyMjAsync, the fix) with
// the cost spent on the CPU (a driver busy-waiting), and the same with the cost spent waiting. Each
// reports the CPU, the event-loop delay (what the load generator's token timestamps suffer), and checks
// the readings stay in time order with no false counter reset.
//
//   npm run build && node bench/telemetry.mjs [--json] [--seconds 10] [--read-us 3960]
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { cpuSeconds, ensureBuilt, machine, parseArgs, percentile, progress, repoRoot, report, round } from './lib/common.mjs';

const args = parseArgs({
  json: { type: 'boolean', default: false, help: 'one JSON document on stdout' },
  seconds: { type: 'number', default: 10, help: 'seconds per measured phase (7 phases, plus settling and edge-read checks: about 9 × this in all)' },
  'read-us': { type: 'number', default: 3960, help: 'emulated cost of one real energy read, µs (H100: 3960)' },
});
ensureBuilt();
const { SmiSampler } = await import('../dist/telemetry/smi-sampler.js');
const { NvmlEnergyPoller } = await import('../dist/telemetry/nvml-poller.js');
const { openNvml } = await import('../dist/telemetry/nvml.js');

const phaseS = args.seconds;
const fakeSmi = join(repoRoot, 'tests', 'fakes', 'nvidia-smi');
const h100Trace = join(repoRoot, 'tests', 'fixtures', 'h200', 'h100-varying-load-nvml.csv');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Compiles bench/telemetry/slow-nvml.c (the tests' fake plus a read cost) once per source version. */
function buildSlowNvml() {
  const sources = [join(repoRoot, 'bench', 'telemetry', 'slow-nvml.c'), join(repoRoot, 'tests', 'fakes', 'fake-nvml.c')];
  const hash = createHash('sha256');
  for (const f of sources) hash.update(readFileSync(f));
  const dir = join(repoRoot, 'tests', '.tmp', `bench-slow-nvml-${hash.digest('hex').slice(0, 16)}`);
  const lib = join(dir, 'libnvidia-ml.so.1');
  if (!existsSync(lib)) {
    mkdirSync(dir, { recursive: true });
    execFileSync('cc', ['-shared', '-fPIC', '-O2', '-o', `${lib}.${process.pid}`, sources[0]]);
    renameSync(`${lib}.${process.pid}`, lib);
  }
  return lib;
}

/** utime + stime of another process, seconds (Linux /proc). */
function childCpuS(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ is 100 on Linux
  } catch {
    return null;
  }
}

/**
 * Runs `during(seconds)`; CPU of this process over it and, with `loopDelay`, the event-loop delay
 * (its 1 ms timer costs CPU itself: phases that use it are compared with an idle phase that does too).
 */
async function measure(seconds, during, { loopDelay = false } = {}) {
  const loop = loopDelay ? monitorEventLoopDelay({ resolution: 1 }) : null;
  loop?.enable();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await during(seconds);
  const wallS = (performance.now() - t0) / 1000;
  const cpuS = cpuSeconds(process.cpuUsage(cpu0));
  loop?.disable();
  return {
    cpu_core_fraction: cpuS / wallS,
    wall_s: wallS,
    event_loop_delay_ms_p99: loop ? loop.percentile(99) / 1e6 : null,
    event_loop_delay_ms_max: loop ? loop.max / 1e6 : null,
  };
}

/** Readings in time order and no counter reset (a false one would come from out-of-order recording). */
function checkSeries(poller) {
  const r = poller.readings(0);
  let ordered = true;
  for (let i = 1; i < r.length; i++) if (r[i].tS < r[i - 1].tS || r[i].energyMj < r[i - 1].energyMj) ordered = false;
  return { readings: r.length, in_time_order: ordered, resets: poller.resets().length, poll_errors: poller.errors().count };
}

const lib = buildSlowNvml();
process.env.FAKE_NVML_TRACE = h100Trace;
process.env.BENCH_NVML_READ_US = '0';
const nvml = openNvml({ libraryPath: lib });
if (!nvml.available) throw new Error(`the fake NVML did not open: ${nvml.unavailableReason}`);
process.env.FAKE_SMI_LOOP = '1';

// 1. Idle baseline: what this process costs doing nothing.
progress(`telemetry: idle baseline (${phaseS / 2} s)…`);
await sleep(500); // let start-up work (module loading, JIT, GC) settle
const idle = await measure(phaseS / 2, (s) => sleep(s * 1000));

// 2. The nvidia-smi sampler alone.
progress(`telemetry: nvidia-smi sampler at 1 Hz (${phaseS} s)…`);
const sampler = await SmiSampler.create({ executable: fakeSmi, gpus: [0] });
await sampler.start();
const smiPid = sampler['process']?.pid; // private field, read for the child's CPU only
await sleep(2000); // start-up work (JIT, GC of the start) is not the steady cost
const smiChild0 = childCpuS(smiPid);
const samples0 = sampler.collected().length;
const samplerOnly = await measure(phaseS, (s) => sleep(s * 1000));
const smiChild1 = childCpuS(smiPid);
const samplesPerS = (sampler.collected().length - samples0) / samplerOnly.wall_s;

// 3. The NVML poller alone (fake: microsecond reads).
await sampler.stop();
progress(`telemetry: NVML poller at 10 Hz, fake library (${phaseS} s)…`);
let poller = new NvmlEnergyPoller(nvml, { gpuIndices: [0] });
poller.start();
await sleep(2000);
const pollerOnly = await measure(phaseS, (s) => sleep(s * 1000));
poller.stop();
const pollerLatency = poller.readLatencyMs();
// Read latency of the synchronous call, percentiles (the edge reads).
const latUs = [];
for (let i = 0; i < 2000; i++) {
  const t = performance.now();
  nvml.totalEnergyMj(0);
  latUs.push((performance.now() - t) * 1000);
}

// 4. Both together, as in a run.
progress(`telemetry: sampler + poller together (${phaseS} s)…`);
const sampler2 = await SmiSampler.create({ executable: fakeSmi, gpus: [0] });
await sampler2.start();
poller = new NvmlEnergyPoller(nvml, { gpuIndices: [0] });
poller.start();
await sleep(2000);
const together = await measure(phaseS, (s) => sleep(s * 1000));
poller.stop();
await sampler2.stop();

// 5. Emulated real read cost: background polling at 10 Hz, then a race check with edge reads.
progress(`telemetry: idle with the event-loop monitor (${phaseS / 2} s)…`);
const idleMonitored = await measure(phaseS / 2, (s) => sleep(s * 1000), { loopDelay: true });
async function emulated(label, mode, asyncReads) {
  progress(`telemetry: emulated ${args['read-us']} µs reads, ${label} (${phaseS} s + 3 s of edge reads)…`);
  process.env.BENCH_NVML_READ_US = String(args['read-us']);
  process.env.BENCH_NVML_READ_MODE = mode;
  // The code before the fix: an Nvml without totalEnergyMjAsync makes the poller read on the event loop.
  const view = asyncReads ? nvml : { available: true, unavailableReason: null, totalEnergyMj: (g) => nvml.totalEnergyMj(g) };
  const p = new NvmlEnergyPoller(view, { gpuIndices: [0] });
  p.start();
  await sleep(1000);
  const m = await measure(phaseS, (s) => sleep(s * 1000), { loopDelay: true });
  const lat = p.readLatencyMs();
  // Edge reads while a background read is in flight (where there is one): the series must stay in time
  // order, with no false counter reset.
  let overlapping = 0;
  const edgeMs = [];
  const end = performance.now() + 3000;
  while (performance.now() < end) {
    await sleep(150);
    const waitUntil = performance.now() + 100;
    while (asyncReads && p['pending'].size === 0 && performance.now() < waitUntil) await new Promise((r) => setImmediate(r));
    if (p['pending'].size > 0) overlapping++;
    const t = performance.now();
    p.read(0); // a window edge: always synchronous
    edgeMs.push(performance.now() - t);
  }
  p.stop();
  await sleep(50); // a read still in flight comes back and is dropped
  process.env.BENCH_NVML_READ_US = '0';
  return {
    background_reads: asyncReads ? 'worker thread (koffi async)' : 'event loop (synchronous)',
    read_cost: mode === 'spin' ? 'CPU (busy wait)' : 'waiting (nanosleep)',
    cpu_core_fraction: round(m.cpu_core_fraction - idleMonitored.cpu_core_fraction, 4),
    event_loop_delay_ms_p99: round(m.event_loop_delay_ms_p99, 2),
    event_loop_delay_ms_max: round(m.event_loop_delay_ms_max, 2),
    read_latency_ms_mean: round(lat.meanMs, 3),
    read_latency_ms_max: round(lat.maxMs, 3),
    edge_read_ms_mean: round(edgeMs.reduce((a, b) => a + b, 0) / edgeMs.length, 3),
    edge_reads: edgeMs.length,
    edge_reads_overlapping_a_background_read: overlapping,
    ...checkSeries(p),
  };
}
const syncSpin = await emulated('background reads on the event loop, cost on the CPU', 'spin', false);
const asyncSpin = await emulated('background reads on a worker thread, cost on the CPU', 'spin', true);
const asyncSleep = await emulated('background reads on a worker thread, cost spent waiting', 'sleep', true);
nvml.shutdown();

// 6. What a lower background rate would cost in precision, on the recorded H100 counter (read every
// 25 ms): the energy of 1 s segments (what the J/token confidence interval is made of) from readings
// at R Hz, interpolated like EnergyMeter.segmentEnergies, against the full trace.
const { EnergyMeter } = await import('../dist/energy/meter.js');
const traceRows = readFileSync(h100Trace, 'utf8').trim().split('\n').slice(1).map((l) => {
  const [t, mj] = l.split(',');
  return { tS: Number(t), energyMj: BigInt(mj) };
});
const truthAt = (tS) => {
  let lo = 0;
  let hi = traceRows.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (traceRows[mid].tS <= tS) lo = mid;
    else hi = mid;
  }
  const a = traceRows[lo];
  const b = traceRows[hi];
  return Number(a.energyMj) + ((Number(b.energyMj) - Number(a.energyMj)) * (tS - a.tS)) / (b.tS - a.tS);
};
const heldAt = (tS) => {
  let v = traceRows[0].energyMj;
  for (const r of traceRows) {
    if (r.tS > tS) break;
    v = r.energyMj;
  }
  return v;
};
const rateStudy = {};
for (const rateHz of [10, 5, 2, 1]) {
  const errors = [];
  for (let phase = 0; phase < 4; phase++) {
    const t0 = traceRows[0].tS + 0.5 + phase / (4 * rateHz);
    const tEnd = traceRows.at(-1).tS - 0.5;
    const readings = [];
    for (let t = t0; t <= tEnd; t += 1 / rateHz) readings.push({ tS: t, gpuIndex: 0, energyMj: heldAt(t) });
    const meter = new EnergyMeter({ gpus: [0], smi: null, nvml: { readings: () => readings } });
    const segments = [];
    for (let a = Math.ceil(t0) + 0.3; a + 1 <= tEnd - 1; a += 1) segments.push({ fromS: a, toS: a + 1 });
    const est = meter.segmentEnergies(segments);
    segments.forEach((seg, i) => {
      const truthJ = (truthAt(seg.toS) - truthAt(seg.fromS)) / 1000;
      if (est[i] !== null && truthJ > 0) errors.push(Math.abs(est[i] - truthJ) / truthJ);
    });
  }
  rateStudy[`${rateHz}_hz`] = { segments: errors.length, error_pct_p50: round(100 * percentile(errors, 0.5), 2), error_pct_p95: round(100 * percentile(errors, 0.95), 2), cpu_core_fraction_at_3_96_ms_per_read: round((rateHz * 3.96) / 1000, 4) };
}
// The same with the reads phase-locked to the window's segments (what the poller does since session 3:
// ticks at edge + k / R): each reading lands on a segment boundary, late by the timer's jitter plus half
// the read (the worker thread stamps the midpoint of the call: ~2 ms on an H100), here 1–5 ms, seeded.
let seed = 0x9e3779b9;
const random = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
  return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
};
for (const rateHz of [2, 1]) {
  const errors = [];
  for (let phase = 0; phase < 4; phase++) {
    const edge = traceRows[0].tS + 0.5 + phase * 0.237;
    const tEnd = traceRows.at(-1).tS - 0.5;
    const readings = [{ tS: edge, gpuIndex: 0, energyMj: heldAt(edge) }];
    for (let k = 1; edge + k / rateHz <= tEnd; k++) {
      const tS = edge + k / rateHz + 0.001 + 0.004 * random();
      readings.push({ tS, gpuIndex: 0, energyMj: heldAt(tS) });
    }
    const meter = new EnergyMeter({ gpus: [0], smi: null, nvml: { readings: () => readings } });
    const segments = [];
    for (let a = edge; a + 1 <= tEnd - 1; a += 1) segments.push({ fromS: a, toS: a + 1 });
    const est = meter.segmentEnergies(segments);
    segments.forEach((seg, i) => {
      const truthJ = (truthAt(seg.toS) - truthAt(seg.fromS)) / 1000;
      if (est[i] !== null && truthJ > 0) errors.push(Math.abs(est[i] - truthJ) / truthJ);
    });
  }
  rateStudy[`${rateHz}_hz_phase_locked`] = { segments: errors.length, error_pct_p50: round(100 * percentile(errors, 0.5), 2), error_pct_p95: round(100 * percentile(errors, 0.95), 2), cpu_core_fraction_at_3_96_ms_per_read: round((rateHz * 3.96) / 1000, 4) };
}

const samplerCpu = samplerOnly.cpu_core_fraction - idle.cpu_core_fraction;
const pollerCpu = pollerOnly.cpu_core_fraction - idle.cpu_core_fraction;
const togetherCpu = together.cpu_core_fraction - idle.cpu_core_fraction;
const h100 = JSON.parse(readFileSync(join(repoRoot, 'bench', 'gpu', 'results', 'h100-energy-check.json'), 'utf8'));
const realReadMs = h100.nvml_read_latency_ms.meanMs;
const result = {
  cpu_core_fraction_together: round(togetherCpu, 5),
  sampler_cpu_core_fraction: round(samplerCpu, 5),
  nvml_poller_cpu_core_fraction: round(pollerCpu, 5),
  idle_process_cpu_core_fraction: round(idle.cpu_core_fraction, 5),
  nvidia_smi_child_cpu_core_fraction: smiChild0 !== null && smiChild1 !== null ? round((smiChild1 - smiChild0) / samplerOnly.wall_s, 4) : null,
  nvidia_smi_child_note: 'the fake nvidia-smi is a Node.js replay of a recorded trace: its CPU says nothing about the real nvidia-smi (bench/gpu/telemetry-cost.mjs measures that on a GPU)',
  sampler_samples_per_s: round(samplesPerS, 2),
  nvml_read_latency_us_fake: { p50: round(percentile(latUs, 0.5), 2), p99: round(percentile(latUs, 0.99), 2), max: round(percentile(latUs, 1), 2) },
  nvml_poller_read_latency_ms_fake: { count: pollerLatency.count, mean: round(pollerLatency.meanMs, 4), max: round(pollerLatency.maxMs, 3) },
  real_h100: {
    read_latency_ms_mean: round(realReadMs, 3),
    read_latency_ms_max: round(h100.nvml_read_latency_ms.maxMs, 1),
    process_cpu_core_fraction_measured: round(h100.process_cpu_core_fraction, 4),
    poller_cpu_core_fraction_if_cpu_bound: round((10 * realReadMs) / 1000, 4),
    source: 'bench/gpu/results/h100-energy-check.json (energy-check.mjs: sampler + 10 Hz poller + EnergyMeter, H100, driver 580.159.04)',
  },
  emulated_real_reads: { read_us: args['read-us'], sync_on_event_loop: syncSpin, async_cpu_bound: asyncSpin, async_waiting: asyncSleep, idle_with_loop_monitor_cpu_core_fraction: round(idleMonitored.cpu_core_fraction, 4) },
  background_rate_vs_1s_segment_error_h100: rateStudy,
  targets: {
    under_1pct_of_a_core_fake: { target: 0.01, value: round(togetherCpu, 5), met: togetherCpu < 0.01 },
    under_1pct_of_a_core_real_h100: { target: 0.01, value: round(h100.process_cpu_core_fraction, 4), met: h100.process_cpu_core_fraction < 0.01 },
  },
  machine: machine(),
};
const e = (r) => `CPU ${round(r.cpu_core_fraction * 100, 2)}% of a core, event-loop delay p99/max ${r.event_loop_delay_ms_p99}/${r.event_loop_delay_ms_max} ms, read latency mean/max ${r.read_latency_ms_mean}/${r.read_latency_ms_max} ms; ${r.edge_reads} edge reads (${r.edge_reads_overlapping_a_background_read} during a background read) of ${r.edge_read_ms_mean} ms; ${r.readings} readings, in time order: ${r.in_time_order}, resets ${r.resets}, errors ${r.poll_errors}`;
report(result, args.json, [
  `sampler (1 Hz, ${result.sampler_samples_per_s} samples/s) in this process: ${round(samplerCpu * 100, 3)}% of a core`,
  `NVML poller (10 Hz, fake library): ${round(pollerCpu * 100, 3)}% of a core; sync read latency p50/p99/max ${result.nvml_read_latency_us_fake.p50}/${result.nvml_read_latency_us_fake.p99}/${result.nvml_read_latency_us_fake.max} µs`,
  `together: ${round(togetherCpu * 100, 3)}% of a core (idle process ${round(idle.cpu_core_fraction * 100, 3)}% subtracted)`,
  `fake nvidia-smi child (not representative): ${round((result.nvidia_smi_child_cpu_core_fraction ?? NaN) * 100, 2)}% of a core`,
  `real H100 (recorded): read ${result.real_h100.read_latency_ms_mean} ms mean, ${result.real_h100.read_latency_ms_max} ms max; process ${round(h100.process_cpu_core_fraction * 100, 2)}% of a core`,
  `emulated ${args['read-us']} µs reads, sync on the event loop: ${e(syncSpin)}`,
  `emulated ${args['read-us']} µs reads, async, CPU-bound: ${e(asyncSpin)}`,
  `emulated ${args['read-us']} µs reads, async, waiting: ${e(asyncSleep)}`,
  ...Object.entries(rateStudy).map(([k, v]) => `background rate ${k.replace('_hz', ' Hz').replace('_phase_locked', ', phase-locked to the edges')}: 1 s segment energy error p50/p95 ${v.error_pct_p50}/${v.error_pct_p95}% (H100 trace); CPU at 3.96 ms per read ${round(v.cpu_core_fraction_at_3_96_ms_per_read * 100, 2)}% of a core`),
  `target < 1% of a core (fake library): ${result.targets.under_1pct_of_a_core_fake.met ? 'met' : 'MISSED'}`,
  `target < 1% of a core (real H100, recorded before the fix): ${result.targets.under_1pct_of_a_core_real_h100.met ? 'met' : 'MISSED'}`,
]);
