import { describe, expect, it } from 'vitest';
import { EngineError } from '../../src/errors.js';
import { GridLoad, experimentNoiseKey, type GridRates } from '../../src/engines/grid-load.js';
import { simDevice, type SimBoardState } from '../../src/engines/sim-telemetry.js';
import type { ExperimentConfig } from '../../src/engines/types.js';
import { VirtualClock } from '../../src/runner/clock.js';

const T0 = 1_800_000_000;
const config: ExperimentConfig = { engine: 'sim', model: { id: 'm', params: 1e9 }, quant: 'bf16', batch: 4, inputLen: 64, outputLen: 3 };
const idleLoaded: SimBoardState = { label: 'idle', powerW: 31, utilPct: 0, memUsedMib: 1000 };
const serving: SimBoardState = { label: 'serving', powerW: 77, utilPct: 90, memUsedMib: 1200 };

/** A GridLoad with fixed rates that records its hooks (the engines' parts: OOM, board, faults, horizon). */
class TestLoad extends GridLoad {
  readonly calls: string[] = [];
  failAtWarmUp: Error | null = null;
  /** Like the sim engine's crash: the load runs no further than this. */
  cutAtS: number | null = null;

  constructor(clock: VirtualClock, rates: Partial<GridRates> = {}) {
    super(
      { engine: 'test', config, device: simDevice(clock, 0), idleLoaded, signal: undefined },
      { tokPerS: 2.5, noise: 0, noiseKey: 'k', requestS: 2, intervalS: 0.5, ttftMs: 300, itlMs: [10, 10], ...rates },
    );
  }

  protected warmUpFailure(): Error | null {
    this.calls.push('warmUpFailure');
    return this.failAtWarmUp;
  }

  protected startServing(originS: number): void {
    this.calls.push(`startServing ${originS - T0}`);
    this.grid.device.set(serving);
  }

  protected override onWindowOpen(fromS: number): void {
    this.calls.push(`onWindowOpen ${fromS - T0}`);
  }

  protected override onStop(): void {
    this.calls.push('onStop');
    super.onStop();
  }

  protected override horizonS(): number {
    const h = super.horizonS();
    return this.cutAtS === null ? h : Math.min(h, this.cutAtS);
  }

  fail(err: Error): void {
    this.failureError = err;
  }
}

