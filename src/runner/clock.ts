/**
 * Time for the experiment protocol. The real clock reads the wall clock and sleeps; the sim engine's
 * virtual clock jumps, so a whole simulated sweep runs in seconds.
 */
export interface Clock {
  /** Epoch seconds. */
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  readonly virtual: boolean;
}

export const realClock: Clock = {
  now: () => Date.now() / 1000,
  sleep: (ms, signal) =>
    new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
  virtual: false,
};

/** Called after a virtual clock moved from `fromS` to `toS` (epoch seconds, toS > fromS). */
export type AdvanceListener = (fromS: number, toS: number) => void;

/**
 * A clock that advances only when slept on (deterministic, instant).
 *
 * Observers (the sim engine's telemetry and fault injection) subscribe with `onAdvance`. While any
 * observer is subscribed, `sleep` and `advance` move time in steps of at most `maxStepS` seconds, calling
 * every listener after each step, so that a 1 Hz sample source emits its samples in time order and a
 * listener that aborts `signal` (the thermal watchdog) stops a long sleep within one step, as a real
 * sleep would be cut short. The step path lands exactly on `start + ms / 1000`, the same time the plain
 * jump gives, so adding an observer never changes where time ends up.
 */
export class VirtualClock implements Clock {
  readonly virtual = true;
  private readonly listeners = new Set<AdvanceListener>();

  constructor(
    private tS: number = 1_800_000_000,
    private readonly maxStepS: number = 1,
  ) {}

  now(): number {
    return this.tS;
  }

  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw signal.reason;
    this.moveTo(this.tS + ms / 1000, signal);
    if (signal?.aborted) throw signal.reason;
  }

  advance(seconds: number): void {
    this.moveTo(this.tS + seconds);
  }

  /** Subscribes to time moving forward; returns the unsubscribe function. */
  onAdvance(fn: AdvanceListener): () => void {
    this.listeners.add(fn);
    return () => {
      this.listeners.delete(fn);
    };
  }

  private moveTo(targetS: number, signal?: AbortSignal): void {
    // Not forward (0 ms, or a negative step as before this hook existed): set it, tell no one.
    if (!(targetS > this.tS) || this.listeners.size === 0) {
      this.tS = targetS;
      return;
    }
    while (this.tS < targetS) {
      const fromS = this.tS;
      this.tS = Math.min(targetS, fromS + this.maxStepS);
      for (const fn of [...this.listeners]) fn(fromS, this.tS);
      if (signal?.aborted) return;
    }
  }
}

/** A wall clock behind the epoch clock by more than this has stepped back, and is followed. */
const WALL_STEP_BACK_TOLERANCE_MS = 20;

/**
 * Epoch seconds with sub-microsecond resolution, for timestamps of streamed tokens: the monotonic clock
 * (performance.now) anchored on the wall clock. Date.now() counts whole milliseconds, too coarse for
 * inter-token times of a few ms; performance.timeOrigin was seen 26 ms off the wall clock in a
 * long-lived worker thread, so the anchor is taken here, at the instant Date.now() ticks to its next
 * millisecond (wallAnchorMs). Linux slews the monotonic clock with the wall clock, so they then agree to
 * within microseconds. At most once a second the clock compares itself with Date.now(), whose floor
 * makes every comparison a lower bound of the anchor: one above the anchor moves it up (a preempted
 * anchor, or the system clock stepped forward); one more than WALL_STEP_BACK_TOLERANCE_MS below it is a
 * step back of the system clock (NTP step, `date -s`), followed too.
 */
export function createEpochClock(): { now(): number } {
  let originMs = wallAnchorMs();
  let checkedAtMs = performance.now();
  return {
    now(): number {
      const perfMs = performance.now();
      if (perfMs - checkedAtMs >= 1000) {
        checkedAtMs = perfMs;
        const lowMs = Date.now() - perfMs; // ≤ the true anchor, by less than 1 ms
        if (lowMs > originMs || lowMs + 1 < originMs - WALL_STEP_BACK_TOLERANCE_MS) originMs = lowMs;
      }
      return (originMs + perfMs) / 1000;
    },
  };
}

/**
 * Epoch ms minus performance.now() at an instant Date.now() ticks to its next millisecond. The tick lies
 * between two reads of the loop; of up to five ticks, the one seen with the shortest gap between those
 * reads (a preempted thread sees a long one) gives the anchor, the middle of its gap.
 */
function wallAnchorMs(): number {
  let bestGapMs = Infinity;
  let bestMs = NaN;
  for (let tick = 0; tick < 5 && bestGapMs > 0.02; tick++) {
    const start = Date.now();
    let prevPerfMs = performance.now();
    const giveUpMs = prevPerfMs + 2;
    for (;;) {
      const wall = Date.now();
      const perf = performance.now();
      if (wall !== start) {
        const gapMs = perf - prevPerfMs;
        if (gapMs < bestGapMs) {
          bestGapMs = gapMs;
          bestMs = wall - perf + gapMs / 2;
        }
        break;
      }
      if (perf > giveUpMs) return start + 0.5 - perf; // a clock that does not tick: the middle of its ms
      prevPerfMs = perf;
    }
  }
  return bestMs;
}
