import { describe, expect, it } from 'vitest';
import { EngineError, InputError } from '../../src/errors.js';
import { simEngine, SimLoad } from '../../src/engines/sim.js';
import { SIM_HARDWARE, simBpb, simulate } from '../../src/engines/sim-model.js';
import { openSimTelemetry, simDevice } from '../../src/engines/sim-telemetry.js';
import type { EngineContext, ExperimentConfig } from '../../src/engines/types.js';
import { createLogger } from '../../src/log.js';
import { VirtualClock, realClock } from '../../src/runner/clock.js';
import { ThermalAbort, watchTemperature } from '../../src/telemetry/watchdog.js';

const T0 = 1_800_000_000;
const log = createLogger({ console: false, level: 'silent' });

function ctxFor(clock: VirtualClock | typeof realClock, extra: Partial<EngineContext> = {}): EngineContext {
  return { artifactDir: '/nonexistent', log, clock, gpus: [0], startTimeoutS: 900, ...extra };
}

const qwen7: ExperimentConfig = {
  engine: 'sim',
  model: { id: 'Qwen/Qwen2.5-7B-Instruct', params: 7.6e9, family: 'qwen2.5' },
  quant: 'bf16',
  batch: 8,
  inputLen: 512,
  outputLen: 128,
};
const cfg = (over: Partial<ExperimentConfig> = {}): ExperimentConfig => ({ ...qwen7, ...over });

describe('sim engine: validate and server key', () => {
  it('accepts a complete config and labels itself simulated', () => {
    expect(simEngine.name).toBe('sim');
    expect(simEngine.simulated).toBe(true);
    expect(() => simEngine.validate(cfg())).not.toThrow();
    expect(() => simEngine.validate(cfg({ quant: 'q4_k_m', engineOptions: { sim_noise: 0.02, sim_seed: 7, sim_hardware: 'h100-sxm' } }))).not.toThrow();
  });

  it('names the key, the value and what is allowed', () => {
    const err = (c: ExperimentConfig): InputError => {
      try {
        simEngine.validate(c);
      } catch (e) {
        return e as InputError;
      }
      throw new Error('expected a validation error');
    };
    const q = err(cfg({ quant: 'fp4' }));
    expect(q).toBeInstanceOf(InputError);
    expect(q.message).toMatch(/^quant "fp4" \(string\) is not known to the sim engine; allowed: .*bf16.*awq.*q4_k_m/);
    expect(err(cfg({ batch: 0 })).message).toBe('batch 0 (number) is invalid; allowed: a positive integer');
    expect(err(cfg({ inputLen: 1.5 })).message).toBe('input_len 1.5 (number) is invalid; allowed: a positive integer');
    expect(err(cfg({ outputLen: -1 })).message).toBe('output_len -1 (number) is invalid; allowed: a positive integer');
    expect(err(cfg({ model: { id: 'm' } })).message).toMatch(/^models\[\]\.params undefined .* allowed: a parameter count > 0/);
    expect(err(cfg({ engineOptions: { sim_noise: 0.5 } })).message).toBe('engine option sim_noise 0.5 (number) is invalid; allowed: a number from 0 to 0.2 (relative σ)');
    expect(err(cfg({ engineOptions: { sim_hardware: 'a100' } })).message).toMatch(/sim_hardware "a100" \(string\) is invalid; allowed: dgx-spark, h100-sxm, h200/);
    expect(err(cfg({ engineOptions: { sim_fail: 'boom' } })).message).toMatch(/allowed: oom, crash_mid_window/);
    expect(err(cfg({ engineOptions: { sim_nosie: 0.1 } })).message).toMatch(/engine option sim_nosie is unknown/);
  });

  it('shares a server across batch and lengths, not across models or quants', () => {
    const key = simEngine.serverKey(cfg());
    expect(simEngine.serverKey(cfg({ batch: 64, inputLen: 128, outputLen: 512 }))).toBe(key);
    expect(simEngine.serverKey(cfg({ quant: 'fp8' }))).not.toBe(key);
    expect(simEngine.serverKey(cfg({ model: { ...qwen7.model, id: 'other' } }))).not.toBe(key);
  });
});

