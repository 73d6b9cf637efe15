/**
 * Read-only SQL for the analysis commands (top, leaderboard, pareto, fit, export), over the documented
 * `results` view (docs/database.md). Every query of src/analysis lives in this file.
 *
 * Why a second, read-only connection instead of the Store interface: `Store.listExperiments` returns
 * whole ExperimentRecords (config and provenance JSON parsed), about 4 s for 100,000 rows, and the
 * analysis commands must answer in under 200 ms at that size. So filtering, ordering, LIMIT and
 * per-group bests run in SQL here, and only the few columns that a command needs come back. The Store
 * is still what opens and validates the file (missing file, foreign database, schema version: the same
 * messages and exit codes as every other command) and what reads single experiments and runs.
 * When the Store grows a read-only query method (the PostgreSQL backend will need one too), this file's
 * SQL moves behind it unchanged.
 *
 * Scans that read only a few columns of every selected row (Pareto metrics, per-group minima and
 * counts, medians) go to the `experiments` table itself, whose columns the `results` view passes
 * through unchanged (every experiment has its run: run_id is a NOT NULL foreign key): an index on those
 * columns then answers them alone (a covering index), which it cannot through the view's join with
 * `runs`. Whole rows come from the view. The index this file is written for:
 *
 *   CREATE INDEX experiments_scored ON experiments
 *     (status, sci_ug, simulated, phase, bpb, tok_s, model, quant, engine, batch);
 *
 * (status, sci_ug) first: `top` reads the greenest rows in order and stops, and `sci_ug IN (…)` seeks.
 * Without it every query here is a scan of the whole table, which is what the row width decides.
 *
 * Portable SQL, as migrations.ts asks where it costs nothing: the `results` view, GROUP BY, CASE, IN,
 * LIMIT; no JSON functions (config_json is parsed in TypeScript for the few rows that need it), no
 * SQLite-only bare-column aggregates. No window functions either: they sort the whole selection first,
 * which at 100,000 rows costs more than the plain scans used here (bench/RESULTS.md). Identifiers in SQL text come from constant maps in this file, never from flags;
 * values are bound.
 */
import Database from 'better-sqlite3';
import { StoreError } from '../errors.js';
import { openStore, sqliteDataPath, } from '../store/index.js';
/** The `results` view's columns in its documented order (the CSV and JSON exports use this order). */
export const RESULT_COLUMNS = {
    id: ['id', 'int'],
    runId: ['run_id', 'int'],
    phase: ['phase', 'text'],
    status: ['status', 'text'],
    engine: ['engine', 'text'],
    model: ['model', 'text'],
    params: ['params', 'real'],
    quant: ['quant', 'text'],
    batch: ['batch', 'int'],
    inputLen: ['input_len', 'int'],
    outputLen: ['output_len', 'int'],
    windowS: ['window_s', 'real'],
    requests: ['requests', 'int'],
    tokensOut: ['tokens_out', 'int'],
    tokS: ['tok_s', 'real'],
    ttftP50Ms: ['ttft_p50_ms', 'real'],
    ttftP99Ms: ['ttft_p99_ms', 'real'],
    itlP50Ms: ['itl_p50_ms', 'real'],
    itlP99Ms: ['itl_p99_ms', 'real'],
    e2eP50Ms: ['e2e_p50_ms', 'real'],
    e2eP99Ms: ['e2e_p99_ms', 'real'],
    energyJ: ['energy_j', 'real'],
    energySource: ['energy_source', 'text'],
    jPerToken: ['j_per_token', 'real'],
    energyCiRel: ['energy_ci_rel', 'real'],
    avgPowerW: ['avg_power_w', 'real'],
    peakPowerW: ['peak_power_w', 'real'],
    startTempC: ['start_temp_c', 'real'],
    maxTempC: ['max_temp_c', 'real'],
    throttled: ['throttled', 'bool'],
    sciUg: ['sci_ug', 'real'],
    sciOpUg: ['sci_op_ug', 'real'],
    sciEmbUg: ['sci_emb_ug', 'real'],
    bpb: ['bpb', 'real'],
    region: ['region', 'text'],
    intensityGKwh: ['intensity_g_kwh', 'real'],
    embodiedG: ['embodied_g', 'real'],
    hardwareId: ['hardware_id', 'text'],
    hardwareFallback: ['hardware_fallback', 'bool'],
    gpusUsed: ['gpus_used', 'int'],
    simulated: ['simulated', 'bool'],
    error: ['error', 'text'],
    startedAt: ['started_at', 'text'],
    endedAt: ['ended_at', 'text'],
    host: ['host', 'text'],
    runStatus: ['run_status', 'text'],
};
const RESULT_KEYS = Object.keys(RESULT_COLUMNS);
const RESULT_SELECT = RESULT_KEYS.map((k) => RESULT_COLUMNS[k][0]).join(', ');
function fromDb(kind, value) {
    if (value === null || value === undefined)
        return null;
    if (kind === 'bool')
        return value === 1;
    if (kind === 'json')
        return JSON.parse(String(value));
    return value;
}
export function toResultRow(row) {
    const out = {};
    for (const key of RESULT_KEYS) {
        const [column, kind] = RESULT_COLUMNS[key];
        out[key] = fromDb(kind, row[column]);
    }
    // Filled from the complete column map with the kinds it declares.
    return out;
}
/** The SQL condition of a selection, on the `results` view's columns. */
export function selectionWhere(sel = {}) {
    const parts = ["status = 'ok'", 'sci_ug IS NOT NULL'];
    if (sel.includeSimulated !== true)
        parts.push('simulated = 0');
    if (sel.includeManual !== true)
        parts.push("(phase IS NULL OR phase <> 'manual')");
    return parts.join(' AND ');
}
/** The same selection for rows already in memory (the report): must agree with selectionWhere. */
export function isSelected(row, sel = {}) {
    if (row.status !== 'ok' || row.sciUg === null || !Number.isFinite(row.sciUg))
        return false;
    if (sel.includeSimulated !== true && row.simulated)
        return false;
    if (sel.includeManual !== true && row.phase === 'manual')
        return false;
    return true;
}
/**
 * Opens `dbPath` for analysis: the Store validates it (exists, is a carbonbench database, schema
 * version) and a second read-only connection runs the queries. Nothing is ever written. The queries of
 * one reader share one read transaction, so a command that asks several questions (top: the rows, then
 * whether any has a BPB) sees one snapshot even while a run is writing (WAL readers never block it).
 */
