/**
 * Search (DESIGN section 7): strategies propose points of the space; the phase pipeline moves
 * grid → random → bayesian as each phase converges or spends its budget. Everything here is independent
 * of how a point is measured, so the same pipeline drives `carbonbench run` (real or simulated
 * experiments) and `carbonbench search-bench` (table lookups).
 */

/** One point of the search space. `model` is the model id from program.md. */
export interface SpacePoint {
  model: string;
  quant: string;
  batch: number;
  inputLen: number;
  outputLen: number;
}

/** The space as program.md gives it (models by id). */
export interface SearchSpace {
  models: readonly string[];
  quant: readonly string[];
  batch: readonly number[];
  inputLen: readonly number[];
  outputLen: readonly number[];
}

export type PhaseName = 'baseline' | 'grid' | 'random' | 'bayesian';

/** A measured (or failed) point, as the search sees it. */
export interface Observation {
  point: SpacePoint;
  /** ok: measured; failed: the config could not run (OOM, crash) — told to the strategy as failed. */
  status: 'ok' | 'failed';
  /** µgCO2e per token; null when failed. */
  sciUg: number | null;
  bpb: number | null;
  tokS: number | null;
  phase: PhaseName | string;
  /** The study trial that measured it (study workers, issue 10); absent elsewhere. */
  trialNumber?: number | null;
}

export interface Proposal {
  point: SpacePoint;
  phase: PhaseName;
  /** Why this point (strategy's reason; the agent may replace it). */
  rationale: string;
}

/** A strategy proposes candidates given everything observed so far. */
export interface Strategy {
  readonly name: PhaseName;
  /**
   * Up to `n` candidates not yet observed (fewer, or none, when the strategy has nothing left).
   * Grid and random are deterministic for a seed.
   */
  propose(history: readonly Observation[], n: number): Promise<SpacePoint[]>;
  /** Tells the strategy a result (bayesian keeps its own model; others may ignore it). */
  tell?(obs: Observation): Promise<void>;
  close?(): Promise<void>;
}

/** `bpb <= 1.02 * baseline` (baseline = the model's best-precision BPB) or `bpb <= 0.9`. */
export interface BpbConstraint {
  /** Absolute limit, or null when relative. */
  maxBpb: number | null;
  /** Relative factor on the model's baseline BPB, or null when absolute. */
  factor: number | null;
  text: string;
}

export function pointKey(p: SpacePoint): string {
  return JSON.stringify([p.model, p.quant, p.batch, p.inputLen, p.outputLen]);
}
