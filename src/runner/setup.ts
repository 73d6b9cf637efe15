/**
 * What an invocation that measures needs, set up once: the store and its run record, telemetry (real,
 * or simulated for simulated engines), the idle baseline for the cooldown gate, the carbon inputs, the
 * held-out text, and clean shutdown on SIGINT/SIGTERM.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { chooseHardware, type HardwareChoice, type HardwareOverrides } from '../carbon/hardware.js';
import { resolveIntensity, type IntensityChoice } from '../carbon/regions.js';
import { IntensityResolver, makeProvider, type CarbonIntensityConfig } from '../carbon/timed-intensity.js';
import type { Engine } from '../engines/types.js';
import { createLogger, type Logger } from '../log.js';
import { openStore, type Store } from '../store/index.js';
import { measureIdleBaseline } from '../telemetry/cooldown.js';
import { openRealTelemetry, type TelemetrySession } from '../telemetry/session.js';
import { dataDir } from '../util/paths.js';
import { VERSION } from '../version.js';
import { VirtualClock, realClock, type Clock } from './clock.js';

export interface SessionOptions {
  db: string;
  engine: Engine;
  programText: string;
  programHash?: string;
  seed?: number | null;
  nvidiaSmi?: string;
  gpus?: readonly number[];
  /** sysfs for RAPL / hwmon (issue 9); default $CARBONBENCH_SYSFS_ROOT, else /sys. */
  sysfsRoot?: string;
  /** Background NVML counter reads per second, or auto (program.md energy.nvml_hz). */
  nvmlHz?: number | 'auto';
  /** `timed`: the time-resolved intensity provider (issue 9 part 2); static when omitted. */
  carbon: { region?: string; intensity?: number; timed?: CarbonIntensityConfig } & HardwareOverrides;
  /** Seconds of idle telemetry before the first experiment (for the cooldown gate's baseline). */
  idleBaselineS?: number;
  /** Log to the console too. */
  consoleLog?: boolean;
  experimentsDir?: string;
  /** The simulated board (sim engine option sim_hardware). */
  simHardware?: string;
  /**
   * Faults of the simulated telemetry (sim engine options sim_temp_spike_at_s / sim_temp_spike_s): one
   * reading of 86 °C, `tempSpikeAtS` seconds after the telemetry starts, lasting `tempSpikeS` (default 1 s).
   * Added for issue 6 (tests/faults/telemetry.test.ts).
   */
  simFaults?: { tempSpikeAtS: number; tempSpikeS?: number };
  /** Continue this run (resume) instead of creating a new one. */
  resumeRunId?: number;
  /** Host label stored with the run and its experiments (default: os.hostname()). */
  host?: string;
  /** The shared study this run is a worker of (issue 10). */
  study?: string;
}

export interface Session {
  store: Store;
  runId: number;
  /** Host label of this run (stored on the run and each experiment). */
  host: string;
  runDir: string;
  telemetry: TelemetrySession;
  clock: Clock;
  log: Logger;
  idlePowerW: Map<number, number>;
  carbon: { intensity: IntensityChoice; hardware: HardwareChoice; resolver: IntensityResolver };
  bpbText: { text: string; sha256: string };
  /** Aborted on SIGINT/SIGTERM. */
  signal: AbortSignal;
  close(status: 'completed' | 'interrupted' | 'failed'): Promise<void>;
}

export function loadHeldoutText(file = join(dataDir(), 'heldout', 'heldout-en.txt')): { text: string; sha256: string } {
  const text = readFileSync(file, 'utf8');
  return { text, sha256: createHash('sha256').update(text).digest('hex') };
}

