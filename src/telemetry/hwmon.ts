/**
 * hwmon power and energy sensors (`<sysfs>/class/hwmon/hwmonN`): `name` names the chip, `powerK_input`
 * is microwatts (integrated with the trapezoid), `energyK_input` microjoules (a counter: differences),
 * `powerK_label` / `energyK_label` say what the sensor measures. Boards such as the DGX Spark expose
 * their rails here.
 *
 * Which sensors count toward the boundary: only those whose meaning is known from chip name and label
 * (HWMON_COMPONENT_RULES). An unknown sensor is recorded with its energy but never added — adding a rail
 * whose coverage is unknown could double-count the GPU or the CPU.
 */
import { join } from 'node:path';
import type { HostComponent } from './powercap.js';
import { listDir, readCounter, readTrimmed } from './sysfs.js';

export type HwmonKind = 'power' | 'energy';

export interface HwmonSensor {
  /** `hwmon3/power1`. */
  id: string;
  /** The `_input` file. */
  path: string;
  chip: string | null;
  label: string | null;
  kind: HwmonKind;
  component: HostComponent | null;
  readable: boolean;
  /** Why it is unreadable or not counted; null for a counted, readable sensor. */
  reason: string | null;
}

/**
 * Sensors whose meaning is known. `amd_energy` (AMD Zen, energy per socket and per core: the cores are
 * parts of the socket); `zenpower`-style and generic labels that name the CPU package or the memory.
 * Order matters: the first rule that matches decides; no match → recorded only.
 */
export const HWMON_COMPONENT_RULES: readonly { chip: RegExp; label: RegExp; component: HostComponent | null; why: string }[] = [
  { chip: /^amd_energy$/, label: /^Esocket\d+$/i, component: 'cpu', why: 'amd_energy socket counter' },
  { chip: /^amd_energy$/, label: /^Ecore\d+$/i, component: null, why: 'amd_energy core counter: part of its socket, never added' },
  { chip: /.*/, label: /^(cpu|cpu[ _]?package|package[ _-]?\d*|socket[ _-]?\d*|cpu[ _]?power)$/i, component: 'cpu', why: 'label names the CPU package' },
  { chip: /.*/, label: /^(dram|memory|mem)$/i, component: 'dram', why: 'label names the memory' },
];

export function classifyHwmon(chip: string | null, label: string | null): { component: HostComponent | null; why: string } {
  for (const rule of HWMON_COMPONENT_RULES) {
    if (label !== null && rule.chip.test(chip ?? '') && rule.label.test(label)) return { component: rule.component, why: rule.why };
  }
  return { component: null, why: `meaning unknown (chip ${JSON.stringify(chip)}, label ${JSON.stringify(label)}): recorded only, never added to the boundary` };
}

const SENSOR_FILE = /^(power|energy)(\d+)_input$/;

export function discoverHwmon(sysfsRoot: string): { dir: string; sensors: HwmonSensor[]; reason: string | null } {
  const dir = join(sysfsRoot, 'class', 'hwmon');
  const chips = listDir(dir);
  if (!chips.ok) return { dir, sensors: [], reason: `${chips.reason} (no hwmon driver, or a container that does not expose the host's /sys/class/hwmon)` };
  const sensors: HwmonSensor[] = [];
  for (const chipDir of chips.value) {
    const base = join(dir, chipDir);
    const nameRead = readTrimmed(join(base, 'name'));
    const chip = nameRead.ok ? nameRead.value : null;
    const files = listDir(base);
    if (!files.ok) continue;
    for (const file of files.value) {
      const m = SENSOR_FILE.exec(file);
      if (!m) continue;
      const kind = m[1] as HwmonKind;
      const labelRead = readTrimmed(join(base, `${kind}${m[2]}_label`));
      const label = labelRead.ok ? labelRead.value : null;
      const path = join(base, file);
      const value = readCounter(path);
      const { component, why } = classifyHwmon(chip, label);
      sensors.push({
        id: `${chipDir}/${kind}${m[2]}`,
        path,
        chip,
        label,
        kind,
        component,
        readable: value.ok,
        reason: !value.ok ? value.reason : component === null ? why : null,
      });
    }
  }
  return { dir, sensors, reason: sensors.length === 0 ? `no power*_input or energy*_input sensor in ${dir}` : null };
}

export function readSensor(sensor: Pick<HwmonSensor, 'path'>): ReturnType<typeof readCounter> {
  return readCounter(sensor.path);
}
