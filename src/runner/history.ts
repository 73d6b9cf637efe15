/** The search's view of results.db: observations of a run (the one source of truth, also on resume). */
import type { ExperimentRecord } from '../store/types.js';
import type { Observation, SpacePoint } from '../search/types.js';

export function pointOf(e: ExperimentRecord): SpacePoint {
  return { model: e.model, quant: e.quant ?? '', batch: e.batch ?? 0, inputLen: e.inputLen ?? 0, outputLen: e.outputLen ?? 0 };
}

/**
 * ok → measured; failed and aborted_thermal → failed (the config could not be measured as asked);
 * interrupted, queued, running and rejected are not observations (interrupted ones are run again).
 */
export function observationsOf(experiments: readonly ExperimentRecord[]): Observation[] {
  return experiments
    .filter((e) => e.phase !== 'manual' && (e.status === 'ok' || e.status === 'failed' || e.status === 'aborted_thermal'))
    .map((e) => ({
      point: pointOf(e),
      status: e.status === 'ok' ? 'ok' : 'failed',
      sciUg: e.status === 'ok' ? e.sciUg : null,
      bpb: e.status === 'ok' ? e.bpb : null,
      tokS: e.status === 'ok' ? e.tokS : null,
      phase: e.phase ?? 'unknown',
      ...(e.trialNumber !== null && e.trialNumber !== undefined ? { trialNumber: e.trialNumber } : {}),
    }));
}
