function isReady(s, opts) {
    if (s.tempC === null || s.tempC > opts.cooldownTempC)
        return false;
    const idle = opts.idlePowerW.get(s.gpuIndex);
    if (idle === undefined)
        return true;
    if (s.powerW === null)
        return false;
    return s.powerW <= idle * (1 + (opts.powerTolerance ?? 0.1));
}
export function cooldownGate(source, opts) {
    const now = () => (opts.clock ? opts.clock.now() : Date.now() / 1000);
    const startedS = now();
    const latest = new Map();
    const startTemp = () => {
        const temps = opts.gpus.map((g) => latest.get(g)?.tempC).filter((t) => t !== null && t !== undefined);
        return temps.length > 0 ? Math.max(...temps) : null;
    };
    return new Promise((resolve) => {
        const finish = (reachedTarget, reason) => {
            clearTimeout(timer);
            offSample();
            offError();
            resolve({ waitedS: now() - startedS, reachedTarget, startTempC: startTemp(), reason });
        };
        // A wall-clock timer for real telemetry; on a virtual clock, time is checked at each sample.
        const timer = setTimeout(() => finish(false, 'timeout'), opts.clock?.virtual ? 2 ** 31 - 1 : opts.maxS * 1000);
        const offSample = source.onSample((s) => {
            latest.set(s.gpuIndex, s);
            if (opts.gpus.every((g) => latest.has(g) && isReady(latest.get(g), opts)))
                finish(true, 'cool');
            else if (now() - startedS >= opts.maxS)
                finish(false, 'timeout');
        });
        const offError = source.onError((e) => finish(false, `telemetry error: ${e.message}`));
        if (source.failure)
            finish(false, `telemetry error: ${source.failure.message}`);
    });
}
/**
 * Idle baseline per GPU: the median power.draw of samples taken while the GPU is idle (before the first
 * experiment). The median ignores a stray spike.
 */
export function measureIdleBaseline(samples) {
    const byGpu = new Map();
    for (const s of samples) {
        if (s.powerW === null)
            continue;
        const list = byGpu.get(s.gpuIndex) ?? [];
        list.push(s.powerW);
        byGpu.set(s.gpuIndex, list);
    }
    const baseline = new Map();
    for (const [gpu, values] of byGpu) {
        const sorted = values.sort((a, b) => a - b);
        const mid = Math.floor(sorted.length / 2);
        baseline.set(gpu, sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2);
    }
    return baseline;
}
//# sourceMappingURL=cooldown.js.map