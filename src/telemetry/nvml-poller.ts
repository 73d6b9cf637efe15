/**
 * Polls NVML's total-energy counter and turns counter readings into the energy of a window. The edges are
 * read on demand with `read()`, synchronously, so that an edge reading is taken exactly when asked; the
 * background readings are there to detect counter resets inside a window and to split a window into its
 * 1 s segments (the J/token confidence interval), and run on a worker thread where the Nvml
 * implementation offers it (a real read takes milliseconds of driver time: see readInBackground).
 *
 * The background schedule is phase-locked to the last edge read: ticks fall at edge + k / rateHz, so at
 * any integer rate a reading lands on every segment boundary of a window that starts at an edge, and
 * the segment energies are read, not interpolated across a boundary. DESIGN.md §5 asks for >= 10 Hz;
 * where one read costs milliseconds of CPU (an H100: ~4 ms of kernel time per read), chooseNvmlRateHz
 * lowers the rate to stay within a CPU budget (decision 41).
 */
import { performance } from 'node:perf_hooks';
import { EnergyWindowError, InputError, TelemetryError, describeValue } from '../errors.js';
import type { EnergyCounterReading, Nvml } from './types.js';

/** DESIGN.md §5: at least 10 Hz where reads are cheap. */
export const DEFAULT_POLL_RATE_HZ = 10;
/** One reading per 1 s segment boundary: below this, segment energies would be interpolated. */
export const MIN_POLL_RATE_HZ = 1;
export const MAX_POLL_RATE_HZ = 100;
/** The rates auto mode picks from, highest first (integers, so every 1 s boundary gets a tick). */
export const AUTO_POLL_RATES_HZ = [10, 5, 2, 1] as const;
/**
 * CPU the background reads may cost, as a fraction of one core: issue 7 allows 1% for all telemetry,
 * and the 1 Hz nvidia-smi sampler takes ~0.25% of it (H100 measurement, bench/RESULTS.md).
 */
export const NVML_CPU_BUDGET_CORE_FRACTION = 0.005;

export interface NvmlEnergyPollerOptions {
  gpuIndices: readonly number[];
  /** Background readings per second per GPU: an integer from 1 to 100; default 10. */
  rateHz?: number;
}

export interface NvmlRateChoice {
  rateHz: number;
  /** CPU the background reads are expected to cost, as a fraction of one core. */
  expectedCoreFraction: number;
  /** Why this rate, in words (stored in each experiment's provenance). */
  reason: string;
}

/**
 * The background rate for `auto`: the highest of 10, 5, 2 and 1 Hz whose reads of every GPU fit in the
 * CPU budget, and 1 Hz when none does (one reading per segment boundary is the least that keeps segment
 * energies exact). `readCostMs` is the wall time of one read, taken as its CPU cost: on an H100 the
 * driver spins in the kernel for the whole call (CPU = wall), so this is exact there and an upper bound
 * elsewhere.
 */
export function chooseNvmlRateHz(readCostMs: number, gpuCount: number, budgetCoreFraction = NVML_CPU_BUDGET_CORE_FRACTION): NvmlRateChoice {
  if (!(readCostMs >= 0) || !Number.isFinite(readCostMs)) throw new InputError(`Expected \`readCostMs\` to be a finite number >= 0, got ${describeValue(readCostMs)}`);
  if (!Number.isInteger(gpuCount) || gpuCount < 1) throw new InputError(`Expected \`gpuCount\` to be an integer >= 1, got ${describeValue(gpuCount)}`);
  const costAt = (rateHz: number): number => coreFractionAt(rateHz, readCostMs, gpuCount);
  const fits = AUTO_POLL_RATES_HZ.find((r) => costAt(r) <= budgetCoreFraction);
  const rateHz = fits ?? MIN_POLL_RATE_HZ;
  const perRead = describeReadCost(readCostMs);
  const budget = `${(budgetCoreFraction * 100).toFixed(1)}% of a core`;
  let reason: string;
  if (rateHz === DEFAULT_POLL_RATE_HZ) reason = `auto: ${rateHz} Hz (${perRead}; ${gpuCount} GPU(s) at ${rateHz} Hz fit the ${budget} budget)`;
  else if (fits !== undefined) reason = `auto: ${rateHz} Hz, not ${DEFAULT_POLL_RATE_HZ} (${perRead}; ${DEFAULT_POLL_RATE_HZ} Hz would take ${(costAt(DEFAULT_POLL_RATE_HZ) * 100).toFixed(2)}% of a core, over the ${budget} budget); phase-locked to the window edges, so every 1 s segment boundary is read`;
  else reason = `auto: ${rateHz} Hz, the minimum (${perRead}; even 1 Hz takes ${(costAt(1) * 100).toFixed(2)}% of a core, over the ${budget} budget); phase-locked to the window edges, so every 1 s segment boundary is read`;
  return { rateHz, expectedCoreFraction: costAt(rateHz), reason };
}

