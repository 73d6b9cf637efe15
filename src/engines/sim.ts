/**
 * The sim engine: an in-process "server" whose performance and power come from the documented model in
 * sim-model.ts, on a VirtualClock, so a whole sweep runs in seconds. Every row it produces is simulated
 * (`simulated: true`); the telemetry that measures it is sim-telemetry.ts, coupled through the board
 * (simDevice) that both share per clock and GPU.
 *
 * - Server key: model + quant (+ sim_hardware, sim_fail): configs that differ only in batch or lengths
 *   reuse the server, and a new server costs simulated load time (20 s + 2 s per GB of weights), so
 *   server reuse shows in experiments per hour.
 * - Load: an offline-style generator on the virtual clock (grid-load.ts, shared with the table
 *   engine). From warmUp on, output tokens arrive continuously at the model's throughput, counted per
 *   1-second segment on a grid that starts at warmUp (each segment's tokens are placed at its
 *   midpoint); requests complete at a steady rate of batch / cycle time. openWindow/closeWindow snap
 *   to the segment grid, advancing the clock.
 * - Failures like real ones: weights over memory fail the start ("died while loading … out of memory");
 *   weights + the batch's KV cache over memory fail the warm-up with an OOM; engine options inject
 *   faults for tests: sim_fail = 'oom' (dies while loading) or 'crash_mid_window' (the server dies
 *   sim_crash_after_s, default 5 s, after the window opens: `died` rejects, the load fails).
 * - Noise: sim_noise = σ (default 0: exact) multiplies throughput and power by 1 + σ·z per experiment,
 *   each segment's tokens by 1 + σ·z and its power by 1 + (σ/2)·z, with z drawn deterministically
 *   from (sim_seed, config, repetition): the same seed replays the same numbers, and a repeated config
 *   draws fresh noise so the search can measure its noise floor.
 * - The model runs on ctx.gpus[0] (one GPU; tensor parallelism is not modelled).
 *
 * Engine options (program.md engine_options): sim_hardware (dgx-spark | h100-sxm | h200; must match
 * the simulated telemetry's board), sim_noise, sim_seed, sim_fail, sim_crash_after_s, and for the
 * telemetry sim_temp_spike_at_s / sim_temp_spike_s (an 86 °C reading; see src/runner/setup.ts), and
 * sim_wall_ms (the window also takes that much wall-clock time; the virtual clock does not move for it).
 */
import { EngineError, InputError, describeValue } from '../errors.js';
import { VirtualClock, type Clock } from '../runner/clock.js';
import { experimentNoiseKey, GridLoad, type GridLoadOptions } from './grid-load.js';
import {
  DEFAULT_SIM_HARDWARE,
  MEMORY_UTILIZATION,
  SIM_HARDWARE_IDS,
  SIM_QUANT_NAMES,
  isSimHardwareId,
  noiseFactor,
  serverStartS,
  simBpb,
  simulate,
  weightBytes,
  type SimHardwareId,
  type SimPerformance,
} from './sim-model.js';
import { simDevice, type SimBoardState, type SimDevice } from './sim-telemetry.js';
import { startOnVirtualClock, validateShape, virtualServer } from './virtual-server.js';
import type { Engine, EngineContext, ExperimentConfig } from './types.js';

const MIB = 1024 * 1024;
/** CUDA context and runtime buffers of a loaded server: an estimate. */
const RUNTIME_OVERHEAD_MIB = 512;

export const SIM_FAULTS = ['oom', 'crash_mid_window'] as const;
export type SimFault = (typeof SIM_FAULTS)[number];
// sim_temp_spike_at_s / sim_temp_spike_s: added for issue 6 (tests/faults/telemetry.test.ts): the
// simulated telemetry reads 86 °C from sim_temp_spike_at_s seconds after it starts, for sim_temp_spike_s
// seconds (default 1: one sample). They shape the telemetry (src/runner/setup.ts), not the server.
// sim_wall_ms: added for issue 10 (tests/e2e/distributed.test.ts): opening the measurement window also
// takes this many milliseconds of wall-clock time (the process is blocked, the virtual clock stands
// still), so an experiment lasts long enough for a worker to be killed while it holds a running trial.
const SIM_OPTIONS = ['sim_hardware', 'sim_noise', 'sim_seed', 'sim_fail', 'sim_crash_after_s', 'sim_temp_spike_at_s', 'sim_temp_spike_s', 'sim_wall_ms'] as const;
export const MAX_SIM_WALL_MS = 60_000;
export const DEFAULT_CRASH_AFTER_S = 5;
export const MAX_SIM_NOISE = 0.2;

