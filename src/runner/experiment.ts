/**
 * One experiment under the measurement protocol (DESIGN section 5):
 *   1. cooldown gate   2. server start or reuse   3. warm-up   4. adaptive measurement window
 *   5. telemetry throughout, thermal watchdog   6. scoring   7. one transaction + artifacts.
 * Every outcome is recorded: ok, failed (with the cause), aborted_thermal, interrupted.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HardwareChoice } from '../carbon/hardware.js';
import type { IntensityChoice } from '../carbon/regions.js';
import { SECONDS_PER_YEAR, computeSci } from '../carbon/sci.js';
import type { IntensityResolver, ResolvedIntensity } from '../carbon/timed-intensity.js';
import type { BoundaryMode } from '../energy/boundary.js';
import type { WindowMeasurement } from '../energy/meter.js';
import { ratioConfidence, type RatioCi } from '../energy/uncertainty.js';
import { windowBoundary } from '../energy/window-boundary.js';
import { CarbonbenchError, EngineError } from '../errors.js';
import type { Engine, EngineContext, EngineServer, ExperimentConfig } from '../engines/types.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/types.js';
import type { ExperimentRecord, JsonObject, RequestRecord as StoredRequest } from '../store/types.js';
import { cooldownGate } from '../telemetry/cooldown.js';
import type { TelemetrySession } from '../telemetry/session.js';
import { summarizeThrottling } from '../telemetry/throttle.js';
import type { GpuSample } from '../telemetry/types.js';
import { ThermalAbort, watchTemperature } from '../telemetry/watchdog.js';
import { requestMetrics } from '../workload/metrics.js';
import type { LoadGenerator, RequestRecord as LoadRequest } from '../workload/types.js';
import type { Clock } from './clock.js';
import type { ServerPool } from './server-pool.js';

export interface ProtocolOptions {
  warmupS: number;
  /** The window lasts at least this long … */
  minWindowS: number;
  /** … and holds at least this many × batch completed requests … */
  minRequestsPerBatch: number;
  /** … and is extended until the 95% CI of J/token is within ± this (relative) … */
  targetCiRel: number;
  /** … or this budget for the whole experiment runs out (the precision reached is stored). */
  experimentSeconds: number;
  abortTempC: number;
  cooldownTempC: number;
  cooldownMaxS: number;
  startTimeoutS: number;
}

export const DEFAULT_PROTOCOL: ProtocolOptions = {
  warmupS: 3,
  minWindowS: 10,
  minRequestsPerBatch: 3,
  targetCiRel: 0.03,
  experimentSeconds: 300,
  abortTempC: 85,
  cooldownTempC: 50,
  cooldownMaxS: 300,
  startTimeoutS: 900,
};

export interface ExperimentDeps {
  store: Store;
  telemetry: TelemetrySession;
  pool: ServerPool;
  engine: Engine;
  clock: Clock;
  log: Logger;
  runId: number;
  /** experiments/<run>/ */
  runDir: string;
  protocol: ProtocolOptions;
  /** `intensity`: the static figure; `resolver`: the time-resolved one (issue 9 part 2), when configured. */
  carbon: { intensity: IntensityChoice; hardware: HardwareChoice; resolver?: IntensityResolver };
  /** Idle power per GPU, for the cooldown gate. */
  idlePowerW: ReadonlyMap<number, number>;
  /** Held-out text for BPB and its sha256. */
  bpbText: { text: string; sha256: string } | null;
  /** SIGINT/SIGTERM: stop cleanly, mark the experiment interrupted. */
  signal?: AbortSignal;
  /** program.md energy.boundary: `auto` (default) = the widest boundary measured; `gpu` = GPU board only. */
  energyBoundary?: BoundaryMode;
}

export interface ExperimentRequest {
  config: ExperimentConfig;
  phase: string;
  rationale?: string | null;
  /** Earlier measurements of this config in the run (EngineContext.repetition). */
  repetition?: number;
  /** Who ran it and for which shared study and trial (issue 10); stored on the row. */
  labels?: { host: string; study?: string | null; trialNumber?: number | null };
}

class Interrupted extends CarbonbenchError {}
class BudgetExceeded extends CarbonbenchError {}
/** The telemetry failed for good (restarts used up): the run stops; the experiment is not the config's failure. */
class TelemetryLost extends CarbonbenchError {}

function iso(tS: number): string {
  return new Date(tS * 1000).toISOString();
}

