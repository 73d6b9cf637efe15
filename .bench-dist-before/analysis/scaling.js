/**
 * The scaling law of carbon per token against model size (`carbonbench fit`, the report's
 * `scaling-law` section): SCI = a · params^b, fitted by least squares on ln(SCI) against ln(params),
 * one point per model: its best (lowest) SCI over every config measured.
 *
 * Units: SCI in µgCO2e/token, params as a plain count (7.6e9), so `a` is in µgCO2e/token and is the
 * SCI of a one-parameter model; b has no unit. R² is that of the log-log regression.
 *
 * The 95% interval on b is b ± t(0.975, n−2) · se(b), se(b)² = (SSE / (n−2)) / Σ(x − x̄)² with x =
 * ln(params). t comes from src/energy/uncertainty.ts's table (exact for n − 2 ≤ 30, i.e. up to 32
 * models; beyond it uses 2.0 then 1.96, slightly narrow). With a perfect fit (SSE = 0) the interval is
 * [b, b].
 *
 * Extrapolation to data/frontier-models.csv: always an estimate, far outside the fitted sizes and on
 * hardware that could not hold those models. Mixture-of-experts models enter with their *active*
 * parameters per token (params_active < params_total): a generated token runs through the active
 * experts only, which is what the fitted compute-per-token relation describes. Each estimate carries a
 * 95% prediction interval from the same regression and the factor by which it extrapolates beyond the
 * largest fitted model.
 *
 * With fewer than 3 models (or all of one size) there is no fit: a message says what is missing.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { linearRegression, rSquared } from 'simple-statistics';
import { tQuantile975 } from '../energy/uncertainty.js';
import { parseCsvRecords } from '../util/csv.js';
import { dataDir } from '../util/paths.js';
import { selectModelBests } from './query.js';
/** data/frontier-models.csv: name, params_total, params_active, basis, source. */
export function loadFrontierModels(file = join(dataDir(), 'frontier-models.csv')) {
    return parseCsvRecords(readFileSync(file, 'utf8')).map((r, i) => {
        const paramsTotal = Number(r.params_total);
        const paramsActive = r.params_active ? Number(r.params_active) : paramsTotal;
        if (!r.name || !(paramsTotal > 0) || !(paramsActive > 0) || paramsActive > paramsTotal) {
            throw new Error(`${file} row ${i + 2}: bad frontier model ${JSON.stringify(r)}`);
        }
        return { name: r.name, paramsTotal, paramsActive, basis: r.basis ?? '', source: r.source ?? '' };
    });
}
/**
 * A model's family: program.md's `family` (kept in config_json) when given, else the model id's last
 * path segment, lowercased, cut before its size (`Qwen/Qwen2.5-7B-Instruct` → `qwen2.5`,
 * `meta-llama/Llama-3.1-8B` → `llama-3.1`).
 */
export function familyOf(model, configFamily) {
    if (typeof configFamily === 'string' && configFamily.trim() !== '')
        return configFamily.trim();
    const base = (model.split('/').pop() ?? model).toLowerCase();
    const cut = base.replace(/[-_.]?\d+(\.\d+)?[bm]([-_.].*)?$/i, '');
    return cut === '' ? base : cut;
}
/**
 * One point per model from already-selected rows: the lowest SCI (ties: lower id). Models without a
 * parameter count, or whose best SCI is not positive, cannot be placed on a log axis: they are
 * returned in `skipped` with the reason.
 */