export async function openResultsReader(dbPath) {
    const store = await openStore(dbPath, { readonly: true });
    let db = null;
    try {
        db = new Database(sqliteDataPath(store), { readonly: true, fileMustExist: true });
        db.exec('BEGIN');
    }
    catch (error) {
        db?.close();
        await store.close();
        throw new StoreError(`cannot open ${store.location} for reading: ${error.message}`, { cause: error });
    }
    const conn = db;
    let closed = false;
    return {
        location: store.location,
        store,
        async rows(sql, params = []) {
            if (closed)
                throw new StoreError(`query on ${store.location} after close()`);
            try {
                return conn.prepare(sql).all(...params);
            }
            catch (error) {
                throw new StoreError(`query on ${store.location} failed: ${error.message}`, { cause: error });
            }
        },
        async rawRows(sql, params = []) {
            if (closed)
                throw new StoreError(`query on ${store.location} after close()`);
            try {
                return conn.prepare(sql).raw(true).all(...params);
            }
            catch (error) {
                throw new StoreError(`query on ${store.location} failed: ${error.message}`, { cause: error });
            }
        },
        async close() {
            if (closed)
                return;
            closed = true;
            if (conn.inTransaction)
                conn.exec('COMMIT');
            conn.close();
            await store.close();
        },
    };
}
// ---------------------------------------------------------------------------------------------------
// Queries
/** Selected rows ordered by SCI (then id), at most `limit`. */
export async function selectTop(reader, sel, limit) {
    const rows = await reader.rows(`SELECT ${RESULT_SELECT} FROM results WHERE ${selectionWhere(sel)} ORDER BY sci_ug, id LIMIT ?`, [limit]);
    return rows.map(toResultRow);
}
/** Selected rows with SCI ≤ maxSciUg, ordered by SCI then id. */
export async function selectUpToSci(reader, sel, maxSciUg) {
    const rows = await reader.rows(`SELECT ${RESULT_SELECT} FROM results WHERE ${selectionWhere(sel)} AND sci_ug <= ? ORDER BY sci_ug, id`, [maxSciUg]);
    return rows.map(toResultRow);
}
/** All selected rows, ordered by id (the report; exports of ok rows). */
export async function selectRows(reader, sel) {
    const rows = await reader.rows(`SELECT ${RESULT_SELECT} FROM results WHERE ${selectionWhere(sel)} ORDER BY id`);
    return rows.map(toResultRow);
}
/** Every row of the view, any status, ordered by id (the csv and json exports). */
export async function allRows(reader) {
    return (await reader.rows(`SELECT ${RESULT_SELECT} FROM results ORDER BY id`)).map(toResultRow);
}
/** Rows by id, ordered by id. */
export async function rowsByIds(reader, ids) {
    const out = [];
    // Bound parameters are limited (SQLite: 32766): ask in chunks.
    for (let i = 0; i < ids.length; i += 500) {
        const chunk = ids.slice(i, i + 500);
        const rows = await reader.rows(`SELECT ${RESULT_SELECT} FROM results WHERE id IN (${chunk.map(() => '?').join(', ')})`, chunk);
        out.push(...rows.map(toResultRow));
    }
    return out.sort((a, b) => a.id - b.id);
}
/**
 * The four metrics of the Pareto front for every selected row, column-wise (NaN = NULL): no other
 * column is read and no object is made per row (100,000 rows).
 */