interface SimOptions {
  hardware: SimHardwareId | null;
  noise: number;
  seed: number;
  fail: SimFault | null;
  crashAfterS: number;
  wallMs: number;
}

function simOptions(config: ExperimentConfig): SimOptions {
  const o = config.engineOptions ?? {};
  return {
    hardware: typeof o.sim_hardware === 'string' && isSimHardwareId(o.sim_hardware) ? o.sim_hardware : null,
    noise: typeof o.sim_noise === 'number' ? o.sim_noise : 0,
    seed: typeof o.sim_seed === 'number' ? o.sim_seed : 0,
    fail: typeof o.sim_fail === 'string' && (SIM_FAULTS as readonly string[]).includes(o.sim_fail) ? (o.sim_fail as SimFault) : null,
    crashAfterS: typeof o.sim_crash_after_s === 'number' ? o.sim_crash_after_s : DEFAULT_CRASH_AFTER_S,
    wallMs: typeof o.sim_wall_ms === 'number' ? o.sim_wall_ms : 0,
  };
}

/** The sim engine only runs on a VirtualClock: its time is simulated, never slept for real. */
function requireVirtualClock(clock: Clock): VirtualClock {
  if (!(clock instanceof VirtualClock)) {
    throw new EngineError(
      `the sim engine needs a VirtualClock (src/runner/clock.ts), but ctx.clock is ${clock.virtual ? 'a virtual clock of another kind' : 'the real clock'}: simulated time is never slept for real; run the sim engine with openSimTelemetry on a VirtualClock`,
    );
  }
  return clock;
}

function workload(config: ExperimentConfig): Parameters<typeof simulate>[1] {
  return {
    params: config.model.params!,
    family: config.model.family,
    quant: config.quant,
    batch: config.batch,
    inputLen: config.inputLen,
    outputLen: config.outputLen,
  };
}

function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
}

/** Log lines as a crashed engine would leave them (the tail goes into the error's details). */
function oomTail(what: string, neededBytes: number, device: SimDevice): string {
  const totalBytes = device.hardware.memoryBytes;
  return [
    `[sim] loading on GPU ${device.gpuIndex} (${device.hardware.gpuName}, ${gib(totalBytes)} total)`,
    `torch.OutOfMemoryError: CUDA out of memory. ${what} needs ${gib(neededBytes)}; GPU ${device.gpuIndex} has a total capacity of ${gib(totalBytes)} of which ${gib(totalBytes * MEMORY_UTILIZATION)} may be used (simulated)`,
  ].join('\n');
}

