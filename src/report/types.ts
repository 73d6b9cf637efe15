/**
 * The document that the report embeds as JSON and its page script (client.ts) reads. Built in Node by
 * data.ts; nothing here runs in the browser except through `import type`.
 *
 * Why columns instead of one object per experiment: at 10,000 experiments, repeating ~30 key names per
 * row would be most of the file. Strings that repeat (model, quant, engine, …) are dictionary-encoded:
 * the column holds an index into `dict.<name>`, -1 for null.
 */

/** Bump when the shape changes; the page refuses a document it does not know. */
export const REPORT_DATA_VERSION = 1;

export interface ReportData {
  version: typeof REPORT_DATA_VERSION;
  meta: ReportMeta;
  dict: ReportDictionaries;
  /** Every finished experiment with a score (status ok, SCI not null), ordered by id. */
  exp: ExperimentColumns;
  /** All grid regions of data/grid-regions.csv, in file order. */
  regions: ReportRegion[];
  defaultRegion: string;
  /** Hardware profiles that the scored experiments (or their runs) used. */
  hardware: ReportHardware[];
  /** Distinct embodied inputs of the calculator (`exp.embodied` points here). */
  embodied: ReportEmbodied[];
  runs: ReportRun[];
  /** The greenest configs, best first: row indices into `exp`. */
  top: number[];
  leaderboards: Leaderboard[];
  scaling: ScalingReport;
  /** Experiments per energy source (methodology). */
  energySources: { source: string; experiments: number; simulated: number }[];
  /** Experiments per energy boundary (methodology, issue 9). */
  boundaries: { boundary: string; experiments: number; simulated: number }[];
}

export interface ReportMeta {
  generatedAt: string;
  toolVersion: string;
  /** File name of the database (not its full path: the report may be shared). */
  db: string;
  /** All rows of `experiments`, whatever their status. */
  experimentsTotal: number;
  /** Rows in `exp`. */
  experimentsScored: number;
  statusCounts: { status: string; count: number }[];
  /** Scored experiments from the sim or table engine. */
  simulatedScored: number;
  /** src/carbon/sci.ts J_PER_KWH, so that the page's calculator uses the very same constant. */
  jPerKwh: number;
  /** Libraries inlined in the page, for the licence notice. */
  libraries: { name: string; version: string; license: string }[];
  /** Objectives of the Pareto front, e.g. "SCI min × BPB min × tok/s max". */
  paretoObjectives: string;
  /** Rationales longer than this were cut (with an ellipsis) to keep the file small. */
  rationaleMaxChars: number;
}

export interface ReportDictionaries {
  model: string[];
  family: string[];
  quant: string[];
  engine: string[];
  phase: string[];
  energySource: string[];
  region: string[];
  hardware: string[];
  rationale: string[];
  intensityProvider: string[];
  boundary: string[];
}

export type DictName = keyof ReportDictionaries;

/** One array per field, all of the same length; index i is one experiment. */
export interface ExperimentColumns {
  id: number[];
  run: number[];
  /** Index into dict.model (never -1). */
  model: number[];
  /** Index into dict.family: program.md `family`, else derived from the model id. */
  family: number[];
  quant: number[];
  engine: number[];
  phase: number[];
  energySource: number[];
  region: number[];
  hardware: number[];
  rationale: number[];
  params: (number | null)[];
  batch: (number | null)[];
  inputLen: (number | null)[];
  outputLen: (number | null)[];
  tokS: (number | null)[];
  sciUg: number[];
  sciOpUg: (number | null)[];
  sciEmbUg: (number | null)[];
  bpb: (number | null)[];
  /**
   * Inputs of the calculator, stored values at full precision. energyJ is the energy SCI used: the
   * experiment's boundary energy (energy_boundary_j; energy_j for rows without it), see `boundary`.
   */
  energyJ: (number | null)[];
  /** Dictionary index of the boundary of energyJ (`gpu`, `gpu+cpu`, `gpu+cpu+dram`, `module`, `system`). */
  boundary: number[];
  tokensOut: (number | null)[];
  windowS: (number | null)[];
  /** Index into `embodied`: the calculator's TE, lifetime and GPU share; -1 = cannot be recomputed. */
  embodied: number[];
  intensityGKwh: (number | null)[];
  /** Issue 9 part 2: whose intensity SCI used (dict index; -1 = a row from before providers), the data
   * point's start, 1 = estimated / static fallback, and the static figure and SCI for comparison. */
  intensityProvider: number[];
  intensityAt: (string | null)[];
  intensityEstimated: (0 | 1)[];
  intensityFallback: (0 | 1)[];
  intensityStaticGKwh: (number | null)[];
  sciStaticUg: (number | null)[];
  energyCiRel: (number | null)[];
  /** 1 = sim or table engine. */
  simulated: (0 | 1)[];
  /** 1 = on the Pareto front, 0 = dominated, -1 = not comparable (no BPB or throughput). */
  pareto: (0 | 1 | -1)[];
  /** 1 = thermal or power slowdown during the window; 0 = not, or unknown. */
  throttled: (0 | 1)[];
}