/** The background rate of a session and the measured cost of one read it was chosen from. */
export interface NvmlPollingPlan extends NvmlRateChoice {
  readCostMs: number;
}

/** `energy.nvml_hz`: the rate asked for, or auto's choice (chooseNvmlRateHz) from the measured read cost. */
export function nvmlPollingPlan(nvmlHz: number | 'auto', readCostMs: number, gpuCount: number): NvmlPollingPlan {
  if (nvmlHz === 'auto') return { ...chooseNvmlRateHz(readCostMs, gpuCount), readCostMs };
  return {
    rateHz: nvmlHz,
    expectedCoreFraction: coreFractionAt(nvmlHz, readCostMs, gpuCount),
    reason: `${nvmlHz} Hz as configured (energy.nvml_hz; ${describeReadCost(readCostMs)})`,
    readCostMs,
  };
}

/** CPU of background reads of every GPU at `rateHz`, as a fraction of one core. */
function coreFractionAt(rateHz: number, readCostMs: number, gpuCount: number): number {
  return (rateHz * readCostMs * gpuCount) / 1000;
}

function describeReadCost(readCostMs: number): string {
  return `one counter read costs ${readCostMs.toFixed(readCostMs < 0.1 ? 4 : 2)} ms`;
}

/** The counter went backwards between two readings of one GPU (driver reload, GPU reset, wrap). */
export interface CounterReset {
  gpuIndex: number;
  /** Epoch seconds of the first reading after the reset. */
  tS: number;
  beforeMj: bigint;
  afterMj: bigint;
}

export interface EnergyWindow {
  energyJ: number;
  /** How many counter readings lie in [fromS, toS] and were used. */
  readings: number;
  resetDetected: boolean;
  /**
   * Seconds of the window whose energy is unknown: the spans between the last reading before each reset
   * and the first reading after it (0 without a reset).
   */
  resetGapS: number;
}

export interface ReadLatencyStats {
  count: number;
  meanMs: number | null;
  maxMs: number | null;
}

export interface PollError {
  gpuIndex: number;
  tS: number;
  message: string;
}

/**
 * The energy of the steps between readings start and end, each weighted by its share of the window (0–1).
 * A step across a reset (the counter went down) counts 0 and its share of time goes to resetGapS. Whole
 * steps stay exact as bigint; only fractional shares (the window's edges) are floats.
 */
function sumSteps(
  series: readonly EnergyCounterReading[],
  start: number,
  end: number,
  shareOf: (a: EnergyCounterReading, b: EnergyCounterReading) => number,
): Omit<EnergyWindow, 'readings'> {
  let wholeMj = 0n;
  let partialMj = 0;
  let resetDetected = false;
  let resetGapS = 0;
  for (let i = start + 1; i <= end; i++) {
    const a = series[i - 1]!;
    const b = series[i]!;
    const share = shareOf(a, b);
    if (share === 0) continue;
    if (b.energyMj < a.energyMj) {
      resetDetected = true;
      resetGapS += share * (b.tS - a.tS);
    } else if (share === 1) {
      wholeMj += b.energyMj - a.energyMj;
    } else {
      partialMj += share * Number(b.energyMj - a.energyMj);
    }
  }
  return { energyJ: (Number(wholeMj) + partialMj) / 1000, resetDetected, resetGapS };
}

/** Readings are stamped with Date.now(): whole milliseconds. */
const READING_STAMP_RESOLUTION_S = 0.001;

/** Poll errors kept for inspection; older ones are counted, not stored. */
const MAX_KEPT_ERRORS = 100;

export class NvmlEnergyPoller {
  readonly gpuIndices: readonly number[];
  readonly rateHz: number;
  private readonly series = new Map<number, EnergyCounterReading[]>();
  private readonly resetList: CounterReset[] = [];
  private readonly errorList: PollError[] = [];
  private errorCount = 0;
  private timer: NodeJS.Timeout | null = null;
  private polling = false;
  /** performance.now() of the latest edge; background ticks fall at anchorMs + tick / rateHz. */
  private anchorMs = 0;
  private tick = 0;
  private latencyCount = 0;
  private latencySumMs = 0;
  private latencyMaxMs = 0;
  /** GPUs with a background read in flight (the token tells a stale completion from a newer read). */
  private readonly pending = new Map<number, object>();
  /** Bumped by stop(): background reads submitted before it are dropped when they return. */
  private generation = 0;

