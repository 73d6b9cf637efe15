/**
 * From the store to the report's document (types.ts): pure apart from reading the store. All figures
 * come from the analysis functions (analysis.ts); this file only selects, encodes and labels.
 */
import { basename } from 'node:path';
import { DEFAULT_REGION, loadRegions, type GridRegion } from '../carbon/regions.js';
import { loadHardwareProfiles, type HardwareProfile } from '../carbon/hardware.js';
import { J_PER_KWH } from '../carbon/sci.js';
import { boundaryOf, sciEnergyOf } from '../energy/boundary.js';
import type { ExperimentRecord, RunRecord } from '../store/index.js';
import { VERSION } from '../version.js';
import { selectExperimentValues, statusCounts, type ResultsReader, type Selection } from '../analysis/query.js';
import type { ScalingGroup } from '../analysis/scaling.js';
import {
  REPORT_READ,
  REPORT_SELECTION,
  analyse,
  embodiedInputs,
  familyOfExperiment,
  loadFrontierModels,
  reportRowOf,
  reportRowOfRecord,
  selectRows,
  type FrontierModel,
  type ReportRow,
} from './analysis.js';
import {
  REPORT_DATA_VERSION,
  type DictName,
  type ExperimentColumns,
  type Leaderboard,
  type ReportData,
  type ReportDictionaries,
  type ReportEmbodied,
  type ReportHardware,
  type ScalingFamily,
  type ScalingReport,
} from './types.js';

export interface CollectOptions {
  /** ISO timestamp printed in the report (default: now). Tests pin it. */
  generatedAt?: string;
  /** What the report calls the database (default: the store location's file name). */
  dbLabel?: string;
  /** Defaults: data/grid-regions.csv, data/hardware.csv, data/frontier-models.csv. */
  regions?: readonly GridRegion[];
  hardwareProfiles?: readonly HardwareProfile[];
  frontier?: readonly FrontierModel[];
  /** Rows in the top table (default 5). */
  topN?: number;
  /** Which experiments (default: every scored one, simulated and manual included, all labelled). */
  selection?: Selection;
  /** Inlined libraries, for the licence notice (filled by the HTML builder). */
  libraries?: ReportData['meta']['libraries'];
}

/** Rationales are for reading, not archiving (results.db keeps them whole): cut them to keep 10k rows small. */
export const RATIONALE_MAX_CHARS = 280;

const LEADERBOARD_TITLES: Record<Leaderboard['by'], string> = {
  model: 'Best SCI per model',
  quant: 'Best SCI per quantization',
  engine: 'Best SCI per engine',
  batch: 'Best SCI per batch size',
};

/**
 * The report's document from a results database (SQLite or PostgreSQL): only REPORT_FIELDS of the
 * selected experiments are read (the selection filtered in SQL, config and provenance reduced to the
 * one key each that the page uses), and the statuses are counted in SQL. The reader's queries share one
 * snapshot; runs are listed after the experiments, so every experiment's run is among them.
 */
export async function collectReportData(reader: ResultsReader, opts: CollectOptions = {}): Promise<ReportData> {
  const sel = opts.selection ?? REPORT_SELECTION;
  const statuses = await statusCounts(reader);
  const read = await selectExperimentValues(reader, sel, REPORT_READ);
  // selectRows again: the SQL selection (selectionWhere) and isSelected agree, but only isSelected also
  // drops a non-finite SCI (an Infinity that SQLite can hold).
  const scored = selectRows(read.map(reportRowOf), sel);
  const runs = await reader.store.listRuns();
  return assembleRows(runs, statuses, scored, { ...opts, dbLabel: opts.dbLabel ?? basename(reader.location) });
}

/**
 * The same document from whole records (`all` = every experiment row, any status, ordered by id), as
 * the report was built before it read only its columns: the reference that tests compare
 * collectReportData with.
 */
export function assembleReportData(runs: readonly RunRecord[], all: readonly ExperimentRecord[], opts: CollectOptions): ReportData {
  const counts = new Map<string, number>();
  for (const e of all) counts.set(e.status, (counts.get(e.status) ?? 0) + 1);
  const statuses = [...counts.entries()].map(([status, count]) => ({ status, count })).sort((a, b) => b.count - a.count);
  return assembleRows(runs, statuses, selectRows(all, opts.selection ?? REPORT_SELECTION).map(reportRowOfRecord), opts);
}

/**
 * The pure part: `statuses` = experiments per status (all statuses, most frequent first), `scored` =
 * the selected experiments ordered by id.
 */