/**
 * The embodied inputs of src/carbon/sci.ts computeSci for an experiment, as src/analysis/calculator.ts
 * finds them (`carbonbench calc` prints the same under `embodied`).
 */
export interface ReportEmbodied {
  basis: string;
  /** TE, gCO2e. */
  embodiedTotalG: number;
  lifetimeS: number;
  gpusUsed: number;
  gpusTotal: number;
  description: string;
}

export interface ReportRegion {
  id: string;
  name: string;
  intensityGPerKwh: number;
  year: number | null;
  basis: string;
  source: string;
}

export interface ReportHardware {
  id: string;
  name: string;
  embodiedKg: number;
  lifetimeYears: number;
  tdpW: number | null;
  source: string;
  /** How the runs' GPU names matched it (e.g. `GPU name "NVIDIA GB10" ~ /GB10/`), from provenance. */
  matchedBy: string[];
  /** Some experiment used it as the generic fallback. */
  fallback: boolean;
  experiments: number;
}

export interface ReportRun {
  id: number;
  status: string;
  startedAt: string;
  endedAt: string | null;
  hardware: string | null;
  host: string | null;
  gpuNames: string[] | null;
  toolVersion: string;
}

export interface Leaderboard {
  by: 'model' | 'quant' | 'engine' | 'batch';
  title: string;
  rows: LeaderboardRow[];
}

export interface LeaderboardRow {
  group: string;
  /** Row index into `exp` of the group's best (lowest SCI) experiment. */
  best: number;
  /** Scored experiments in the group. */
  count: number;
  /** Median SCI of the group, µgCO2e/token. */
  medianSciUg: number;
}

export interface ScalingReport {
  families: ScalingFamily[];
  /** The fit over every family together; null with one family (it would repeat that family's). */
  pooled: ScalingFamily | null;
  /** Models left out of the fit, with the reason (no parameter count, …). */
  skipped: { model: string; reason: string }[];
  /** How the frontier table treats mixture-of-experts models, and other caveats. */
  notes: string[];
}

export interface ScalingPoint {
  model: string;
  params: number;
  /** The model's best SCI, µgCO2e/token. */
  sciUg: number;
  /** Row index into `exp` of that experiment. */
  row: number;
}

export interface ScalingFit {
  /** SCI[µg/token] = a · params^b */
  a: number;
  b: number;
  /** null when every SCI is the same. */
  r2: number | null;
  /** 95% interval on the exponent b. */
  bLow: number;
  bHigh: number;
  n: number;
}

export interface FrontierEstimate {
  name: string;
  paramsTotal: number;
  paramsActive: number;
  /** Parameters put into the fit: the active ones (what a token actually touches). */
  paramsUsed: number;
  moe: boolean;
  /** Extrapolated, µgCO2e/token: always an estimate; with its 95% prediction interval. */
  sciUg: number;
  sciLowUg: number;
  sciHighUg: number;
  /** paramsUsed ÷ the largest fitted model. */
  extrapolationFactor: number;
  /** `published` or `estimate` (of the parameter count itself). */
  basis: string;
  source: string;
}

export interface ScalingFamily {
  family: string;
  points: ScalingPoint[];
  /** null with a message when there are fewer than 3 models (or no spread in size). */
  fit: ScalingFit | null;
  message: string | null;
  extrapolation: FrontierEstimate[];
}
