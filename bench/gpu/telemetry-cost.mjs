#!/usr/bin/env node
// On a real NVIDIA GPU: what carbonbench's telemetry costs (issue 7, item 2; target under 1% of a core
// for the nvidia-smi sampler and NVML polling at 10 Hz together), and whether reading NVML's energy
// counter on a worker thread (Nvml.totalEnergyMjAsync, used by NvmlEnergyPoller for its background
// reads) fixes what bench/gpu/README.md found on an H100: 3.96 ms per read, blocking the event loop, the
// process at 4.1% of a core.
//
// Measured, idle GPU and under a steady matmul load (gpu_load.py heavy):
//  1. each NVML call through koffi (energy, power, temperature, and the energy counter through
//     nvmlDeviceGetFieldValues where the driver has it): wall time and CPU time (user, system) per call
//     over a batch of synchronous calls — CPU ≈ wall means the driver spins (only fewer reads save
//     CPU), CPU ≪ wall means it waits (a worker thread saves both the event loop and the CPU);
//  2. the 10 Hz poller with background reads on the event loop (as before the fix) and on a worker
//     thread (the fix): process CPU (less the event-loop monitor's own), event-loop delay p99/max, read
//     latency, readings in time order;
//  3. the 1 Hz nvidia-smi sampler: CPU of this process and of the nvidia-smi child (/proc);
//  4. sampler + poller (the fix) together: the figure the target is about.
// Writes telemetry-cost.json to --out (default $OUT, else bench/gpu/out) and prints a summary.
//
// Device run (`carry: [".device-carry", "dist"]`, the build made here):
//   source .device-carry/activate.sh && node bench/gpu/telemetry-cost.mjs && node bench/client.mjs --json > $OUT/client.json
// (bench/client.mjs needs no GPU: run there, it gets cores that nothing else uses.)
// Locally, against the fakes (to check the script):
//   CARBONBENCH_NVML_LIB=tests/.tmp/fake-nvml-<hash>/libnvidia-ml.so.1 node bench/gpu/telemetry-cost.mjs \
//     --nvidia-smi tests/fakes/nvidia-smi --seconds 4 --no-load
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import * as koffi from 'koffi';
import { SmiSampler } from '../../dist/telemetry/smi-sampler.js';
import { openNvml, resolveNvmlLibraryPath } from '../../dist/telemetry/nvml.js';
import { NvmlEnergyPoller } from '../../dist/telemetry/nvml-poller.js';
import { procCpuS } from '../lib/common.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : dflt;
};
const gpu = Number(opt('--gpu', '0'));
const seconds = Number(opt('--seconds', '20'));
const calls = Number(opt('--calls', '200'));
const withLoad = !argv.includes('--no-load');
const smiExecutable = opt('--nvidia-smi', process.env.CARBONBENCH_NVIDIA_SMI ?? 'nvidia-smi');
const out = opt('--out', process.env.OUT ?? join(here, 'out'));
mkdirSync(out, { recursive: true });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const round = (x, d = 3) => (x === null || !Number.isFinite(x) ? null : Math.round(x * 10 ** d) / 10 ** d);
const log = (...a) => console.error(...a);


/**
 * CPU of this process over `during(s)`; with `loopDelay` also the event-loop delay — whose 1 ms timer
 * costs CPU itself (about 1-2% of a core): CPU figures of such runs have an idle run's with the
 * monitor subtracted (`monitorBaseline`).
 */
async function measure(s, during, { loopDelay = false, monitorBaseline = 0 } = {}) {
  const loop = loopDelay ? monitorEventLoopDelay({ resolution: 1 }) : null;
  loop?.enable();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await during(s);
  const wallS = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  loop?.disable();
  return {
    wall_s: round(wallS, 2),
    cpu_core_fraction: round((c.user + c.system) / 1e6 / wallS - monitorBaseline, 5),
    user_core_fraction: round(c.user / 1e6 / wallS, 5),
    system_core_fraction: round(c.system / 1e6 / wallS, 5),
    event_loop_delay_ms_p99: loop ? round(loop.percentile(99) / 1e6, 2) : null,
    event_loop_delay_ms_max: loop ? round(loop.max / 1e6, 2) : null,
  };
}

