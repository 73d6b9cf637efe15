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

/** What collectReportData reads of an experiment, in this order: REPORT_FIELDS and the two JSON columns. */
export const REPORT_READ = [...REPORT_FIELDS, 'config', 'provenance'] as const;
type ReadField = (typeof REPORT_READ)[number];
const AT = Object.fromEntries(REPORT_READ.map((f, i) => [f, i])) as Record<ReadField, number>;

/**
 * An experiment as the report keeps it, from its values in REPORT_READ order (selectExperimentValues).
 * Written out field by field (the compiler checks it against REPORT_FIELDS): one object of one shape
 * per row, which at 100,000 rows is several times faster than copying in a loop over the names.
 */
export function reportRowOf(values: readonly unknown[]): ReportRow {
  const v = <F extends ReadField>(f: F): ExperimentRecord[F] => values[AT[f]] as ExperimentRecord[F];
  const config = v('config');
  const provenance = v('provenance');
  const family = isObject(config) ? config.family : undefined;
  const embodied = isObject(provenance) ? provenance.embodied_g : undefined;
  return {
    id: v('id'),
    runId: v('runId'),
    status: v('status'),
    phase: v('phase'),
    simulated: v('simulated'),
    engine: v('engine'),
    model: v('model'),
    params: v('params'),
    quant: v('quant'),
    batch: v('batch'),
    inputLen: v('inputLen'),
    outputLen: v('outputLen'),
    rationale: v('rationale'),
    tokS: v('tokS'),
    tokensOut: v('tokensOut'),
    windowS: v('windowS'),
    bpb: v('bpb'),
    sciUg: v('sciUg'),
    sciOpUg: v('sciOpUg'),
    sciEmbUg: v('sciEmbUg'),
    energyJ: v('energyJ'),
    energySource: v('energySource'),
    energyCiRel: v('energyCiRel'),
    energyBoundaryJ: v('energyBoundaryJ'),
    boundary: v('boundary'),
    region: v('region'),
    intensityGKwh: v('intensityGKwh'),
    intensityProvider: v('intensityProvider'),
    intensityAt: v('intensityAt'),
    intensityEstimated: v('intensityEstimated'),
    intensityFallback: v('intensityFallback'),
    intensityStaticGKwh: v('intensityStaticGKwh'),
    sciStaticUg: v('sciStaticUg'),
    embodiedG: v('embodiedG'),
    hardwareId: v('hardwareId'),
    hardwareFallback: v('hardwareFallback'),
    gpusUsed: v('gpusUsed'),
    throttled: v('throttled'),
    configFamily: typeof family === 'string' ? family : null,
    provenance: typeof embodied === 'string' ? { embodied_g: embodied } : null,
  };
}

/** The same from a whole record (assembleReportData, the reference). */
export function reportRowOfRecord(e: ExperimentRecord): ReportRow {
  return reportRowOf(REPORT_READ.map((f) => e[f]));
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
