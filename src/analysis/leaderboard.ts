/**
 * The greenest configurations (`carbonbench top`) and the leaderboards by model, quantization, engine
 * or batch (`carbonbench leaderboard`): best SCI per group with the config that reached it.
 *
 * Both start from a Selection (query.ts): finished experiments with an SCI; by default real
 * measurements only and no `carbonbench measure` one-offs. Simulated rows, when included, keep their
 * `simulated` flag so that every output can label them. Ties on SCI go to the lower id (the earlier
 * experiment), in SQL and in memory alike.
 */
import { paretoAnalysis, paretoFromDb, type ParetoBasis, type ParetoPoint } from './pareto.js';
import {
  anyWithBpb,
  selectGroupBests,
  selectTop,
  selectUpToSci,
  type GroupKey,
  type ResultRow,
  type ResultsReader,
  type Selection,
} from './query.js';

export { GROUP_COLUMNS, type GroupKey } from './query.js';

/** Keys that a row in memory groups by (the report's leaderboards). */
export type RowGroupKey = Exclude<GroupKey, 'hardware'>;
export const GROUP_KEYS: readonly RowGroupKey[] = ['model', 'quant', 'engine', 'batch'];
/** Keys of `carbonbench leaderboard --by`: the same plus the hardware profile (several hosts). */
export const LEADERBOARD_KEYS: readonly GroupKey[] = [...GROUP_KEYS, 'hardware'];

/** Fields of a scored experiment that ranking needs: ResultRow and ExperimentRecord both have them. */
export interface RankedRow extends ParetoPoint {
  model: string;
  quant: string | null;
  engine: string;
  batch: number | null;
}

const bySciThenId = (a: { sciUg: number | null; id: number }, b: { sciUg: number | null; id: number }): number =>
  (a.sciUg ?? Infinity) - (b.sciUg ?? Infinity) || a.id - b.id;

// ---------------------------------------------------------------------------------------------------
// Pure functions (rows already selected)

export type Flagged<T> = T & { pareto: boolean | null };

/**
 * The rows with an SCI in ranking order: lowest SCI first, ties to the lower id. Sorting is the costly
 * step at 100,000 rows, so a caller that ranks several ways (the report: top rows and four
 * leaderboards) sorts once here, then takes the first rows and groupsOfRanked of that order.
 */
export function rankBySci<T extends { sciUg: number | null; id: number }>(rows: readonly T[]): T[] {
  return rows.filter((r) => r.sciUg !== null && Number.isFinite(r.sciUg)).sort(bySciThenId);
}

/** The n lowest-SCI rows (ties: lower id first), each with its Pareto flag among `rows`. */
export function topGreenest<T extends RankedRow>(rows: readonly T[], n: number): { rows: Flagged<T>[]; basis: ParetoBasis } {
  const pareto = paretoAnalysis(rows);
  const top = rankBySci(rows).slice(0, n);
  return { rows: top.map((r) => ({ ...r, pareto: pareto.flagOf(r) })), basis: pareto.basis };
}

export interface LeaderboardGroup<T> {
  /** The group's value: a model id, a quant, an engine, a batch size; null when not set. */
  key: string | number | null;
  /** The value as shown: `(none)` for null. */
  group: string;
  /** Lowest SCI of the group, with its config. */
  best: Flagged<T>;
  /** Experiments in the group. */
  count: number;
  /** Median SCI of the group, µgCO2e/token. */
  medianSciUg: number;
}

export const groupLabel = (key: string | number | null): string => (key === null ? '(none)' : String(key));

function median(sorted: readonly number[]): number {
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** A leaderboard group before its best row gets a Pareto flag. */
export type RankedGroup<T> = Omit<LeaderboardGroup<T>, 'best'> & { best: T };

/** Best SCI per group, groups ordered by that best SCI; Pareto flags among all of `rows`. */
export function leaderboardOf<T extends RankedRow>(rows: readonly T[], by: RowGroupKey): { groups: LeaderboardGroup<T>[]; basis: ParetoBasis } {
  const pareto = paretoAnalysis(rows);
  const groups = groupsOfRanked(rankBySci(rows), by).map((g) => ({ ...g, best: { ...g.best, pareto: pareto.flagOf(g.best) } }));
  return { groups, basis: pareto.basis };
}

/**
 * The groups of rows already in ranking order (rankBySci), ordered by their best row: a group's first
 * row is its best, and groups appear in the order of their first rows, which is the ranking order of
 * the bests (bySciThenId is a total order: ids differ). Each group's SCIs come ascending, so the median
 * needs no sort.
 */
export function groupsOfRanked<T extends RankedRow>(ranked: readonly T[], by: RowGroupKey): RankedGroup<T>[] {
  const groups = new Map<string | number | null, { best: T; sciUg: number[] }>();
  for (const row of ranked) {
    const key = row[by];
    const g = groups.get(key);
    if (g) g.sciUg.push(row.sciUg!);
    else groups.set(key, { best: row, sciUg: [row.sciUg!] });
  }
  return [...groups.entries()].map(([key, g]) => ({ key, group: groupLabel(key), best: g.best, count: g.sciUg.length, medianSciUg: median(g.sciUg) }));
}

// ---------------------------------------------------------------------------------------------------
// From a results database (the CLI): filtering, ordering and grouping in SQL

/**
 * `top`: the n greenest selected experiments with their Pareto flags, without reading the other rows:
 * whatever dominates one of them has an SCI no larger, so it is among the rows with SCI ≤ the n-th's.
 * Those are the n rows themselves unless the n-th SCI is tied, and only then are the ties read.
 */
export async function topFromDb(reader: ResultsReader, sel: Selection, n: number): Promise<{ rows: Flagged<ResultRow>[]; basis: ParetoBasis }> {
  const rows = await selectTop(reader, sel, n + 1);
  const top = rows.slice(0, n);
  const last = top[top.length - 1];
  const tied = last !== undefined && rows.length > n && rows[n]!.sciUg === last.sciUg;
  const candidates = tied ? await selectUpToSci(reader, sel, last.sciUg!) : top;
  const basis: ParetoBasis = (await anyWithBpb(reader, sel)) ? 'sci_bpb_tok_s' : 'sci_tok_s';
  const pareto = paretoAnalysis(candidates, { basis });
  return { rows: top.map((r) => ({ ...r, pareto: pareto.flagOf(r) })), basis };
}

/** `leaderboard --by`: best per group and the group statistics from SQL; flags from the whole front. */
export async function leaderboardFromDb(
  reader: ResultsReader,
  sel: Selection,
  by: GroupKey,
): Promise<{ groups: LeaderboardGroup<ResultRow>[]; basis: ParetoBasis }> {
  const groups = await selectGroupBests(reader, sel, by, { medians: true });
  const pareto = await paretoFromDb(reader, sel);
  const out = groups.map((g) => ({
    key: g.key,
    group: groupLabel(g.key),
    best: { ...g.best, pareto: pareto.flagOf(g.best) },
    count: g.count,
    medianSciUg: g.medianSciUg,
  }));
  return { groups: out.sort((a, b) => bySciThenId(a.best, b.best)), basis: pareto.basis };
}