describe('GridLoad: the shared virtual-clock load generator', () => {
  it('snaps warm-up and window to the 1 s grid from warmUp on, and calls the engine hooks in order', async () => {
    const clock = new VirtualClock(T0);
    const load = new TestLoad(clock);
    expect(load.tokPerS).toBe(2.5);
    expect(load.requestS).toBe(2);
    await load.warmUp({ minS: 1.2, minRequests: 2 }); // 2 requests × 2 s / batch 4 = 1 s < 1.2 s → the edge at 2 s
    expect(clock.now()).toBe(T0 + 2);
    expect(simDevice(clock, 0).stateAt(T0 + 1)).toEqual(serving);
    clock.advance(0.3);
    const fromS = await load.openWindow();
    expect(fromS).toBe(T0 + 3);
    await clock.sleep(3_500);
    const toS = await load.closeWindow();
    expect(toS).toBe(T0 + 7);
    expect(clock.now()).toBe(toS);
    // Closing again later extends the window by whole segments.
    await clock.sleep(1_200);
    expect(await load.closeWindow()).toBe(T0 + 9);
    await load.stop();
    await load.stop();
    expect(load.calls).toEqual(['warmUpFailure', 'startServing 0', 'onWindowOpen 3', 'onStop']);
    expect(simDevice(clock, 0).stateAt(clock.now())).toEqual(idleLoaded);
  });

  it('counts tokens per segment on the rounded running total, so fractional rates add up exactly', async () => {
    const clock = new VirtualClock(T0);
    const load = new TestLoad(clock);
    expect(load.tokensBetween(T0, T0 + 10)).toBe(0); // before warmUp
    expect(load.segments(T0, T0 + 10)).toEqual([]);
    await load.warmUp({ minS: 1, minRequests: 0 });
    await clock.sleep(7_000);
    const segs = load.segments(T0 + 3, T0 + 7);
    // cum = 7.5, 10, 12.5, 15, 17.5 → rounded 8, 10, 13, 15, 18
    expect(segs).toEqual([
      { fromS: T0 + 3, toS: T0 + 4, tokens: 2 },
      { fromS: T0 + 4, toS: T0 + 5, tokens: 3 },
      { fromS: T0 + 5, toS: T0 + 6, tokens: 2 },
      { fromS: T0 + 6, toS: T0 + 7, tokens: 3 },
    ]);
    expect(load.tokensBetween(T0 + 3, T0 + 7)).toBe(10);
    expect(clock.now()).toBe(T0 + 8);
    expect(load.tokensBetween(T0, T0 + 20)).toBe(20); // only up to now: segments 0–7
    await load.stop();
    await clock.sleep(5_000);
    expect(load.tokensBetween(T0, clock.now())).toBe(20); // nothing after stop
  });

  it('noisy segments replay from their key and differ from the exact rate', async () => {
    const run = async (noiseKey: string): Promise<number[]> => {
      const clock = new VirtualClock(T0);
      const load = new TestLoad(clock, { tokPerS: 1000, noise: 0.05, noiseKey });
      await load.warmUp({ minS: 1, minRequests: 0 });
      await clock.sleep(10_000);
      return load.segments(T0, T0 + 10).map((s) => s.tokens);
    };
    const a = await run('a');
    expect(await run('a')).toEqual(a);
    expect(await run('b')).not.toEqual(a);
    expect(new Set(a).size).toBeGreaterThan(3);
    expect(a.every((t) => t > 800 && t < 1200)).toBe(true);
  });

  it('materializes one request per intervalS, each requestS long, flagged warm-up when it started before the warm-up ended', async () => {
    const clock = new VirtualClock(T0);
    const load = new TestLoad(clock, { ttftMs: 800 });
    await load.warmUp({ minS: 2, minRequests: 0 });
    const fromS = await load.openWindow(); // T0 + 2: the warm-up ended on it
    await clock.sleep(4_000);
    const toS = await load.closeWindow();
    const records = load.requests();
    expect(records).toHaveLength(12); // ends at T0 + 0.5, 1, …, 6
    expect(records[0]).toEqual({
      startS: T0,
      endS: T0 + 0.5,
      success: true,
      error: null,
      promptTokens: 64,
      outputTokens: 3,
      ttftMs: 500, // capped at its end-to-end time
      itlMs: [10, 10],
      e2eMs: 500,
      warmup: true,
    });
    expect(records.at(-1)).toMatchObject({ startS: T0 + 4, endS: T0 + 6, ttftMs: 800, e2eMs: 2000, warmup: false });
    expect(records.filter((r) => r.warmup).map((r) => r.endS - T0)).toEqual([0.5, 1, 1.5, 2, 2.5, 3, 3.5]);
    // Both edges count: ends at 2, 2.5, …, 6.
    expect(load.requestsCompletedBetween(fromS, toS)).toBe(9);
    expect(load.requestsCompletedBetween(fromS + 0.1, toS - 0.1)).toBe(7);
  });

  it('an engine without latencies gives null TTFT and no ITLs', async () => {
    const clock = new VirtualClock(T0);
    const load = new TestLoad(clock, { ttftMs: null, itlMs: [] });
    await load.warmUp({ minS: 1, minRequests: 0 });
    expect(load.requests().map((r) => [r.ttftMs, r.itlMs])).toEqual([
      [null, []],
      [null, []],
    ]);
  });

  it('a warm-up failure fails the load before the board serves; the window then refuses with the engine name', async () => {
    const clock = new VirtualClock(T0);
    const load = new TestLoad(clock);
    const oom = new EngineError('CUDA out of memory (test)');
    load.failAtWarmUp = oom;
    await expect(load.warmUp({ minS: 1, minRequests: 1 })).rejects.toBe(oom);
    expect(load.failure).toBe(oom);
    expect(load.calls).toEqual(['warmUpFailure']);
    expect(clock.now()).toBe(T0);
    await expect(load.openWindow()).rejects.toThrow(/^test load: openWindow before warmUp$/);
    await expect(load.closeWindow()).rejects.toThrow(/^test load: closeWindow before warmUp$/);
    expect(load.requests()).toEqual([]);
    await load.stop();
    expect(load.calls).toEqual(['warmUpFailure']); // nothing to stop
  });

  it('refuses a second warm-up; a failure set by the engine fails the next window edge', async () => {
    const clock = new VirtualClock(T0);
    const load = new TestLoad(clock);
    await load.warmUp({ minS: 1, minRequests: 0 });
    await expect(load.warmUp({ minS: 1, minRequests: 0 })).rejects.toThrow('test load: warmUp called twice');
    await load.openWindow();
    const crash = new EngineError('crashed (test)');
    load.fail(crash);
    await expect(load.closeWindow()).rejects.toBe(crash);
  });

  it('an engine horizon (a crash) stops tokens and request records there', async () => {
    const clock = new VirtualClock(T0);
    const load = new TestLoad(clock);
    await load.warmUp({ minS: 1, minRequests: 0 });
    load.cutAtS = T0 + 3.2;
    await clock.sleep(6_000);
    expect(load.segments(T0, clock.now()).map((s) => s.toS - T0)).toEqual([1, 2, 3]);
    expect(load.tokensBetween(T0, clock.now())).toBe(8); // segments 0–2 (their midpoints are before 3.2)
    expect(load.requests().at(-1)!.endS).toBe(T0 + 3);
  });
});

describe('experimentNoiseKey', () => {
  it('uses the given repetition, else counts the loads of the same config, server and seed on the board', () => {
    const device = simDevice(new VirtualClock(T0), 0);
    expect(experimentNoiseKey(device, 'srv', config, 7, 5)).toBe('7|srv|4|64|3|5');
    expect(experimentNoiseKey(device, 'srv', config, 7, undefined)).toBe('7|srv|4|64|3|0');
    expect(experimentNoiseKey(device, 'srv', config, 7, undefined)).toBe('7|srv|4|64|3|1');
    expect(experimentNoiseKey(device, 'srv', config, 8, undefined)).toBe('8|srv|4|64|3|0');
    expect(experimentNoiseKey(device, 'srv', { ...config, batch: 8 }, 7, undefined)).toBe('7|srv|8|64|3|0');
    expect(experimentNoiseKey(device, 'srv', config, 7, 5)).toBe('7|srv|4|64|3|5');
    expect(experimentNoiseKey(device, 'srv', config, 7, undefined)).toBe('7|srv|4|64|3|2');
  });
});
