/**
 * RAPL through Linux powercap (`<sysfs>/class/powercap`), Intel and AMD alike (the AMD driver uses the
 * same `intel-rapl:N` zone names). Each zone has `name`, `energy_uj` (a counter in microjoules that wraps
 * at `max_energy_range_uj`) and may have subzones `intel-rapl:N:M`.
 *
 * What a zone means, and what may be added (never double-count):
 *   package-N   the CPU socket: counted as `cpu` (sockets add up)
 *   core, uncore  subzones of a package: PARTS of it, recorded but never added to it
 *   dram        memory attached to a socket, separate from the package: counted as `dram`
 *   psys        the platform (SoC and more, vendor-defined): recorded, never added (it overlaps package)
 *   anything else (intel-rapl-mmio:N duplicates package-N through MMIO, dtpm, …): recorded, never added
 * Since the 2020 PLATYPUS fix (CVE-2020-8694) `energy_uj` is readable by root only on most kernels; such
 * a zone is listed with readable: false and the reason, and the boundary falls back.
 */
import { join } from 'node:path';
import { listDir, readCounter, readTrimmed } from './sysfs.js';

export type RaplKind = 'package' | 'core' | 'uncore' | 'dram' | 'psys' | 'other';

/** The energy component a zone is counted as, or null when it is recorded only. */
export type HostComponent = 'cpu' | 'dram';

export interface PowercapZone {
  /** Directory name, e.g. `intel-rapl:0:1`. */
  id: string;
  path: string;
  /** Contents of `name` (`package-0`, `dram`, …); null when unreadable. */
  name: string | null;
  kind: RaplKind;
  /** Zone id of the parent (`intel-rapl:0` for `intel-rapl:0:1`), null for a top-level zone. */
  parent: string | null;
  /** What it adds to, or null: recorded only (a part of another zone, or of unknown coverage). */
  component: HostComponent | null;
  maxEnergyRangeUj: number | null;
  readable: boolean;
  /** Why it is not readable, or why it is not counted; null for a counted, readable zone. */
  reason: string | null;
}

const RAPL_ZONE = /^intel-rapl:(\d+)(?::(\d+))?$/;

export function raplKind(name: string | null): RaplKind {
  if (name === null) return 'other';
  if (/^package-\d+$/.test(name)) return 'package';
  if (name === 'core' || name === 'uncore' || name === 'dram' || name === 'psys') return name;
  return 'other';
}

/**
 * Every powercap zone under `<root>/class/powercap`, with whether its counter can be read now. A missing
 * directory (no RAPL driver, a container without the host's sysfs) is `{ zones: [], reason }`.
 */
export function discoverPowercap(sysfsRoot: string): { dir: string; zones: PowercapZone[]; reason: string | null } {
  const dir = join(sysfsRoot, 'class', 'powercap');
  const entries = listDir(dir);
  if (!entries.ok) {
    return { dir, zones: [], reason: `${entries.reason} (no powercap driver loaded, or a container that does not expose the host's /sys/class/powercap)` };
  }
  const zones: PowercapZone[] = [];
  for (const id of entries.value) {
    const path = join(dir, id);
    // Control types (`intel-rapl`, `dtpm`) have no energy counter of their own.
    if (!id.includes(':')) continue;
    const nameRead = readTrimmed(join(path, 'name'));
    const name = nameRead.ok ? nameRead.value : null;
    const kind = raplKind(name);
    const m = RAPL_ZONE.exec(id);
    const parent = m && m[2] !== undefined ? `intel-rapl:${m[1]}` : null;
    const range = readCounter(join(path, 'max_energy_range_uj'));
    const energy = readCounter(join(path, 'energy_uj'));
    let component: HostComponent | null = null;
    let reason: string | null = null;
    if (!energy.ok) reason = energy.reason;
    else if (!range.ok) reason = `${range.reason}: without the wrap range the counter cannot be unwrapped`;
    if (!m) reason ??= `not an intel-rapl zone (${name ?? 'unnamed'}): recorded only, never added (intel-rapl-mmio duplicates the package)`;
    else if (kind === 'package' && parent === null) component = 'cpu';
    else if (kind === 'dram') component = 'dram';
    else if (kind === 'core' || kind === 'uncore') reason ??= `${kind} is part of package ${parent ?? '?'}: recorded only, never added to it`;
    else if (kind === 'psys') reason ??= 'psys (platform) overlaps the package and its coverage is vendor-defined: recorded only, never added';
    else reason ??= `unknown RAPL zone name ${JSON.stringify(name)}: recorded only, never added`;
    zones.push({
      id,
      path,
      name,
      kind,
      parent,
      component,
      maxEnergyRangeUj: range.ok ? range.value : null,
      readable: energy.ok && range.ok,
      reason: energy.ok && range.ok && component !== null ? null : reason,
    });
  }
  return { dir, zones, reason: zones.length === 0 ? `no powercap zone in ${dir}` : null };
}

/** One read of a zone's counter, in microjoules (throws nothing: a failed read is a reason). */
export function readZoneEnergyUj(zone: Pick<PowercapZone, 'path'>): ReturnType<typeof readCounter> {
  return readCounter(join(zone.path, 'energy_uj'));
}

/**
 * Energy between two counter readings, with one wrap at `maxEnergyRangeUj` corrected: a counter that
 * went down wrapped (it cannot run backwards). More than one wrap between two readings cannot be seen,
 * which is why the poller reads several times a second (AMD's 4 294 J range wraps in ~21 s at 200 W;
 * Intel's usual 262 143 J range takes over 20 minutes).
 */
export function counterDeltaUj(previousUj: number, currentUj: number, maxEnergyRangeUj: number): number {
  return currentUj >= previousUj ? currentUj - previousUj : currentUj + (maxEnergyRangeUj - previousUj);
}
