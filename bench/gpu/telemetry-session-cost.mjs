#!/usr/bin/env node
// On a real NVIDIA GPU: what the telemetry of a run costs as the product runs it (issue 7, item 2: under
// 1% of a core for the nvidia-smi sampler and the NVML polling together). It opens openRealTelemetry —
// the sampler, NVML with the background rate chosen by `energy.nvml_hz` (auto: from the measured cost of
// a read, decision 41), the host meter — marks a window edge every 10 s as an experiment would, and
// measures the CPU of this process and of the nvidia-smi child, for `auto` and for a fixed 10 Hz, idle
// and under a steady matmul load (gpu_load.py heavy). It also checks that the window energy is the same
// whatever the background rate: the sum of the 1 s segment energies against the window's counter delta.
//
// Device run (`carry: [".device-carry", "dist"]`):
//   source .device-carry/activate.sh && node bench/gpu/telemetry-session-cost.mjs [--seconds 20] [--no-load]
// Writes telemetry-session-cost.json to --out (default $OUT, else bench/gpu/out) and prints a summary.
// Locally, against the fakes (to check the script):
//   CARBONBENCH_NVML_LIB=tests/.tmp/fake-nvml-<hash>/libnvidia-ml.so.1 FAKE_NVML_READ_US=4000 \
//     node bench/gpu/telemetry-session-cost.mjs --nvidia-smi tests/fakes/nvidia-smi --seconds 12 --no-load
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { openRealTelemetry } from '../../dist/telemetry/session.js';
import { procCpuS, round } from '../lib/common.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : dflt;
};
const seconds = Number(opt('--seconds', '20'));
const withLoad = !argv.includes('--no-load');
const nvidiaSmi = opt('--nvidia-smi', process.env.CARBONBENCH_NVIDIA_SMI ?? 'nvidia-smi');
const sysfsRoot = opt('--sysfs-root', undefined);
const out = opt('--out', process.env.OUT ?? join(here, 'out'));
mkdirSync(out, { recursive: true });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (...a) => console.error(...a);

/** CPU seconds (user + system) of each child process of this one, from /proc. */
function childrenCpuS() {
  let total = 0;
  for (const task of readdirSync('/proc/self/task')) {
    let children = '';
    try {
      children = readFileSync(`/proc/self/task/${task}/children`, 'utf8');
    } catch {
      continue;
    }
    for (const pid of children.trim().split(/\s+/).filter(Boolean)) {
      let comm = '';
      try {
        comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      } catch {
        continue; // exited meanwhile
      }
      if (comm !== 'nvidia-smi' && comm !== 'node') continue; // the sampler only (the fake is a node script)
      total += procCpuS(pid) ?? 0;
    }
  }
  return total;
}

async function sessionRun(nvmlHz) {
  const session = await openRealTelemetry({ nvidiaSmi, nvmlHz, ...(sysfsRoot ? { sysfsRoot } : {}) });
  try {
    await sleep(2000);
    const cpu0 = process.cpuUsage();
    const child0 = childrenCpuS();
    const t0 = performance.now();
    const windows = [];
    let fromS = session.meter.markEdge();
    const endAt = t0 + seconds * 1000;
    while (performance.now() < endAt) {
      await sleep(Math.min(10_000, endAt - performance.now()));
      const toS = session.meter.markEdge();
      windows.push({ fromS, toS });
      fromS = toS;
    }
    const wallS = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const childS = childrenCpuS() - child0;
    // Window energy against the sum of its whole-second segments plus the remainder.
    const checks = [];
    for (const w of windows) {
      const m = await session.meter.measure('w', w.fromS, w.toS);
      const segments = [];
      for (let a = w.fromS; a < w.toS - 1e-9; a += 1) segments.push({ fromS: a, toS: Math.min(a + 1, w.toS) });
      const energies = session.meter.segmentEnergies(segments);
      const covered = energies.every((e) => e !== null);
      const sumJ = covered ? energies.reduce((s, e) => s + e, 0) : null;
      checks.push({ window_s: round(w.toS - w.fromS, 3), energy_j: round(m.energyJ, 3), energy_source: m.energySource, nvml_readings: m.nvmlReadings, segments: segments.length, segments_sum_j: round(sumJ, 3), rel_diff: sumJ === null ? null : round((sumJ - m.energyJ) / m.energyJ, 6), smi_vs_nvml: round(m.smiVsNvmlRel, 4) });
    }
    const processFraction = (cpu.user + cpu.system) / 1e6 / wallS;
    const childFraction = childS / wallS;
    return {
      nvml_hz: nvmlHz,
      polling: session.nvmlPolling,
      wall_s: round(wallS, 2),
      process_cpu_core_fraction: round(processFraction, 5),
      nvidia_smi_cpu_core_fraction: round(childFraction, 5),
      together_cpu_core_fraction: round(processFraction + childFraction, 5),
      windows: checks,
    };
  } finally {
    await session.stop();
  }
}

async function phase(label) {
  const runs = {};
  for (const nvmlHz of ['auto', 10]) {
    log(`telemetry-session-cost: ${label}: nvml_hz ${nvmlHz} (${seconds} s)…`);
    runs[nvmlHz === 'auto' ? 'auto' : `hz_${nvmlHz}`] = await sessionRun(nvmlHz);
  }
  return runs;
}

const result = { date: new Date().toISOString(), nvidia_smi: nvidiaSmi, seconds_per_run: seconds, idle_gpu: await phase('idle GPU') };
if (withLoad) {
  const load = execa('python3', [join(here, 'gpu_load.py'), 'heavy', String(seconds * 3 + 60)], { buffer: false, reject: false });
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
const target = 0.01;
const phases = [result.idle_gpu, result.loaded_gpu].filter(Boolean);
result.target = { under_1pct_of_a_core: target, auto_met: phases.every((p) => p.auto.together_cpu_core_fraction < target) };
writeFileSync(join(out, 'telemetry-session-cost.json'), `${JSON.stringify(result, null, 2)}\n`);
for (const [label, p] of Object.entries({ 'idle GPU': result.idle_gpu, 'GPU under load': result.loaded_gpu })) {
  if (!p) continue;
  for (const r of Object.values(p)) {
    const worst = Math.max(...r.windows.map((w) => Math.abs(w.rel_diff ?? Infinity)));
    console.log(`${label}, nvml_hz ${r.nvml_hz} (${r.polling?.reason ?? 'no NVML counter'}): ${round(r.process_cpu_core_fraction * 100, 3)}% of a core here + nvidia-smi ${round(r.nvidia_smi_cpu_core_fraction * 100, 3)}% = ${round(r.together_cpu_core_fraction * 100, 3)}%; ${r.windows.length} windows, segment sums vs window energy within ${round(worst * 100, 4)}%`);
  }
}
console.log(`target < 1% of a core with nvml_hz auto: ${result.target.auto_met ? 'met' : 'MISSED'}; written ${join(out, 'telemetry-session-cost.json')}`);
