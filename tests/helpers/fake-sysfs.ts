/**
 * Fake sysfs trees (RAPL powercap zones, hwmon chips) in a temp directory, laid out like the kernel's:
 * `<root>/class/powercap/intel-rapl:0/{name,energy_uj,max_energy_range_uj}`,
 * `<root>/class/hwmon/hwmon0/{name,power1_input,power1_label,energy1_input}`.
 */
import { chmodSync, mkdirSync, mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function fakeSysfsRoot(): string {
  const root = mkdtempSync(join(tmpdir(), 'cb-sysfs-'));
  // mkdtemp makes 0700; the unprivileged-reader tests need to traverse it.
  chmodSync(root, 0o755);
  return root;
}

/** Writes a file atomically (rename), as a reader must never see a half-written counter. */
export function writeAtomic(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

export function raplZone(root: string, id: string, name: string, energyUj: number | string, maxEnergyRangeUj: number | null = 262_143_328_850): string {
  const dir = join(root, 'class', 'powercap', id);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  writeFileSync(join(dir, 'name'), `${name}\n`, { mode: 0o644 });
  writeFileSync(join(dir, 'energy_uj'), `${energyUj}\n`, { mode: 0o644 });
  if (maxEnergyRangeUj !== null) writeFileSync(join(dir, 'max_energy_range_uj'), `${maxEnergyRangeUj}\n`, { mode: 0o644 });
  return dir;
}

/** The powercap control type directory (`intel-rapl`), which has no counter of its own. */
export function raplControlType(root: string): void {
  const dir = join(root, 'class', 'powercap', 'intel-rapl');
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  writeFileSync(join(dir, 'enabled'), '1\n');
}

export function setZoneEnergy(zoneDir: string, energyUj: number): void {
  writeAtomic(join(zoneDir, 'energy_uj'), `${energyUj}\n`);
}

export interface FakeHwmonSensor {
  kind: 'power' | 'energy';
  n: number;
  /** µW for power, µJ for energy. */
  value: number | string;
  label?: string;
}

export function hwmonChip(root: string, chipDir: string, name: string, sensors: readonly FakeHwmonSensor[]): string {
  const dir = join(root, 'class', 'hwmon', chipDir);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  writeFileSync(join(dir, 'name'), `${name}\n`);
  for (const s of sensors) {
    writeFileSync(join(dir, `${s.kind}${s.n}_input`), `${s.value}\n`);
    if (s.label !== undefined) writeFileSync(join(dir, `${s.kind}${s.n}_label`), `${s.label}\n`);
  }
  return dir;
}

export function setSensor(chipDir: string, kind: 'power' | 'energy', n: number, value: number): void {
  writeAtomic(join(chipDir, `${kind}${n}_input`), `${value}\n`);
}
