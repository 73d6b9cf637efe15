/**
 * The numbers the report shows, from src/analysis where it has them. This file only adapts their
 * results to the report's document (types.ts): a figure is computed in one place, so the report and
 * the CLI (`top`, `leaderboard`, `pareto`, `fit`) never disagree.
 *
 * TEMPORARY: src/analysis is being written in parallel; until it lands these are local stand-ins with
 * the same semantics (DESIGN sections 3 and 9, issue 5).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { linearRegression, rSquared } from 'simple-statistics';
import { parseCsvRecords } from '../util/csv.js';
import { dataDir } from '../util/paths.js';
import type { ExperimentRecord } from '../store/index.js';
import type { FrontierEstimate, ScalingFit } from './types.js';

/** The scored experiments: finished, with an SCI figure. Everything in the report starts here. */
export function scoredExperiments(rows: readonly ExperimentRecord[]): ExperimentRecord[] {
  return rows.filter((e) => e.status === 'ok' && e.sciUg !== null && Number.isFinite(e.sciUg));
}

/** Program.md's `family` (kept in config_json), else the model id without its size and suffixes. */
export function familyOf(e: ExperimentRecord): string {
  const family = e.config.family;
  if (typeof family === 'string' && family.trim() !== '') return family;
  const base = (e.model.split('/').pop() ?? e.model).toLowerCase();
  // "Qwen2.5-7B-Instruct" → "qwen2.5", "llama-3.1-8b" → "llama-3.1": cut at the first size token.
  const cut = base.replace(/[-_.]?\d+(\.\d+)?[bm]([-_.].*)?$/i, '');
  return cut === '' ? base : cut;
}

const finite = (x: number | null): x is number => x !== null && Number.isFinite(x);

/** Ids of the Pareto front over SCI (min) × BPB (min) × tok/s (max); BPB is dropped when nobody has it. */
export function paretoIds(rows: readonly ExperimentRecord[]): Set<number> {
  const useBpb = rows.some((e) => finite(e.bpb));
  const pts = rows
    .filter((e) => finite(e.sciUg) && finite(e.tokS) && (!useBpb || finite(e.bpb)))
    .map((e) => ({ id: e.id, v: useBpb ? [e.sciUg!, e.bpb!, -e.tokS!] : [e.sciUg!, -e.tokS!] }));
  // Sort by SCI so that a dominator always comes earlier: O(n × front) instead of O(n²).
  pts.sort((a, b) => a.v[0]! - b.v[0]! || a.v[1]! - b.v[1]!);
  const front: typeof pts = [];
  for (const p of pts) {
    const dominated = front.some((f) => f.v.every((x, i) => x <= p.v[i]!) && f.v.some((x, i) => x < p.v[i]!));
    if (!dominated) front.push(p);
  }
  return new Set(front.map((p) => p.id));
}

/** The n greenest experiments (lowest SCI, ties by id). */
export function topExperiments(rows: readonly ExperimentRecord[], n: number): ExperimentRecord[] {
  return [...rows].sort((a, b) => a.sciUg! - b.sciUg! || a.id - b.id).slice(0, n);
}

export type LeaderboardKey = 'model' | 'quant' | 'engine' | 'batch';

export interface LeaderboardGroup {
  group: string;
  best: ExperimentRecord;
  count: number;
  medianSciUg: number;
}

export function leaderboard(rows: readonly ExperimentRecord[], by: LeaderboardKey): LeaderboardGroup[] {
  const groups = new Map<string, ExperimentRecord[]>();
  for (const e of rows) {
    const key = by === 'batch' ? (e.batch === null ? '–' : String(e.batch)) : (e[by] ?? '–');
    const list = groups.get(key) ?? [];
    list.push(e);
    groups.set(key, list);
  }
  return [...groups.entries()]
    .map(([group, list]) => {
      const sci = list.map((e) => e.sciUg!).sort((a, b) => a - b);
      const mid = Math.floor(sci.length / 2);
      const median = sci.length % 2 === 1 ? sci[mid]! : (sci[mid - 1]! + sci[mid]!) / 2;
      return { group, best: topExperiments(list, 1)[0]!, count: list.length, medianSciUg: median };
    })
    .sort((a, b) => a.best.sciUg! - b.best.sciUg!);
}

