import { describe, expect, it } from 'vitest';
import { EngineError, InputError } from '../../src/errors.js';
import { BYTES_PER_TOKEN, LOADING_ACTIVITY, powerForActivity } from '../../src/engines/sim-model.js';
import { simDevice } from '../../src/engines/sim-telemetry.js';
import type { EngineContext, ExperimentConfig } from '../../src/engines/types.js';
import { startOnVirtualClock, validateShape, virtualServer } from '../../src/engines/virtual-server.js';
import { createLogger } from '../../src/log.js';
import { VirtualClock, realClock, type Clock } from '../../src/runner/clock.js';
import type { LoadGenerator } from '../../src/workload/types.js';

const T0 = 1_800_000_000;
const log = createLogger({ console: false, level: 'silent' });
const config: ExperimentConfig = { engine: 'sim', model: { id: 'm', params: 1e9 }, quant: 'bf16', batch: 4, inputLen: 64, outputLen: 32 };

describe('validateShape', () => {
  it('names the key, the value and what is allowed', () => {
    expect(() => validateShape(config)).not.toThrow();
    const err = (over: Partial<ExperimentConfig>): unknown => {
      try {
        validateShape({ ...config, ...over });
      } catch (e) {
        return e;
      }
      return null;
    };
    expect(err({ batch: 0 })).toBeInstanceOf(InputError);
    expect((err({ batch: 0 }) as Error).message).toBe('batch 0 (number) is invalid; allowed: a positive integer');
    expect((err({ inputLen: 2.5 }) as Error).message).toBe('input_len 2.5 (number) is invalid; allowed: a positive integer');
    expect((err({ outputLen: -3 }) as Error).message).toBe('output_len -3 (number) is invalid; allowed: a positive integer');
  });
});

