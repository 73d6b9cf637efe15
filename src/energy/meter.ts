/**
 * Named measurement windows over energy counters (STYLE.md, after zeus' ZeusMonitor):
 * `beginWindow(key)` records the start, `endWindow(key)` closes it and returns both energy figures —
 * the NVML counter delta (when the GPU has the counter) and the 1 Hz nvidia-smi power trapezoid — over
 * exactly the same interval. The counter is the primary figure (DESIGN section 6); nvidia-smi is used
 * when there is no counter or it reset inside the window. A window neither source covers is an error.
 */
import { EnergyWindowError } from '../errors.js';
import type { NvmlEnergyPoller } from '../telemetry/nvml-poller.js';
import type { GpuSample } from '../telemetry/types.js';
import type { HostEnergyMeter, HostWindowEnergy } from './host-meter.js';
import { POWER_DRAW_ALIGN_S, integratePower, toPowerPoints } from './integrate.js';

/** The part of the nvidia-smi sampler the meter needs (SmiSampler implements it). */
export interface PowerSampleStore {
  collected(filter?: { fromS?: number; toS?: number; gpuIndex?: number }): GpuSample[];
  waitForSampleAfter(tS: number, timeoutS?: number): Promise<void>;
}

export type EnergySource = 'nvml' | 'nvidia-smi';

export interface GpuWindowEnergy {
  gpuIndex: number;
  nvmlJ: number | null;
  smiJ: number | null;
}

export interface WindowMeasurement {
  key: string;
  fromS: number;
  toS: number;
  durationS: number;
  energyJ: number;
  energySource: EnergySource;
  nvmlJ: number | null;
  smiJ: number | null;
  /** (smiJ − nvmlJ) / nvmlJ when both exist. */
  smiVsNvmlRel: number | null;
  smiSamples: number;
  nvmlReadings: number;
  meanPowerW: number;
  /** Highest power.draw sample inside the window (null without nvidia-smi samples). */
  peakPowerW: number | null;
  perGpu: GpuWindowEnergy[];
  /** Why a source gave no figure (not covered, reset, unavailable). */
  smiError: string | null;
  nvmlError: string | null;
  /** Samples of the window, for storage and the thermal/throttle summary. */
  samples: GpuSample[];
  /**
   * Superchip module energy over the window (trapezoid of module.power.draw.average, summed over the
   * GPUs), or null with moduleError; null and no error where the board reports no module power.
   */
  moduleJ: number | null;
  moduleError: string | null;
  /** CPU / DRAM energy over the same window (issue 9); null without a host meter. */
  host: HostWindowEnergy | null;
}

export interface EnergyMeterOptions {
  gpus: readonly number[];
  smi: PowerSampleStore | null;
  nvml: NvmlEnergyPoller | null;
  /** RAPL / hwmon counters, read at the same edges (issue 9). */
  host?: HostEnergyMeter | null;
  /** Seconds each power.draw sample is moved earlier (see POWER_DRAW_ALIGN_S). */
  alignS?: number;
  now?: () => number;
}

export class EnergyMeter {
  private readonly open = new Map<string, number>();
  private readonly alignS: number;
  private readonly now: () => number;

  constructor(private readonly opts: EnergyMeterOptions) {
    if (!opts.smi && !opts.nvml) throw new EnergyWindowError('an energy meter needs nvidia-smi samples or the NVML counter; neither is available');
    this.alignS = opts.alignS ?? POWER_DRAW_ALIGN_S;
    this.now = opts.now ?? (() => Date.now() / 1000);
  }

  beginWindow(key: string): number {
    if (this.open.has(key)) throw new EnergyWindowError(`measurement window "${key}" is already open`);
    const fromS = this.now();
    this.opts.nvml?.readEdge();
    this.opts.host?.poll();
    this.open.set(key, fromS);
    return fromS;
  }

  /**
   * Takes NVML counter readings now, at an edge the caller chose (a load generator's window edge):
   * measure() over [edge, …] then starts from a real reading rather than the nearest poll.
   */
  markEdge(): number {
    // The time before the reads: a window [markEdge(), …] then starts at or before the edge readings
    // (a real H100 read takes ~4 ms), so measure() uses them.
    const tS = this.now();
    this.opts.nvml?.readEdge();
    this.opts.host?.poll();
    return tS;
  }

  /**
   * Energy of each segment (for the J/token confidence interval), from the same source measure() would
   * prefer: the NVML counter interpolated linearly at the segment edges, else the power trapezoid.
   * Segments not (yet) covered by data are left out (null); the caller decides whether that is enough.
   */
  segmentEnergies(segments: readonly { fromS: number; toS: number }[]): (number | null)[] {
    if (this.opts.nvml) {
      const series = this.opts.gpus.map((g) => this.opts.nvml!.readings(g));
      const at = (readings: readonly { tS: number; energyMj: bigint }[], tS: number): number | null => {
        let lo = -1;
        for (let i = 0; i < readings.length && readings[i]!.tS <= tS; i++) lo = i;
        const a = readings[lo];
        const b = readings[lo + 1];
        if (!a || !b) return a && a.tS === tS ? Number(a.energyMj) : null;
        const ea = Number(a.energyMj);
        return ea + ((Number(b.energyMj) - ea) * (tS - a.tS)) / (b.tS - a.tS || 1);
      };
      return segments.map((seg) => {
        let sumMj = 0;
        for (const readings of series) {
          const from = at(readings, seg.fromS);
          const to = at(readings, seg.toS);
          if (from === null || to === null || to < from) return null;
          sumMj += to - from;
        }
        return sumMj / 1000;
      });
    }
    const store = this.opts.smi!;
    const points = this.opts.gpus.map((g) => toPowerPoints(store.collected({ gpuIndex: g }), this.alignS));
    return segments.map((seg) => {
      try {
        return points.reduce((sum, p) => sum + integratePower(p, seg.fromS, seg.toS).energyJ, 0);
      } catch {
        return null;
      }
    });
  }

