import type { TelemetryError } from '../errors.js';
import type { GpuSample } from './types.js';

/** Anything that streams GPU samples: the nvidia-smi sampler, a replay, the simulator. */
export interface SampleSource {
  onSample(fn: (s: GpuSample) => void): () => void;
  onError(fn: (e: TelemetryError) => void): () => void;
  /** Set once the source has failed; listeners added later would wait forever. */
  readonly failure?: TelemetryError | null;
}
