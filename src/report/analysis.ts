/**
 * The report's numbers come from src/analysis, the functions behind `carbonbench top`, `leaderboard`,
 * `pareto`, `fit` and `calc`: a figure is computed in one place, so the page and the CLI agree. This
 * file only chooses the rows and adapts the results to the page's document (types.ts).
 */
import { embodiedInputsOf, type EmbodiedInputs } from '../analysis/calculator.js';
import { GROUP_KEYS, leaderboardOf, topGreenest } from '../analysis/leaderboard.js';
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

export function selectRows(rows: readonly ExperimentRecord[], sel: Selection = REPORT_SELECTION): ExperimentRecord[] {
  return rows.filter((e) => isSelected(e, sel));
}

/** program.md's `family` (kept in config_json), else derived from the model id: scaling.ts's rule. */
export function familyOfExperiment(e: ExperimentRecord): string {
  const f = e.config.family;
  return familyOf(e.model, typeof f === 'string' ? f : null);
}

export interface ReportAnalysis {
  pareto: ParetoResult;
  paretoObjectives: string;
  /** The greenest rows, best first. */
  top: ExperimentRecord[];
  leaderboards: { by: (typeof GROUP_KEYS)[number]; groups: { group: string; best: ExperimentRecord; count: number; medianSciUg: number }[] }[];
  scaling: ScalingAnalysis;
}

export function analyse(rows: readonly ExperimentRecord[], frontier: readonly FrontierModel[], topN: number): ReportAnalysis {
  const pareto = paretoAnalysis(rows);
  const top = topGreenest(rows, topN).rows;
  const byId = new Map(rows.map((r) => [r.id, r]));
  const leaderboards = GROUP_KEYS.map((by) => ({
    by,
    groups: leaderboardOf(rows, by).groups.map((g) => ({ group: g.group, best: byId.get(g.best.id)!, count: g.count, medianSciUg: g.medianSciUg })),
  }));
  const { points, skipped } = modelPoints(rows, familyOfExperiment);
  return {
    pareto,
    paretoObjectives: PARETO_OBJECTIVES_TEXT[pareto.basis],
    top: top.map((t) => byId.get(t.id)!),
    leaderboards,
    scaling: scalingAnalysis(points, frontier, skipped),
  };
}

/** The embodied inputs `carbonbench calc` uses for this experiment; null when it cannot recompute it. */
export function embodiedInputs(e: ExperimentRecord): EmbodiedInputs | null {
  try {
    return embodiedInputsOf(e);
  } catch {
    return null;
  }
}