export async function selectFrontColumns(reader, sel) {
    return toColumns(await reader.rawRows(`SELECT id, sci_ug, bpb, tok_s FROM experiments WHERE ${selectionWhere(sel)}`));
}
function toColumns(rows) {
    const n = rows.length;
    const out = { id: new Float64Array(n), sciUg: new Float64Array(n), bpb: new Float64Array(n), tokS: new Float64Array(n) };
    const num = (v) => (typeof v === 'number' ? v : NaN);
    for (let i = 0; i < n; i++) {
        const r = rows[i];
        out.id[i] = r[0];
        out.sciUg[i] = num(r[1]);
        out.bpb[i] = num(r[2]);
        out.tokS[i] = num(r[3]);
    }
    return out;
}
export async function selectBpbGroups(reader, sel) {
    const rows = await reader.rawRows(`SELECT bpb, COUNT(*), SUM(CASE WHEN tok_s IS NOT NULL THEN 1 ELSE 0 END), MIN(CASE WHEN tok_s IS NOT NULL THEN sci_ug END)
     FROM experiments WHERE ${selectionWhere(sel)} GROUP BY bpb`);
    return rows.map((r) => ({ bpb: r[0], count: Number(r[1]), comparable: Number(r[2]), minSciUg: r[3] }));
}
/** The anchors of BPB groups (with a BPB and a comparable row), through `sci_ug IN (…)`. */
export async function selectGroupAnchors(reader, sel, groups) {
    const minOf = new Map();
    for (const g of groups)
        if (g.bpb !== null && g.minSciUg !== null)
            minOf.set(g.bpb, g.minSciUg);
    const anchors = new Map();
    const values = [...new Set(minOf.values())];
    for (let i = 0; i < values.length; i += 500) {
        const chunk = values.slice(i, i + 500);
        const rows = await reader.rawRows(`SELECT bpb, sci_ug, tok_s FROM experiments WHERE ${selectionWhere(sel)} AND bpb IS NOT NULL AND tok_s IS NOT NULL
       AND sci_ug IN (${chunk.map(() => '?').join(', ')})`, chunk);
        for (const [bpb, sciUg, tokS] of rows) {
            if (minOf.get(bpb) !== sciUg)
                continue; // another group's minimum
            const a = anchors.get(bpb);
            if (!a || tokS > a.tokS)
                anchors.set(bpb, { bpb, sciUg, tokS });
        }
    }
    return [...anchors.values()].sort((a, b) => a.bpb - b.bpb);
}
/**
 * The selected rows with a BPB that are at least as fast as their group's anchor, column-wise. The
 * anchor's tok/s is found by a CASE nested as a binary search over the sorted BPB values, so each row
 * costs about log₂(groups) comparisons; a BPB that is no anchor's keeps the row (−1e308).
 */
export async function selectAtLeastAsFast(reader, sel, anchors) {
    const params = [];
    // Parameters are pushed in the order their `?` appear in the text (pre-order).
    const search = (lo, hi) => {
        if (lo === hi) {
            params.push(anchors[lo].bpb, anchors[lo].tokS);
            return 'CASE WHEN bpb = ? THEN ? ELSE -1e308 END';
        }
        const mid = (lo + hi + 1) >> 1;
        params.push(anchors[mid].bpb);
        const left = search(lo, mid - 1);
        return `CASE WHEN bpb < ? THEN ${left} ELSE ${search(mid, hi)} END`;
    };
    const threshold = anchors.length === 0 ? '-1e308' : search(0, anchors.length - 1);
    const rows = await reader.rawRows(`SELECT id, sci_ug, bpb, tok_s FROM experiments
     WHERE ${selectionWhere(sel)} AND bpb IS NOT NULL AND tok_s IS NOT NULL AND tok_s >= (${threshold})`, params);
    return toColumns(rows);
}
/**
 * Whether results.db has an index that answers the analysis scans alone (query.ts header): leading
 * (status, sci_ug) and holding the other columns they read. A query plan choice only: both plans give
 * the same answer. (SQLite's index list; a PostgreSQL store would ask its catalog.)
 */
