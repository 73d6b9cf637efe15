export function pointOf(e) {
    return { model: e.model, quant: e.quant ?? '', batch: e.batch ?? 0, inputLen: e.inputLen ?? 0, outputLen: e.outputLen ?? 0 };
}
/**
 * ok → measured; failed and aborted_thermal → failed (the config could not be measured as asked);
 * interrupted, queued, running and rejected are not observations (interrupted ones are run again).
 */
export function observationsOf(experiments) {
    return experiments
        .filter((e) => e.phase !== 'manual' && (e.status === 'ok' || e.status === 'failed' || e.status === 'aborted_thermal'))
        .map((e) => ({
        point: pointOf(e),
        status: e.status === 'ok' ? 'ok' : 'failed',
        sciUg: e.status === 'ok' ? e.sciUg : null,
        bpb: e.status === 'ok' ? e.bpb : null,
        tokS: e.status === 'ok' ? e.tokS : null,
        phase: e.phase ?? 'unknown',
    }));
}
//# sourceMappingURL=history.js.map