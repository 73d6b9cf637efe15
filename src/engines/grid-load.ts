/**
 * The offline load generator shared by the virtual-clock engines (sim and table). From warmUp on, output
 * tokens arrive continuously at a steady rate, counted per 1-second segment on a grid that starts at
 * warmUp (segment-grid.ts; each segment's tokens × 1 + σ·z, rounded on the running total); requests
 * complete one every `intervalS`, each taking `requestS`. openWindow/closeWindow snap to the segment
 * grid, advancing the virtual clock; the simulated board serves while the load runs and goes back to
 * idle-with-weights when it stops.
 *
 * An engine subclasses GridLoad with what differs: where the rates come from (its model or its table),
 * why a load cannot start (an out-of-memory), what the board draws while serving, and faults it injects
 * once the window opens (the sim engine's crash, which also cuts the horizon short).
 */
import { EngineError } from '../errors.js';
import type { LoadGenerator, RequestRecord, Segment } from '../workload/types.js';
import { EPS_S, ceilK, completedBetween, segmentsOnGrid, sleepUntil, tokensOnGrid } from './segment-grid.js';
import { noiseFactor } from './sim-model.js';
import type { SimBoardState, SimDevice } from './sim-telemetry.js';
import type { ExperimentConfig } from './types.js';

export interface GridLoadOptions {
  /** Names the engine in error messages ("sim load: openWindow before warmUp"). */
  engine: string;
  config: ExperimentConfig;
  /** The simulated board, on the VirtualClock the load runs on. */
  device: SimDevice;
  /** The board once the load stops: the server idle with its weights loaded. */
  idleLoaded: SimBoardState;
  signal: AbortSignal | undefined;
}

/** The load's steady state, after the per-experiment noise. */
export interface GridRates {
  tokPerS: number;
  /** Relative σ of each segment's token noise (0: exact), drawn from `noiseKey`. */
  noise: number;
  noiseKey: string;
  /** One request, start to end. */
  requestS: number;
  /** Between two successive request completions. */
  intervalS: number;
  /** What every request reports as its TTFT (capped at its end-to-end time) and ITLs; null and [] where the engine has none. */
  ttftMs: number | null;
  itlMs: number[];
}

/**
 * The key of an experiment's noise draws: the same (seed, server, config, repetition) replays the same
 * numbers. Without a repetition (as `measure` runs), the board counts the loads of the config.
 */
export function experimentNoiseKey(device: SimDevice, serverKey: string, config: ExperimentConfig, seed: number, repetition: number | undefined): string {
  const { batch, inputLen, outputLen } = config;
  const rep = repetition ?? device.nextRepetition(JSON.stringify([serverKey, batch, inputLen, outputLen, seed]));
  return `${seed}|${serverKey}|${batch}|${inputLen}|${outputLen}|${rep}`;
}

export abstract class GridLoad implements LoadGenerator {
  readonly tokPerS: number;
  readonly requestS: number;
  protected readonly grid: GridLoadOptions;
  private readonly rates: GridRates;
  /** Where the segment grid starts: the warm-up's start (null before warmUp). */
  protected originS: number | null = null;
  private warmupEndS: number | null = null;
  private stoppedS: number | null = null;
  protected failureError: Error | null = null;
  /** Continuous cumulative token counts at segment edges: cum[k] = Σ_{i<k} tokPerS × factor(i). */
  private readonly cum: number[] = [0];
  /** Ordered by endS. */
  protected readonly records: RequestRecord[] = [];
  /** End times of the successful requests, ascending (for requestsCompletedBetween). */
  private readonly successEnds: number[] = [];

  protected constructor(grid: GridLoadOptions, rates: GridRates) {
    this.grid = grid;
    this.rates = rates;
    this.tokPerS = rates.tokPerS;
    this.requestS = rates.requestS;
  }

  /** Why this load cannot run (e.g. an out-of-memory at warm-up), or null. */
  protected abstract warmUpFailure(): Error | null;

  /** Puts the board into its serving state from originS on. */
  protected abstract startServing(originS: number): void;

  /** Called once the window has opened at fromS (fault injection). */
  protected onWindowOpen(_fromS: number): void {}

  /** Called once when the load stops: the board goes back to idle with the weights loaded. */
  protected onStop(): void {
    this.grid.device.set(this.grid.idleLoaded);
  }

  /** Time up to which the load has run: now, or when it stopped. */
  protected horizonS(): number {
    const now = this.grid.device.clock.now();
    return this.stoppedS === null ? now : Math.min(now, this.stoppedS);
  }

  get failure(): Error | null {
    return this.failureError;
  }

