/**
 * Cooldown gate (DESIGN section 5.1): before an experiment, wait until every GPU is at or below
 * `cooldownTempC` and its power is within `powerTolerance` (10%) of the idle baseline measured at the
 * start of the run, for at most `maxS`. It never fails: it reports how long it waited, whether the
 * target was reached, and the start temperature (energy correlates with it).
 */
import type { Clock } from '../runner/clock.js';
import type { SampleSource } from './source.js';
import type { GpuSample } from './types.js';

export interface CooldownOptions {
  cooldownTempC: number;
  /** Idle board power per GPU index, from measureIdleBaseline. A GPU without a baseline is judged on temperature only. */
  idlePowerW: ReadonlyMap<number, number>;
  maxS: number;
  powerTolerance?: number;
  /** GPUs that must all be cool. */
  gpus: readonly number[];
  /** The protocol's clock (virtual for the simulator); default the wall clock. */
  clock?: Pick<Clock, 'now' | 'virtual'>;
}

export interface CooldownResult {
  waitedS: number;
  reachedTarget: boolean;
  /** Highest GPU temperature among `gpus` in the last sample of each, when the gate opened. */
  startTempC: number | null;
  /** Why the gate opened: "cool" or "timeout" (or "telemetry error: …"). */
  reason: string;
}

function isReady(s: GpuSample, opts: CooldownOptions): boolean {
  if (s.tempC === null || s.tempC > opts.cooldownTempC) return false;
  const idle = opts.idlePowerW.get(s.gpuIndex);
  if (idle === undefined) return true;
  if (s.powerW === null) return false;
  return s.powerW <= idle * (1 + (opts.powerTolerance ?? 0.1));
}

export function cooldownGate(source: SampleSource, opts: CooldownOptions): Promise<CooldownResult> {
  const now = (): number => (opts.clock ? opts.clock.now() : Date.now() / 1000);
  const startedS = now();
  const latest = new Map<number, GpuSample>();
  const startTemp = (): number | null => {
    const temps = opts.gpus.map((g) => latest.get(g)?.tempC).filter((t): t is number => t !== null && t !== undefined);
    return temps.length > 0 ? Math.max(...temps) : null;
  };
  return new Promise((resolve) => {
    const finish = (reachedTarget: boolean, reason: string): void => {
      clearTimeout(timer);
      offSample();
      offError();
      resolve({ waitedS: now() - startedS, reachedTarget, startTempC: startTemp(), reason });
    };
    // A wall-clock timer for real telemetry; on a virtual clock, time is checked at each sample.
    const timer = setTimeout(() => finish(false, 'timeout'), opts.clock?.virtual ? 2 ** 31 - 1 : opts.maxS * 1000);
    const offSample = source.onSample((s) => {
      latest.set(s.gpuIndex, s);
      if (opts.gpus.every((g) => latest.has(g) && isReady(latest.get(g)!, opts))) finish(true, 'cool');
      else if (now() - startedS >= opts.maxS) finish(false, 'timeout');
    });
    const offError = source.onError((e) => finish(false, `telemetry error: ${e.message}`));
    if (source.failure) finish(false, `telemetry error: ${source.failure.message}`);
  });
}

/**
 * Idle baseline per GPU: the median power.draw of samples taken while the GPU is idle (before the first
 * experiment). The median ignores a stray spike.
 */
export function measureIdleBaseline(samples: readonly GpuSample[]): Map<number, number> {
  const byGpu = new Map<number, number[]>();
  for (const s of samples) {
    if (s.powerW === null) continue;
    const list = byGpu.get(s.gpuIndex) ?? [];
    list.push(s.powerW);
    byGpu.set(s.gpuIndex, list);
  }
  const baseline = new Map<number, number>();
  for (const [gpu, values] of byGpu) {
    const sorted = values.sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    baseline.set(gpu, sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2);
  }
  return baseline;
}
