/**
 * Results for other tools (`carbonbench export --format csv|json|codecarbon|impact`). Pure functions
 * from rows of the `results` view (plus runs and window edges) to text.
 *
 * - csv, json: every experiment of every status, the `results` view's columns in its documented order
 *   (docs/database.md) and under its names. csv writes NULL as an empty field and flags as 0/1 like the
 *   database; json writes null and true/false, and adds the runs.
 * - codecarbon: CodeCarbon's emissions.csv (the 2.x column set), one row per finished experiment
 *   (status ok with energy): one measurement window = one CodeCarbon "run", a carbonbench run = a
 *   CodeCarbon "experiment". See CODECARBON_COLUMNS for what is filled and what stays empty.
 * - impact: a Green Software Foundation Impact Framework manifest (YAML, IF 1.x: `initialize.plugins`
 *   with `config`, `pipeline.compute`), one component per finished experiment under its model, whose
 *   single observation holds the SCI inputs: timestamp and duration of the window, energy (kWh),
 *   grid/carbon-intensity, carbon-embodied (g) and tokens; the builtin Multiply, Sum and Sci plugins
 *   recompute carbon-operational, carbon and sci (gCO2e per token) when `if-run` executes it.
 *
 * Simulated rows (sim and table engines) are labelled in every format: the `simulated` column (csv),
 * `simulated: true` (json), project_name `carbonbench (simulated)` (codecarbon), and a component name
 * ending in `(simulated)` plus `carbonbench/simulated: true` (impact).
 */