describe('sim engine: server', () => {
  it('costs 20 s + 2 s per GB of simulated start time, is in-process, and refuses a real clock', async () => {
    const clock = new VirtualClock(T0);
    const server = await simEngine.start(cfg(), ctxFor(clock));
    // Epoch seconds carry ~2e-7 s of float resolution.
    expect(clock.now() - T0).toBeCloseTo(20 + 2 * 15.2, 5);
    expect(server).toMatchObject({ pid: null, logFile: null, baseUrl: null, key: simEngine.serverKey(cfg()) });
    // The board draws a little while loading and sits at idle with the weights loaded afterwards.
    expect(simDevice(clock, 0).stateAt(T0 + 5).label).toBe('loading');
    expect(simDevice(clock, 0).stateAt(clock.now())).toMatchObject({ label: 'idle', powerW: 30 });
    await server.stop();
    await expect(simEngine.start(cfg(), ctxFor(realClock))).rejects.toThrow(/needs a VirtualClock/);
    const other = await simEngine.start(cfg(), ctxFor(new VirtualClock(T0)));
    expect(() => other.load(cfg(), ctxFor(realClock))).toThrow(/needs a VirtualClock/);
  });

  it('never resolves died on a healthy server', async () => {
    const clock = new VirtualClock(T0);
    const server = await simEngine.start(cfg(), ctxFor(clock));
    const state = await Promise.race([server.died.then(() => 'died', () => 'died'), new Promise((r) => setTimeout(() => r('alive'), 20))]);
    expect(state).toBe('alive');
  });

  it('gives a simulated BPB from the model', async () => {
    const clock = new VirtualClock(T0);
    const server = await simEngine.start(cfg({ quant: 'awq' }), ctxFor(clock));
    const text = 'héllo wörld '.repeat(100);
    const r = await server.bpb(cfg({ quant: 'awq' }), text, ctxFor(clock));
    expect(r.bpb).toBe(simBpb(7.6e9, 'awq'));
    expect(r.bytes).toBe(Buffer.byteLength(text));
    expect(r.bits).toBeCloseTo(r.bpb * r.bytes, 9);
    expect(r.method).toMatch(/^simulated/);
  });

  it('fails like a real out-of-memory while loading when the weights do not fit', async () => {
    const clock = new VirtualClock(T0);
    openSimTelemetry({ clock, hardware: 'h100-sxm', autoAdvance: false });
    const big = cfg({ model: { id: 'llama-70b', params: 70.6e9, family: 'llama' } });
    const err = await simEngine.start(big, ctxFor(clock)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineError);
    expect((err as EngineError).message).toMatch(/died while loading: CUDA out of memory/);
    expect((err as EngineError).details.outputTail).toMatch(/torch.OutOfMemoryError: CUDA out of memory/);
    expect(clock.now()).toBeGreaterThan(T0); // it got part of the way
    expect(simDevice(clock, 0).stateAt(clock.now()).label).toBe('idle');
    // The same model at fp8 loads.
    await expect(simEngine.start({ ...big, quant: 'fp8' }, ctxFor(clock))).resolves.toBeTruthy();
  });

  it('injects an OOM at start with sim_fail=oom', async () => {
    const clock = new VirtualClock(T0);
    await expect(simEngine.start(cfg({ engineOptions: { sim_fail: 'oom' } }), ctxFor(clock))).rejects.toThrow(/CUDA out of memory/);
  });

  it('times out when the simulated load exceeds startTimeoutS', async () => {
    const clock = new VirtualClock(T0);
    await expect(simEngine.start(cfg(), ctxFor(clock, { startTimeoutS: 10 }))).rejects.toThrow(/not ready within 10 s/);
    expect(clock.now()).toBe(T0 + 10);
  });

  it('refuses sim_hardware that differs from the telemetry board', async () => {
    const clock = new VirtualClock(T0);
    openSimTelemetry({ clock, hardware: 'h100-sxm', autoAdvance: false });
    await expect(simEngine.start(cfg({ engineOptions: { sim_hardware: 'h200' } }), ctxFor(clock))).rejects.toThrow(/differs from the simulated board/);
  });
});

