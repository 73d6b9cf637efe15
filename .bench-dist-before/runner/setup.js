/**
 * What an invocation that measures needs, set up once: the store and its run record, telemetry (real,
 * or simulated for simulated engines), the idle baseline for the cooldown gate, the carbon inputs, the
 * held-out text, and clean shutdown on SIGINT/SIGTERM.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { chooseHardware } from '../carbon/hardware.js';
import { resolveIntensity } from '../carbon/regions.js';
import { createLogger } from '../log.js';
import { openStore } from '../store/index.js';
import { measureIdleBaseline } from '../telemetry/cooldown.js';
import { openRealTelemetry } from '../telemetry/session.js';
import { dataDir } from '../util/paths.js';
import { VERSION } from '../version.js';
import { VirtualClock, realClock } from './clock.js';
export function loadHeldoutText(file = join(dataDir(), 'heldout', 'heldout-en.txt')) {
    const text = readFileSync(file, 'utf8');
    return { text, sha256: createHash('sha256').update(text).digest('hex') };
}
export async function openSession(opts) {
    // Validate the cheap things first: a bad region must not cost a telemetry start.
    const intensity = resolveIntensity({ region: opts.carbon.region, intensityGPerKwh: opts.carbon.intensity });
    const store = await openStore(opts.db);
    let clock = realClock;
    let telemetry;
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
        }
        else {
            telemetry = await openRealTelemetry({ nvidiaSmi: opts.nvidiaSmi, gpus: opts.gpus });
        }
    }
    catch (err) {
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
        host: hostname(),
        seed: opts.seed ?? null,
        gpuNames: telemetry.identity.gpus.map((g) => g.name),
        driverVersion: telemetry.identity.driverVersion,
    });
    if (opts.resumeRunId !== undefined)
        await store.updateRunStatus(runId, 'running');
    const runDir = join(opts.experimentsDir ?? 'experiments', String(runId));
    mkdirSync(runDir, { recursive: true });
    const log = createLogger({ file: join(runDir, 'carbonbench.log'), console: opts.consoleLog });
    log.info({ runId, engine: opts.engine.name, energySource: telemetry.energySource, hardware: hardware.profile.id }, 'session start');
    // Idle baseline: a few seconds of samples before anything runs.
    const idleFrom = clock.now();
    await clock.sleep((opts.idleBaselineS ?? 3) * 1000);
    const idlePowerW = measureIdleBaseline(telemetry.collected({ fromS: idleFrom }));
    const controller = new AbortController();
    const onSignal = (sig) => {
        log.warn({ signal: sig }, 'stopping: finishing the current experiment as interrupted');
        controller.abort(new Error(`interrupted by ${sig}`));
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    return {
        store,
        runId,
        runDir,
        telemetry,
        clock,
        log,
        idlePowerW,
        carbon: { intensity, hardware },
        bpbText: loadHeldoutText(),
        signal: controller.signal,
        async close(status) {
            process.off('SIGINT', onSignal);
            process.off('SIGTERM', onSignal);
            await telemetry.stop().catch(() => { });
            await store.updateRunStatus(runId, status).catch(() => { });
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
export function simFaultsOf(options) {
    const at = options.sim_temp_spike_at_s;
    if (typeof at !== 'number')
        return undefined;
    const duration = options.sim_temp_spike_s;
    return { tempSpikeAtS: at, ...(typeof duration === 'number' ? { tempSpikeS: duration } : {}) };
}
//# sourceMappingURL=setup.js.map