import { basename } from 'node:path';
import { stringify } from 'yaml';
import { J_PER_KWH } from '../carbon/sci.js';
import { VERSION } from '../version.js';
import { RESULT_COLUMNS, allRows, windowEdges } from './query.js';
export const EXPORT_FORMATS = ['csv', 'json', 'codecarbon', 'impact'];
/** Rows that have what an emissions figure needs: finished, with energy, tokens and a window. */
export function hasEmissions(r) {
    return r.status === 'ok' && r.energyJ !== null && r.tokensOut !== null && r.tokensOut > 0 && r.windowS !== null && r.windowS > 0;
}
// ---------------------------------------------------------------------------------------------------
// CSV
/** RFC 4180: quote a field holding a comma, a quote or a line break; double the quotes inside. */
export function csvField(value) {
    if (value === null)
        return '';
    const text = typeof value === 'boolean' ? (value ? '1' : '0') : String(value);
    return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
function csvLines(header, rows) {
    return [header.join(','), ...rows.map((r) => r.map(csvField).join(','))].join('\n') + '\n';
}
const RESULT_KEYS = Object.keys(RESULT_COLUMNS);
export function toCsv(input) {
    return csvLines(RESULT_KEYS.map((k) => RESULT_COLUMNS[k][0]), input.rows.map((r) => RESULT_KEYS.map((k) => r[k])));
}
// ---------------------------------------------------------------------------------------------------
// JSON
export function toJsonDocument(input) {
    return {
        format: 'carbonbench-results',
        version: 1,
        generated_at: input.generatedAt,
        tool_version: input.toolVersion,
        db: input.db,
        columns: 'the results view of docs/database.md; units in the names; null = not measured',
        simulated_note: 'simulated: true marks rows of the sim and table engines: not real measurements',
        experiments_total: input.rows.length,
        experiments_simulated: input.rows.filter((r) => r.simulated).length,
        runs: input.runs.map((r) => ({
            id: r.id,
            status: r.status,
            started_at: r.startedAt,
            ended_at: r.endedAt,
            hardware: r.hardware,
            host: r.host,
            gpu_names: r.gpuNames,
            driver_version: r.driverVersion,
            tool_version: r.toolVersion,
            seed: r.seed,
        })),
        experiments: input.rows.map((r) => Object.fromEntries(RESULT_KEYS.map((k) => [RESULT_COLUMNS[k][0], r[k]]))),
    };
}
export function toJson(input) {
    return `${JSON.stringify(toJsonDocument(input), null, 2)}\n`;
}
// ---------------------------------------------------------------------------------------------------
// CodeCarbon emissions.csv
/**
 * CodeCarbon's emissions.csv columns (EmissionsData, codecarbon 2.x, the set found in published
 * emissions.csv files; 3.x adds utilization, water and wue columns, left out here). Units as CodeCarbon
 * writes them: duration s, emissions kgCO2e, emissions_rate kgCO2e/s, power W, energy kWh.
 *
 * Filled: timestamp (window end, UTC), project_name, run_id (`experiment-<id>`: one measurement window),
 * experiment_id (`run-<id>`: the carbonbench run), duration (window_s), emissions (operational only:
 * energy × grid intensity; CodeCarbon has no embodied share, so SCI's M is not in it), emissions_rate,
 * gpu_power (mean over the window), gpu_energy and energy_consumed (the GPU board energy: carbonbench's
 * boundary), country_name and country_iso_code (from the grid region, when it names a country), region
 * (the grid region id), cloud_provider, cloud_region and on_cloud (`Y` for the GCP-* regions only),
 * gpu_count (GPUs used), gpu_model (`<n> x <GPU name>` from the run), tracking_mode (`machine`: the
 * board counter sees every process on the GPU), pue (1: no PUE applied).
 * Empty (not measured or not known by carbonbench): cpu_power, ram_power, cpu_energy, ram_energy, os,
 * python_version, codecarbon_version, cpu_count, cpu_model, longitude, latitude, ram_total_size, and
 * on_cloud outside the GCP regions.
 */
export const CODECARBON_COLUMNS = [
    'timestamp',
    'project_name',
    'run_id',
    'experiment_id',
    'duration',
    'emissions',
    'emissions_rate',
    'cpu_power',
    'gpu_power',
    'ram_power',
    'cpu_energy',
    'gpu_energy',
    'ram_energy',
    'energy_consumed',
    'country_name',
    'country_iso_code',
    'region',
    'cloud_provider',
    'cloud_region',
    'os',
    'python_version',
    'codecarbon_version',
    'cpu_count',
    'cpu_model',
    'gpu_count',
    'gpu_model',
    'longitude',
    'latitude',
    'ram_total_size',
    'tracking_mode',
    'on_cloud',
    'pue',
];
/** ISO 3166 alpha-2 → alpha-3 for the countries of data/grid-regions.csv (CodeCarbon writes alpha-3). */
const ISO3 = {
    FR: 'FRA', DE: 'DEU', GB: 'GBR', IE: 'IRL', NL: 'NLD', BE: 'BEL', CH: 'CHE', AT: 'AUT', IT: 'ITA', ES: 'ESP',
    PT: 'PRT', SE: 'SWE', NO: 'NOR', FI: 'FIN', DK: 'DNK', IS: 'ISL', PL: 'POL', CZ: 'CZE', US: 'USA', CA: 'CAN',
    MX: 'MEX', BR: 'BRA', IN: 'IND', CN: 'CHN', JP: 'JPN', KR: 'KOR', TW: 'TWN', SG: 'SGP', HK: 'HKG', ID: 'IDN',
    AU: 'AUS', NZ: 'NZL', ZA: 'ZAF', AE: 'ARE', SA: 'SAU',
};
/** Country (alpha-2) of the GCP regions in data/grid-regions.csv, by the GCP region's prefix. */
const GCP_COUNTRY = { us: 'US', europe: 'NL', northamerica: 'CA' };
/** Where a grid region id is: `FR`, `US-NE-ISNE` → US, `GCP-us-east4` → gcp us-east4 (US); `EU`, `WORLD` → none. */
export function placeOfRegion(region) {
    const none = { countryIso2: null, countryIso3: null, countryName: null, cloudProvider: null, cloudRegion: null };
    if (region === null)
        return none;
    let iso2 = null;
    let cloudProvider = null;
    let cloudRegion = null;
    const gcp = /^GCP-(([a-z]+)-.+)$/.exec(region);
    if (gcp) {
        cloudProvider = 'gcp';
        cloudRegion = gcp[1];
        iso2 = GCP_COUNTRY[gcp[2]] ?? null;
    }
    else {
        const head = region.split('-')[0].toUpperCase();
        iso2 = ISO3[head] !== undefined ? head : null;
    }
    const iso3 = iso2 === null ? null : (ISO3[iso2] ?? null);
    let name = null;
    if (iso2 !== null) {
        try {
            name = new Intl.DisplayNames(['en'], { type: 'region' }).of(iso2) ?? null;
        }
        catch {
            name = null;
        }
    }
    return { countryIso2: iso2, countryIso3: iso3, countryName: name, cloudProvider, cloudRegion };
}
const isoSeconds = (epochS) => new Date(Math.round(epochS * 1000)).toISOString().replace(/\.\d{3}Z$/, 'Z');
function runGpuName(runs, runId) {
    const names = runs.get(runId)?.gpuNames;
    return names && names.length > 0 ? names[0] : null;
}
export function codeCarbonRecords(input) {
    const runs = new Map(input.runs.map((r) => [r.id, r]));
    return input.rows.filter(hasEmissions).map((r) => {
        const energyKwh = r.energyJ / J_PER_KWH;
        const emissionsKg = r.intensityGKwh === null ? null : (energyKwh * r.intensityGKwh) / 1000;
        const place = placeOfRegion(r.region);
        const edge = input.windows.get(r.id);
        const timestamp = edge?.endTS != null ? isoSeconds(edge.endTS) : (r.endedAt ?? r.startedAt);
        const gpuName = runGpuName(runs, r.runId);
        return {
            timestamp,
            project_name: r.simulated ? 'carbonbench (simulated)' : 'carbonbench',
            run_id: `experiment-${r.id}`,
            experiment_id: `run-${r.runId}`,
            duration: r.windowS,
            emissions: emissionsKg,
            emissions_rate: emissionsKg === null ? null : emissionsKg / r.windowS,
            cpu_power: null,
            gpu_power: r.avgPowerW,
            ram_power: null,
            cpu_energy: null,
            gpu_energy: energyKwh,
            ram_energy: null,
            energy_consumed: energyKwh,
            country_name: place.countryName,
            country_iso_code: place.countryIso3,
            region: r.region,
            cloud_provider: place.cloudProvider,
            cloud_region: place.cloudRegion,
            os: null,
            python_version: null,
            codecarbon_version: null,
            cpu_count: null,
            cpu_model: null,
            gpu_count: r.gpusUsed,
            gpu_model: gpuName === null ? null : `${r.gpusUsed ?? 1} x ${gpuName}`,
            longitude: null,
            latitude: null,
            ram_total_size: null,
            tracking_mode: 'machine',
            on_cloud: place.cloudProvider !== null ? 'Y' : null,
            pue: 1,
        };
    });
}
export function toCodeCarbonCsv(input) {
    return csvLines(CODECARBON_COLUMNS, codeCarbonRecords(input).map((rec) => CODECARBON_COLUMNS.map((c) => rec[c])));
}
const meta = (unit, description, time, component) => ({
    unit,
    description,
    'aggregation-method': { time, component },
});
/** Component name of an experiment in the tree; simulated ones say so. */
export const impactComponentName = (r) => `experiment-${r.id}${r.simulated ? ' (simulated)' : ''}`;
export function impactManifest(input) {
    const rows = input.rows.filter(hasEmissions);
    const simulated = rows.filter((r) => r.simulated).length;
    const byModel = new Map();
    for (const r of rows) {
        const list = byModel.get(r.model);
        if (list)
            list.push(r);
        else
            byModel.set(r.model, [r]);
    }
    const children = {};
    for (const [model, list] of byModel) {
        const experiments = {};
        for (const r of list) {
            const edge = input.windows.get(r.id);
            const timestamp = edge?.startTS != null ? new Date(Math.round(edge.startTS * 1000)).toISOString() : r.startedAt;
            const observation = {
                timestamp,
                duration: r.windowS,
                energy: r.energyJ / J_PER_KWH,
                'grid/carbon-intensity': r.intensityGKwh,
                'carbon-embodied': r.embodiedG,
                tokens: r.tokensOut,
                'carbonbench/experiment-id': r.id,
                'carbonbench/run-id': r.runId,
                'carbonbench/engine': r.engine,
                'carbonbench/quant': r.quant,
                'carbonbench/batch': r.batch,
                'carbonbench/input-len': r.inputLen,
                'carbonbench/output-len': r.outputLen,
                'carbonbench/region': r.region,
                'carbonbench/energy-source': r.energySource,
                'carbonbench/simulated': r.simulated,
                'carbonbench/sci-ug-per-token': r.sciUg,
            };
            experiments[impactComponentName(r)] = { pipeline: { compute: ['operational-carbon', 'sum-carbon', 'sci'] }, inputs: [observation] };
        }
        children[model] = { children: experiments };
    }
    return {
        name: `carbonbench results (${input.db})`,
        description: `Software Carbon Intensity per generated token (ISO/IEC 21031) of ${rows.length} LLM inference experiments ` +
            `measured by carbonbench ${input.toolVersion}, exported ${input.generatedAt}. One component per experiment; its ` +
            'observation is the measurement window: GPU board energy (kWh), grid intensity (gCO2e/kWh), the embodied ' +
            'carbon attributed to the window (gCO2e) and the output tokens generated in it (the functional unit). ' +
            'carbonbench/sci-ug-per-token is the SCI carbonbench stored, in µgCO2e/token: the computed sci × 1e6. ' +
            (simulated > 0
                ? `${simulated} experiment(s) are SIMULATED (sim or table engine, not real measurements): named "(simulated)" and carbonbench/simulated: true.`
                : 'No simulated experiments.'),
        tags: { kind: 'llm-inference', complexity: 'simple', category: 'on-premise' },
        initialize: {
            plugins: {
                'operational-carbon': {
                    method: 'Multiply',
                    path: 'builtin',
                    config: { 'input-parameters': ['energy', 'grid/carbon-intensity'], 'output-parameter': 'carbon-operational' },
                    'parameter-metadata': {
                        inputs: {
                            energy: meta('kWh', 'GPU board energy over the measurement window', 'sum', 'sum'),
                            'grid/carbon-intensity': meta('gCO2e/kWh', 'grid carbon intensity', 'avg', 'avg'),
                        },
                        outputs: { 'carbon-operational': meta('gCO2e', 'operational carbon: energy × intensity', 'sum', 'sum') },
                    },
                },
                'sum-carbon': {
                    method: 'Sum',
                    path: 'builtin',
                    config: { 'input-parameters': ['carbon-operational', 'carbon-embodied'], 'output-parameter': 'carbon' },
                    'parameter-metadata': {
                        inputs: {
                            'carbon-operational': meta('gCO2e', 'operational carbon', 'sum', 'sum'),
                            'carbon-embodied': meta('gCO2e', 'embodied carbon attributed to the window: TE × window/lifetime × GPUs used/total', 'sum', 'sum'),
                        },
                        outputs: { carbon: meta('gCO2e', 'operational + embodied carbon', 'sum', 'sum') },
                    },
                },
                sci: {
                    method: 'Sci',
                    path: 'builtin',
                    config: { 'functional-unit': 'tokens' },
                    'parameter-metadata': {
                        inputs: { tokens: meta('tokens', 'output tokens generated inside the measurement window', 'sum', 'sum') },
                        outputs: { sci: meta('gCO2e/token', 'software carbon intensity per generated token', 'avg', 'avg') },
                    },
                },
            },
        },
        tree: { children },
    };
}
export function toImpactYaml(input) {
    const header = '# Impact Framework manifest written by carbonbench (https://if.greensoftware.foundation/).\n' +
        '# Run it with: npx --package @grnsft/if if-run --manifest <this file>\n';
    return header + stringify(impactManifest(input), { lineWidth: 0 });
}
/** The export in `format`, as text. */
export function exportAs(format, input) {
    switch (format) {
        case 'csv':
            return toCsv(input);
        case 'json':
            return toJson(input);
        case 'codecarbon':
            return toCodeCarbonCsv(input);
        case 'impact':
            return toImpactYaml(input);
    }
}
// ---------------------------------------------------------------------------------------------------
// From a results database
/** Everything an export needs: every row of the view, the runs, the window edges. */
export async function exportInputFromDb(reader, now = new Date()) {
    const [rows, runs, windows] = await Promise.all([allRows(reader), reader.store.listRuns(), windowEdges(reader)]);
    return { rows, runs, windows, generatedAt: now.toISOString(), toolVersion: VERSION, db: basename(reader.location) };
}
//# sourceMappingURL=export.js.map