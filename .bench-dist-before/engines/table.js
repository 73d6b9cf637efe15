/**
 * The `table` engine and the tabular benchmark (DESIGN section 7): a CSV where each row is one config
 * as if it had been measured, so that search strategies can be compared offline on the same budget.
 *
 * ## The table
 *
 *   model,quant,batch,input_len,output_len,tok_s,power_w,bpb[,params]
 *
 * One row per config (duplicates are an error). Lines starting with `#` are comments (a generated table
 * says there where its numbers come from); other columns are allowed and ignored. A config absent from
 * the table fails as an out-of-memory would: a (model, quant) with no row at all dies while loading; a
 * (model, quant) with rows but not this (batch, input_len, output_len) fails at warm-up.
 *
 * ## Scoring a row (the pure evaluator, for search-bench)
 *
 *   J/token = power_w / tok_s
 *   SCI [µgCO2e/token] = (power_w × I / 3.6e6 + TE / lifetime_s × 1 / gpus_total) / tok_s × 1e6
 *
 * with I the grid intensity (gCO2e/kWh), TE the embodied gCO2e of the machine's GPUs: the SCI formula
 * of DESIGN section 6 (src/carbon/sci.ts) for one GPU in use, which does not depend on the window
 * length. `noise` σ multiplies tok_s and power_w by 1 + σ·z each (z a clipped standard normal drawn
 * from (seed, config, repetition), as the sim engine does): the same seed replays the same numbers and a
 * repeated config draws fresh noise, so the pipeline can measure its noise floor. BPB is never noisy
 * (it is cached per checkpoint in a real run).
 *
 * ## The engine (carbonbench run / measure with `engine: table`)
 *
 * It runs under the ordinary experiment protocol on the sim engine's virtual-clock machinery: the
 * simulated board (sim-telemetry.ts's SimDevice on the session's VirtualClock) draws the row's power_w
 * while serving, the load generator emits the row's tok_s on a 1-second segment grid as SimLoad does,
 * and the sim telemetry and energy meter measure it like any other simulated experiment. The board
 * (idle power, embodied carbon) is the session's simulated one. Engine options: `table` (path of the
 * CSV, required), `table_noise` (σ, default 0), `table_seed` (integer, default 0). The table has no
 * latencies: requests carry an end-to-end time (batch × output_len / tok_s) but no TTFT or ITL.
 */