export interface FrontierModel {
  name: string;
  paramsTotal: number;
  paramsActive: number;
  basis: string;
  source: string;
}

export interface FamilyFit {
  family: string;
  points: { model: string; params: number; best: ExperimentRecord }[];
  fit: ScalingFit | null;
  message: string | null;
  extrapolation: FrontierEstimate[];
}

/** Per family: each model's best SCI against its parameter count, log-log least squares. */
export function scalingFits(rows: readonly ExperimentRecord[], frontier: readonly FrontierModel[]): FamilyFit[] {
  const byFamily = new Map<string, Map<string, ExperimentRecord>>();
  for (const e of rows) {
    if (!finite(e.params) || e.params <= 0) continue;
    const family = familyOf(e);
    const models = byFamily.get(family) ?? new Map<string, ExperimentRecord>();
    const best = models.get(e.model);
    if (!best || e.sciUg! < best.sciUg!) models.set(e.model, e);
    byFamily.set(family, models);
  }
  return [...byFamily.entries()].map(([family, models]) => {
    const points = [...models.values()].map((best) => ({ model: best.model, params: best.params!, best })).sort((a, b) => a.params - b.params);
    const sizes = new Set(points.map((p) => p.params));
    if (points.length < 3 || sizes.size < 3) {
      return { family, points, fit: null, extrapolation: [], message: `a fit needs at least 3 models of different sizes; family ${family} has ${sizes.size}` };
    }
    const xy = points.map((p): [number, number] => [Math.log(p.params), Math.log(p.best.sciUg!)]);
    const { m, b } = linearRegression(xy);
    const r2 = rSquared(xy, (x) => m * x + b);
    const n = xy.length;
    const meanX = xy.reduce((s, [x]) => s + x, 0) / n;
    const sxx = xy.reduce((s, [x]) => s + (x - meanX) ** 2, 0);
    const sse = xy.reduce((s, [x, y]) => s + (y - (m * x + b)) ** 2, 0);
    const se = Math.sqrt(sse / (n - 2) / sxx);
    const t = tQuantile975(n - 2);
    const fit: ScalingFit = { a: Math.exp(b), b: m, r2, n, bLow: Number.isFinite(se) && se > 0 ? m - t * se : null, bHigh: Number.isFinite(se) && se > 0 ? m + t * se : null };
    const extrapolation = frontier.map((f) => {
      const moe = f.paramsActive < f.paramsTotal;
      return { name: f.name, paramsTotal: f.paramsTotal, paramsActive: f.paramsActive, paramsUsed: f.paramsActive, moe, sciUg: fit.a * f.paramsActive ** fit.b, basis: f.basis, source: f.source };
    });
    return { family, points, fit, message: null, extrapolation };
  });
}

/** 97.5% quantile of Student's t for small df (table), normal-ish beyond. */
function tQuantile975(df: number): number {
  const table = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228];
  return table[df - 1] ?? 1.96 + 2.5 / df;
}

/** data/frontier-models.csv: name, params_total, params_active, basis, source. */
export function loadFrontierModels(file = join(dataDir(), 'frontier-models.csv')): FrontierModel[] {
  return parseCsvRecords(readFileSync(file, 'utf8')).map((r, i) => {
    const paramsTotal = Number(r.params_total);
    const paramsActive = r.params_active ? Number(r.params_active) : paramsTotal;
    if (!r.name || !(paramsTotal > 0) || !(paramsActive > 0)) throw new Error(`${file} row ${i + 2}: bad frontier model ${JSON.stringify(r)}`);
    return { name: r.name, paramsTotal, paramsActive, basis: r.basis ?? '', source: r.source ?? '' };
  });
}
