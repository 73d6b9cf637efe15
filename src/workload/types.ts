/**
 * Load generation (DESIGN section 5.3-5.4). A load generator keeps `batch` requests in flight
 * (closed loop) and records when output tokens arrived, so that tokens and energy are counted over the
 * same window. HTTP engines share one implementation (src/workload/openai-load.ts); offline engines
 * (transformers, llama-batched-bench, sim) implement the same interface with one segment per batch call;
 * transformers and llama-batched-bench keep their finished calls in src/workload/batch-calls.ts.
 */

/** One finished (or failed) request. A request function never throws: failures are records too. */
export interface RequestRecord {
  /** Epoch seconds. */
  startS: number;
  endS: number;
  success: boolean;
  error: string | null;
  promptTokens: number | null;
  /** From the server's usage data. */
  outputTokens: number | null;
  ttftMs: number | null;
  /** Inter-token latencies, ms. */
  itlMs: number[];
  e2eMs: number;
  /** True when the warm-up phase issued it. */
  warmup: boolean;
}

/** Output tokens that arrived at (or, for offline engines, were completed by) time tS. */
export interface TokenEvent {
  tS: number;
  tokens: number;
}

/** A piece of the window with its tokens, for the confidence interval of J/token. */
export interface Segment {
  fromS: number;
  toS: number;
  tokens: number;
}

export interface LoadGenerator {
  /**
   * Starts the closed loop and resolves once warm-up is over: at least `minRequests` requests completed
   * and `minS` seconds passed. Warm-up output is excluded from every figure.
   */
  warmUp(opts: { minS: number; minRequests: number }): Promise<void>;
  /** Marks the window start (offline generators snap to the next batch boundary); epoch seconds. */
  openWindow(): Promise<number>;
  /**
   * Marks the window end (offline generators wait for the running batch to finish); epoch seconds. The load
   * goes on until stop(), so calling it again later gives a later end: the runner extends a window whose
   * confidence interval, once measured, is still above its target (decision 42).
   */
  closeWindow(): Promise<number>;
  /** Output tokens counted in [fromS, toS]. */
  tokensBetween(fromS: number, toS: number): number;
  /** Requests that completed (successfully) in [fromS, toS]. */
  requestsCompletedBetween(fromS: number, toS: number): number;
  /** Natural pieces of [fromS, toS] for the CI: fixed bins for HTTP load, one per batch call offline. */
  segments(fromS: number, toS: number): Segment[];
  /**
   * Offline generators whose segments are batch calls: `listener` runs as soon as a call has ended, so
   * that the energy counter can be read at the segment boundary (decision 41: between boundaries it may be
   * read only once a second). Returns the unsubscribe function. HTTP load needs none: its segments are
   * 1 s bins from the window edge, where the poller's phase-locked reads already fall.
   */
  onBoundary?(listener: () => void): () => void;
  /** How request and token times are taken (provenance of the latency columns), when the generator says. */
  readonly timing?: string;
  /** Every request so far, warm-up included (flagged). */
  requests(): RequestRecord[];
  /** A fatal load failure (every request failing, the engine gone): the experiment fails with it. */
  readonly failure: Error | null;
  /** Stops issuing requests and aborts those in flight. */
  stop(): Promise<void>;
}
