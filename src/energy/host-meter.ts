/**
 * Host energy beside the GPU's (issue 9): RAPL counters (package, DRAM) and hwmon sensors, polled in the
 * background and read at the window edges like NVML's counter, so that CPU and DRAM energy cover exactly
 * the window the GPU energy and the tokens cover.
 *
 * - RAPL counters wrap at max_energy_range_uj: every reading is unwrapped against the previous one, so
 *   the poll rate (default 4 Hz, at least 1 Hz) must see each wrap (see counterDeltaUj).
 * - hwmon energy counters are differenced; one that goes down was reset, and a window across a reset has
 *   no figure for that sensor (null, with the reason), never a guess.
 * - hwmon power sensors (µW) are integrated with the trapezoid of src/energy/integrate.ts (no alignment:
 *   they are instantaneous readings).
 * A component (cpu, dram) is measured by the best source class that has it — RAPL, else hwmon energy,
 * else hwmon power — summed over its zones (sockets); the other classes are recorded, not added. If any
 * zone of the chosen class has no figure, the component is null: half a two-socket CPU is not the CPU.
 */
import { EnergyWindowError } from '../errors.js';
import { discoverHwmon, readSensor, type HwmonSensor } from '../telemetry/hwmon.js';
import { counterDeltaUj, discoverPowercap, readZoneEnergyUj, type HostComponent, type PowercapZone } from '../telemetry/powercap.js';
import { integratePower } from './integrate.js';

export const DEFAULT_HOST_POLL_HZ = 4;
export const MIN_HOST_POLL_HZ = 1;

export type HostSourceKind = 'rapl' | 'hwmon-energy' | 'hwmon-power';

/** What can be read on this host, readable or not (doctor lists it; the meter polls the readable ones). */
export interface HostInventory {
  sysfsRoot: string;
  powercap: { dir: string; zones: PowercapZone[]; reason: string | null };
  hwmon: { dir: string; sensors: HwmonSensor[]; reason: string | null };
}

export function discoverHost(sysfsRoot: string): HostInventory {
  return { sysfsRoot, powercap: discoverPowercap(sysfsRoot), hwmon: discoverHwmon(sysfsRoot) };
}

interface Source {
  id: string;
  kind: HostSourceKind;
  /** `package-0`, `dram`, `amd_energy Esocket0`, …: what a person recognises. */
  sensor: string;
  component: HostComponent | null;
  /** RAPL: the zone directory; hwmon: the `_input` file. */
  path: string;
  maxEnergyRangeUj: number | null;
  /**
   * Readings as two parallel number arrays (8 bytes a reading each, not an object per reading: a day at
   * 4 Hz is 345,600 readings per source). Counters: unwrapped cumulative microjoules since the first
   * reading; power sensors: watts.
   */
  tS: number[];
  value: number[];
  /** Last raw counter value (before unwrapping). */
  lastRaw: number | null;
  /** Times of the first reading after a counter reset (hwmon energy going down). */
  resetsAtS: number[];
  lastError: string | null;
}

/** The energy of one source over a window. */
export interface HostSourceEnergy {
  id: string;
  kind: HostSourceKind;
  sensor: string;
  component: HostComponent | null;
  energyJ: number | null;
  /** Counted into its component's figure (cpuJ / dramJ). */
  counted: boolean;
  /** Why energyJ is null, or why it is not counted. */
  note: string | null;
}

export interface HostWindowEnergy {
  fromS: number;
  toS: number;
  cpuJ: number | null;
  dramJ: number | null;
  /** The sources behind cpuJ / dramJ, for provenance (`rapl package-0 + package-1`). */
  cpuSource: string | null;
  dramSource: string | null;
  /** Why a component is null although a source for it exists (a zone failed in the window). */
  cpuError: string | null;
  dramError: string | null;
  sources: HostSourceEnergy[];
}

const CLASS_ORDER: readonly HostSourceKind[] = ['rapl', 'hwmon-energy', 'hwmon-power'];

export interface HostEnergyMeterOptions {
  now?: () => number;
  pollHz?: number;
}