describe('sim engine: load generator on the virtual clock', () => {
  it('warms up, snaps the window to 1 s segments, and counts tokens at the model throughput', async () => {
    const clock = new VirtualClock(T0);
    const server = await simEngine.start(cfg(), ctxFor(clock));
    const perf = simulate(SIM_HARDWARE['dgx-spark'], { params: 7.6e9, family: 'qwen2.5', quant: 'bf16', batch: 8, inputLen: 512, outputLen: 128 });
    const load = server.load(cfg(), ctxFor(clock));
    const loadStartS = clock.now();
    await load.warmUp({ minS: 3, minRequests: 8 });
    // 8 requests need one batch cycle (~10 s), longer than 3 s: warm-up ends on the first whole second after it.
    expect(clock.now() - loadStartS).toBe(Math.ceil(perf.cycleS));
    clock.advance(0.3);
    const fromS = await load.openWindow();
    expect(fromS - loadStartS).toBe(Math.ceil(perf.cycleS) + 1);
    await clock.sleep(29_600);
    const toS = await load.closeWindow();
    expect(toS - fromS).toBe(30);
    expect(clock.now()).toBe(toS);

    const tokens = load.tokensBetween(fromS, toS);
    expect(tokens).toBeGreaterThanOrEqual(Math.floor(perf.tokPerS * 30));
    expect(tokens).toBeLessThanOrEqual(Math.ceil(perf.tokPerS * 30));
    const segs = load.segments(fromS, toS);
    expect(segs).toHaveLength(30);
    expect(segs[0]!.fromS).toBe(fromS);
    expect(segs.at(-1)!.toS).toBe(toS);
    expect(segs.reduce((s, x) => s + x.tokens, 0)).toBe(tokens);
    for (const s of segs) expect(Math.abs(s.tokens - perf.tokPerS)).toBeLessThanOrEqual(1);
    // Requests complete at batch / cycle per second.
    const done = load.requestsCompletedBetween(fromS, toS);
    expect(Math.abs(done - (30 * 8) / perf.cycleS)).toBeLessThanOrEqual(1);
    const records = load.requests();
    expect(records.filter((r) => r.endS >= fromS && r.endS <= toS)).toHaveLength(done);
    expect(records.every((r) => r.success && r.outputTokens === 128 && r.promptTokens === 512)).toBe(true);
    expect(records[0]!.warmup).toBe(true);
    expect(records.at(-1)!.warmup).toBe(false);
    const steady = records.at(-1)!;
    expect(steady.e2eMs).toBeCloseTo(perf.cycleS * 1000, 3);
    expect(steady.itlMs).toHaveLength(127);
    expect(steady.itlMs[0]).toBeCloseTo(perf.decodeStepS * 1000, 9);
    expect(steady.ttftMs).toBeCloseTo((perf.prefillS + perf.decodeStepS) * 1000, 9);
    // Nothing arrives after stop.
    await load.stop();
    await clock.sleep(5_000);
    expect(load.tokensBetween(toS, clock.now())).toBe(0);
    expect(simDevice(clock, 0).stateAt(clock.now()).label).toBe('idle');
    expect(load.failure).toBeNull();
  });

  it('fails the warm-up with an OOM when the KV cache of the batch does not fit', async () => {
    const clock = new VirtualClock(T0);
    const big = cfg({ batch: 1024, inputLen: 2048, outputLen: 512 }); // 1024 × 2560 × 56 KiB ≈ 150 GB + 15 GB weights > 115 GB
    const server = await simEngine.start(big, ctxFor(clock));
    const load = server.load(big, ctxFor(clock));
    await expect(load.warmUp({ minS: 3, minRequests: 1024 })).rejects.toThrow(/CUDA out of memory at batch 1024/);
    expect(load.failure).toBeInstanceOf(EngineError);
    // The server survives (vLLM-like); a smaller batch runs on it.
    const ok = server.load(cfg(), ctxFor(clock));
    await expect(ok.warmUp({ minS: 1, minRequests: 1 })).resolves.toBeUndefined();
  });

  it('crash_mid_window: died rejects, the load fails, the board goes idle at the crash', async () => {
    const clock = new VirtualClock(T0);
    const tel = openSimTelemetry({ clock, autoAdvance: false });
    const c = cfg({ engineOptions: { sim_fail: 'crash_mid_window', sim_crash_after_s: 4 } });
    const server = await simEngine.start(c, ctxFor(clock));
    const load = server.load(c, ctxFor(clock));
    await load.warmUp({ minS: 3, minRequests: 1 });
    const fromS = await load.openWindow();
    let diedWith: unknown = null;
    server.died.catch((e: unknown) => {
      diedWith = e;
    });
    // As the protocol does: race each 1 s sleep against died, then look at load.failure. (A virtual
    // sleep has already resolved when the race starts, so the race itself returns the sleep.)
    const outcome = await (async () => {
      for (let i = 0; i < 10; i++) {
        await Promise.race([clock.sleep(1000), server.died]);
        if (load.failure) throw load.failure;
      }
      return 'no crash';
    })().catch((e: unknown) => e);
    expect(outcome).toBeInstanceOf(EngineError);
    expect((outcome as Error).message).toMatch(/crashed during the measurement window .*sim_fail=crash_mid_window/);
    expect(clock.now()).toBe(fromS + 4);
    expect(diedWith).toBe(outcome);
    expect(load.failure).toBe(outcome);
    expect(load.requests().filter((r) => !r.success)).toHaveLength(8);
    expect(() => server.load(cfg(), ctxFor(clock))).toThrow(/crashed/);
    await clock.sleep(3_000);
    expect(tel.collected().at(-1)!.powerW).toBe(30);
    expect(load.tokensBetween(fromS + 4, clock.now())).toBe(0);
  });

  it('stops within one sample when the watchdog aborts the context signal', async () => {
    const clock = new VirtualClock(T0);
    const tel = openSimTelemetry({ clock, autoAdvance: false });
    const server = await simEngine.start(cfg(), ctxFor(clock));
    const spikeAtS = clock.now() + 6.5;
    await tel.stop();
    const tel2 = openSimTelemetry({ clock, autoAdvance: false, faults: { tempSpike: { atS: spikeAtS } } });
    const dog = watchTemperature(tel2, 85);
    const load = server.load(cfg(), ctxFor(clock, { signal: dog.signal }));
    const err = await load.warmUp({ minS: 30, minRequests: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ThermalAbort);
    expect(clock.now()).toBeLessThanOrEqual(spikeAtS + 1);
  });
});

describe('sim engine: determinism and noise', () => {
  async function measure(seed: number, noise: number, repeats = 1): Promise<{ tokens: number[]; energyJ: number[]; powers: number[] }[]> {
    const clock = new VirtualClock(T0);
    const tel = openSimTelemetry({ clock, autoAdvance: false });
    const c = cfg({ engineOptions: { sim_seed: seed, sim_noise: noise } });
    const server = await simEngine.start(c, ctxFor(clock));
    const out: { tokens: number[]; energyJ: number[]; powers: number[] }[] = [];
    for (let r = 0; r < repeats; r++) {
      const load = server.load(c, ctxFor(clock));
      await load.warmUp({ minS: 3, minRequests: 1 });
      const fromS = await load.openWindow();
      await clock.sleep(20_000);
      const toS = await load.closeWindow();
      const segs = load.segments(fromS, toS);
      const m = await tel.meter.measure(`w${r}`, fromS, toS);
      out.push({ tokens: segs.map((s) => s.tokens), energyJ: [m.energyJ], powers: m.samples.map((s) => s.powerW!) });
      await load.stop();
      await clock.sleep(10_000);
    }
    return out;
  }

  it('same seed → identical numbers; another seed or a repeat → different ones; noise 0 is exact', async () => {
    const a = await measure(42, 0.03, 2);
    const b = await measure(42, 0.03, 2);
    expect(b).toEqual(a);
    const c = await measure(43, 0.03, 2);
    expect(c[0]!.tokens).not.toEqual(a[0]!.tokens);
    expect(a[1]!.tokens).not.toEqual(a[0]!.tokens); // a repeated config draws fresh noise
    // Segment tokens vary by a few percent around the model's throughput.
    const perf = simulate(SIM_HARDWARE['dgx-spark'], { params: 7.6e9, family: 'qwen2.5', quant: 'bf16', batch: 8, inputLen: 512, outputLen: 128 });
    const rel = a[0]!.tokens.map((t) => t / perf.tokPerS - 1);
    expect(Math.max(...rel.map(Math.abs))).toBeLessThan(0.25);
    expect(new Set(a[0]!.tokens).size).toBeGreaterThan(3);
    // Noise 0: repeats give the same tokens and (up to float rounding) the same energy.
    const exact = await measure(42, 0, 2);
    expect(exact[1]!.tokens).toEqual(exact[0]!.tokens);
    expect(exact[1]!.energyJ[0]! / exact[0]!.energyJ[0]!).toBeCloseTo(1, 9);
  });
});

describe('sim engine: a whole experiment', () => {
  it('30 simulated seconds take well under a second, and the meter matches the model power × time within 0.5%', async () => {
    const startedMs = performance.now();
    const clock = new VirtualClock(T0);
    const tel = openSimTelemetry({ clock, hardware: 'h100-sxm' });
    const c = cfg({ model: { id: 'meta-llama/Llama-3.1-8B-Instruct', params: 8.03e9, family: 'llama' }, batch: 64, inputLen: 512, outputLen: 512 });
    simEngine.validate(c);
    const dog = watchTemperature(tel, 85);
    const ctx = ctxFor(clock, { signal: dog.signal });
    const server = await simEngine.start(c, ctx);
    const load = server.load(c, ctx);
    await load.warmUp({ minS: 3, minRequests: c.batch });
    const fromS = await load.openWindow();
    tel.meter.markEdge();
    while (clock.now() - fromS < 30) await Promise.race([clock.sleep(1000, ctx.signal), server.died]);
    const toS = await load.closeWindow();
    // Measure while the load still runs (see the report on stopping before measuring).
    const m = await tel.meter.measure('experiment', fromS, toS);
    await load.stop();
    const tokens = load.tokensBetween(fromS, toS);
    await server.stop();
    dog.stop();
    await tel.stop();
    const elapsedMs = performance.now() - startedMs;

    const perf = (load as SimLoad).perf;
    expect(toS - fromS).toBe(30);
    expect(Math.abs(m.energyJ / (perf.powerW * 30) - 1)).toBeLessThan(0.005);
    const jPerToken = m.energyJ / tokens;
    expect(Math.abs(jPerToken / perf.jPerToken - 1)).toBeLessThan(0.005);
    expect(jPerToken).toBeGreaterThan(0.06);
    expect(jPerToken).toBeLessThan(0.24); // the 0.12 J/token reference, within a factor 2
    expect(dog.maxTempC()).toBeLessThan(85);
    expect(elapsedMs).toBeLessThan(500);
  });
});