export const simEngine: Engine = {
  name: 'sim',
  simulated: true,

  validate(config) {
    const params = config.model.params;
    if (typeof params !== 'number' || !Number.isFinite(params) || params <= 0) {
      throw new InputError(`models[].params ${describeValue(params)} for model ${JSON.stringify(config.model.id)} is required by the sim engine; allowed: a parameter count > 0 (e.g. 7.6e9)`);
    }
    if (!SIM_QUANT_NAMES.includes(config.quant)) {
      throw new InputError(`quant ${describeValue(config.quant)} is not known to the sim engine; allowed: ${SIM_QUANT_NAMES.join(', ')}`);
    }
    validateShape(config);
    const o = config.engineOptions ?? {};
    for (const key of Object.keys(o)) {
      if (key.startsWith('sim_') && !(SIM_OPTIONS as readonly string[]).includes(key)) {
        throw new InputError(`engine option ${key} is unknown to the sim engine; allowed: ${SIM_OPTIONS.join(', ')}`);
      }
    }
    const checks: [string, unknown, boolean, string][] = [
      ['sim_hardware', o.sim_hardware, typeof o.sim_hardware === 'string' && isSimHardwareId(o.sim_hardware), SIM_HARDWARE_IDS.join(', ')],
      ['sim_noise', o.sim_noise, typeof o.sim_noise === 'number' && o.sim_noise >= 0 && o.sim_noise <= MAX_SIM_NOISE, `a number from 0 to ${MAX_SIM_NOISE} (relative σ)`],
      ['sim_seed', o.sim_seed, typeof o.sim_seed === 'number' && Number.isInteger(o.sim_seed), 'an integer'],
      ['sim_fail', o.sim_fail, typeof o.sim_fail === 'string' && (SIM_FAULTS as readonly string[]).includes(o.sim_fail), SIM_FAULTS.join(', ')],
      ['sim_crash_after_s', o.sim_crash_after_s, typeof o.sim_crash_after_s === 'number' && o.sim_crash_after_s > 0, 'a number of seconds > 0'],
      ['sim_temp_spike_at_s', o.sim_temp_spike_at_s, typeof o.sim_temp_spike_at_s === 'number' && o.sim_temp_spike_at_s >= 0, 'a number of seconds >= 0 after the telemetry starts'],
      ['sim_temp_spike_s', o.sim_temp_spike_s, typeof o.sim_temp_spike_s === 'number' && o.sim_temp_spike_s > 0, 'a number of seconds > 0'],
      ['sim_wall_ms', o.sim_wall_ms, typeof o.sim_wall_ms === 'number' && Number.isInteger(o.sim_wall_ms) && o.sim_wall_ms >= 0 && o.sim_wall_ms <= MAX_SIM_WALL_MS, `an integer number of milliseconds from 0 to ${MAX_SIM_WALL_MS}`],
    ];
    for (const [key, value, ok, allowed] of checks) {
      if (value !== undefined && !ok) throw new InputError(`engine option ${key} ${describeValue(value)} is invalid; allowed: ${allowed}`);
    }
  },

  serverKey(config) {
    const o = simOptions(config);
    return JSON.stringify(['sim', config.model.id, config.quant, o.hardware, o.fail]);
  },

  async start(config, ctx) {
    const clock = requireVirtualClock(ctx.clock);
    const opts = simOptions(config);
    const gpu = ctx.gpus[0] ?? 0;
    const device = simDevice(clock, gpu, opts.hardware ?? DEFAULT_SIM_HARDWARE);
    if (opts.hardware && device.hardware.id !== opts.hardware) {
      throw new EngineError(`engine option sim_hardware "${opts.hardware}" differs from the simulated board of GPU ${gpu} ("${device.hardware.id}", set when the simulated telemetry opened); use one hardware for the whole run`);
    }
    const hw = device.hardware;
    const wBytes = weightBytes(config.model.params!, config.quant);
    const loadS = serverStartS(config.model.params!, config.quant);
    const key = simEngine.serverKey(config);
    const idleLoaded: SimBoardState = { label: 'idle', powerW: hw.idleW, utilPct: 0, memUsedMib: wBytes / MIB + RUNTIME_OVERHEAD_MIB };
    ctx.log.info({ model: config.model.id, quant: config.quant, hardware: hw.id, loadS }, 'sim server loading');
    const tooBig = wBytes > hw.memoryBytes * MEMORY_UTILIZATION;
    const oomWhat = tooBig ? `loading ${config.model.id} (${config.quant} weights)` : `loading ${config.model.id} (injected fault sim_fail=oom)`;
    await startOnVirtualClock({
      engine: 'sim',
      config,
      device,
      ctx,
      loadS,
      loadingMib: wBytes / MIB,
      oomTail: tooBig || opts.fail === 'oom' ? oomTail(oomWhat, tooBig ? wBytes : hw.memoryBytes, device) : null,
    });
    device.set(idleLoaded);
    ctx.log.info({ loadS }, 'sim server ready');

    let rejectDied: (err: EngineError) => void = () => {};
    const died = new Promise<never>((_, reject) => {
      rejectDied = reject;
    });
    // Handled here so an unobserved crash is no unhandled rejection; every awaiting caller still sees it.
    died.catch(() => {});
    let dead: EngineError | null = null;
    const onCrash = (err: EngineError): void => {
      if (dead) return;
      dead = err;
      rejectDied(err);
    };

    return virtualServer({
      engine: simEngine,
      key,
      device,
      requireVirtualClock,
      died,
      deadWith: () => dead,
      newLoad: (cfg, c) => new SimLoad({ config: cfg, device, idleLoaded, signal: c.signal, serverKey: key, onCrash, repetition: c.repetition }),
      bpb: (cfg) => ({
        bpb: simBpb(cfg.model.params!, cfg.quant),
        method: `simulated: Chinchilla-law baseline at ${cfg.model.params} parameters + toy ${cfg.quant} penalty (sim-model.ts), not a measurement`,
      }),
    });
  },
};

interface SimLoadOptions extends Omit<GridLoadOptions, 'engine'> {
  serverKey: string;
  onCrash: (err: EngineError) => void;
  repetition: number | undefined;
}

/** The sim engine's load generator: the shared grid load (grid-load.ts) at the model's rates, with its OOM and crash faults. */
export class SimLoad extends GridLoad {
  readonly perf: SimPerformance;
  /** Power after the per-experiment noise (throughput and request time: GridLoad's tokPerS and requestS). */
  readonly powerW: number;
  private readonly sim: SimOptions;
  private readonly noiseKey: string;
  private readonly onCrash: (err: EngineError) => void;
  private crashS: number | null = null;
  private crashed = false;
  private offClock: (() => void) | null = null;

