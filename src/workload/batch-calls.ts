/**
 * The book of an offline load generator (transformers `generate` calls, llama-batched-bench runs): the
 * batch calls that finished, one segment each, and what is computed from them — window queries, segments,
 * boundary listeners, warm-up accounting at call ends, and the openWindow() waiters that the next call's
 * start resolves. It runs nothing and reads no clock: the generator that owns it (as a field) runs the
 * calls, takes their times, cancels them, and decides when each of these is called, which is where the
 * engines differ (when boundary listeners fire, what a stopped generator answers).
 */
import { EngineError } from '../errors.js';
import type { Segment } from './types.js';

/** A finished batch call: its start and end (epoch seconds), output tokens, sequences, and whether warm-up issued it. */
export interface BatchCall {
  startS: number;
  endS: number;
  tokens: number;
  sequences: number;
  warmup: boolean;
}

/** Float slack at a window edge: a call that starts or ends within it of the edge is inside. */
export const EDGE_EPS_S = 1e-6;

interface PendingWarmUp {
  startS: number;
  minS: number;
  minRequests: number;
  sequences: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

interface OpenWaiter {
  resolve: (startS: number) => void;
  reject: (err: Error) => void;
}

export class BatchCalls<C extends BatchCall = BatchCall> {
  private readonly calls: C[] = [];
  private readonly boundaryListeners = new Set<() => void>();
  /** The pending warm-up: counted at every call end, before the next call starts (so its flag is exact). */
  private warm: PendingWarmUp | null = null;
  private openWaiters: OpenWaiter[] = [];
  private failureError: Error | null = null;

  /** The first fatal failure (fail()), or null. */
  get failure(): Error | null {
    return this.failureError;
  }

  /** True while a warm-up waits: a call issued now is a warm-up call. */
  get warmingUp(): boolean {
    return this.warm !== null;
  }

  /** Every finished call, in order. */
  get finished(): readonly Readonly<C>[] {
    return this.calls;
  }

  /** End of the last finished call, or null before the first. */
  lastEndS(): number | null {
    const last = this.calls[this.calls.length - 1];
    return last ? last.endS : null;
  }

  /** Books a finished call (warm-up is counted separately, by countWarmUp, where the generator wants it). */
  add(call: C): void {
    this.calls.push(call);
  }

  /**
   * A warm-up that ends once at least `minRequests` sequences completed and `minS` seconds passed since
   * `startS`, counted at call ends (countWarmUp). Rejects when one is already pending.
   */
  warmUp(opts: { minS: number; minRequests: number }, startS: number): Promise<void> {
    if (this.warm !== null) return Promise.reject(new EngineError('warmUp() is already running'));
    return new Promise<void>((resolve, reject) => {
      this.warm = { startS, minS: opts.minS, minRequests: opts.minRequests, sequences: 0, resolve, reject };
    });
  }

  /** Counts a call that ended at `endS` with `sequences` towards the pending warm-up; ends it when both minimums are met. */
  countWarmUp(endS: number, sequences: number): void {
    const warm = this.warm;
    if (warm === null) return;
    warm.sequences += sequences;
    if (endS - warm.startS >= warm.minS && warm.sequences >= warm.minRequests) {
      this.warm = null;
      warm.resolve();
    }
  }

  /** A promise of the next call's start (callStarted), for openWindow(). */
  nextStart(): Promise<number> {
    return new Promise<number>((resolve, reject) => this.openWaiters.push({ resolve, reject }));
  }

  /** A call started at `startS`: the windows waiting to open snap to it. */
  callStarted(startS: number): void {
    for (const w of this.openWaiters.splice(0)) w.resolve(startS);
  }

  /** A fatal failure: kept (the first one wins), and every waiting window and warm-up rejects with it. */
  fail(err: Error): void {
    this.failureError ??= err;
    for (const w of this.openWaiters.splice(0)) w.reject(err);
    const warm = this.warm;
    this.warm = null;
    warm?.reject(err);
  }

  /** The generator stopped: waiting windows reject with `stoppedErr`; a pending warm-up simply ends (the caller is stopping anyway). */
  stop(stoppedErr: Error): void {
    for (const w of this.openWaiters.splice(0)) w.reject(stoppedErr);
    const warm = this.warm;
    this.warm = null;
    warm?.resolve();
  }

  /** LoadGenerator.onBoundary: returns the unsubscribe function. */
  onBoundary(listener: () => void): () => void {
    this.boundaryListeners.add(listener);
    return () => this.boundaryListeners.delete(listener);
  }

  get hasBoundaryListeners(): boolean {
    return this.boundaryListeners.size > 0;
  }

  /** Calls every boundary listener now (the generator picks the tick). */
  notifyBoundary(): void {
    for (const listener of this.boundaryListeners) listener();
  }

  /** The calls wholly inside [fromS, toS], give or take EDGE_EPS_S at each edge. */
  within(fromS: number, toS: number): C[] {
    return this.calls.filter((c) => c.startS >= fromS - EDGE_EPS_S && c.endS <= toS + EDGE_EPS_S);
  }

  /** Output tokens of the calls wholly inside [fromS, toS]. */
  tokensBetween(fromS: number, toS: number): number {
    return this.within(fromS, toS).reduce((s, c) => s + c.tokens, 0);
  }

  /** Sequences of the calls wholly inside [fromS, toS]. */
  requestsCompletedBetween(fromS: number, toS: number): number {
    return this.within(fromS, toS).reduce((s, c) => s + c.sequences, 0);
  }

  /** One segment per call wholly inside [fromS, toS]. */
  segments(fromS: number, toS: number): Segment[] {
    return this.within(fromS, toS).map((c) => ({ fromS: c.startS, toS: c.endS, tokens: c.tokens }));
  }
}