import { readFileSync, statSync } from 'node:fs';
import { EPS_S, ceilK, completedBetween, segmentsOnGrid, sleepUntil, tokensOnGrid } from './segment-grid.js';
import { resolve } from 'node:path';
import { J_PER_KWH, SECONDS_PER_YEAR } from '../carbon/sci.js';
import { EngineError, InputError, describeValue } from '../errors.js';
import { VirtualClock } from '../runner/clock.js';
import { baselineBpbs, isFeasible } from '../search/space.js';
import { pointKey } from '../search/types.js';
import { parseCsv } from '../util/csv.js';
import { MAX_SIM_NOISE } from './sim.js';
import { BYTES_PER_TOKEN, LOADING_ACTIVITY, SERVER_START_BASE_S, SIM_QUANTS, noiseFactor, powerForActivity, serverStartS, weightBytes } from './sim-model.js';
import { simDevice } from './sim-telemetry.js';
export const TABLE_COLUMNS = ['model', 'quant', 'batch', 'input_len', 'output_len', 'tok_s', 'power_w', 'bpb'];
export const TABLE_OPTIONS = ['table', 'table_noise', 'table_seed'];
// ---------------------------------------------------------------------------------------------------
// Parsing
/** Parses a table; `source` names it in error messages. Throws InputError naming line, column, value and what is allowed. */
export function parseTable(text, source = 'table') {
    const comments = [];
    const lines = [];
    text.split(/\r?\n/).forEach((raw, i) => {
        const trimmed = raw.trim();
        if (trimmed === '')
            return;
        if (trimmed.startsWith('#')) {
            comments.push(trimmed.slice(1).trim());
            return;
        }
        lines.push({ n: i + 1, cells: (parseCsv(raw)[0] ?? []).map((c) => c.trim()) });
    });
    const header = lines.shift();
    if (!header)
        throw new InputError(`${source}: no header line; allowed: a CSV with columns ${TABLE_COLUMNS.join(',')} (optional params)`);
    const col = new Map(header.cells.map((h, i) => [h.toLowerCase(), i]));
    const missing = TABLE_COLUMNS.filter((c) => !col.has(c));
    if (missing.length > 0) {
        throw new InputError(`${source} line ${header.n}: missing column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}; allowed: a header with ${TABLE_COLUMNS.join(',')} (optional params, other columns ignored)`);
    }
    const rows = [];
    const byKey = new Map();
    const modelParams = {};
    for (const { n, cells } of lines) {
        const cell = (name) => cells[col.get(name)] ?? '';
        const text = (name) => {
            const v = cell(name);
            if (v === '')
                throw new InputError(`${source} line ${n}: column ${name} is empty; allowed: a non-empty value`);
            return v;
        };
        /** `kind`: 'int' (≥ 1), 'positive' (> 0) or 'nonneg' (≥ 0). */
        const num = (name, kind, allowed) => {
            const raw = cell(name);
            const v = Number(raw);
            const ok = kind === 'int' ? Number.isInteger(v) && v >= 1 : kind === 'positive' ? v > 0 : v >= 0;
            if (raw === '' || !Number.isFinite(v) || !ok) {
                throw new InputError(`${source} line ${n}: column ${name} ${describeValue(raw)} is invalid; allowed: ${allowed}`);
            }
            return v;
        };
        const point = {
            model: text('model'),
            quant: text('quant'),
            batch: num('batch', 'int', 'a positive integer'),
            inputLen: num('input_len', 'int', 'a positive integer'),
            outputLen: num('output_len', 'int', 'a positive integer'),
        };
        const row = {
            point,
            tokS: num('tok_s', 'positive', 'a number of tokens per second > 0'),
            powerW: num('power_w', 'positive', 'a number of watts > 0'),
            bpb: num('bpb', 'nonneg', 'a number of bits per byte >= 0'),
            params: col.has('params') && cell('params') !== '' ? num('params', 'positive', 'a parameter count > 0 (e.g. 7.6e9) or empty') : null,
            line: n,
        };
        const key = pointKey(point);
        const dup = byKey.get(key);
        if (dup)
            throw new InputError(`${source} line ${n}: the config ${describeConfig(point)} is already on line ${dup.line}; allowed: one row per config`);
        if (row.params !== null) {
            const known = modelParams[point.model];
            if (known !== undefined && known !== row.params)
                throw new InputError(`${source} line ${n}: params ${row.params} for ${point.model} differs from ${known} on an earlier line; allowed: one parameter count per model`);
            modelParams[point.model] = row.params;
        }
        rows.push(row);
        byKey.set(key, row);
    }
    if (rows.length === 0)
        throw new InputError(`${source}: no rows after the header; allowed: at least one config`);
    const distinct = (values) => [...new Set(values)];
    const space = {
        models: distinct(rows.map((r) => r.point.model)),
        quant: distinct(rows.map((r) => r.point.quant)),
        batch: distinct(rows.map((r) => r.point.batch)).sort((a, b) => a - b),
        inputLen: distinct(rows.map((r) => r.point.inputLen)),
        outputLen: distinct(rows.map((r) => r.point.outputLen)),
    };
    return { file: null, rows, byKey, space, modelParams, comments };
}
const cache = new Map();
/** Reads and parses a table file (cached by path, modification time and size). */
export function loadTable(file) {
    const path = resolve(file);
    let st;
    try {
        st = statSync(path);
    }
    catch (err) {
        throw new InputError(`table ${describeValue(file)} cannot be read (${err.code ?? err.message}); allowed: the path of a CSV with columns ${TABLE_COLUMNS.join(',')}`, { cause: err });
    }
    const hit = cache.get(path);
    if (hit && hit.mtimeMs === st.mtimeMs && hit.size === st.size)
        return hit.table;
    const table = { ...parseTable(readFileSync(path, 'utf8'), file), file: path };
    cache.set(path, { mtimeMs: st.mtimeMs, size: st.size, table });
    return table;
}
function describeConfig(p) {
    return `${p.model} ${p.quant} batch ${p.batch} input ${p.inputLen} output ${p.outputLen}`;
}
/** SCI in µgCO2e/token of a config that generates `tokS` at `powerW` on one GPU (file header). */
export function tableSciUg(tokS, powerW, carbon) {
    const operationalGPerS = (powerW * carbon.intensityGPerKwh) / J_PER_KWH;
    const embodiedGPerS = ((carbon.embodiedTotalKg * 1000) / (carbon.lifetimeYears * SECONDS_PER_YEAR)) * (1 / carbon.gpusTotal);
    return ((operationalGPerS + embodiedGPerS) / tokS) * 1e6;
}
export function tableEvaluator(table, opts) {
    const sigma = opts.noise ?? 0;
    if (!(sigma >= 0 && sigma <= MAX_SIM_NOISE))
        throw new InputError(`noise ${describeValue(sigma)} is invalid; allowed: a relative σ from 0 to ${MAX_SIM_NOISE}`);
    const seed = opts.seed ?? 0;
    const repetitions = new Map();
    return (point, phase = 'bench') => {
        const key = pointKey(point);
        const row = table.byKey.get(key);
        if (!row)
            return { point, status: 'failed', sciUg: null, bpb: null, tokS: null, phase };
        const rep = repetitions.get(key) ?? 0;
        repetitions.set(key, rep + 1);
        const noiseKey = `${seed}|${key}|${rep}`;
        const tokS = row.tokS * noiseFactor(`${noiseKey}|throughput`, sigma);
        const powerW = row.powerW * noiseFactor(`${noiseKey}|power`, sigma);
        return { point, status: 'ok', sciUg: tableSciUg(tokS, powerW, opts.carbon), bpb: row.bpb, tokS, phase };
    };
}
/**
 * The table's ground truth: noise-free SCI of every row and the feasible optimum. Each model's baseline
 * BPB is its highest-precision quant in the whole table (space.ts), i.e. what a search would know after
 * measuring everything.
 */