function assembleRows(runs: readonly RunRecord[], statuses: readonly { status: string; count: number }[], scored: readonly ReportRow[], opts: CollectOptions): ReportData {
  const regions = opts.regions ?? loadRegions();
  const profiles = opts.hardwareProfiles ?? loadHardwareProfiles();
  const frontier = opts.frontier ?? loadFrontierModels();
  const analysis = analyse(scored, frontier, opts.topN ?? 5);

  const rowOf = new Map<number, number>(scored.map((e, i) => [e.id, i]));
  const row = (id: number): number => rowOf.get(id)!;
  const embodied: ReportEmbodied[] = [];
  const embodiedIndex = new Map<string, number>();

  const dicts = new Dictionaries();
  const exp: ExperimentColumns = {
    id: [], run: [], model: [], family: [], quant: [], engine: [], phase: [], energySource: [], region: [], hardware: [], rationale: [],
    params: [], batch: [], inputLen: [], outputLen: [], tokS: [], sciUg: [], sciOpUg: [], sciEmbUg: [], bpb: [],
    energyJ: [], boundary: [], tokensOut: [], windowS: [], embodied: [], intensityGKwh: [],
    intensityProvider: [], intensityAt: [], intensityEstimated: [], intensityFallback: [], intensityStaticGKwh: [], sciStaticUg: [], energyCiRel: [], simulated: [], pareto: [], throttled: [],
  };
  for (const e of scored) {
    exp.id.push(e.id);
    exp.run.push(e.runId);
    exp.model.push(dicts.index('model', e.model));
    exp.family.push(dicts.index('family', familyOfExperiment(e)));
    exp.quant.push(dicts.index('quant', e.quant));
    exp.engine.push(dicts.index('engine', e.engine));
    exp.phase.push(dicts.index('phase', e.phase));
    exp.energySource.push(dicts.index('energySource', e.energySource));
    exp.region.push(dicts.index('region', e.region));
    exp.hardware.push(dicts.index('hardware', e.hardwareId));
    exp.rationale.push(dicts.index('rationale', e.rationale === null ? null : truncate(e.rationale, RATIONALE_MAX_CHARS)));
    exp.params.push(e.params);
    exp.batch.push(e.batch);
    exp.inputLen.push(e.inputLen);
    exp.outputLen.push(e.outputLen);
    exp.tokS.push(e.tokS);
    exp.sciUg.push(e.sciUg!);
    exp.sciOpUg.push(e.sciOpUg);
    exp.sciEmbUg.push(e.sciEmbUg);
    exp.bpb.push(e.bpb);
    exp.energyJ.push(sciEnergyOf(e));
    exp.boundary.push(dicts.index('boundary', boundaryOf(e)));
    exp.tokensOut.push(e.tokensOut);
    exp.windowS.push(e.windowS);
    const inputs = embodiedInputs(e);
    if (inputs === null) exp.embodied.push(-1);
    else {
      const entry: ReportEmbodied = { basis: inputs.basis, embodiedTotalG: inputs.embodiedTotalG, lifetimeS: inputs.lifetimeS, gpusUsed: inputs.gpusUsed, gpusTotal: inputs.gpusTotal, description: inputs.description };
      const key = JSON.stringify(entry);
      let i = embodiedIndex.get(key);
      if (i === undefined) {
        i = embodied.push(entry) - 1;
        embodiedIndex.set(key, i);
      }
      exp.embodied.push(i);
    }
    exp.intensityGKwh.push(e.intensityGKwh);
    exp.intensityProvider.push(dicts.index('intensityProvider', e.intensityProvider));
    exp.intensityAt.push(e.intensityAt);
    exp.intensityEstimated.push(e.intensityEstimated === true ? 1 : 0);
    exp.intensityFallback.push(e.intensityFallback === true ? 1 : 0);
    exp.intensityStaticGKwh.push(e.intensityStaticGKwh);
    exp.sciStaticUg.push(e.sciStaticUg);
    exp.energyCiRel.push(e.energyCiRel);
    exp.simulated.push(e.simulated ? 1 : 0);
    const flag = analysis.pareto.flag(e.id);
    exp.pareto.push(flag === true ? 1 : flag === false ? 0 : -1);
    exp.throttled.push(e.throttled === true ? 1 : 0);
  }

  const leaderboards: Leaderboard[] = analysis.leaderboards.map(({ by, groups }) => ({
    by,
    title: LEADERBOARD_TITLES[by],
    rows: groups.map((g) => ({ group: g.group, best: row(g.best.id), count: g.count, medianSciUg: g.medianSciUg })),
  }));

  const family = (g: ScalingGroup): ScalingFamily => ({
    family: g.family,
    points: g.points.map((p) => ({ model: p.model, params: p.params, sciUg: p.sciUg, row: row(p.experimentId) })),
    fit: g.fit === null ? null : { a: g.fit.a, b: g.fit.b, r2: g.fit.r2, bLow: g.fit.bLow, bHigh: g.fit.bHigh, n: g.fit.n },
    message: g.message,
    extrapolation: g.extrapolation.map((x) => ({
      name: x.name,
      paramsTotal: x.paramsTotal,
      paramsActive: x.paramsActive,
      paramsUsed: x.paramsUsed,
      moe: x.moe,
      sciUg: x.sciUg,
      sciLowUg: x.sciLowUg,
      sciHighUg: x.sciHighUg,
      extrapolationFactor: x.extrapolationFactor,
      basis: x.basis,
      source: x.source,
    })),
  });
  const s = analysis.scaling;
  const scaling: ScalingReport = {
    families: s.families.map(family),
    pooled: s.families.length > 1 ? family({ ...s.all, family: 'all families' }) : null,
    skipped: s.skipped,
    notes: s.notes,
  };

  const energySources = new Map<string, { experiments: number; simulated: number }>();
  for (const e of scored) {
    const key = e.energySource ?? 'unknown';
    const s = energySources.get(key) ?? { experiments: 0, simulated: 0 };
    s.experiments++;
    if (e.simulated) s.simulated++;
    energySources.set(key, s);
  }

  const boundaries = new Map<string, { experiments: number; simulated: number }>();
  for (const e of scored) {
    const key = boundaryOf(e) ?? 'unknown';
    const s = boundaries.get(key) ?? { experiments: 0, simulated: 0 };
    s.experiments++;
    if (e.simulated) s.simulated++;
    boundaries.set(key, s);
  }

  return {
    version: REPORT_DATA_VERSION,
    meta: {
      generatedAt: opts.generatedAt ?? new Date().toISOString(),
      toolVersion: VERSION,
      db: opts.dbLabel ?? 'results.db',
      experimentsTotal: statuses.reduce((n, s) => n + s.count, 0),
      experimentsScored: scored.length,
      statusCounts: statuses.map(({ status, count }) => ({ status, count })),
      simulatedScored: scored.filter((e) => e.simulated).length,
      jPerKwh: J_PER_KWH,
      libraries: opts.libraries ?? [],
      paretoObjectives: analysis.paretoObjectives,
      rationaleMaxChars: RATIONALE_MAX_CHARS,
    },
    dict: dicts.values,
    exp,
    regions: regions.map((r) => ({ id: r.id, name: r.name, intensityGPerKwh: r.intensityGPerKwh, year: r.year, basis: r.basis, source: r.source })),
    defaultRegion: DEFAULT_REGION,
    hardware: hardwareUsed(runs, scored, profiles),
    embodied,
    runs: runs.map((r) => ({ id: r.id, status: r.status, startedAt: r.startedAt, endedAt: r.endedAt, hardware: r.hardware, host: r.host, gpuNames: r.gpuNames, toolVersion: r.toolVersion })),
    top: analysis.top.map((e) => row(e.id)),
    leaderboards,
    scaling,
    energySources: [...energySources.entries()].map(([source, s]) => ({ source, ...s })).sort((a, b) => b.experiments - a.experiments),
    boundaries: [...boundaries.entries()].map(([boundary, s]) => ({ boundary, ...s })).sort((a, b) => b.experiments - a.experiments),
  };
}