  constructor(
    private readonly nvml: Nvml,
    options: NvmlEnergyPollerOptions,
  ) {
    const rateHz = options.rateHz ?? DEFAULT_POLL_RATE_HZ;
    if (typeof rateHz !== 'number' || !Number.isInteger(rateHz) || rateHz < MIN_POLL_RATE_HZ || rateHz > MAX_POLL_RATE_HZ) {
      throw new InputError(`Expected \`rateHz\` to be an integer from ${MIN_POLL_RATE_HZ} to ${MAX_POLL_RATE_HZ}, got ${describeValue(rateHz)}`);
    }
    const indices = options.gpuIndices;
    if (indices.length === 0 || !indices.every((i) => Number.isInteger(i) && i >= 0)) {
      throw new InputError(`Expected \`gpuIndices\` to be a non-empty array of GPU indices, got ${describeValue(indices)}`);
    }
    if (new Set(indices).size !== indices.length) {
      throw new InputError(`Expected \`gpuIndices\` without duplicates, got ${describeValue(indices)}`);
    }
    if (!nvml.available) {
      throw new TelemetryError(`NVML energy counter unavailable: ${nvml.unavailableReason ?? 'unknown reason'}`);
    }
    this.gpuIndices = [...indices];
    this.rateHz = rateHz;
    for (const gpuIndex of indices) this.series.set(gpuIndex, []);
  }

  /**
   * Takes one reading of every GPU at once (so a GPU without a counter fails here, loudly, not later in
   * a timer), then polls in the background.
   *
   * The schedule is a chain of unref'd setTimeout calls aimed at anchor + k·period rather than
   * setInterval: Node re-arms an interval only after its callback ran, so every period is a little
   * longer than asked and a 100 ms interval delivers slightly under 10 Hz. Aiming at absolute times keeps
   * the mean rate at rateHz; ticks missed during a long event-loop stall are skipped, not burst. The
   * anchor is the latest edge (start(), readEdge()), so a window that opens at an edge gets a reading
   * at each of its whole seconds.
   */
  start(): void {
    if (this.polling) throw new TelemetryError('NvmlEnergyPoller.start(): already started');
    this.readEdge();
    this.polling = true;
    this.scheduleNext();
  }

  stop(): void {
    this.polling = false;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    // Background reads still running are dropped when they return.
    this.generation += 1;
  }

  get running(): boolean {
    return this.polling;
  }

  /**
   * Reads every polled GPU now (a window edge) and phase-locks the background schedule to this moment.
   * Returns the readings in gpuIndices order.
   */
  readEdge(): EnergyCounterReading[] {
    const anchorMs = performance.now();
    const readings = this.gpuIndices.map((gpuIndex) => this.read(gpuIndex));
    this.anchorMs = anchorMs;
    this.tick = 0;
    if (this.polling) {
      if (this.timer !== null) clearTimeout(this.timer);
      this.scheduleNext();
    }
    return readings;
  }

  private scheduleNext(): void {
    const periodMs = 1000 / this.rateHz;
    const nowMs = performance.now();
    this.tick = Math.max(this.tick + 1, Math.ceil((nowMs - this.anchorMs) / periodMs));
    this.timer = setTimeout(this.onTick, Math.max(0, this.anchorMs + this.tick * periodMs - nowMs));
    this.timer.unref(); // never keep the process alive for telemetry
  }

  private readonly onTick = (): void => {
    for (const gpuIndex of this.gpuIndices) {
      if (this.nvml.totalEnergyMjAsync) {
        this.readInBackground(gpuIndex);
        continue;
      }
      try {
        this.read(gpuIndex);
      } catch (error) {
        // A timer callback has nobody to throw to: keep the error for the caller (edge reads via
        // read() still throw), and keep polling.
        this.recordError(gpuIndex, error);
      }
    }
    if (this.polling) this.scheduleNext();
  };

  /** Reads the counter of one GPU now (use it at the exact window edges) and records the reading. */
  read(gpuIndex: number): EnergyCounterReading {
    const series = this.series.get(gpuIndex);
    if (series === undefined) {
      throw new InputError(`GPU ${describeValue(gpuIndex)} is not polled; polled: ${this.gpuIndices.join(', ')}`);
    }
    // tS is taken just before the call. Against the fake library the call takes ~1-30 µs, but on a real
    // H100 (driver 580) nvmlDeviceGetTotalEnergyConsumption took 3-5 ms (p99 16 ms) and blocks this
    // thread meanwhile; the counter itself only moves every ~100 ms, so the offset is below its resolution.
    const tS = Date.now() / 1000;
    const beforeMs = performance.now();
    const energyMj = this.nvml.totalEnergyMj(gpuIndex);
    this.recordLatency(performance.now() - beforeMs);
    return this.record(series, gpuIndex, tS, energyMj);
  }