export function modelPoints(rows, familyOfRow) {
    const best = new Map();
    for (const r of rows) {
        if (r.sciUg === null || !Number.isFinite(r.sciUg))
            continue;
        const b = best.get(r.model);
        if (!b || r.sciUg < b.sciUg || (r.sciUg === b.sciUg && r.id < b.id))
            best.set(r.model, r);
    }
    return toPoints([...best.values()].map((row) => ({ row, family: familyOfRow(row) })));
}
function toPoints(bests) {
    const points = [];
    const skipped = [];
    for (const { row, family } of bests) {
        if (row.params === null || !(row.params > 0)) {
            skipped.push({ model: row.model, reason: 'no parameter count (give `params` in program.md models)' });
            continue;
        }
        if (!(row.sciUg > 0)) {
            skipped.push({ model: row.model, reason: `best SCI ${row.sciUg} is not positive (no logarithm)` });
            continue;
        }
        points.push({
            model: row.model,
            family,
            params: row.params,
            sciUg: row.sciUg,
            experimentId: row.id,
            engine: row.engine,
            quant: row.quant,
            batch: row.batch,
            inputLen: row.inputLen,
            outputLen: row.outputLen,
            simulated: row.simulated,
        });
    }
    points.sort((a, b) => a.params - b.params || a.model.localeCompare(b.model));
    return { points, skipped };
}
// ---------------------------------------------------------------------------------------------------
// The fit
export const MIN_MODELS = 3;
/** The least-squares power law through the points, or a message saying why there is none. */
export function fitPowerLaw(points) {
    const n = points.length;
    if (n < MIN_MODELS) {
        return { fit: null, message: `a fit needs at least ${MIN_MODELS} models with a parameter count; there ${n === 1 ? 'is' : 'are'} ${n}` };
    }
    // Compared as given, not through ln(): the mean of equal logarithms need not equal them exactly.
    if (new Set(points.map((p) => p.params)).size < 2)
        return { fit: null, message: `all ${n} models have the same parameter count: no slope to fit` };
    const xy = points.map((p) => [Math.log(p.params), Math.log(p.sciUg)]);
    const meanX = xy.reduce((s, [x]) => s + x, 0) / n;
    const sxx = xy.reduce((s, [x]) => s + (x - meanX) ** 2, 0);
    const { m: b, b: lnA } = linearRegression(xy);
    const line = (x) => lnA + b * x;
    const sse = xy.reduce((s, [x, y]) => s + (y - line(x)) ** 2, 0);
    const meanY = xy.reduce((s, [, y]) => s + y, 0) / n;
    const sst = xy.reduce((s, [, y]) => s + (y - meanY) ** 2, 0);
    const df = n - 2;
    const residualStdLn = Math.sqrt(sse / df);
    const bStdErr = residualStdLn / Math.sqrt(sxx);
    const t975 = tQuantile975(df);
    const params = points.map((p) => p.params);
    return {
        fit: {
            a: Math.exp(lnA),
            b,
            r2: sst > 0 ? rSquared(xy, line) : null,
            n,
            df,
            bStdErr,
            t975,
            bLow: b - t975 * bStdErr,
            bHigh: b + t975 * bStdErr,
            residualStdLn,
            meanLnParams: meanX,
            sxx,
            paramsMin: Math.min(...params),
            paramsMax: Math.max(...params),
        },
        message: null,
    };
}
/** The fitted SCI at `params` with its 95% prediction interval (a new model's point, not the mean). */
export function predictSci(fit, params) {
    const x = Math.log(params);
    const y = Math.log(fit.a) + fit.b * x;
    const se = fit.residualStdLn * Math.sqrt(1 + 1 / fit.n + (x - fit.meanLnParams) ** 2 / fit.sxx);
    return { sciUg: Math.exp(y), low: Math.exp(y - fit.t975 * se), high: Math.exp(y + fit.t975 * se) };
}
/** The formula as text: `SCI = 2.07e-4 × params^0.374 µgCO2e/token (R² = 0.979, n = 5)`. */
export function formatFit(fit, digits = 3) {
    const r2 = fit.r2 === null ? '–' : fit.r2.toFixed(3);
    return `SCI = ${fit.a.toPrecision(digits)} × params^${fit.b.toPrecision(digits)} µgCO2e/token (R² = ${r2}, n = ${fit.n})`;
}
export function extrapolate(fit, frontier) {
    return frontier.map((f) => {
        const p = predictSci(fit, f.paramsActive);
        return {
            name: f.name,
            paramsTotal: f.paramsTotal,
            paramsActive: f.paramsActive,
            paramsUsed: f.paramsActive,
            moe: f.paramsActive < f.paramsTotal,
            sciUg: p.sciUg,
            sciLowUg: p.low,
            sciHighUg: p.high,
            estimate: true,
            extrapolationFactor: f.paramsActive / fit.paramsMax,
            basis: f.basis,
            source: f.source,
        };
    });
}
// ---------------------------------------------------------------------------------------------------
// Per family and pooled
/** `all` is the pooled fit over every family. */
export const ALL_FAMILIES = 'all';
export const SCALING_NOTES = [
    'One point per model: its lowest SCI over every configuration measured (quantization, batch, lengths).',
    'Fitted by least squares on ln(SCI) against ln(params); R² is that of the log-log fit; the interval on b is 95% (Student t, n − 2 degrees of freedom).',
    'Frontier rows are extrapolations, not measurements: estimates far beyond the fitted sizes, on hardware that could not hold those models.',
    'Mixture-of-experts models enter with their active parameters per token (params_active < params_total): a token only runs through the active experts.',
];
function group(family, points, frontier) {
    const r = fitPowerLaw(points);
    const where = family === ALL_FAMILIES ? '' : ` of family ${family}`;
    return {
        family,
        points,
        fit: r.fit,
        message: r.fit === null ? `${r.message}${where}` : null,
        extrapolation: r.fit === null ? [] : extrapolate(r.fit, frontier),
    };
}
/** The pooled fit and one fit per family. */
export function scalingAnalysis(points, frontier, skipped = []) {
    const families = [...new Set(points.map((p) => p.family))].sort();
    return {
        all: group(ALL_FAMILIES, [...points], frontier),
        families: families.map((f) => group(f, points.filter((p) => p.family === f), frontier)),
        skipped: [...skipped],
        notes: [...SCALING_NOTES],
    };
}
// ---------------------------------------------------------------------------------------------------
// From a results database
/** Each selected model's best experiment from SQL (one row per model read), then the fits. */
export async function scalingFromDb(reader, sel, frontier = loadFrontierModels()) {
    const bests = await selectModelBests(reader, sel);
    const { points, skipped } = toPoints(bests.map((b) => ({ row: b.row, family: familyOf(b.row.model, b.configFamily) })));
    return scalingAnalysis(points, frontier, skipped);
}
//# sourceMappingURL=scaling.js.map