function hardwareUsed(runs: readonly RunRecord[], scored: readonly ReportRow[], profiles: readonly HardwareProfile[]): ReportHardware[] {
  const used = new Map<string, ReportHardware>();
  const entry = (id: string): ReportHardware | null => {
    const existing = used.get(id);
    if (existing) return existing;
    const p = profiles.find((x) => x.id === id);
    if (!p) return null;
    const h: ReportHardware = { id, name: p.name, embodiedKg: p.embodiedKg, lifetimeYears: p.lifetimeYears, tdpW: p.tdpW, source: p.source, matchedBy: [], fallback: false, experiments: 0 };
    used.set(id, h);
    return h;
  };
  for (const e of scored) {
    if (e.hardwareId === null) continue;
    const h = entry(e.hardwareId);
    if (!h) continue;
    h.experiments++;
    if (e.hardwareFallback) h.fallback = true;
    // provenance.embodied_g = "<id>: <how it matched>; TE … kg over … y, n/m GPUs" (runner/experiment.ts).
    const how = e.provenance?.embodied_g;
    if (typeof how === 'string' && !h.matchedBy.includes(how) && h.matchedBy.length < 5) h.matchedBy.push(how);
  }
  for (const r of runs) if (r.hardware !== null) entry(r.hardware);
  return [...used.values()];
}

class Dictionaries {
  readonly values: ReportDictionaries = { model: [], family: [], quant: [], engine: [], phase: [], energySource: [], region: [], hardware: [], rationale: [], intensityProvider: [], boundary: [] };
  private readonly maps = new Map<DictName, Map<string, number>>();

  /** Index of `value` in dict `name` (added if new); -1 for null. */
  index(name: DictName, value: string | null): number {
    if (value === null) return -1;
    let map = this.maps.get(name);
    if (!map) this.maps.set(name, (map = new Map()));
    let i = map.get(value);
    if (i === undefined) {
      i = this.values[name].push(value) - 1;
      map.set(value, i);
    }
    return i;
  }
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
