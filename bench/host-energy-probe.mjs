#!/usr/bin/env node
// What host energy can this machine measure (issue 9)? Lists every RAPL zone and hwmon sensor with
// readable/reason (as `carbonbench doctor --json` does under host_energy), then runs the real
// HostEnergyMeter for a window while N worker threads spin, and prints each source's energy and mean
// power and the cpu/dram figures an experiment would store. Needs only `npm run build` (no engine, GPU
// or native module), so it runs on a bare GPU box:
//   node bench/host-energy-probe.mjs [--sysfs-root /sys] [--seconds 10] [--busy-threads 4]
import { Worker } from 'node:worker_threads';
import { discoverHost, HostEnergyMeter } from '../dist/energy/host-meter.js';
import { selectBoundary } from '../dist/energy/boundary.js';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i < 0 ? dflt : process.argv[i + 1];
};
const root = arg('--sysfs-root', process.env.CARBONBENCH_SYSFS_ROOT ?? '/sys');
const seconds = Number(arg('--seconds', '10'));
const busy = Number(arg('--busy-threads', '0'));

const inv = discoverHost(root);
console.log(JSON.stringify({ uid: process.getuid?.(), sysfs_root: root, powercap: { reason: inv.powercap.reason, zones: inv.powercap.zones.map(({ path, ...z }) => z) }, hwmon: { reason: inv.hwmon.reason, sensors: inv.hwmon.sensors.map(({ path, ...s }) => s) } }, null, 1));

const meter = new HostEnergyMeter(inv);
meter.start();
const workers = Array.from({ length: busy }, () => new Worker('const end = Date.now() + ' + (seconds + 2) * 1000 + '; let x = 0; while (Date.now() < end) x += Math.sqrt(x + 1);', { eval: true }));
await new Promise((r) => setTimeout(r, 1000));
meter.poll();
const fromS = Date.now() / 1000;
await new Promise((r) => setTimeout(r, seconds * 1000));
meter.poll();
const toS = Date.now() / 1000;
meter.stop();
await Promise.all(workers.map((w) => w.terminate()));
const w = meter.measure(fromS, toS);
const windowS = toS - fromS;
const b = selectBoundary({ gpuJ: 0, moduleJ: null, cpuJ: w.cpuJ, dramJ: w.dramJ });
console.log(JSON.stringify({
  window_s: windowS,
  busy_threads: busy,
  cpu_j: w.cpuJ, cpu_w: w.cpuJ === null ? null : w.cpuJ / windowS, cpu_source: w.cpuSource, cpu_error: w.cpuError,
  dram_j: w.dramJ, dram_w: w.dramJ === null ? null : w.dramJ / windowS, dram_source: w.dramSource, dram_error: w.dramError,
  boundary_with_a_gpu: b.boundary,
  sources: w.sources.map((s) => ({ ...s, mean_w: s.energyJ === null ? null : s.energyJ / windowS })),
}, null, 1));
