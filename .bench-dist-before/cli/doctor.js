/**
 * `carbonbench doctor`: can this machine run a real sweep? Checks the GPU side (nvidia-smi, fields,
 * NVML energy counter, hardware profile), engines, Python, disk and the database. Exit 1 when a real
 * run could not start (no GPU, no usable telemetry, database not writable); --json always prints the
 * whole document.
 */
import { statfsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { chooseHardware } from '../carbon/hardware.js';
import { probeEngines, probePython, resolvePython, resolveTorchPython } from '../engines/probe.js';
import { checkWritable } from '../store/sqlite.js';
import { openNvml } from '../telemetry/nvml.js';
import { listGpus, queryableFields, resolveNvidiaSmi } from '../telemetry/smi-exec.js';
import { resolveQuery } from '../telemetry/smi-fields.js';
import { parseQuery, powerReports } from '../telemetry/smi-text.js';
import { runSmi } from '../telemetry/smi-exec.js';
import { VERSION } from '../version.js';
import { formatTable, printJson, printText } from './output.js';
const MIN_FREE_DISK_BYTES = 1024 ** 3;
export async function doctorCommand(flags, global) {
    const checks = [];
    const add = (check, status, detail) => void checks.push({ check, status, detail });
    const smi = resolveNvidiaSmi(flags.nvidiaSmi);
    // GPUs through nvidia-smi.
    let gpus = [];
    try {
        gpus = await listGpus(smi);
        if (gpus.length === 0)
            add('gpu', 'fail', `${smi} lists no GPU`);
        else
            add('gpu', 'ok', gpus.map((g) => `GPU ${g.index}: ${g.name}`).join('; '));
    }
    catch (err) {
        add('gpu', 'fail', `no GPU usable: ${err.message}`);
    }
    const driverVersion = gpus[0]?.driverVersion ?? null;
    // Which sampler fields this driver accepts.
    let fields = null;
    if (gpus.length > 0) {
        try {
            const resolved = resolveQuery(await queryableFields(smi));
            fields = { query: resolved.queryNames, unsupported: resolved.unsupported, missingRequired: resolved.missingRequired };
            if (resolved.missingRequired.length > 0)
                add('fields', 'fail', `nvidia-smi lacks required field(s): ${resolved.missingRequired.join(', ')}`);
            else
                add('fields', resolved.unsupported.length > 0 ? 'warn' : 'ok', `sampling ${resolved.queryNames.join(', ')}${resolved.unsupported.length > 0 ? `; not on this driver (stored as missing): ${resolved.unsupported.join(', ')}` : ''}`);
        }
        catch (err) {
            add('fields', 'fail', err.message);
        }
    }
    // What the board says about power: the energy boundary (GPU board, or a superchip's module).
    let power = [];
    if (gpus.length > 0) {
        try {
            power = powerReports(parseQuery(await runSmi(smi, ['-q', '-d', 'POWER'])));
            const module = power.some((p) => p.modulePowerW !== null);
            add('power', 'ok', module
                ? `module (CPU+GPU) power is reported: on this superchip GPU power may include the CPU; boundary = module`
                : `GPU board power (1 s average${power.some((p) => p.instantPowerW !== null) ? ' and instantaneous' : ''}); power limit ${power.map((p) => (p.powerLimitW === null ? 'n/a' : `${p.powerLimitW} W`)).join(', ')}; boundary = GPU board`);
        }
        catch (err) {
            add('power', 'warn', `nvidia-smi -q -d POWER failed: ${err.message}`);
        }
    }
    // NVML energy counter.
    const nvml = openNvml({ libraryPath: flags.nvmlLib });
    const nvmlDoc = { available: nvml.available, reason: nvml.unavailableReason };
    let energySource = gpus.length > 0 ? 'nvidia-smi' : null;
    if (nvml.available) {
        const counters = Array.from({ length: nvml.deviceCount() }, (_, i) => ({ gpu: i, name: nvml.deviceName(i), energy_mj: nvml.totalEnergyMj(i) }));
        const withCounter = counters.filter((c) => c.energy_mj !== null);
        nvmlDoc.driver_version = nvml.driverVersion();
        nvmlDoc.devices = counters;
        if (withCounter.length === counters.length && counters.length > 0) {
            energySource = 'nvml';
            add('energy', 'ok', `NVML total-energy counter on ${counters.length} GPU(s): windows use the counter, nvidia-smi power as the second figure`);
        }
        else {
            add('energy', 'warn', `NVML has no total-energy counter on GPU ${counters.filter((c) => c.energy_mj === null).map((c) => c.gpu).join(', ')}: energy from the 1 Hz nvidia-smi power trapezoid`);
        }
        nvml.shutdown();
    }
    else {
        add('energy', gpus.length > 0 ? 'warn' : 'fail', `NVML unavailable (${nvml.unavailableReason}); energy from the 1 Hz nvidia-smi power trapezoid`);
    }
    // Hardware profile for embodied carbon.
    const hw = chooseHardware(gpus[0]?.name || null, gpus.length);
    add('hardware', hw.fallback ? 'warn' : 'ok', `${hw.profile.id} (${hw.profile.name}), ${hw.profile.embodiedKg} kgCO2e per unit over ${hw.lifetimeYears} years; ${hw.matchedBy}${hw.fallback ? '; set carbon.hardware or carbon.embodied_kg in program.md' : ''}`);
    // Engines and Python.
    const engines = probeEngines();
    const foundEngines = Object.entries(engines).filter(([, p]) => p !== null).map(([n]) => n);
    add('engines', foundEngines.length > 0 ? 'ok' : 'warn', foundEngines.length > 0 ? `on PATH: ${foundEngines.join(', ')}` : 'no vllm or llama.cpp on PATH (the transformers and sim engines need none)');
    // The transformers engine and the Optuna bridge may use different interpreters (a GPU box's CUDA
    // torch is usually the system python3; Optuna lives in the project's .venv).
    const torchPython = await probePython(['torch', 'transformers'], await resolveTorchPython());
    const optunaPython = await probePython(['optuna'], resolvePython());
    const python = { python: optunaPython.python, version: optunaPython.version, modules: { ...torchPython.modules, ...optunaPython.modules }, error: optunaPython.error ?? torchPython.error, torchPython: torchPython.python };
    const mods = python.modules;
    if (torchPython.error)
        add('transformers', 'warn', `${torchPython.python}: ${torchPython.error}`);
    else
        add('transformers', mods.torch && mods.transformers ? 'ok' : 'warn', mods.torch && mods.transformers ? `${torchPython.python}: torch ${mods.torch}, transformers ${mods.transformers}` : `no python with torch and transformers (tried .venv and python3; set CARBONBENCH_PYTHON): the transformers engine is unavailable`);
    if (optunaPython.error)
        add('optuna', 'warn', `${optunaPython.python}: ${optunaPython.error}`);
    else
        add('optuna', mods.optuna ? 'ok' : 'warn', mods.optuna ? `${optunaPython.python}: optuna ${mods.optuna}` : `${optunaPython.python} lacks optuna: the bayesian phase will be skipped (run the README's set-up to make .venv)`);
    // Disk and database.
    const dbPath = resolve(global.db);
    let freeBytes = null;
    try {
        const fs = statfsSync(dirname(dbPath));
        freeBytes = fs.bavail * fs.bsize;
        add('disk', freeBytes >= MIN_FREE_DISK_BYTES ? 'ok' : 'warn', `${(freeBytes / 1024 ** 3).toFixed(1)} GiB free in ${dirname(dbPath)}`);
    }
    catch (err) {
        add('disk', 'fail', `cannot stat ${dirname(dbPath)}: ${err.message}`);
    }
    const writable = checkWritable(dbPath);
    add('database', writable.ok ? 'ok' : 'fail', writable.ok ? `${dbPath} is writable` : `${dbPath}: ${writable.reason}`);
    const canRun = !checks.some((c) => c.status === 'fail');
    const doc = {
        ok: canRun,
        carbonbench_version: VERSION,
        nvidia_smi: smi,
        driver_version: driverVersion,
        gpus: gpus.map((g) => ({ index: g.index, name: g.name, uuid: g.uuid, power_limit_w: g.powerLimitW, memory_total_mib: g.memoryTotalMib })),
        fields,
        power: power.map((p) => ({ gpu: p.gpu, average_power_w: p.averagePowerW, instant_power_w: p.instantPowerW, power_limit_w: p.powerLimitW, module_power_w: p.modulePowerW, memory_power_w: p.memoryPowerW })),
        boundary: power.some((p) => p.modulePowerW !== null) ? 'module' : gpus.length > 0 ? 'gpu' : null,
        energy_source: energySource,
        nvml: nvmlDoc,
        hardware: { id: hw.profile.id, name: hw.profile.name, fallback: hw.fallback, matched_by: hw.matchedBy, embodied_kg_per_unit: hw.profile.embodiedKg, lifetime_years: hw.lifetimeYears, source: hw.profile.source },
        engines,
        python: { executable: python.python, torch_executable: python.torchPython, version: python.version, modules: python.modules, error: python.error },
        disk_free_bytes: freeBytes,
        db: { path: dbPath, writable: writable.ok, reason: writable.reason ?? null },
        checks,
    };
    if (global.json)
        printJson(doc);
    else {
        printText(formatTable(['check', 'status', 'detail'], checks.map((c) => [c.check, c.status.toUpperCase(), c.detail])));
        printText(canRun ? '\nready for a real run.' : `\nnot ready for a real run: fix the FAIL lines above (the sim engine still works: carbonbench run --engine sim).`);
    }
    return canRun ? 0 : 1;
}
//# sourceMappingURL=doctor.js.map