// ---- 1. Per-call cost of NVML calls, straight through koffi ----------------------------------------
const lib = koffi.load(resolveNvmlLibraryPath());
const dev = koffi.pointer(koffi.opaque());
const f = {
  init: lib.func('nvmlInit_v2', 'int', []),
  handle: lib.func('nvmlDeviceGetHandleByIndex_v2', 'int', ['unsigned int', koffi.out(koffi.pointer(dev))]),
  energy: lib.func('nvmlDeviceGetTotalEnergyConsumption', 'int', [dev, koffi.out(koffi.pointer('unsigned long long'))]),
  power: lib.func('nvmlDeviceGetPowerUsage', 'int', [dev, koffi.out(koffi.pointer('unsigned int'))]),
  temp: lib.func('nvmlDeviceGetTemperature', 'int', [dev, 'int', koffi.out(koffi.pointer('unsigned int'))]),
};
// nvmlFieldValue_t (nvml.h): fieldId, scopeId, timestamp, latencyUsec, valueType, nvmlReturn, value (an
// 8-byte union, read here as unsigned long long). NVML_FI_DEV_TOTAL_ENERGY_CONSUMPTION = 83 (mJ).
const FieldValue = koffi.struct({ fieldId: 'uint', scopeId: 'uint', timestamp: 'int64', latencyUsec: 'int64', valueType: 'int', nvmlReturn: 'int', value: 'uint64' });
let fieldValues = null;
try {
  fieldValues = lib.func('nvmlDeviceGetFieldValues', 'int', [dev, 'int', koffi.inout(koffi.pointer(FieldValue))]);
} catch {
  fieldValues = null; // the fake library has no such symbol
}
if (f.init() !== 0) throw new Error('nvmlInit_v2 failed');
const h = [null];
if (f.handle(gpu, h) !== 0) throw new Error(`no NVML handle for GPU ${gpu}`);
const calls_ = {
  total_energy: () => f.energy(h[0], [0]),
  power_usage: () => f.power(h[0], [0]),
  temperature: () => f.temp(h[0], 0, [0]),
  ...(fieldValues ? { field_values_total_energy: () => fieldValues(h[0], 1, [{ fieldId: 83, scopeId: 0, timestamp: 0, latencyUsec: 0, valueType: 0, nvmlReturn: 0, value: 0 }]) } : {}),
};

function perCall() {
  const result = {};
  for (const [name, call] of Object.entries(calls_)) {
    for (let i = 0; i < 5; i++) call(); // warm
    const wall = [];
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < calls; i++) {
      const t = performance.now();
      const code = call();
      wall.push(performance.now() - t);
      if (code !== 0 && i === 0) log(`${name} returned ${code}`);
    }
    const totalMs = performance.now() - t0;
    const c = process.cpuUsage(c0);
    wall.sort((a, b) => a - b);
    result[name] = {
      wall_ms_mean: round(totalMs / calls, 4),
      wall_ms_p50: round(wall[Math.floor(calls / 2)], 4),
      wall_ms_p99: round(wall[Math.min(calls - 1, Math.ceil(0.99 * calls) - 1)], 4),
      wall_ms_max: round(wall[calls - 1], 3),
      cpu_ms_per_call: round((c.user + c.system) / 1000 / calls, 4),
      user_ms_per_call: round(c.user / 1000 / calls, 4),
      system_ms_per_call: round(c.system / 1000 / calls, 4),
      cpu_over_wall: round((c.user + c.system) / 1000 / totalMs, 3),
    };
  }
  // The field-values counter against the direct one (both mJ): a sanity check of field id 83.
  if (fieldValues) {
    const e = [0];
    f.energy(h[0], e);
    const v = [{ fieldId: 83, scopeId: 0, timestamp: 0, latencyUsec: 0, valueType: 0, nvmlReturn: 0, value: 0 }];
    const code = fieldValues(h[0], 1, v);
    result.field_values_check = { code, nvml_return: v[0].nvmlReturn, field_mj: String(v[0].value), direct_mj: String(e[0]) };
  }
  return result;
}

// ---- 2.–4. The project's poller and sampler -------------------------------------------------------
const nvml = openNvml();
if (!nvml.available) throw new Error(`NVML unavailable: ${nvml.unavailableReason}`);

async function pollerRun(asyncReads) {
  const view = asyncReads ? nvml : { available: true, unavailableReason: null, totalEnergyMj: (g) => nvml.totalEnergyMj(g) };
  const p = new NvmlEnergyPoller(view, { gpuIndices: [gpu] });
  p.start();
  await sleep(1000);
  const m = await measure(seconds, (s) => sleep(s * 1000), { loopDelay: true, monitorBaseline: idleMonitored.cpu_core_fraction });
  p.stop();
  await sleep(200);
  const r = p.readings(gpu);
  let ordered = true;
  for (let i = 1; i < r.length; i++) if (r[i].tS < r[i - 1].tS || r[i].energyMj < r[i - 1].energyMj) ordered = false;
  const lat = p.readLatencyMs();
  return { background_reads: asyncReads ? 'worker thread' : 'event loop', ...m, readings: r.length, in_time_order: ordered, resets: p.resets().length, errors: p.errors().count, read_latency_ms_mean: round(lat.meanMs, 3), read_latency_ms_max: round(lat.maxMs, 2) };
}