export function tableTruth(table, constraint, carbon) {
    const sciUg = new Map();
    const observations = table.rows.map((r) => {
        const sci = tableSciUg(r.tokS, r.powerW, carbon);
        sciUg.set(pointKey(r.point), sci);
        return { point: r.point, status: 'ok', sciUg: sci, bpb: r.bpb, tokS: r.tokS, phase: 'truth' };
    });
    const baselines = baselineBpbs(observations);
    const feasible = new Set();
    let optimum = null;
    observations.forEach((o, i) => {
        if (!isFeasible(o, constraint, baselines))
            return;
        feasible.add(pointKey(o.point));
        if (optimum === null || o.sciUg < optimum.sciUg)
            optimum = { row: table.rows[i], sciUg: o.sciUg };
    });
    return { sciUg, feasible, optimum };
}
function tableOptions(config) {
    const o = config.engineOptions ?? {};
    return {
        file: typeof o.table === 'string' ? o.table : '',
        noise: typeof o.table_noise === 'number' ? o.table_noise : 0,
        seed: typeof o.table_seed === 'number' ? o.table_seed : 0,
    };
}
function requireVirtualClock(clock) {
    if (!(clock instanceof VirtualClock)) {
        throw new EngineError('the table engine needs a VirtualClock (src/runner/clock.ts), but ctx.clock is not one: its rows are answered in simulated time, never slept for real');
    }
    return clock;
}
const MIB = 1024 * 1024;
/** Simulated load time: the sim model's (20 s + 2 s per GB of weights) when params and quant allow, else 20 s. */
function loadSeconds(params, quant) {
    return params && SIM_QUANTS[quant] ? serverStartS(params, quant) : SERVER_START_BASE_S;
}
function estimatedWeightMib(params, quant) {
    return params && SIM_QUANTS[quant] ? weightBytes(params, quant) / MIB : 0;
}
function oomTail(config, what, table) {
    return [
        `[table] ${config.model.id} (${config.quant}) from ${table.file ?? 'table'}`,
        `torch.OutOfMemoryError: CUDA out of memory. ${what} (simulated: the table has no row for this config)`,
    ].join('\n');
}
export const tableEngine = {
    name: 'table',
    simulated: true,
    validate(config) {
        const o = config.engineOptions ?? {};
        for (const key of Object.keys(o)) {
            if (key.startsWith('table') && !TABLE_OPTIONS.includes(key)) {
                throw new InputError(`engine option ${key} is unknown to the table engine; allowed: ${TABLE_OPTIONS.join(', ')}`);
            }
        }
        if (typeof o.table !== 'string' || o.table === '') {
            throw new InputError(`engine option table ${describeValue(o.table)} is invalid; allowed: the path of a table CSV (columns ${TABLE_COLUMNS.join(',')}), e.g. engine_options: { table: bench/search/table-500.csv }`);
        }
        if (o.table_noise !== undefined && !(typeof o.table_noise === 'number' && o.table_noise >= 0 && o.table_noise <= MAX_SIM_NOISE)) {
            throw new InputError(`engine option table_noise ${describeValue(o.table_noise)} is invalid; allowed: a number from 0 to ${MAX_SIM_NOISE} (relative σ)`);
        }
        if (o.table_seed !== undefined && !(typeof o.table_seed === 'number' && Number.isInteger(o.table_seed))) {
            throw new InputError(`engine option table_seed ${describeValue(o.table_seed)} is invalid; allowed: an integer`);
        }
        const table = loadTable(o.table);
        if (!table.space.models.includes(config.model.id)) {
            throw new InputError(`model ${describeValue(config.model.id)} is not in the table ${o.table}; allowed: ${table.space.models.join(', ')}`);
        }
        if (!table.space.quant.includes(config.quant)) {
            throw new InputError(`quant ${describeValue(config.quant)} is not in the table ${o.table}; allowed: ${table.space.quant.join(', ')}`);
        }
        for (const [key, value] of [
            ['batch', config.batch],
            ['input_len', config.inputLen],
            ['output_len', config.outputLen],
        ]) {
            if (!Number.isInteger(value) || value <= 0)
                throw new InputError(`${key} ${describeValue(value)} is invalid; allowed: a positive integer`);
        }
    },
    serverKey(config) {
        const o = tableOptions(config);
        return JSON.stringify(['table', o.file === '' ? '' : resolve(o.file), config.model.id, config.quant]);
    },
    async start(config, ctx) {
        const clock = requireVirtualClock(ctx.clock);
        const opts = tableOptions(config);
        const table = loadTable(opts.file);
        const device = simDevice(clock, ctx.gpus[0] ?? 0);
        const hw = device.hardware;
        const params = config.model.params ?? table.modelParams[config.model.id] ?? null;
        const loadS = loadSeconds(params, config.quant);
        const key = tableEngine.serverKey(config);
        const rows = table.rows.filter((r) => r.point.model === config.model.id && r.point.quant === config.quant);
        const weightsMib = estimatedWeightMib(params, config.quant);
        const startedS = clock.now();
        ctx.log.info({ model: config.model.id, quant: config.quant, table: table.file, loadS }, 'table server loading');
        device.set({ label: 'loading', powerW: powerForActivity(hw, LOADING_ACTIVITY), utilPct: 0, memUsedMib: weightsMib });
        try {
            if (rows.length === 0) {
                // As the sim engine: about halfway through loading the allocation fails.
                await sleepUntil(clock, startedS + Math.min(loadS / 2, ctx.startTimeoutS), ctx.signal);
                throw new EngineError(`the table server for ${config.model.id} (${config.quant}) died while loading: CUDA out of memory`, {
                    exitCode: 1,
                    outputTail: oomTail(config, `loading ${config.model.id} (${config.quant} weights)`, table),
                    durationMs: (clock.now() - startedS) * 1000,
                });
            }
            if (loadS > ctx.startTimeoutS) {
                await sleepUntil(clock, startedS + ctx.startTimeoutS, ctx.signal);
                throw new EngineError(`the table server for ${config.model.id} (${config.quant}) was not ready within ${ctx.startTimeoutS} s (simulated load time ${loadS.toFixed(1)} s)`);
            }
            await sleepUntil(clock, startedS + loadS, ctx.signal);
        }
        catch (err) {
            device.set(device.idleState());
            throw err;
        }
        const idleLoaded = { label: 'idle', powerW: hw.idleW, utilPct: 0, memUsedMib: weightsMib };
        device.set(idleLoaded);
        ctx.log.info({ loadS }, 'table server ready');
        // A table server never dies on its own.
        const died = new Promise(() => { });
        let stopped = false;
        let current = null;
        const server = {
            key,
            baseUrl: null,
            pid: null,
            logFile: null,
            died,
            load(cfg, c) {
                if (requireVirtualClock(c.clock) !== clock)
                    throw new EngineError('the table server was started on another VirtualClock than this load uses');
                if (stopped)
                    throw new EngineError(`the table server ${key} was stopped`);
                if (tableEngine.serverKey(cfg) !== key)
                    throw new EngineError(`config for server ${tableEngine.serverKey(cfg)} given to table server ${key}`);
                void current?.stop();
                const row = table.byKey.get(pointKey({ model: cfg.model.id, quant: cfg.quant, batch: cfg.batch, inputLen: cfg.inputLen, outputLen: cfg.outputLen })) ?? null;
                current = new TableLoad({ config: cfg, row, table, device, clock, idleLoaded, signal: c.signal, serverKey: key, noise: opts.noise, seed: opts.seed, weightsMib });
                return current;
            },
            async bpb(cfg, text) {
                const row = rows[0];
                const bytes = Buffer.byteLength(text, 'utf8');
                const result = {
                    bpb: row.bpb,
                    bits: row.bpb * bytes,
                    bytes,
                    tokens: Math.round(bytes / BYTES_PER_TOKEN),
                    method: `table: bpb column of ${table.file ?? 'the table'} for ${cfg.model.id} ${cfg.quant} (line ${row.line}), not a measurement`,
                };
                return result;
            },
            async stop() {
                stopped = true;
                await current?.stop();
                current = null;
                device.set(device.idleState());
            },
        };
        return server;
    },
};
/**
 * The table engine's load generator: SimLoad's arithmetic (sim.ts) with the row's throughput and power.
 * From warmUp on, output tokens arrive continuously at tok_s, counted per 1-second segment on a grid
 * that starts at warmUp (each segment's tokens × 1 + σ·z); requests complete at a steady rate of
 * tok_s / output_len, each taking batch × output_len / tok_s.
 */