export async function hasCoveringIndex(reader) {
    const needed = ['simulated', 'phase', 'bpb', 'tok_s'];
    const indexes = await reader.rows(`SELECT name FROM pragma_index_list('experiments')`);
    for (const { name } of indexes) {
        const cols = (await reader.rows(`SELECT name FROM pragma_index_info(?) ORDER BY seqno`, [String(name)])).map((c) => String(c.name));
        if (cols[0] === 'status' && cols[1] === 'sci_ug' && needed.every((c) => cols.includes(c)))
            return true;
    }
    return false;
}
/** Whether any selected row has a BPB and a throughput (decides the Pareto objectives). */
export async function anyWithBpb(reader, sel) {
    const rows = await reader.rows(`SELECT id FROM experiments WHERE ${selectionWhere(sel)} AND bpb IS NOT NULL AND tok_s IS NOT NULL LIMIT 1`);
    return rows.length > 0;
}
export async function excludedCounts(reader) {
    const [row] = await reader.rows(`SELECT COUNT(*) AS scored,
            SUM(CASE WHEN simulated = 1 THEN 1 ELSE 0 END) AS simulated,
            SUM(CASE WHEN phase = 'manual' THEN 1 ELSE 0 END) AS manual
     FROM experiments WHERE status = 'ok' AND sci_ug IS NOT NULL`);
    return { scored: Number(row?.scored ?? 0), simulated: Number(row?.simulated ?? 0), manual: Number(row?.manual ?? 0) };
}
/** Grouping keys of the leaderboards: the column of the `results` view each one reads. */
export const GROUP_COLUMNS = { model: 'model', quant: 'quant', engine: 'engine', batch: 'batch' };
/**
 * Per group: the best row (lowest SCI, then lowest id) and the number of rows, in two scans and no
 * sort of the whole selection: GROUP BY for each group's minimum, then the rows whose SCI is one of
 * those minima (a row of another group may share a minimum's value: the group is checked again here).
 * Window functions (ROW_NUMBER … OVER) would do it in one statement but sort every row first, several
 * times slower at 100,000 rows. With `medians`, a third scan reads (group, SCI) pairs and the medians
 * are taken in memory.
 */
export async function selectGroupBests(reader, sel, by, opts = {}) {
    const col = GROUP_COLUMNS[by];
    const where = selectionWhere(sel);
    const mins = await reader.rawRows(`SELECT ${col}, MIN(sci_ug), COUNT(*) FROM experiments WHERE ${where} GROUP BY ${col}`);
    if (mins.length === 0)
        return [];
    const groups = new Map(mins.map((m) => [m[0], { minSciUg: m[1], count: Number(m[2]), best: null, median: NaN }]));
    const values = [...new Set(mins.map((m) => m[1]))];
    for (let i = 0; i < values.length; i += 500) {
        const chunk = values.slice(i, i + 500);
        const rows = await reader.rows(`SELECT ${RESULT_SELECT} FROM results WHERE ${where} AND sci_ug IN (${chunk.map(() => '?').join(', ')}) ORDER BY id`, chunk);
        for (const row of rows.map(toResultRow)) {
            const g = groups.get(row[by]);
            if (g !== undefined && g.best === null && row.sciUg === g.minSciUg)
                g.best = row;
        }
    }
    if (opts.medians === true) {
        const lists = new Map();
        for (const [key, sci] of (await reader.rawRows(`SELECT ${col}, sci_ug FROM experiments WHERE ${where}`))) {
            const list = lists.get(key);
            if (list)
                list.push(sci);
            else
                lists.set(key, [sci]);
        }
        for (const [key, list] of lists) {
            const sorted = Float64Array.from(list).sort();
            const mid = sorted.length >> 1;
            groups.get(key).median = sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
        }
    }
    return [...groups.entries()].map(([key, g]) => ({ key, best: g.best, count: g.count, medianSciUg: g.median }));
}
/** Per model: its best selected experiment (lowest SCI, then lowest id) and its config's family. */
export async function selectModelBests(reader, sel) {
    const groups = await selectGroupBests(reader, sel, 'model');
    const ids = groups.map((g) => g.best.id);
    const configs = new Map();
    for (let i = 0; i < ids.length; i += 500) {
        const chunk = ids.slice(i, i + 500);
        const rows = await reader.rows(`SELECT id, config_json FROM experiments WHERE id IN (${chunk.map(() => '?').join(', ')})`, chunk);
        for (const r of rows)
            configs.set(r.id, String(r.config_json));
    }
    return groups.map((g) => ({ row: g.best, configFamily: familyFromConfig(configs.get(g.best.id)), count: g.count }));
}
function familyFromConfig(text) {
    if (text === undefined)
        return null;
    try {
        const config = JSON.parse(text);
        return typeof config.family === 'string' && config.family.trim() !== '' ? config.family : null;
    }
    catch {
        return null;
    }
}
/** Measurement window edges (epoch seconds, telemetry clock) of finished experiments, by id. */
export async function windowEdges(reader) {
    const rows = await reader.rows(`SELECT id, window_start_t_s, window_end_t_s FROM experiments WHERE status = 'ok'`);
    return new Map(rows.map((r) => [r.id, { startTS: r.window_start_t_s, endTS: r.window_end_t_s }]));
}
//# sourceMappingURL=query.js.map