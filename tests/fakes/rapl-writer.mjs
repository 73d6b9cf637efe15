#!/usr/bin/env node
// A fake RAPL: advances `energy_uj` counters of a fake sysfs tree at constant power, in real time, and
// wraps them at max_energy_range_uj as the kernel's do.
//
// Usage: rapl-writer.mjs [--period-ms N] <zone-dir>=<watts> ...
// Each zone's counter starts at its current energy_uj and becomes (start + watts × elapsed) mod range,
// written every period (default 50 ms) by write-then-rename, so a reader never sees half a number.
// Runs until killed; prints "ready" on stdout once the first values are written.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const args = process.argv.slice(2);
let periodMs = 50;
const zones = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--period-ms') periodMs = Number(args[++i]);
  else {
    const [dir, watts] = args[i].split('=');
    const startUj = Number(readFileSync(join(dir, 'energy_uj'), 'utf8').trim());
    const rangeUj = Number(readFileSync(join(dir, 'max_energy_range_uj'), 'utf8').trim());
    zones.push({ dir, watts: Number(watts), startUj, rangeUj });
  }
}
const t0 = performance.now();
function write() {
  const elapsedS = (performance.now() - t0) / 1000;
  for (const z of zones) {
    const uj = Math.floor(z.startUj + z.watts * 1e6 * elapsedS) % z.rangeUj;
    const file = join(z.dir, 'energy_uj');
    writeFileSync(`${file}.tmp`, `${uj}\n`);
    renameSync(`${file}.tmp`, file);
  }
}
write();
process.stdout.write('ready\n');
setInterval(write, periodMs);
process.on('SIGTERM', () => process.exit(0));