export class TableLoad {
    /** After the per-experiment noise; 0 for a missing row. */
    tokPerS;
    powerW;
    /** One request, start to end. */
    requestS;
    opts;
    noiseKey;
    originS = null;
    warmupEndS = null;
    stoppedS = null;
    failureError = null;
    cum = [0];
    records = [];
    successEnds = [];
    constructor(opts) {
        this.opts = opts;
        const { config, device, row } = opts;
        const rep = device.nextRepetition(JSON.stringify([opts.serverKey, config.batch, config.inputLen, config.outputLen, opts.seed]));
        this.noiseKey = `${opts.seed}|${opts.serverKey}|${config.batch}|${config.inputLen}|${config.outputLen}|${rep}`;
        this.tokPerS = row ? row.tokS * noiseFactor(`${this.noiseKey}|throughput`, opts.noise) : 0;
        this.powerW = row ? row.powerW * noiseFactor(`${this.noiseKey}|power`, opts.noise) : 0;
        this.requestS = row ? (config.batch * config.outputLen) / this.tokPerS : Infinity;
    }
    get failure() {
        return this.failureError;
    }
    edge(k) {
        return this.originS + k;
    }
    ceilK(tS) {
        return ceilK(this.originS, tS);
    }
    horizonS() {
        const now = this.opts.clock.now();
        return this.stoppedS === null ? now : Math.min(now, this.stoppedS);
    }
    segmentTokens(k) {
        while (this.cum.length <= k + 1) {
            const i = this.cum.length - 1;
            this.cum.push(this.cum[i] + this.tokPerS * noiseFactor(`${this.noiseKey}|tokens|${i}`, this.opts.noise));
        }
        return Math.round(this.cum[k + 1]) - Math.round(this.cum[k]);
    }
    requireStarted(what) {
        if (this.originS === null)
            throw new EngineError(`table load: ${what} before warmUp`);
        if (this.failureError)
            throw this.failureError;
    }
    async warmUp(opts) {
        if (this.originS !== null)
            throw new EngineError('table load: warmUp called twice');
        const { clock, device, config, row, table } = this.opts;
        if (!row) {
            this.failureError = new EngineError(`CUDA out of memory at batch ${config.batch} (input ${config.inputLen}, output ${config.outputLen}): the table has no row for this config (simulated)`, {
                outputTail: oomTail(config, `the KV cache for ${config.batch} × ${config.inputLen + config.outputLen} tokens does not fit`, table),
            });
            throw this.failureError;
        }
        this.originS = clock.now();
        device.set({ label: 'serving', powerW: this.powerW, utilPct: 100, memUsedMib: this.opts.weightsMib });
        const needS = Math.max(opts.minS, (opts.minRequests * this.requestS) / config.batch);
        await sleepUntil(clock, this.edge(Math.max(1, Math.ceil(needS - EPS_S))), this.opts.signal);
        this.warmupEndS = this.edge(this.ceilK(clock.now()));
    }
    async openWindow() {
        this.requireStarted('openWindow');
        const fromS = this.edge(this.ceilK(this.opts.clock.now()));
        await sleepUntil(this.opts.clock, fromS, this.opts.signal);
        return fromS;
    }
    async closeWindow() {
        this.requireStarted('closeWindow');
        const toS = this.edge(this.ceilK(this.opts.clock.now()));
        await sleepUntil(this.opts.clock, toS, this.opts.signal);
        return toS;
    }
    /** Successful request k ends at origin + (k + 1) × output_len / tok_s. */
    materialize() {
        if (this.originS === null)
            return;
        const horizon = this.horizonS();
        const { inputLen, outputLen } = this.opts.config;
        const intervalS = outputLen / this.tokPerS;
        for (let k = this.successEnds.length;; k++) {
            const endS = this.originS + (k + 1) * intervalS;
            if (endS > horizon + EPS_S)
                break;
            const startS = Math.max(this.originS, endS - this.requestS);
            this.records.push({
                startS,
                endS,
                success: true,
                error: null,
                promptTokens: inputLen,
                outputTokens: outputLen,
                ttftMs: null,
                itlMs: [],
                e2eMs: (endS - startS) * 1000,
                warmup: this.warmupEndS === null || startS < this.warmupEndS,
            });
            this.successEnds.push(endS);
        }
    }
    tokensBetween(fromS, toS) {
        if (this.originS === null)
            return 0;
        return tokensOnGrid(this.originS, this.horizonS(), fromS, toS, (k) => this.segmentTokens(k));
    }
    requestsCompletedBetween(fromS, toS) {
        this.materialize();
        return completedBetween(this.successEnds, fromS, toS);
    }
    segments(fromS, toS) {
        if (this.originS === null)
            return [];
        return segmentsOnGrid(this.originS, this.horizonS(), fromS, toS, (k) => this.segmentTokens(k));
    }
    requests() {
        this.materialize();
        return [...this.records];
    }
    async stop() {
        if (this.originS === null || this.stoppedS !== null)
            return;
        this.materialize();
        this.stoppedS = this.opts.clock.now();
        this.opts.device.set(this.opts.idleLoaded);
    }
}
//# sourceMappingURL=table.js.map