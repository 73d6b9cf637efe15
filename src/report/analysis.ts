/**
 * The report's numbers come from src/analysis, the functions behind `carbonbench top`, `leaderboard`,
 * `pareto`, `fit` and `calc`: a figure is computed in one place, so the page and the CLI agree. This
 * file only chooses the rows and adapts the results to the page's document (types.ts).
 */
import { embodiedInputsOf, type EmbodiedInputs } from '../analysis/calculator.js';
import { GROUP_KEYS, groupsOfRanked, rankBySci } from '../analysis/leaderboard.js';
import { PARETO_OBJECTIVES_TEXT, paretoAnalysis, type ParetoResult } from '../analysis/pareto.js';
import { isSelected, type Selection } from '../analysis/query.js';
import { familyOf, modelPoints, scalingAnalysis, type FrontierModel, type ScalingAnalysis } from '../analysis/scaling.js';
import type { ExperimentRecord } from '../store/index.js';

export { loadFrontierModels, type FrontierModel } from '../analysis/scaling.js';
export type { EmbodiedInputs } from '../analysis/calculator.js';

/**
 * What the report shows by default: every finished experiment with an SCI, simulated and
 * `carbonbench measure` ones included (and labelled): a report of a sim sweep must not be empty. The
 * CLI's rankings leave those out unless asked; `top --include-simulated --include-manual` matches.
 */
export const REPORT_SELECTION: Selection = { includeSimulated: true, includeManual: true };

/**
 * The fields of an experiment that the report reads (data.ts, analyse, embodiedInputs, the hardware
 * section): collectReportData reads these columns and no others.
 */
export const REPORT_FIELDS = [
  'id', 'runId', 'status', 'phase', 'simulated', 'engine', 'model', 'params', 'quant', 'batch', 'inputLen', 'outputLen', 'rationale',
  'tokS', 'tokensOut', 'windowS', 'bpb', 'sciUg', 'sciOpUg', 'sciEmbUg', 'energyJ', 'energySource', 'energyCiRel', 'energyBoundaryJ', 'boundary',
  'region', 'intensityGKwh', 'intensityProvider', 'intensityAt', 'intensityEstimated', 'intensityFallback', 'intensityStaticGKwh', 'sciStaticUg',
  'embodiedG', 'hardwareId', 'hardwareFallback', 'gpusUsed', 'throttled',
] as const satisfies readonly (keyof ExperimentRecord)[];

/**
 * What the report knows of an experiment: REPORT_FIELDS, and of the two JSON columns only the one key
 * each that it uses (the rest of them is not kept: 100,000 rows).
 */
export interface ReportRow extends Pick<ExperimentRecord, (typeof REPORT_FIELDS)[number]> {
  /** config_json's `family` (program.md's) when it is a string, else null. */
  configFamily: string | null;
  /** Of the provenance, `embodied_g` (how the embodied carbon was found) when it is a string, else null. */
  provenance: { embodied_g: string } | null;
}

/**
 * An experiment (a whole record, or REPORT_FIELDS with its two JSON columns) as the report keeps it.
 * Written out field by field (the compiler checks it against REPORT_FIELDS): one object of one shape
 * per row, which at 100,000 rows is several times faster than copying in a loop over the names.
 */
export function reportRowOf(e: Pick<ExperimentRecord, (typeof REPORT_FIELDS)[number] | 'config' | 'provenance'>): ReportRow {
  const family = isObject(e.config) ? e.config.family : undefined;
  const embodied = isObject(e.provenance) ? e.provenance.embodied_g : undefined;
  return {
    id: e.id,
    runId: e.runId,
    status: e.status,
    phase: e.phase,
    simulated: e.simulated,
    engine: e.engine,
    model: e.model,
    params: e.params,
    quant: e.quant,
    batch: e.batch,
    inputLen: e.inputLen,
    outputLen: e.outputLen,
    rationale: e.rationale,
    tokS: e.tokS,
    tokensOut: e.tokensOut,
    windowS: e.windowS,
    bpb: e.bpb,
    sciUg: e.sciUg,
    sciOpUg: e.sciOpUg,
    sciEmbUg: e.sciEmbUg,
    energyJ: e.energyJ,
    energySource: e.energySource,
    energyCiRel: e.energyCiRel,
    energyBoundaryJ: e.energyBoundaryJ,
    boundary: e.boundary,
    region: e.region,
    intensityGKwh: e.intensityGKwh,
    intensityProvider: e.intensityProvider,
    intensityAt: e.intensityAt,
    intensityEstimated: e.intensityEstimated,
    intensityFallback: e.intensityFallback,
    intensityStaticGKwh: e.intensityStaticGKwh,
    sciStaticUg: e.sciStaticUg,
    embodiedG: e.embodiedG,
    hardwareId: e.hardwareId,
    hardwareFallback: e.hardwareFallback,
    gpusUsed: e.gpusUsed,
    throttled: e.throttled,
    configFamily: typeof family === 'string' ? family : null,
    provenance: typeof embodied === 'string' ? { embodied_g: embodied } : null,
  };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

export function selectRows<T extends Parameters<typeof isSelected>[0]>(rows: readonly T[], sel: Selection = REPORT_SELECTION): T[] {
  return rows.filter((e) => isSelected(e, sel));
}

/** program.md's `family` (kept in config_json), else derived from the model id: scaling.ts's rule. */
export function familyOfExperiment(e: Pick<ReportRow, 'model' | 'configFamily'>): string {
  return familyOf(e.model, e.configFamily);
}

export interface ReportAnalysis {
  pareto: ParetoResult;
  paretoObjectives: string;
  /** The greenest rows, best first. */
  top: ReportRow[];
  leaderboards: { by: (typeof GROUP_KEYS)[number]; groups: { group: string; best: ReportRow; count: number; medianSciUg: number }[] }[];
  scaling: ScalingAnalysis;
}

/**
 * The page's analyses: the same functions as `top`, `leaderboard`, `pareto` and `fit` (topGreenest and
 * leaderboardOf are rankBySci, then its first rows or groupsOfRanked, with Pareto flags), with the rows
 * sorted once and the front computed once for all of them (the page takes the flags from `pareto`).
 */
export function analyse(rows: readonly ReportRow[], frontier: readonly FrontierModel[], topN: number): ReportAnalysis {
  const pareto = paretoAnalysis(rows);
  const ranked = rankBySci(rows);
  const leaderboards = GROUP_KEYS.map((by) => ({
    by,
    groups: groupsOfRanked(ranked, by).map((g) => ({ group: g.group, best: g.best, count: g.count, medianSciUg: g.medianSciUg })),
  }));
  const { points, skipped } = modelPoints(rows, familyOfExperiment);
  return {
    pareto,
    paretoObjectives: PARETO_OBJECTIVES_TEXT[pareto.basis],
    top: ranked.slice(0, topN),
    leaderboards,
    scaling: scalingAnalysis(points, frontier, skipped),
  };
}

/** The embodied inputs `carbonbench calc` uses for this experiment; null when it cannot recompute it. */
export function embodiedInputs(e: ReportRow): EmbodiedInputs | null {
  try {
    return embodiedInputsOf(e);
  } catch {
    return null;
  }
}