  /** Discards an open window without measuring it (an aborted experiment). */
  cancelWindow(key: string): void {
    this.open.delete(key);
  }

  async endWindow(key: string): Promise<WindowMeasurement> {
    const fromS = this.open.get(key);
    if (fromS === undefined) throw new EnergyWindowError(`measurement window "${key}" was never opened (or already closed)`);
    this.open.delete(key);
    const toS = this.now();
    this.opts.nvml?.readEdge();
    this.opts.host?.poll();
    return this.measure(key, fromS, toS);
  }

  /** Both figures over [fromS, toS]; waits for the nvidia-smi sample that closes the window. */
  async measure(key: string, fromS: number, toS: number): Promise<WindowMeasurement> {
    const perGpu: GpuWindowEnergy[] = this.opts.gpus.map((gpuIndex) => ({ gpuIndex, nvmlJ: null, smiJ: null }));
    let nvmlError: string | null = this.opts.nvml ? null : 'NVML energy counter unavailable';
    let nvmlReadings = 0;
    if (this.opts.nvml) {
      try {
        for (const g of perGpu) {
          const w = this.opts.nvml.energyBetweenJ(g.gpuIndex, fromS, toS);
          if (w.resetDetected) throw new EnergyWindowError(`NVML energy counter of GPU ${g.gpuIndex} went backwards inside the window (driver reload or GPU reset)`);
          g.nvmlJ = w.energyJ;
          nvmlReadings += w.readings;
        }
      } catch (err) {
        nvmlError = (err as Error).message;
        for (const g of perGpu) g.nvmlJ = null;
      }
    }

    let smiError: string | null = this.opts.smi ? null : 'no nvidia-smi sampler';
    let moduleJ: number | null = null;
    let moduleError: string | null = null;
    let smiSamples = 0;
    let peakPowerW: number | null = null;
    let samples: GpuSample[] = [];
    if (this.opts.smi) {
      try {
        // The aligned sample that covers toS is printed alignS after it.
        await this.opts.smi.waitForSampleAfter(toS + this.alignS);
        samples = this.opts.smi.collected({ fromS: fromS - 5, toS: toS + 5 }).filter((s) => this.opts.gpus.includes(s.gpuIndex));
        for (const g of perGpu) {
          const r = integratePower(toPowerPoints(samples.filter((s) => s.gpuIndex === g.gpuIndex), this.alignS), fromS, toS);
          g.smiJ = r.energyJ;
          smiSamples += r.samples;
          peakPowerW = Math.max(peakPowerW ?? 0, r.peakPowerW);
        }
        ({ moduleJ, moduleError } = this.moduleEnergy(samples, fromS, toS));
        samples = samples.filter((s) => s.tS >= fromS && s.tS <= toS + this.alignS);
      } catch (err) {
        smiError = (err as Error).message;
        for (const g of perGpu) g.smiJ = null;
        peakPowerW = null;
      }
    }

    const sum = (pick: (g: GpuWindowEnergy) => number | null): number | null =>
      perGpu.every((g) => pick(g) !== null) ? perGpu.reduce((s, g) => s + pick(g)!, 0) : null;
    const nvmlJ = sum((g) => g.nvmlJ);
    const smiJ = sum((g) => g.smiJ);
    const durationS = toS - fromS;
    let energyJ: number;
    let energySource: EnergySource;
    if (nvmlJ !== null) {
      energyJ = nvmlJ;
      energySource = 'nvml';
    } else if (smiJ !== null) {
      energyJ = smiJ;
      energySource = 'nvidia-smi';
    } else {
      throw new EnergyWindowError(`window "${key}" cannot be measured: NVML: ${nvmlError}; nvidia-smi: ${smiError}`);
    }
    return {
      key,
      fromS,
      toS,
      durationS,
      energyJ,
      energySource,
      nvmlJ,
      smiJ,
      smiVsNvmlRel: nvmlJ !== null && smiJ !== null && nvmlJ > 0 ? (smiJ - nvmlJ) / nvmlJ : null,
      smiSamples,
      nvmlReadings,
      meanPowerW: energyJ / durationS,
      peakPowerW,
      perGpu,
      smiError,
      nvmlError,
      samples,
      moduleJ,
      moduleError,
      host: this.opts.host ? this.opts.host.measure(fromS, toS) : null,
    };
  }

  /**
   * Module energy: every GPU's module.power.draw.average integrated like power.draw (a trailing average
   * too, so aligned the same). A board that never reports it gives null without an error; one that
   * reports it for some GPUs or not over the whole window gives null with the reason — never a partial sum.
   */
  private moduleEnergy(samples: readonly GpuSample[], fromS: number, toS: number): { moduleJ: number | null; moduleError: string | null } {
    const reported = samples.filter((s) => s.modulePowerW !== null && s.modulePowerW !== undefined);
    if (reported.length === 0) return { moduleJ: null, moduleError: null };
    try {
      let sumJ = 0;
      for (const g of this.opts.gpus) {
        const points = toPowerPoints(samples.filter((s) => s.gpuIndex === g).map((s) => ({ tS: s.tS, powerW: s.modulePowerW ?? null })), this.alignS);
        sumJ += integratePower(points, fromS, toS).energyJ;
      }
      return { moduleJ: sumJ, moduleError: null };
    } catch (err) {
      return { moduleJ: null, moduleError: `module power does not cover the window: ${(err as Error).message}` };
    }
  }
}