  /** Start of segment k (exact grid arithmetic: always originS + k). */
  private edge(k: number): number {
    return this.originS! + k;
  }

  /** The first grid edge at or after now. */
  private nextEdgeS(): number {
    return this.edge(ceilK(this.originS!, this.grid.device.clock.now()));
  }

  private segmentTokens(k: number): number {
    while (this.cum.length <= k + 1) {
      const i = this.cum.length - 1;
      this.cum.push(this.cum[i]! + this.rates.tokPerS * noiseFactor(`${this.rates.noiseKey}|tokens|${i}`, this.rates.noise));
    }
    return Math.round(this.cum[k + 1]!) - Math.round(this.cum[k]!);
  }

  private requireStarted(what: string): void {
    if (this.originS === null) throw new EngineError(`${this.grid.engine} load: ${what} before warmUp`);
  }

  private throwIfFailed(): void {
    if (this.failureError) throw this.failureError;
  }

  async warmUp(opts: { minS: number; minRequests: number }): Promise<void> {
    if (this.originS !== null) throw new EngineError(`${this.grid.engine} load: warmUp called twice`);
    const { device, config, signal } = this.grid;
    const clock = device.clock;
    const failure = this.warmUpFailure();
    if (failure) {
      this.failureError = failure;
      throw failure;
    }
    this.originS = clock.now();
    this.startServing(this.originS);
    const needS = Math.max(opts.minS, (opts.minRequests * this.requestS) / config.batch);
    await sleepUntil(clock, this.edge(Math.max(1, Math.ceil(needS - EPS_S))), signal);
    this.throwIfFailed();
    this.warmupEndS = this.nextEdgeS();
  }

  /** Waits on the virtual clock for the next segment edge (a window edge) and returns it. */
  private async untilNextEdge(what: string): Promise<number> {
    this.requireStarted(what);
    this.throwIfFailed();
    const edgeS = this.nextEdgeS();
    await sleepUntil(this.grid.device.clock, edgeS, this.grid.signal);
    this.throwIfFailed();
    return edgeS;
  }

  async openWindow(): Promise<number> {
    const fromS = await this.untilNextEdge('openWindow');
    this.onWindowOpen(fromS);
    return fromS;
  }

  async closeWindow(): Promise<number> {
    return this.untilNextEdge('closeWindow');
  }

  /** Materializes successful request records up to the horizon (request k ends at origin + (k + 1) × intervalS). */
  private materialize(): void {
    if (this.originS === null) return;
    const horizon = this.horizonS();
    const { inputLen, outputLen } = this.grid.config;
    const { intervalS, ttftMs, itlMs } = this.rates;
    for (let k = this.successEnds.length; ; k++) {
      const endS = this.originS + (k + 1) * intervalS;
      if (endS > horizon + EPS_S) break;
      const startS = Math.max(this.originS, endS - this.requestS);
      this.insertRecord({
        startS,
        endS,
        success: true,
        error: null,
        promptTokens: inputLen,
        outputTokens: outputLen,
        ttftMs: ttftMs === null ? null : Math.min(ttftMs, (endS - startS) * 1000),
        // Every request sees the same step time: one shared array keeps memory flat on long windows.
        itlMs,
        e2eMs: (endS - startS) * 1000,
        warmup: this.warmupEndS === null || startS < this.warmupEndS,
      });
      this.successEnds.push(endS);
    }
  }

  private insertRecord(r: RequestRecord): void {
    // Failed records (at a crash) are pushed when the crash happens; successes before it may be
    // materialized later: keep the list ordered by endS.
    let i = this.records.length;
    while (i > 0 && this.records[i - 1]!.endS > r.endS) i--;
    this.records.splice(i, 0, r);
  }

  tokensBetween(fromS: number, toS: number): number {
    if (this.originS === null) return 0;
    return tokensOnGrid(this.originS, this.horizonS(), fromS, toS, (k) => this.segmentTokens(k));
  }

  requestsCompletedBetween(fromS: number, toS: number): number {
    this.materialize();
    return completedBetween(this.successEnds, fromS, toS);
  }

  segments(fromS: number, toS: number): Segment[] {
    if (this.originS === null) return [];
    return segmentsOnGrid(this.originS, this.horizonS(), fromS, toS, (k) => this.segmentTokens(k));
  }

  requests(): RequestRecord[] {
    this.materialize();
    return [...this.records];
  }

  async stop(): Promise<void> {
    if (this.originS === null || this.stoppedS !== null) return;
    this.materialize();
    this.stoppedS = this.grid.device.clock.now();
    this.onStop();
  }
}