/** Resolves when `signal` aborts, with its reason as a rejection. */
function abortedBy(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

export function configJson(config: ExperimentConfig): JsonObject {
  return {
    engine: config.engine,
    model: config.model.id,
    params: config.model.params ?? null,
    family: config.model.family ?? null,
    checkpoint: config.model.variants?.[config.quant] ?? config.model.id,
    quant: config.quant,
    batch: config.batch,
    input_len: config.inputLen,
    output_len: config.outputLen,
    engine_options: (config.engineOptions ?? {}) as JsonObject,
  };
}

export async function runExperiment(req: ExperimentRequest, deps: ExperimentDeps): Promise<ExperimentRecord> {
  const { config } = req;
  const { store, telemetry, clock, protocol, log } = deps;
  deps.engine.validate(config);
  const id = await store.insertExperiment({
    runId: deps.runId,
    engine: config.engine,
    model: config.model.id,
    params: config.model.params ?? null,
    quant: config.quant,
    batch: config.batch,
    inputLen: config.inputLen,
    outputLen: config.outputLen,
    config: configJson(config),
    phase: req.phase,
    rationale: req.rationale ?? null,
    serverKey: deps.engine.serverKey(config),
    status: 'running',
    simulated: deps.engine.simulated,
    ...(req.labels ? { host: req.labels.host, study: req.labels.study ?? null, trialNumber: req.labels.trialNumber ?? null } : {}),
  });
  const artifactDir = join(deps.runDir, String(id));
  mkdirSync(artifactDir, { recursive: true });
  const exLog = log.child({ experiment: id });
  exLog.info({ config: configJson(config) }, 'experiment start');

  // 1. Cooldown gate.
  const cooldown = await cooldownGate(telemetry, {
    clock,
    cooldownTempC: protocol.cooldownTempC,
    idlePowerW: deps.idlePowerW,
    maxS: protocol.cooldownMaxS,
    gpus: telemetry.gpus,
  });
  const startedS = clock.now();
  await store.updateExperiment(id, { startedAt: iso(startedS), cooldownWaitS: cooldown.waitedS, startTempC: cooldown.startTempC });

  // Aborts: the user's signal, the thermal watchdog, the hard budget (twice experiment_seconds).
  const watchdog = watchTemperature(telemetry, protocol.abortTempC);
  const budget = new AbortController();
  const hardLimitS = 2 * protocol.experimentSeconds;
  // experiment_seconds budgets warm-up and window; a server start (minutes for a big vLLM model, shared
  // by the experiments that reuse it) has its own limit, startTimeoutS. The hard kill starts with the load.
  let budgetTimer: NodeJS.Timeout | null = null;
  const startBudget = (): void => {
    if (!clock.virtual) budgetTimer = setTimeout(() => budget.abort(new BudgetExceeded(`experiment exceeded its hard limit of ${hardLimitS} s (2 × experiment_seconds)`)), hardLimitS * 1000);
  };
  // Fix (issue 6, tests/faults/telemetry.test.ts): a sampler that failed for good (nvidia-smi exiting or
  // silent beyond its restarts) used to leave the load running blind — no thermal watchdog — until the
  // window ended, and the experiment was then stored as `failed`, an observation that counts against the
  // config (and prunes the points it dominates). Now the load stops at once and the experiment is
  // `interrupted` (measured again on resume, decision 17); the run then stops with exit 1.
  const telemetryLost = new AbortController();
  const loseTelemetry = (e: Error): void => {
    if (!telemetryLost.signal.aborted) telemetryLost.abort(new TelemetryLost(`telemetry failed during the experiment: ${e.message}; it is measured again when the run resumes`));
  };
  const offTelemetryError = telemetry.onError(loseTelemetry);
  if (telemetry.failure) loseTelemetry(telemetry.failure);
  const signals = [watchdog.signal, budget.signal, telemetryLost.signal, ...(deps.signal ? [deps.signal] : [])];
  const signal = AbortSignal.any(signals);
  const ctx: EngineContext = { artifactDir, log: exLog, clock, gpus: telemetry.gpus, startTimeoutS: protocol.startTimeoutS, signal, ...(req.repetition !== undefined ? { repetition: req.repetition } : {}) };
  const guard = abortedBy(signal);
  guard.catch(() => {});

  let server: EngineServer | null = null;
  let load: LoadGenerator | null = null;
  let fromS: number | null = null;
  let toS: number | null = null;
  let offBoundary: (() => void) | null = null;
  const provenance: JsonObject = {};
  try {
    // 2. Engine: reuse or (re)start.
    const acquired = await Promise.race([deps.pool.acquire(deps.engine, config, ctx), guard]);
    server = acquired.server;
    provenance.server = acquired.reused ? `reused server (${server.logFile ?? 'in-process'})` : `started server (${server.logFile ?? 'in-process'})`;
    const died = server.died;

    // 3. Warm-up at the target concurrency.
    const loadStartS = clock.now();
    startBudget();
    load = server.load(config, ctx);
    await Promise.race([load.warmUp({ minS: protocol.warmupS, minRequests: config.batch }), died, guard]);

    // 4. Window: ≥ minWindowS, ≥ minRequestsPerBatch × batch completed, CI within target, or budget.
    fromS = await Promise.race([load.openWindow(), died, guard]);
    telemetry.meter.markEdge();
    // Offline engines: read the counter at every batch-call boundary too (their segments' edges).
    offBoundary = load.onBoundary?.(() => telemetry.meter.markEdge()) ?? null;
    const windowBudgetS = Math.max(protocol.minWindowS, protocol.experimentSeconds - (clock.now() - loadStartS));
    // 5. Energy over exactly the window the tokens were counted in, measured while the load still runs:
    // the nvidia-smi sample that closes the window is printed half a second after its edge, and stopping
    // first would let power drop inside it.
    //
    // The CI rule is checked each second over the data so far, which lacks the segment that closing adds
    // (an offline engine's running call) and the energy of the last one (its closing sample is not in
    // yet). It only proposes to close: the CI that decides, and is stored, is the one over the closed
    // window once the meter covers it. Above the target, the window goes on (the load never stopped) and
    // is closed again later, while the budget lasts (decision 42).
    let closed: ClosedWindow;
    let reopened = 0;
    for (;;) {
      const rule = await windowStopRule(load, telemetry, { fromS, windowBudgetS, batch: config.batch, protocol, clock }, () => Promise.race([clock.sleep(1000, signal), died, guard]));
      toS = await Promise.race([load.closeWindow(), died, guard]);
      telemetry.meter.markEdge();
      const m = await Promise.race([telemetry.meter.measure(`experiment-${id}`, fromS, toS), died, guard]);
      closed = { m, ci: windowCi(load, telemetry, fromS, toS), rule };
      if (rule === 'budget' || closed.ci.ciRel <= protocol.targetCiRel) break;
      if (toS - fromS >= windowBudgetS) {
        closed.rule = 'budget';
        break;
      }
      reopened += 1;
      exLog.info({ windowS: toS - fromS, ciRel: closed.ci.ciRel, targetCiRel: protocol.targetCiRel }, 'CI over the closed window above target: window extended');
    }
    offBoundary?.();
    offBoundary = null;
    const { m, ci: final } = closed;

    // 6. Score.
    await load.stop();
    const windowS = toS - fromS;
    const tokensOut = load.tokensBetween(fromS, toS);
    if (tokensOut <= 0) throw new EngineError(`no output tokens were generated in the ${windowS.toFixed(1)} s window`);
    const requests = load.requests();
    const inWindow = requests.filter((r) => completedInWindow(r, fromS!, toS!));
    const metrics = requestMetrics(inWindow);
    const gpusUsed = telemetry.gpus.length;
    const { hardware, intensity } = deps.carbon;
    const energySource = telemetry.energySource === 'sim' ? 'sim' : m.energySource;
    // Issue 9: SCI uses the widest boundary measured over the same window (GPU, + CPU, + DRAM, or module).
    const bounded = windowBoundary({ measurement: m, gpuSource: energySource, gpus: telemetry.gpus, mode: deps.energyBoundary ?? 'auto' });
    const windowSamples = telemetry.collected({ fromS, toS });
    const throttle = summarizeThrottling(windowSamples);
    Object.assign(provenance, {
      energy_j: energySource === 'nvml' ? `NVML total-energy counter delta over the window, GPU ${telemetry.gpus.join('+')}` : energySource === 'sim' ? 'simulated power model (sim engine)' : `trapezoid of nvidia-smi power.draw at 1 Hz (aligned −0.5 s), GPU ${telemetry.gpus.join('+')}`,
      energy_smi_j: m.smiError ?? 'trapezoid of power.draw over the same window',
      energy_nvml_j: m.nvmlError ?? `NVML counter delta over the same window (read at both edges${telemetry.nvmlPolling ? `; background reads ${telemetry.nvmlPolling.reason}` : ''})`,
      tokens_out: 'server usage data: output tokens that arrived inside the window',
      embodied_g: `${hardware.profile.id}: ${hardware.matchedBy}; TE ${hardware.embodiedTotalKg} kg over ${hardware.lifetimeYears} y, ${gpusUsed}/${Math.max(hardware.gpusTotal, gpusUsed)} GPUs`,
      energy_ci_rel: `ratio estimator over ${final.segments} segments (95% t interval)`,
      window_s: windowReason(closed, protocol, reopened),
      cooldown: cooldown.reason,
      ...bounded.provenance,
      sci_op_ug: `energy_boundary_j (${bounded.choice.boundary}) in kWh × intensity_g_kwh ÷ tokens_out`,
    });
    const incidents = (telemetry.incidents ?? []).filter((i) => i.tS >= startedS);
    if (incidents.length > 0) provenance.telemetry_incidents = incidents.map((i) => `${iso(i.tS)}: ${i.message} (nvidia-smi restarted)`).join('; ');

    // BPB after the window (it uses the GPU too): from the cache, else computed once.
    let bpb: number | null = null;
    if (deps.bpbText) {
      try {
        bpb = await bpbFor(server, config, ctx, deps);
      } catch (err) {
        provenance.bpb = `not computed: ${(err as Error).message.slice(0, 300)}`;
        exLog.warn({ err }, 'BPB failed');
      }
    }

    const endedS = clock.now();
    // The grid intensity in force at the window's midpoint (issue 9 part 2), looked up now: after the
    // window and BPB, so no GPU work is left to guard and the thermal watchdog stops first (the sim
    // telemetry moves its virtual clock while a sample listener waits on real I/O such as this HTTP
    // call). A provider failure gives the static figure with a flag, never a failed experiment.
    watchdog.stop();
    const grid: ResolvedIntensity = deps.carbon.resolver
      ? await deps.carbon.resolver.resolve(fromS, toS)
      : { intensityGPerKwh: intensity.intensityGPerKwh, provider: 'static', zone: null, signal: null, at: null, estimated: null, fallback: null, staticGPerKwh: intensity.intensityGPerKwh, source: intensity.source };
    const sciInputs = {
      energyJ: bounded.choice.energyJ,
      tokensOut,
      embodiedTotalG: hardware.embodiedTotalKg * 1000,
      lifetimeS: hardware.lifetimeYears * SECONDS_PER_YEAR,
      windowS,
      gpusUsed,
      gpusTotal: Math.max(hardware.gpusTotal, gpusUsed),
    };
    const sci = computeSci({ ...sciInputs, intensityGPerKwh: grid.intensityGPerKwh });
    const sciStatic = computeSci({ ...sciInputs, intensityGPerKwh: grid.staticGPerKwh });
    if (grid.fallback) exLog.warn({ source: grid.source }, 'static grid intensity used (provider fallback)');
    if (load.timing) {
      for (const column of ['ttft_p50_ms', 'ttft_p90_ms', 'ttft_p99_ms', 'itl_p50_ms', 'itl_p90_ms', 'itl_p99_ms']) provenance[column] = load.timing;
    }
    Object.assign(provenance, {
      intensity_g_kwh: grid.source,
      intensity_static_g_kwh: intensity.source,
      sci_static_ug: 'computeSci with intensity_static_g_kwh and the same energy, tokens and embodied inputs',
    });
    await store.transaction(async (tx) => {
      await tx.updateExperiment(id, {
        status: 'ok',
        endedAt: iso(endedS),
        windowStartTS: fromS,
        windowEndTS: toS,
        windowS,
        requests: inWindow.length,
        tokensOut,
        tokS: tokensOut / windowS,
        ...metrics,
        energyJ: m.energyJ,
        energySource,
        energyNvmlJ: m.nvmlJ,
        energySmiJ: m.smiJ,
        energyCiRel: Number.isFinite(final.ciRel) ? final.ciRel : null,
        energySamples: final.segments,
        avgPowerW: m.meanPowerW,
        peakPowerW: m.peakPowerW,
        maxTempC: watchdog.maxTempC(),
        throttled: throttle.unknownSamples === windowSamples.length && windowSamples.length > 0 ? null : throttle.throttled,
        throttleReasons: throttle.reasons.length > 0 ? throttle.reasons.join(',') : null,
        boundary: bounded.choice.boundary,
        energyBoundaryJ: bounded.choice.energyJ,
        energyCpuJ: bounded.energyCpuJ,
        energyDramJ: bounded.energyDramJ,
        energyModuleJ: bounded.energyModuleJ,
        energyComponents: bounded.components,
        bpb,
        region: intensity.region,
        intensityGKwh: grid.intensityGPerKwh,
        intensityProvider: grid.provider,
        intensityZone: grid.zone,
        intensitySignal: grid.signal,
        intensityAt: grid.at,
        intensityEstimated: grid.estimated,
        intensityFallback: grid.fallback,
        intensityStaticGKwh: grid.staticGPerKwh,
        sciStaticUg: sciStatic.sciUg,
        embodiedG: sci.embodiedG,
        hardwareId: hardware.profile.id,
        hardwareFallback: hardware.fallback,
        gpusUsed,
        sciOpUg: sci.sciOpUg,
        sciEmbUg: sci.sciEmbUg,
        sciUg: sci.sciUg,
        provenance,
      });
      await tx.insertSamples(id, telemetry.collected({ fromS: startedS, toS: endedS }), telemetry.energySource === 'sim' ? 'sim' : 'nvidia-smi');
      await tx.insertRequests(id, toStoredRequests(requests, fromS!, toS!));
    });
    writeArtifacts(artifactDir, telemetry.collected({ fromS: startedS, toS: endedS }), requests);
    exLog.info({ tokensOut, energyJ: m.energyJ, boundary: bounded.choice.boundary, energyBoundaryJ: bounded.choice.energyJ, sciUg: sci.sciUg, ciRel: final.ciRel }, 'experiment ok');
  } catch (err) {
    await load?.stop().catch(() => {});
    const reason = signal.aborted ? signal.reason : err;
    const status = reason instanceof ThermalAbort ? 'aborted_thermal' : reason instanceof Interrupted || reason instanceof TelemetryLost || (deps.signal?.aborted && reason === deps.signal.reason) ? 'interrupted' : 'failed';
    const message = reason instanceof Error ? reason.message : String(reason);
    if (server && status !== 'aborted_thermal') {
      // A dead, hung or misbehaving engine is not reused; after a thermal abort the server is fine.
      await deps.pool.discard(server);
    }
    const endedS = clock.now();
    await store.transaction(async (tx) => {
      await tx.updateExperiment(id, {
        status,
        error: message.slice(0, 4000),
        endedAt: iso(endedS),
        windowStartTS: fromS,
        windowEndTS: toS,
        maxTempC: watchdog.maxTempC(),
        provenance,
      });
      await tx.insertSamples(id, telemetry.collected({ fromS: startedS, toS: endedS }), telemetry.energySource === 'sim' ? 'sim' : 'nvidia-smi');
      if (load) await tx.insertRequests(id, toStoredRequests(load.requests(), fromS ?? Infinity, toS ?? -Infinity));
    });
    writeArtifacts(artifactDir, telemetry.collected({ fromS: startedS, toS: endedS }), load?.requests() ?? []);
    exLog.warn({ status, error: message }, 'experiment did not complete');
  } finally {
    if (budgetTimer) clearTimeout(budgetTimer);
    offBoundary?.();
    watchdog.stop();
    offTelemetryError();
  }
  const record = await store.getExperiment(id);
  if (!record) throw new Error(`experiment ${id} vanished from the store`);
  return record;
}

interface ClosedWindow {
  m: WindowMeasurement;
  /** The J/token CI over the closed window, as stored. */
  ci: RatioCi;
  /** What closed it: the CI rule (met over the closed window) or the time budget. */
  rule: 'ci' | 'budget';
}

/**
 * Waits, checking once a second, until the window may close: ≥ minWindowS, ≥ minRequestsPerBatch × batch
 * completed and the CI so far within the target ('ci'), or the window budget spent ('budget').
 */
async function windowStopRule(
  load: LoadGenerator,
  telemetry: TelemetrySession,
  o: { fromS: number; windowBudgetS: number; batch: number; protocol: ProtocolOptions; clock: Clock },
  sleepOneSecond: () => Promise<unknown>,
): Promise<'ci' | 'budget'> {
  const { fromS, windowBudgetS, batch, protocol, clock } = o;
  for (;;) {
    await sleepOneSecond();
    if (load.failure) throw load.failure;
    const now = clock.now();
    const elapsedS = now - fromS;
    const enoughTime = elapsedS >= protocol.minWindowS;
    const enoughRequests = load.requestsCompletedBetween(fromS, now) >= protocol.minRequestsPerBatch * batch;
    if (enoughTime && enoughRequests && windowCi(load, telemetry, fromS, now).ciRel <= protocol.targetCiRel) return 'ci';
    if (elapsedS >= windowBudgetS) return 'budget';
  }
}

/** provenance.window_s: why the window ended where it did. */
function windowReason(closed: ClosedWindow, protocol: ProtocolOptions, reopened: number): string {
  const pct = (rel: number): string => (Number.isFinite(rel) ? `±${(rel * 100).toFixed(2)}%` : 'undefined');
  const extended = reopened > 0 ? `; extended ${reopened} time(s) after a close whose CI was above the target` : '';
  if (closed.rule === 'ci') return `closed once the 95% CI of J/token over the closed window was ${pct(closed.ci.ciRel)}, within the target ${pct(protocol.targetCiRel)}${extended}`;
  return `closed when the window's time budget ran out (experiment_seconds ${protocol.experimentSeconds}), CI ${pct(closed.ci.ciRel)} against the target ${pct(protocol.targetCiRel)}${extended}`;
}

function windowCi(load: LoadGenerator, telemetry: TelemetrySession, fromS: number, toS: number): RatioCi {
  const segments = load.segments(fromS, toS);
  const energies = telemetry.meter.segmentEnergies(segments);
  const covered = segments.map((s, i) => ({ energyJ: energies[i], tokens: s.tokens })).filter((x): x is { energyJ: number; tokens: number } => x.energyJ !== null && x.energyJ !== undefined);
  return ratioConfidence(covered);
}

async function bpbFor(server: EngineServer, config: ExperimentConfig, ctx: EngineContext, deps: ExperimentDeps): Promise<number> {
  const text = deps.bpbText!;
  const checkpoint = config.model.variants?.[config.quant] ?? config.model.id;
  const key = JSON.stringify([config.engine, checkpoint, config.quant, text.sha256]);
  const cached = await deps.store.getBpbCache(key);
  if (cached) return cached.bpb;
  const r = await server.bpb(config, text.text, ctx);
  await deps.store.putBpbCache({ key, engine: config.engine, model: checkpoint, quant: config.quant, textSha256: text.sha256, bpb: r.bpb, scoredBytes: r.bytes, scoredTokens: r.tokens, method: r.method });
  return r.bpb;
}

/**
 * A request counts in the window when it completed in (fromS, toS]: one that completed at the opening
 * instant did its work before it. Offline runs are back to back, and with millisecond stamps the run
 * before the window often ends in the very millisecond the window's first run starts (decision 43).
 */
function completedInWindow(r: LoadRequest, fromS: number, toS: number): boolean {
  return r.success && r.endS > fromS && r.endS <= toS;
}

function toStoredRequests(requests: ReturnType<LoadGenerator['requests']>, fromS: number, toS: number): StoredRequest[] {
  return requests.map((r, seq) => ({
    seq,
    inWindow: completedInWindow(r, fromS, toS),
    startTS: r.startS,
    endTS: r.endS,
    success: r.success,
    error: r.error,
    inputTokens: r.promptTokens,
    outputTokens: r.outputTokens,
    ttftMs: r.ttftMs,
    itlMeanMs: r.itlMs.length > 0 ? r.itlMs.reduce((a, b) => a + b, 0) / r.itlMs.length : null,
    itlMaxMs: r.itlMs.length > 0 ? Math.max(...r.itlMs) : null,
    e2eMs: r.e2eMs,
  }));
}

function writeArtifacts(dir: string, samples: GpuSample[], requests: ReturnType<LoadGenerator['requests']>): void {
  const cols = ['tS', 'gpuIndex', 'powerW', 'powerInstantW', 'tempC', 'memTempC', 'smClockMhz', 'memClockMhz', 'fanPct', 'utilPct', 'memUsedMib', 'eventReasons', 'modulePowerW'] as const;
  const csv = [cols.join(','), ...samples.map((s) => cols.map((c) => (s[c] === null || s[c] === undefined ? '' : c === 'eventReasons' ? `0x${(s[c] as bigint).toString(16)}` : String(s[c]))).join(','))].join('\n');
  writeFileSync(join(dir, 'telemetry.csv'), `${csv}\n`);
  writeFileSync(join(dir, 'requests.jsonl'), requests.map((r) => JSON.stringify(r)).join('\n') + (requests.length ? '\n' : ''));
}

export { Interrupted };
