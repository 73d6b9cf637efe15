/**
 * The in-process server shared by the virtual-clock engines (sim and table): its simulated start (the
 * board loads the weights for loadS seconds, or the server dies of an out-of-memory about halfway, or
 * it is not ready within the start timeout) and the EngineServer that hands out one load at a time.
 * Each engine keeps what differs: its load time and memory, why it dies, its loads, its BPB, and (sim)
 * how it crashes. Also the config check both engines make.
 */
import { EngineError, InputError, describeValue } from '../errors.js';
import type { VirtualClock } from '../runner/clock.js';
import type { LoadGenerator } from '../workload/types.js';
import { sleepUntil } from './segment-grid.js';
import { BYTES_PER_TOKEN, LOADING_ACTIVITY, powerForActivity } from './sim-model.js';
import type { SimDevice } from './sim-telemetry.js';
import type { Engine, EngineContext, EngineServer, ExperimentConfig } from './types.js';

/** Throws InputError unless batch, input_len and output_len are positive integers. */
export function validateShape(config: ExperimentConfig): void {
  for (const [key, value] of [
    ['batch', config.batch],
    ['input_len', config.inputLen],
    ['output_len', config.outputLen],
  ] as const) {
    if (!Number.isInteger(value) || value <= 0) throw new InputError(`${key} ${describeValue(value)} is invalid; allowed: a positive integer`);
  }
}

export interface VirtualStartOptions {
  /** Names the engine in error messages ("the sim server for …"). */
  engine: string;
  config: ExperimentConfig;
  /** The simulated board, on the session's VirtualClock. */
  device: SimDevice;
  ctx: Pick<EngineContext, 'startTimeoutS' | 'signal'>;
  loadS: number;
  /** Memory in use while the weights stream in. */
  loadingMib: number;
  /** The log tail of an out-of-memory while loading, or null where the weights fit. */
  oomTail: string | null;
}

/**
 * Loads the weights on the virtual clock: the board barely works for loadS seconds. An out-of-memory
 * gets about halfway before it fails; a load longer than the start timeout fails at the timeout. On any
 * failure the board goes idle and an EngineError is thrown.
 */
export async function startOnVirtualClock(o: VirtualStartOptions): Promise<void> {
  const { device, config, ctx, loadS } = o;
  const clock = device.clock;
  const startedS = clock.now();
  const server = `the ${o.engine} server for ${config.model.id} (${config.quant})`;
  device.set({ label: 'loading', powerW: powerForActivity(device.hardware, LOADING_ACTIVITY), utilPct: 0, memUsedMib: o.loadingMib });
  try {
    if (o.oomTail !== null) {
      await sleepUntil(clock, startedS + Math.min(loadS / 2, ctx.startTimeoutS), ctx.signal);
      throw new EngineError(`${server} died while loading: CUDA out of memory`, {
        exitCode: 1,
        outputTail: o.oomTail,
        durationMs: (clock.now() - startedS) * 1000,
      });
    }
    if (loadS > ctx.startTimeoutS) {
      await sleepUntil(clock, startedS + ctx.startTimeoutS, ctx.signal);
      throw new EngineError(`${server} was not ready within ${ctx.startTimeoutS} s (simulated load time ${loadS.toFixed(1)} s)`);
    }
    await sleepUntil(clock, startedS + loadS, ctx.signal);
  } catch (err) {
    device.set(device.idleState());
    throw err;
  }
}

export interface VirtualServerOptions {
  /** Its name and serverKey: a load's config must map to this server's key. */
  engine: Pick<Engine, 'name' | 'serverKey'>;
  key: string;
  /** The simulated board, on the VirtualClock the server was started on. */
  device: SimDevice;
  /** The engine's check that a load's context runs on a VirtualClock. */
  requireVirtualClock: (clock: EngineContext['clock']) => VirtualClock;
  died: Promise<never>;
  /** The error the server died of, if it did: loads and BPB then throw it. */
  deadWith?: () => EngineError | null;
  newLoad: (config: ExperimentConfig, ctx: EngineContext) => LoadGenerator;
  /** The engine's BPB for a config, and how it was obtained. */
  bpb: (config: ExperimentConfig) => { bpb: number; method: string };
}

/** An in-process server with one load at a time: a new load stops the previous one. */
export function virtualServer(o: VirtualServerOptions): EngineServer {
  const { name } = o.engine;
  let stopped = false;
  let current: LoadGenerator | null = null;
  const throwIfDead = (): void => {
    const dead = o.deadWith?.() ?? null;
    if (dead) throw dead;
  };
  return {
    key: o.key,
    baseUrl: null,
    pid: null,
    logFile: null,
    died: o.died,
    load(config, ctx) {
      if (o.requireVirtualClock(ctx.clock) !== o.device.clock) throw new EngineError(`the ${name} server was started on another VirtualClock than this load uses`);
      throwIfDead();
      if (stopped) throw new EngineError(`the ${name} server ${o.key} was stopped`);
      const key = o.engine.serverKey(config);
      if (key !== o.key) throw new EngineError(`config for server ${key} given to ${name} server ${o.key}`);
      void current?.stop();
      current = o.newLoad(config, ctx);
      return current;
    },
    async bpb(config, text) {
      throwIfDead();
      const { bpb, method } = o.bpb(config);
      const bytes = Buffer.byteLength(text, 'utf8');
      return { bpb, bits: bpb * bytes, bytes, tokens: Math.round(bytes / BYTES_PER_TOKEN), method };
    },
    async stop() {
      stopped = true;
      await current?.stop();
      current = null;
      o.device.set(o.device.idleState());
    },
  };
}