  /**
   * A background reading on a worker thread (Nvml.totalEnergyMjAsync): on a real H100 a read takes ~4 ms
   * (up to 100 ms) of driver time, which would otherwise stall the event loop — and with it the load
   * generator's token timestamps and the nvidia-smi reader — ten times a second. At most one read per GPU
   * is in flight; a tick that finds the previous one still running is skipped.
   *
   * The reading is kept only if no other reading of this GPU was recorded while it ran: an edge read()
   * meanwhile is exact and may be newer, and keeping both would leave the series out of time order (a
   * false counter reset). Its tS is the midpoint of submission and completion, so it lies between the
   * readings before and after it; the read happened within half the call's span of it.
   */
  private readInBackground(gpuIndex: number): void {
    if (this.pending.has(gpuIndex)) return;
    const series = this.series.get(gpuIndex)!;
    const generation = this.generation;
    const lengthAtSubmit = series.length;
    const submitMs = Date.now();
    const beforeMs = performance.now();
    const token = {};
    this.pending.set(gpuIndex, token);
    this.nvml
      .totalEnergyMjAsync!(gpuIndex)
      .then((energyMj) => {
        this.recordLatency(performance.now() - beforeMs);
        if (generation !== this.generation || series.length !== lengthAtSubmit) return;
        this.record(series, gpuIndex, (submitMs + Date.now()) / 2000, energyMj);
      })
      .catch((error: unknown) => {
        if (generation === this.generation) this.recordError(gpuIndex, error);
      })
      .finally(() => {
        if (this.pending.get(gpuIndex) === token) this.pending.delete(gpuIndex);
      });
  }

  private recordLatency(latencyMs: number): void {
    this.latencyCount += 1;
    this.latencySumMs += latencyMs;
    this.latencyMaxMs = Math.max(this.latencyMaxMs, latencyMs);
  }

  private record(series: EnergyCounterReading[], gpuIndex: number, tS: number, energyMj: bigint | null): EnergyCounterReading {
    if (energyMj === null) {
      throw new TelemetryError(
        `GPU ${gpuIndex} has no NVML total-energy counter (NVML_ERROR_NOT_SUPPORTED): use nvidia-smi power instead`,
      );
    }
    const reading: EnergyCounterReading = { tS, gpuIndex, energyMj };
    const previous = series.at(-1);
    if (previous !== undefined && energyMj < previous.energyMj) {
      this.resetList.push({ gpuIndex, tS, beforeMj: previous.energyMj, afterMj: energyMj });
    }
    series.push(reading);
    return reading;
  }

  /** All readings of one GPU, oldest first. */
  readings(gpuIndex: number): readonly EnergyCounterReading[] {
    return this.series.get(gpuIndex) ?? [];
  }

  resets(): readonly CounterReset[] {
    return this.resetList;
  }

  /** Errors of background reads (the newest MAX_KEPT_ERRORS) and how many there were in all. */
  errors(): { count: number; recent: readonly PollError[] } {
    return { count: this.errorCount, recent: this.errorList };
  }

  /**
   * Wall time of each FFI call to nvmlDeviceGetTotalEnergyConsumption, over all reads so far: for
   * read(), the call itself; for background reads, from submission until the result is back on the
   * event loop.
   */
  readLatencyMs(): ReadLatencyStats {
    if (this.latencyCount === 0) return { count: 0, meanMs: null, maxMs: null };
    return { count: this.latencyCount, meanMs: this.latencySumMs / this.latencyCount, maxMs: this.latencyMaxMs };
  }