  constructor(opts: SimLoadOptions) {
    const { config, device } = opts;
    const sim = simOptions(config);
    const perf = simulate(device.hardware, workload(config));
    // Fix (issue 6): a run passes the repetition from results.db (resume-safe); `measure` has none.
    const noiseKey = experimentNoiseKey(device, opts.serverKey, config, sim.seed, opts.repetition);
    const thr = noiseFactor(`${noiseKey}|throughput`, sim.noise);
    const requestS = perf.cycleS / thr;
    super(
      { engine: 'sim', config, device, idleLoaded: opts.idleLoaded, signal: opts.signal },
      {
        tokPerS: perf.tokPerS * thr,
        noise: sim.noise,
        noiseKey,
        requestS,
        // One request per batch slot per cycle.
        intervalS: requestS / config.batch,
        ttftMs: ((perf.prefillS + perf.decodeStepS) / thr) * 1000,
        itlMs: new Array<number>(Math.max(0, config.outputLen - 1)).fill((perf.decodeStepS / thr) * 1000),
      },
    );
    this.perf = perf;
    this.sim = sim;
    this.noiseKey = noiseKey;
    this.onCrash = opts.onCrash;
    this.powerW = Math.min(device.hardware.tdpW, perf.powerW * noiseFactor(`${noiseKey}|power`, sim.noise));
  }

  protected warmUpFailure(): Error | null {
    if (!this.perf.oom) return null;
    const { config, device } = this.grid;
    return new EngineError(`CUDA out of memory at batch ${config.batch}: weights + KV cache need ${gib(this.perf.memoryNeededBytes)} of ${gib(this.perf.memoryAvailableBytes)} usable (sim)`, {
      outputTail: oomTail(`the KV cache for ${config.batch} × ${config.inputLen + config.outputLen} tokens`, this.perf.memoryNeededBytes, device),
    });
  }

  protected startServing(originS: number): void {
    const sigma = this.sim.noise;
    const key = this.noiseKey;
    this.grid.device.set(
      { label: 'serving', powerW: this.powerW, utilPct: this.perf.utilPct, memUsedMib: (this.perf.weightBytes + this.perf.kvCacheBytes) / MIB + RUNTIME_OVERHEAD_MIB },
      { jitter: sigma > 0 ? { originS, factor: (k) => noiseFactor(`${key}|power|${k}`, sigma / 2) } : undefined },
    );
  }

  protected override onWindowOpen(fromS: number): void {
    if (this.sim.fail === 'crash_mid_window' && this.crashS === null) this.scheduleCrash(fromS + this.sim.crashAfterS);
    if (this.sim.wallMs > 0) blockWallClock(this.sim.wallMs);
  }

  /** Up to now, or when the load stopped or crashed. */
  protected override horizonS(): number {
    const h = super.horizonS();
    return this.crashS === null ? h : Math.min(h, this.crashS);
  }

  protected override onStop(): void {
    this.offClock?.();
    this.offClock = null;
    if (!this.crashed) super.onStop();
  }

  private scheduleCrash(atS: number): void {
    const { device, config } = this.grid;
    const clock = device.clock;
    this.crashS = atS;
    // The board goes idle at the crash (scheduled now, so the telemetry sees it in time order).
    device.set(device.idleState(), { fromS: atS });
    const check = (): void => {
      if (this.crashed || clock.now() < atS) return;
      this.crashed = true;
      this.offClock?.();
      this.offClock = null;
      const err = new EngineError(`the sim server crashed during the measurement window at ${new Date(atS * 1000).toISOString()} (injected fault sim_fail=crash_mid_window)`, {
        exitCode: 139,
        outputTail: `[sim] serving ${config.model.id} (${config.quant}) at batch ${config.batch}\nSegmentation fault (core dumped) (simulated)`,
      });
      this.failureError = err;
      for (let i = 0; i < config.batch; i++) {
        this.records.push({
          startS: Math.max(this.originS!, atS - this.requestS / 2),
          endS: atS,
          success: false,
          error: err.message,
          promptTokens: config.inputLen,
          outputTokens: null,
          ttftMs: null,
          itlMs: [],
          e2eMs: 0,
          warmup: false,
        });
      }
      this.onCrash(err);
    };
    this.offClock = clock.onAdvance(check);
    check();
  }
}

export type { EngineContext };

/**
 * sim_wall_ms: blocks this thread for `ms` of wall-clock time without using the CPU (Atomics.wait), like
 * a process busy on a GPU. Not an event-loop sleep: the simulated telemetry advances the virtual clock
 * whenever the loop is idle, so an asynchronous sleep would run simulated time (and samples) away.
 */
function blockWallClock(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
