/**
 * From the store to the report's document (types.ts): pure apart from reading the store. All figures
 * come from the analysis functions (analysis.ts); this file only selects, encodes and labels.
 */
import { basename } from 'node:path';
import { DEFAULT_REGION, loadRegions } from '../carbon/regions.js';
import { loadHardwareProfiles } from '../carbon/hardware.js';
import { J_PER_KWH } from '../carbon/sci.js';
import { VERSION } from '../version.js';
import { REPORT_SELECTION, analyse, embodiedInputs, familyOfExperiment, loadFrontierModels, selectRows } from './analysis.js';
import { REPORT_DATA_VERSION, } from './types.js';
/** Rationales are for reading, not archiving (results.db keeps them whole): cut them to keep 10k rows small. */
export const RATIONALE_MAX_CHARS = 280;
const LEADERBOARD_TITLES = {
    model: 'Best SCI per model',
    quant: 'Best SCI per quantization',
    engine: 'Best SCI per engine',
    batch: 'Best SCI per batch size',
};
export async function collectReportData(store, opts = {}) {
    const [runs, all] = await Promise.all([store.listRuns(), store.listExperiments()]);
    return assembleReportData(runs, all, { ...opts, dbLabel: opts.dbLabel ?? basename(store.location) });
}
/** The pure part of collectReportData: `all` = every experiment row, any status, ordered by id. */
export function assembleReportData(runs, all, opts) {
    const regions = opts.regions ?? loadRegions();
    const profiles = opts.hardwareProfiles ?? loadHardwareProfiles();
    const frontier = opts.frontier ?? loadFrontierModels();
    const scored = selectRows(all, opts.selection ?? REPORT_SELECTION);
    const analysis = analyse(scored, frontier, opts.topN ?? 5);
    const rowOf = new Map(scored.map((e, i) => [e.id, i]));
    const row = (id) => rowOf.get(id);
    const embodied = [];
    const embodiedIndex = new Map();
    const dicts = new Dictionaries();
    const exp = {
        id: [], run: [], model: [], family: [], quant: [], engine: [], phase: [], energySource: [], region: [], hardware: [], rationale: [],
        params: [], batch: [], inputLen: [], outputLen: [], tokS: [], sciUg: [], sciOpUg: [], sciEmbUg: [], bpb: [],
        energyJ: [], tokensOut: [], windowS: [], embodied: [], intensityGKwh: [], energyCiRel: [], simulated: [], pareto: [], throttled: [],
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
        exp.sciUg.push(e.sciUg);
        exp.sciOpUg.push(e.sciOpUg);
        exp.sciEmbUg.push(e.sciEmbUg);
        exp.bpb.push(e.bpb);
        exp.energyJ.push(e.energyJ);
        exp.tokensOut.push(e.tokensOut);
        exp.windowS.push(e.windowS);
        const inputs = embodiedInputs(e);
        if (inputs === null)
            exp.embodied.push(-1);
        else {
            const entry = { basis: inputs.basis, embodiedTotalG: inputs.embodiedTotalG, lifetimeS: inputs.lifetimeS, gpusUsed: inputs.gpusUsed, gpusTotal: inputs.gpusTotal, description: inputs.description };
            const key = JSON.stringify(entry);
            let i = embodiedIndex.get(key);
            if (i === undefined) {
                i = embodied.push(entry) - 1;
                embodiedIndex.set(key, i);
            }
            exp.embodied.push(i);
        }
        exp.intensityGKwh.push(e.intensityGKwh);
        exp.energyCiRel.push(e.energyCiRel);
        exp.simulated.push(e.simulated ? 1 : 0);
        const flag = analysis.pareto.flag(e.id);
        exp.pareto.push(flag === true ? 1 : flag === false ? 0 : -1);
        exp.throttled.push(e.throttled === true ? 1 : 0);
    }
    const statusCounts = new Map();
    for (const e of all)
        statusCounts.set(e.status, (statusCounts.get(e.status) ?? 0) + 1);
    const leaderboards = analysis.leaderboards.map(({ by, groups }) => ({
        by,
        title: LEADERBOARD_TITLES[by],
        rows: groups.map((g) => ({ group: g.group, best: row(g.best.id), count: g.count, medianSciUg: g.medianSciUg })),
    }));
    const family = (g) => ({
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
    const scaling = {
        families: s.families.map(family),
        pooled: s.families.length > 1 ? family({ ...s.all, family: 'all families' }) : null,
        skipped: s.skipped,
        notes: s.notes,
    };
    const energySources = new Map();
    for (const e of scored) {
        const key = e.energySource ?? 'unknown';
        const s = energySources.get(key) ?? { experiments: 0, simulated: 0 };
        s.experiments++;
        if (e.simulated)
            s.simulated++;
        energySources.set(key, s);
    }
    return {
        version: REPORT_DATA_VERSION,
        meta: {
            generatedAt: opts.generatedAt ?? new Date().toISOString(),
            toolVersion: VERSION,
            db: opts.dbLabel ?? 'results.db',
            experimentsTotal: all.length,
            experimentsScored: scored.length,
            statusCounts: [...statusCounts.entries()].map(([status, count]) => ({ status, count })).sort((a, b) => b.count - a.count),
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
    };
}
function hardwareUsed(runs, scored, profiles) {
    const used = new Map();
    const entry = (id) => {
        const existing = used.get(id);
        if (existing)
            return existing;
        const p = profiles.find((x) => x.id === id);
        if (!p)
            return null;
        const h = { id, name: p.name, embodiedKg: p.embodiedKg, lifetimeYears: p.lifetimeYears, tdpW: p.tdpW, source: p.source, matchedBy: [], fallback: false, experiments: 0 };
        used.set(id, h);
        return h;
    };
    for (const e of scored) {
        if (e.hardwareId === null)
            continue;
        const h = entry(e.hardwareId);
        if (!h)
            continue;
        h.experiments++;
        if (e.hardwareFallback)
            h.fallback = true;
        // provenance.embodied_g = "<id>: <how it matched>; TE … kg over … y, n/m GPUs" (runner/experiment.ts).
        const how = e.provenance?.embodied_g;
        if (typeof how === 'string' && !h.matchedBy.includes(how) && h.matchedBy.length < 5)
            h.matchedBy.push(how);
    }
    for (const r of runs)
        if (r.hardware !== null)
            entry(r.hardware);
    return [...used.values()];
}
class Dictionaries {
    values = { model: [], family: [], quant: [], engine: [], phase: [], energySource: [], region: [], hardware: [], rationale: [] };
    maps = new Map();
    /** Index of `value` in dict `name` (added if new); -1 for null. */
    index(name, value) {
        if (value === null)
            return -1;
        let map = this.maps.get(name);
        if (!map)
            this.maps.set(name, (map = new Map()));
        let i = map.get(value);
        if (i === undefined) {
            i = this.values[name].push(value) - 1;
            map.set(value, i);
        }
        return i;
    }
}
function truncate(text, max) {
    return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
//# sourceMappingURL=data.js.map