describe('startOnVirtualClock', () => {
  const start = (clock: VirtualClock, over: { loadS?: number; startTimeoutS?: number; oomTail?: string | null; signal?: AbortSignal } = {}): Promise<void> =>
    startOnVirtualClock({
      engine: 'test',
      config,
      device: simDevice(clock, 0),
      ctx: { startTimeoutS: over.startTimeoutS ?? 900, signal: over.signal },
      loadS: over.loadS ?? 30,
      loadingMib: 2048,
      oomTail: over.oomTail ?? null,
    });

  it('loads for loadS with the board at loading power and the weights streaming in', async () => {
    const clock = new VirtualClock(T0);
    await start(clock);
    expect(clock.now()).toBe(T0 + 30);
    const device = simDevice(clock, 0);
    expect(device.stateAt(T0 + 10)).toEqual({ label: 'loading', powerW: powerForActivity(device.hardware, LOADING_ACTIVITY), utilPct: 0, memUsedMib: 2048 });
  });

  it('an out-of-memory dies about halfway, with the log tail, exit code and duration; the board goes idle', async () => {
    const clock = new VirtualClock(T0);
    const err = await start(clock, { oomTail: 'torch.OutOfMemoryError (test)' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineError);
    expect((err as EngineError).message).toBe('the test server for m (bf16) died while loading: CUDA out of memory');
    expect((err as EngineError).details).toMatchObject({ exitCode: 1, outputTail: 'torch.OutOfMemoryError (test)', durationMs: 15_000 });
    expect(clock.now()).toBe(T0 + 15);
    expect(simDevice(clock, 0).stateAt(clock.now()).label).toBe('idle');
    // Never past the start timeout.
    const clock2 = new VirtualClock(T0);
    await expect(start(clock2, { oomTail: 'x', startTimeoutS: 4 })).rejects.toThrow(/died while loading/);
    expect(clock2.now()).toBe(T0 + 4);
  });

  it('a load longer than the start timeout fails at the timeout', async () => {
    const clock = new VirtualClock(T0);
    await expect(start(clock, { startTimeoutS: 12 })).rejects.toThrow('the test server for m (bf16) was not ready within 12 s (simulated load time 30.0 s)');
    expect(clock.now()).toBe(T0 + 12);
    expect(simDevice(clock, 0).stateAt(clock.now()).label).toBe('idle');
  });

  it('an aborted signal stops the load, the board idle', async () => {
    const clock = new VirtualClock(T0);
    const ac = new AbortController();
    ac.abort(new Error('thermal abort (test)'));
    await expect(start(clock, { signal: ac.signal })).rejects.toThrow('thermal abort (test)');
    expect(simDevice(clock, 0).stateAt(clock.now()).label).toBe('idle');
  });
});

describe('virtualServer', () => {
  /** A load generator that records its stop (the server's one-load-at-a-time rule). */
  function recordingLoad(stops: string[], name: string): LoadGenerator {
    return {
      warmUp: async () => {},
      openWindow: async () => 0,
      closeWindow: async () => 0,
      tokensBetween: () => 0,
      requestsCompletedBetween: () => 0,
      segments: () => [],
      requests: () => [],
      failure: null,
      stop: async () => {
        stops.push(name);
      },
    };
  }

  function setUp(dead: EngineError | null = null) {
    const clock = new VirtualClock(T0);
    const device = simDevice(clock, 0);
    device.set({ label: 'idle', powerW: 40, utilPct: 0, memUsedMib: 2048 });
    const stops: string[] = [];
    let n = 0;
    const requireVirtualClock = (c: Clock): VirtualClock => {
      if (!(c instanceof VirtualClock)) throw new EngineError('the test engine needs a VirtualClock');
      return c;
    };
    const server = virtualServer({
      engine: { name: 'sim', serverKey: (c) => `key:${c.model.id}` },
      key: 'key:m',
      device,
      requireVirtualClock,
      died: new Promise<never>(() => {}),
      deadWith: () => dead,
      newLoad: () => recordingLoad(stops, `load${n++}`),
      bpb: (c) => ({ bpb: 0.75, method: `test ${c.quant}` }),
    });
    const ctx = (c: Clock = clock): EngineContext => ({ artifactDir: '/nonexistent', log, clock: c, gpus: [0], startTimeoutS: 900 });
    return { clock, device, server, stops, ctx };
  }

  it('is in-process, hands out one load at a time, and idles the board when stopped', async () => {
    const { clock, device, server, stops, ctx } = setUp();
    expect(server).toMatchObject({ key: 'key:m', baseUrl: null, pid: null, logFile: null });
    server.load(config, ctx());
    server.load(config, ctx()); // stops load0
    expect(stops).toEqual(['load0']);
    await server.stop();
    expect(stops).toEqual(['load0', 'load1']);
    expect(device.stateAt(clock.now())).toEqual(device.idleState());
    expect(() => server.load(config, ctx())).toThrow('the sim server key:m was stopped');
  });

  it('refuses another clock or another server key, naming both keys', () => {
    const { server, ctx } = setUp();
    expect(() => server.load(config, ctx(realClock))).toThrow('the test engine needs a VirtualClock');
    expect(() => server.load(config, ctx(new VirtualClock(T0)))).toThrow('the sim server was started on another VirtualClock than this load uses');
    expect(() => server.load({ ...config, model: { id: 'other' } }, ctx())).toThrow('config for server key:other given to sim server key:m');
  });

  it('gives the engine BPB over the bytes of the text', async () => {
    const { server, ctx } = setUp();
    const text = 'héllo '.repeat(50);
    const bytes = Buffer.byteLength(text, 'utf8');
    expect(await server.bpb(config, text, ctx())).toEqual({ bpb: 0.75, bits: 0.75 * bytes, bytes, tokens: Math.round(bytes / BYTES_PER_TOKEN), method: 'test bf16' });
  });

  it('a dead server throws what it died of on load and BPB', async () => {
    const dead = new EngineError('crashed (test)');
    const { server, ctx } = setUp(dead);
    expect(() => server.load(config, ctx())).toThrow(dead);
    await expect(server.bpb(config, 'x', ctx())).rejects.toBe(dead);
  });
});