  /**
   * Energy of one GPU over a window.
   *
   * With reading edges (the readings read() returned) the window is exactly the readings recorded from
   * `from` to `to`, and the energy is the sum of the steps between them.
   *
   * With numeric edges (epoch seconds) the counter is interpolated linearly at both edges between the
   * readings that bracket them, so the window is [fromS, toS] exactly, as the tokens' window is. Edges
   * are read just after the load generator stamps them (EnergyMeter.markEdge), so a reading lies a few
   * ms after each edge and the interpolated share of a step is tiny; without it (fixed) the energy between
   * the last background reading and the end of the window was lost — up to one background period, 100 ms
   * at 10 Hz and 1 s at 1 Hz. Readings stamped exactly fromS are ties (Date.now()'s 1 ms resolution):
   * the newest is the edge. A window not bracketed by readings is an error, not an extrapolation.
   *
   * A reset inside the window (a reading smaller than the one before) does not throw: the energy is the
   * sum of the monotonic steps, and the step across the reset counts 0 because what happened between
   * the last reading before the reset and the first after it is unknown (the counter may restart at 0,
   * or at anything after a GPU reset). The result is therefore a lower bound, short by at most the energy
   * of `resetGapS` seconds (one polling period per reset); `resetDetected` lets the caller flag or reject
   * the measurement.
   */
  energyBetweenJ(
    gpuIndex: number,
    from: number | EnergyCounterReading,
    to: number | EnergyCounterReading,
  ): EnergyWindow {
    const series = this.readings(gpuIndex);
    const fromS = typeof from === 'number' ? from : from.tS;
    const toS = typeof to === 'number' ? to : to.tS;
    const label = `energy window [${fromS}, ${toS}] of GPU ${gpuIndex}`;
    if (toS < fromS || (typeof from === 'number' && typeof to === 'number' && toS === fromS)) {
      throw new EnergyWindowError(`${label} is empty or reversed`);
    }
    if (typeof from === 'number' || typeof to === 'number') {
      if (typeof from !== 'number' || typeof to !== 'number') {
        throw new EnergyWindowError(`${label}: give both edges as readings or both as times`);
      }
      return this.interpolatedWindow(series, from, to, label);
    }
    const start = series.lastIndexOf(from);
    const end = series.lastIndexOf(to);
    if (start === -1) throw new EnergyWindowError(`${label}: the \`from\` reading was not recorded by this poller for this GPU`);
    if (end === -1) throw new EnergyWindowError(`${label}: the \`to\` reading was not recorded by this poller for this GPU`);
    const count = end < start ? 0 : end - start + 1;
    if (count < 2) {
      throw new EnergyWindowError(`${label} holds ${count} NVML counter reading(s); at least 2 are needed (read() at both edges)`);
    }
    // Every step between the two readings counts whole.
    return { ...sumSteps(series, start, end, () => 1), readings: count };
  }

  /** The counter interpolated at fromS and toS (see energyBetweenJ). */
  private interpolatedWindow(series: readonly EnergyCounterReading[], fromS: number, toS: number, label: string): EnergyWindow {
    const start = this.lastIndexAtMost(series, fromS);
    // The window ends at the newest reading stamped at or before toS if it may have been taken at or
    // after toS: a reading stamped t (Date.now(), whole ms) was taken in [t, t + 1 ms), and an edge from
    // another clock (the transformers runner's time.time()) has µs. Otherwise at the first reading after.
    let end = this.lastIndexAtMost(series, toS);
    if (end === -1 || series[end]!.tS + READING_STAMP_RESOLUTION_S <= toS) end = series.findIndex((r) => r.tS > toS);
    if (start === -1 || end === -1) {
      const held = series.filter((r) => r.tS >= fromS && r.tS <= toS).length;
      const where = start === -1 ? `no reading at or before its start (first: ${series[0]?.tS ?? 'none'})` : `no reading at or after its end (last: ${series.at(-1)?.tS ?? 'none'})`;
      throw new EnergyWindowError(`${label} is not covered by NVML counter readings: ${where}; it holds ${held} NVML counter reading(s) (read() at both edges)`);
    }
    // The share of each step inside [fromS, toS]; a step of no duration (a tie at one millisecond) lies
    // at a.tS: inside if fromS < a.tS <= toS.
    const shareOf = (a: EnergyCounterReading, b: EnergyCounterReading): number => {
      const spanS = b.tS - a.tS;
      if (spanS > 0) return Math.max(0, Math.min(b.tS, toS) - Math.max(a.tS, fromS)) / spanS;
      return a.tS > fromS && a.tS <= toS ? 1 : 0;
    };
    return { ...sumSteps(series, start, end, shareOf), readings: end - start + 1 };
  }

  /** Index of the last reading at or before toS, or -1. */
  private lastIndexAtMost(series: readonly EnergyCounterReading[], toS: number): number {
    for (let i = series.length - 1; i >= 0; i--) if (series[i]!.tS <= toS) return i;
    return -1;
  }

  private recordError(gpuIndex: number, error: unknown): void {
    this.errorCount += 1;
    this.errorList.push({ gpuIndex, tS: Date.now() / 1000, message: error instanceof Error ? error.message : String(error) });
    if (this.errorList.length > MAX_KEPT_ERRORS) this.errorList.shift();
  }
}
