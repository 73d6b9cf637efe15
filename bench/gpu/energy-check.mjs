#!/usr/bin/env node
// On a real NVIDIA GPU: measures windows of idle, steady, bursty and medium load with the real
// nvidia-smi sampler and NVML through FFI (koffi), and compares the two energy figures over the same
// window. Writes energy-check.json and the 1 Hz trace to $OUT (or bench/gpu/out).
//   npm run build && node bench/gpu/energy-check.mjs [--gpu 0]
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { SmiSampler } from '../../dist/telemetry/smi-sampler.js';
import { openNvml } from '../../dist/telemetry/nvml.js';
import { NvmlEnergyPoller } from '../../dist/telemetry/nvml-poller.js';
import { EnergyMeter } from '../../dist/energy/meter.js';

const here = dirname(fileURLToPath(import.meta.url));
const out = process.env.OUT ?? join(here, 'out');
mkdirSync(out, { recursive: true });
const gpu = Number(process.argv[process.argv.indexOf('--gpu') + 1] || 0) || 0;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const smi = await SmiSampler.create({ executable: process.env.CARBONBENCH_NVIDIA_SMI ?? 'nvidia-smi', gpus: [gpu] });
const clockSkewS = [];
smi.onSample((s) => clockSkewS.push(Date.now() / 1000 - s.tS));
await smi.start();
const nvml = openNvml();
if (!nvml.available) console.error(`NVML unavailable: ${nvml.unavailableReason}`);
const poller = nvml.available ? new NvmlEnergyPoller(nvml, { gpuIndices: [gpu] }) : null;
poller?.start();
const meter = new EnergyMeter({ gpus: [gpu], smi, nvml: poller });
const cpuStart = process.cpuUsage();
const wallStart = Date.now();

async function window(name, mode, seconds) {
  let load = null;
  if (mode !== 'idle') {
    load = execa('python3', [join(here, 'gpu_load.py'), mode, String(seconds + 30)], { buffer: false, reject: false });
    await new Promise((resolve, reject) => {
      load.stdout.on('data', (d) => d.toString().includes('ready') && resolve());
      load.on('exit', () => reject(new Error(`gpu_load.py ${mode} exited before ready`)));
    });
    await sleep(2000); // ramp-up excluded
  }
  meter.beginWindow(name);
  await sleep(seconds * 1000);
  const m = await meter.endWindow(name);
  load?.kill('SIGTERM');
  await load?.catch(() => {});
  const row = {
    window: name, mode, seconds: m.durationS, energy_source: m.energySource,
    nvml_j: m.nvmlJ, smi_j: m.smiJ, smi_vs_nvml_pct: m.smiVsNvmlRel === null ? null : 100 * m.smiVsNvmlRel,
    mean_power_w: m.meanPowerW, peak_power_w: m.peakPowerW, smi_samples: m.smiSamples, nvml_readings: m.nvmlReadings,
    smi_error: m.smiError, nvml_error: m.nvmlError,
  };
  console.log(JSON.stringify(row));
  await sleep(3000);
  return row;
}

const rows = [];
rows.push(await window('idle-10s', 'idle', 10));
rows.push(await window('heavy-15s', 'heavy', 15));
rows.push(await window('bursty-20s', 'bursty', 20));
rows.push(await window('medium-12s', 'medium', 12));
rows.push(await window('heavy-5s', 'heavy', 5));

const cpu = process.cpuUsage(cpuStart);
const wallS = (Date.now() - wallStart) / 1000;
const samples = smi.collected();
await smi.stop();
poller?.stop();
const result = {
  date: new Date().toISOString(),
  gpu: nvml.available ? nvml.deviceName(gpu) : null,
  driver: nvml.available ? nvml.driverVersion() : null,
  sampler_command: smi.command,
  unsupported_fields: smi.query.unsupported,
  bad_lines: smi.badLineCount,
  clock_skew_s: { min: Math.min(...clockSkewS), max: Math.max(...clockSkewS) },
  nvml_read_latency_ms: poller?.readLatencyMs() ?? null,
  nvml_resets: poller?.resets().length ?? null,
  process_cpu_core_fraction: (cpu.user + cpu.system) / 1e6 / wallS,
  windows: rows,
};
nvml.shutdown();
writeFileSync(join(out, 'energy-check.json'), JSON.stringify(result, null, 2));
const cols = ['tS', 'gpuIndex', 'powerW', 'powerInstantW', 'tempC', 'memTempC', 'smClockMhz', 'memClockMhz', 'fanPct', 'utilPct', 'memUsedMib', 'eventReasons'];
writeFileSync(join(out, 'sampler-trace.csv'), [cols.join(','), ...samples.map((s) => cols.map((c) => (s[c] === null ? '' : c === 'eventReasons' ? `0x${s[c].toString(16)}` : s[c])).join(','))].join('\n') + '\n');
console.log(JSON.stringify({ ...result, windows: undefined }, null, 2));
