/**
 * Energy of a recorded nvidia-smi trace (the `carbonbench energy` command): parse, check order, pick
 * GPUs, align power.draw, integrate each GPU over the window and add them up.
 */
import { EnergyWindowError, InputError } from '../errors.js';
import type { ParsedTrace } from '../telemetry/smi-parse.js';
import type { GpuSample } from '../telemetry/types.js';
import { isoFromEpochS } from '../util/time.js';
import { DEFAULT_MAX_GAP_S, POWER_DRAW_ALIGN_S, findGaps, integratePower, toPowerPoints, type Gap, type IntegrationResult } from './integrate.js';

export type PowerField = 'power.draw' | 'power.draw.instant';

export interface TraceEnergyOptions {
  fromS?: number;
  toS?: number;
  gpus?: readonly number[];
  powerField?: PowerField;
  /** Seconds to move each sample earlier; default 0.5 for power.draw, 0 for power.draw.instant. */
  alignS?: number;
  maxGapS?: number;
}

export interface GpuEnergy extends IntegrationResult {
  gpuIndex: number;
}

export interface TraceEnergy {
  energyJ: number;
  durationS: number;
  samples: number;
  meanPowerW: number;
  peakPowerW: number;
  fromS: number;
  toS: number;
  missedSamples: Gap[];
  perGpu: GpuEnergy[];
  powerField: PowerField;
  alignS: number;
}

export function defaultAlignS(field: PowerField): number {
  return field === 'power.draw' ? POWER_DRAW_ALIGN_S : 0;
}

/** Splits samples by GPU and checks that each GPU's timestamps never go backwards. */
export function samplesByGpu(samples: readonly GpuSample[], source: string): Map<number, GpuSample[]> {
  const byGpu = new Map<number, GpuSample[]>();
  for (const s of samples) {
    const list = byGpu.get(s.gpuIndex) ?? [];
    const prev = list[list.length - 1];
    if (prev && s.tS < prev.tS) {
      throw new InputError(
        `${source}: samples of GPU ${s.gpuIndex} go back in time (${isoFromEpochS(prev.tS)} then ${isoFromEpochS(s.tS)}); the trace is reordered or concatenated from several recordings`,
      );
    }
    list.push(s);
    byGpu.set(s.gpuIndex, list);
  }
  return byGpu;
}

export function traceEnergy(trace: ParsedTrace, opts: TraceEnergyOptions, source: string): TraceEnergy {
  const powerField = opts.powerField ?? 'power.draw';
  const alignS = opts.alignS ?? defaultAlignS(powerField);
  const maxGapS = opts.maxGapS ?? DEFAULT_MAX_GAP_S;
  let byGpu = samplesByGpu(trace.samples, source);
  if (opts.gpus && opts.gpus.length > 0) {
    const missing = opts.gpus.filter((g) => !byGpu.has(g));
    if (missing.length > 0) {
      throw new InputError(`${source} has no samples of GPU ${missing.join(', ')}; it has GPU ${[...byGpu.keys()].join(', ')}`);
    }
    byGpu = new Map([...byGpu].filter(([g]) => opts.gpus!.includes(g)));
  }
  if (byGpu.size === 0) throw new InputError(`${source} contains no samples`);

  const pointsByGpu = new Map(
    [...byGpu].map(([g, list]) => [
      g,
      toPowerPoints(list.map((s) => ({ tS: s.tS, powerW: powerField === 'power.draw' ? s.powerW : s.powerInstantW })), alignS),
    ]),
  );
  for (const [g, points] of pointsByGpu) {
    if (points.length < 2) throw new EnergyWindowError(`${source}: GPU ${g} has ${points.length} usable ${powerField} value(s); at least 2 are needed`);
  }
  // Default window: where every selected GPU has samples.
  const fromS = opts.fromS ?? Math.max(...[...pointsByGpu.values()].map((p) => p[0]!.tS));
  const toS = opts.toS ?? Math.min(...[...pointsByGpu.values()].map((p) => p[p.length - 1]!.tS));

  const perGpu = [...pointsByGpu].map(([gpuIndex, points]) => ({ gpuIndex, ...integratePower(points, fromS, toS, { maxGapS }) }));
  const energyJ = perGpu.reduce((sum, g) => sum + g.energyJ, 0);
  return {
    energyJ,
    durationS: toS - fromS,
    samples: perGpu.reduce((sum, g) => sum + g.samples, 0),
    meanPowerW: energyJ / (toS - fromS),
    // With several GPUs, peak is the highest per-GPU peak (not the peak of the sum).
    peakPowerW: Math.max(...perGpu.map((g) => g.peakPowerW)),
    fromS,
    toS,
    missedSamples: perGpu.flatMap((g) => g.missedSamples),
    perGpu,
    powerField,
    alignS,
  };
}

/** Gaps over maxGapS in each GPU's usable samples, for error reports. */
export function traceGaps(trace: ParsedTrace, powerField: PowerField, alignS: number, maxGapS = DEFAULT_MAX_GAP_S): Gap[] {
  return [...samplesByGpu(trace.samples, 'trace').values()].flatMap((list) =>
    findGaps(toPowerPoints(list.map((s) => ({ tS: s.tS, powerW: powerField === 'power.draw' ? s.powerW : s.powerInstantW })), alignS), maxGapS),
  );
}