async function samplerRun(withPoller) {
  const sampler = await SmiSampler.create({ executable: smiExecutable, gpus: [gpu] });
  await sampler.start();
  const p = withPoller ? new NvmlEnergyPoller(nvml, { gpuIndices: [gpu] }) : null;
  p?.start();
  await sleep(2000);
  const pid = sampler['process']?.pid;
  const child0 = procCpuS(pid);
  const n0 = sampler.collected().length;
  const m = await measure(seconds, (s) => sleep(s * 1000));
  const child1 = procCpuS(pid);
  const n1 = sampler.collected().length;
  p?.stop();
  await sampler.stop();
  const childFraction = child0 !== null && child1 !== null ? round((child1 - child0) / m.wall_s, 5) : null;
  return {
    with_poller: withPoller,
    ...m,
    samples_per_s: round((n1 - n0) / m.wall_s, 2),
    nvidia_smi_child_cpu_core_fraction: childFraction,
    both_processes_cpu_core_fraction: childFraction === null ? null : round(m.cpu_core_fraction + childFraction, 5),
  };
}

async function phase(label) {
  log(`telemetry-cost: ${label}: per-call cost…`);
  const per_call = perCall();
  log(`telemetry-cost: ${label}: poller, background reads on the event loop (${seconds} s)…`);
  const poller_sync = await pollerRun(false);
  log(`telemetry-cost: ${label}: poller, background reads on a worker thread (${seconds} s)…`);
  const poller_async = await pollerRun(true);
  log(`telemetry-cost: ${label}: nvidia-smi sampler (${seconds} s)…`);
  const sampler = await samplerRun(false);
  log(`telemetry-cost: ${label}: sampler + poller (${seconds} s)…`);
  const together = await samplerRun(true);
  return { per_call, poller_sync, poller_async, sampler, together };
}

await sleep(1000);
const idleLoop = await measure(5, (s) => sleep(s * 1000));
const idleMonitored = await measure(5, (s) => sleep(s * 1000), { loopDelay: true });
const result = {
  date: new Date().toISOString(),
  gpu: nvml.deviceName(gpu),
  driver: nvml.driverVersion(),
  nvml_library: resolveNvmlLibraryPath(),
  nvidia_smi: smiExecutable,
  seconds_per_run: seconds,
  idle_process: idleLoop,
  idle_process_with_loop_monitor: idleMonitored,
  idle_gpu: await phase('idle GPU'),
};
if (withLoad) {
  const load = execa('python3', [join(here, 'gpu_load.py'), 'heavy', String(seconds * 6 + 60)], { buffer: false, reject: false });
  await new Promise((resolve, reject) => {
    load.stdout.on('data', (d) => d.toString().includes('ready') && resolve());
    load.on('exit', () => reject(new Error('gpu_load.py heavy exited before ready')));
  });
  await sleep(2000);
  try {
    result.loaded_gpu = await phase('GPU under load');
  } finally {
    load.kill('SIGTERM');
    await load.catch(() => {});
  }
}
nvml.shutdown();
const target = 0.01;
const verdict = (p) => p.together.both_processes_cpu_core_fraction ?? p.together.cpu_core_fraction;
result.target = {
  under_1pct_of_a_core: target,
  idle_gpu_value: verdict(result.idle_gpu),
  loaded_gpu_value: result.loaded_gpu ? verdict(result.loaded_gpu) : null,
  met: verdict(result.idle_gpu) < target && (!result.loaded_gpu || verdict(result.loaded_gpu) < target),
};
writeFileSync(join(out, 'telemetry-cost.json'), `${JSON.stringify(result, null, 2)}\n`);
for (const [label, p] of Object.entries({ 'idle GPU': result.idle_gpu, 'GPU under load': result.loaded_gpu })) {
  if (!p) continue;
  const e = p.per_call.total_energy;
  console.log(`${label}: energy read ${e.wall_ms_mean} ms wall (p99 ${e.wall_ms_p99}), ${e.cpu_ms_per_call} ms CPU (user ${e.user_ms_per_call}, system ${e.system_ms_per_call}) per call`);
  for (const k of ['power_usage', 'temperature', 'field_values_total_energy']) if (p.per_call[k]) console.log(`  ${k}: ${p.per_call[k].wall_ms_mean} ms wall, ${p.per_call[k].cpu_ms_per_call} ms CPU`);
  for (const r of [p.poller_sync, p.poller_async]) console.log(`  poller 10 Hz, reads on the ${r.background_reads}: ${round(r.cpu_core_fraction * 100, 2)}% of a core, event-loop delay p99/max ${r.event_loop_delay_ms_p99}/${r.event_loop_delay_ms_max} ms, in time order ${r.in_time_order}, resets ${r.resets}`);
  console.log(`  sampler: ${round(p.sampler.cpu_core_fraction * 100, 3)}% of a core here + nvidia-smi ${round(p.sampler.nvidia_smi_child_cpu_core_fraction * 100, 3)}%`);
  console.log(`  together: ${round(p.together.cpu_core_fraction * 100, 3)}% here + nvidia-smi ${round(p.together.nvidia_smi_child_cpu_core_fraction * 100, 3)}% = ${round(verdict(p) * 100, 3)}% of a core`);
}
console.log(`target < 1% of a core: ${result.target.met ? 'met' : 'MISSED'}; written ${join(out, 'telemetry-cost.json')}`);