export async function openSession(opts: SessionOptions): Promise<Session> {
  // Validate the cheap things first: a bad region must not cost a telemetry start.
  const intensity = resolveIntensity({ region: opts.carbon.region, intensityGPerKwh: opts.carbon.intensity });
  const store = await openStore(opts.db);
  let clock: Clock = realClock;
  let telemetry: TelemetrySession;
  try {
    if (opts.engine.simulated) {
      const virtual = new VirtualClock();
      clock = virtual;
      const { openSimTelemetry } = await import('../engines/sim-telemetry.js');
      const { isSimHardwareId } = await import('../engines/sim-model.js');
      const hardware = opts.simHardware !== undefined && isSimHardwareId(opts.simHardware) ? opts.simHardware : undefined;
      const spike = opts.simFaults;
      telemetry = openSimTelemetry({
        clock: virtual,
        gpus: opts.gpus ? [...opts.gpus] : undefined,
        hardware,
        ...(spike ? { faults: { tempSpike: { atS: virtual.now() + spike.tempSpikeAtS, ...(spike.tempSpikeS !== undefined ? { durationS: spike.tempSpikeS } : {}) } } } : {}),
      });
    } else {
      telemetry = await openRealTelemetry({ nvidiaSmi: opts.nvidiaSmi, gpus: opts.gpus, sysfsRoot: opts.sysfsRoot, nvmlHz: opts.nvmlHz });
    }
  } catch (err) {
    await store.close();
    throw err;
  }
  const gpuName = telemetry.identity.gpus[0]?.name || null;
  const hardware = chooseHardware(gpuName, telemetry.identity.gpus.length, opts.carbon);
  const runId = opts.resumeRunId ?? await store.createRun({
    programText: opts.programText,
    programHash: opts.programHash ?? createHash('sha256').update(opts.programText).digest('hex'),
    toolVersion: VERSION,
    hardware: hardware.profile.id,
    host: opts.host ?? hostname(),
    study: opts.study ?? null,
    seed: opts.seed ?? null,
    gpuNames: telemetry.identity.gpus.map((g) => g.name),
    driverVersion: telemetry.identity.driverVersion,
  });
  if (opts.resumeRunId !== undefined) await store.updateRunStatus(runId, 'running');
  const runDir = join(opts.experimentsDir ?? 'experiments', String(runId));
  mkdirSync(runDir, { recursive: true });
  const log = createLogger({ file: join(runDir, 'carbonbench.log'), console: opts.consoleLog });
  log.info({ runId, engine: opts.engine.name, energySource: telemetry.energySource, hostEnergy: telemetry.host?.components() ?? [], hardware: hardware.profile.id }, 'session start');

  // Idle baseline: a few seconds of samples before anything runs.
  const idleFrom = clock.now();
  await clock.sleep((opts.idleBaselineS ?? 3) * 1000);
  const idlePowerW = measureIdleBaseline(telemetry.collected({ fromS: idleFrom }));

  const controller = new AbortController();
  // Fix (issue 10, found with study workers): the handlers stay registered until close(). With
  // process.once they were removed before running, and the signal-exit handler that execa installs for
  // a child spawned with `cleanup` (the Optuna bridge, from the first step of a study worker) then saw
  // itself as the only listener and re-raised the signal: the process died with 130 instead of storing
  // the current experiment as interrupted. A second signal still stops at once.
  const onSignal = (sig: NodeJS.Signals): void => {
    if (controller.signal.aborted) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      process.kill(process.pid, sig);
      return;
    }
    log.warn({ signal: sig }, 'stopping: finishing the current experiment as interrupted');
    controller.abort(new Error(`interrupted by ${sig}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  return {
    store,
    runId,
    host: opts.host ?? hostname(),
    runDir,
    telemetry,
    clock,
    log,
    idlePowerW,
    carbon: { intensity, hardware, resolver: new IntensityResolver({ store, staticChoice: intensity, provider: makeProvider(opts.carbon.timed ?? { provider: 'static' }, intensity.region), log }) },
    bpbText: loadHeldoutText(),
    signal: controller.signal,
    async close(status) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      await telemetry.stop().catch(() => {});
      await store.updateRunStatus(runId, status).catch(() => {});
      log.flush();
      await store.close();
    },
  };
}

/**
 * Fault injection for the sim engine's simulated telemetry (engine options sim_temp_spike_at_s and
 * sim_temp_spike_s, see src/engines/sim.ts). Added for issue 6 (tests/faults/telemetry.test.ts): the
 * telemetry's tempSpike fault existed but nothing outside the unit tests could reach it.
 */
export function simFaultsOf(options: Readonly<Record<string, string | number | boolean>>): { tempSpikeAtS: number; tempSpikeS?: number } | undefined {
  const at = options.sim_temp_spike_at_s;
  if (typeof at !== 'number') return undefined;
  const duration = options.sim_temp_spike_s;
  return { tempSpikeAtS: at, ...(typeof duration === 'number' ? { tempSpikeS: duration } : {}) };
}