export class HostEnergyMeter {
  private readonly sources: Source[];
  private readonly now: () => number;
  private readonly pollHz: number;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    readonly inventory: HostInventory,
    opts: HostEnergyMeterOptions = {},
  ) {
    this.now = opts.now ?? (() => Date.now() / 1000);
    this.pollHz = opts.pollHz ?? DEFAULT_HOST_POLL_HZ;
    if (!(this.pollHz >= MIN_HOST_POLL_HZ)) throw new EnergyWindowError(`host energy poll rate must be at least ${MIN_HOST_POLL_HZ} Hz (RAPL counters wrap), got ${this.pollHz}`);
    const fresh = (): Pick<Source, 'tS' | 'value' | 'lastRaw' | 'resetsAtS' | 'lastError'> => ({ tS: [], value: [], lastRaw: null, resetsAtS: [], lastError: null });
    this.sources = [
      ...inventory.powercap.zones
        .filter((z) => z.readable)
        .map((z): Source => ({ ...fresh(), id: z.id, kind: 'rapl', sensor: z.name ?? z.id, component: z.component, path: z.path, maxEnergyRangeUj: z.maxEnergyRangeUj })),
      ...inventory.hwmon.sensors
        .filter((s) => s.readable)
        .map((s): Source => ({ ...fresh(), id: s.id, kind: s.kind === 'energy' ? 'hwmon-energy' : 'hwmon-power', sensor: [s.chip, s.label].filter((x) => x !== null).join(' ') || s.id, component: s.component, path: s.path, maxEnergyRangeUj: null })),
    ];
  }

  /** Readable sources, any of which will appear in a window's `sources`. */
  get sourceCount(): number {
    return this.sources.length;
  }

  /** Components some readable source is counted as. */
  components(): HostComponent[] {
    return (['cpu', 'dram'] as const).filter((c) => this.sources.some((s) => s.component === c));
  }

  start(): void {
    if (this.timer || this.sources.length === 0) return;
    this.poll();
    this.timer = setInterval(() => this.poll(), 1000 / this.pollHz);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Reads every source now (the window edges call this, like NVML's markEdge). */
  poll(): void {
    const tS = this.now();
    for (const s of this.sources) {
      if (s.kind === 'rapl') {
        this.addCounter(s, tS, readZoneEnergyUj(s));
      } else if (s.kind === 'hwmon-energy') {
        this.addCounter(s, tS, readSensor(s));
      } else {
        const r = readSensor(s);
        if (r.ok) push(s, tS, r.value / 1e6);
        else s.lastError = r.reason;
      }
    }
  }

  private addCounter(s: Source, tS: number, r: { ok: true; value: number } | { ok: false; reason: string }): void {
    if (!r.ok) {
      s.lastError = r.reason;
      return;
    }
    const last = s.value[s.value.length - 1];
    if (s.lastRaw === null || last === undefined) {
      push(s, tS, 0);
    } else if (s.maxEnergyRangeUj !== null) {
      push(s, tS, last + counterDeltaUj(s.lastRaw, r.value, s.maxEnergyRangeUj));
    } else if (r.value < s.lastRaw) {
      // A counter without a wrap range that went down was reset: energy across it is unknown.
      s.resetsAtS.push(tS);
      push(s, tS, last);
    } else {
      push(s, tS, last + (r.value - s.lastRaw));
    }
    s.lastRaw = r.value;
  }

  /** Energy of every source over [fromS, toS], and the cpu / dram figures (see the file comment). */
  measure(fromS: number, toS: number): HostWindowEnergy {
    const sources: HostSourceEnergy[] = this.sources.map((s) => {
      const r = this.sourceEnergy(s, fromS, toS);
      return { id: s.id, kind: s.kind, sensor: s.sensor, component: s.component, energyJ: r.energyJ, counted: false, note: r.error };
    });
    const pick = (component: HostComponent): { energyJ: number | null; source: string | null; error: string | null } => {
      const kind = CLASS_ORDER.find((k) => sources.some((s) => s.component === component && s.kind === k));
      if (kind === undefined) return { energyJ: null, source: null, error: null };
      const chosen = sources.filter((s) => s.component === component && s.kind === kind);
      for (const s of sources) {
        if (s.component === component && s.kind !== kind && s.note === null) s.note = `not added: ${component} is measured by ${kind}`;
      }
      const failed = chosen.filter((s) => s.energyJ === null);
      if (failed.length > 0) return { energyJ: null, source: null, error: failed.map((s) => `${s.sensor}: ${s.note}`).join('; ') };
      for (const s of chosen) s.counted = true;
      return { energyJ: chosen.reduce((sum, s) => sum + s.energyJ!, 0), source: `${kind} ${chosen.map((s) => s.sensor).join(' + ')}`, error: null };
    };
    const cpu = pick('cpu');
    const dram = pick('dram');
    return { fromS, toS, cpuJ: cpu.energyJ, dramJ: dram.energyJ, cpuSource: cpu.source, dramSource: dram.source, cpuError: cpu.error, dramError: dram.error, sources };
  }

  private sourceEnergy(s: Source, fromS: number, toS: number): { energyJ: number | null; error: string | null } {
    const why = (text: string): { energyJ: null; error: string } => ({ energyJ: null, error: s.lastError ? `${text} (last read error: ${s.lastError})` : text });
    if (s.kind === 'hwmon-power') {
      try {
        // Only the readings around the window go to the trapezoid (the series may hold a day of them).
        const lo = Math.max(0, lastAtOrBefore(s.tS, fromS));
        const hi = Math.min(s.tS.length, lastAtOrBefore(s.tS, toS) + 2);
        const points = s.tS.slice(lo, hi).map((tS, i) => ({ tS, powerW: s.value[lo + i]! }));
        return { energyJ: integratePower(points, fromS, toS).energyJ, error: null };
      } catch (err) {
        return why((err as Error).message);
      }
    }
    if (s.resetsAtS.some((t) => t > fromS && t <= toS)) return why('the counter was reset inside the window');
    const from = interpolate(s, fromS);
    const to = interpolate(s, toS);
    if (from === null || to === null) return why('the readings do not cover the window');
    return { energyJ: (to - from) / 1e6, error: null };
  }
}

function push(s: Source, tS: number, value: number): void {
  s.tS.push(tS);
  s.value.push(value);
}

/** Index of the last reading at or before tS (binary search; readings are in time order), -1 if none. */
function lastAtOrBefore(times: readonly number[], tS: number): number {
  let lo = -1;
  let hi = times.length;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (times[mid]! <= tS) lo = mid;
    else hi = mid;
  }
  return lo;
}

/** The cumulative value at tS, linear between the readings around it; null outside the readings. */
function interpolate(s: Pick<Source, 'tS' | 'value'>, tS: number): number | null {
  const i = lastAtOrBefore(s.tS, tS);
  if (i < 0) return null;
  if (s.tS[i] === tS) return s.value[i]!;
  if (i + 1 >= s.tS.length) return null;
  const [ta, tb, va, vb] = [s.tS[i]!, s.tS[i + 1]!, s.value[i]!, s.value[i + 1]!];
  return va + ((vb - va) * (tS - ta)) / (tb - ta);
}
