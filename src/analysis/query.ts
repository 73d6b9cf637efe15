/**
 * Read-only SQL for the analysis commands (top, leaderboard, pareto, fit, export) and the report, over the
 * documented `results` view (docs/database.md). Every query of src/analysis lives in this file.
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
import type pg from 'pg';

import { StoreError } from '../errors.js';
import {
  EXPERIMENT_COLUMNS,
  openStore,
  sqliteDataPath,
  type Boundary,
  type ColumnMap,
  type EnergySource,
  type ExperimentRecord,
  type ExperimentStatus,
  type JsonObject,
  type Store,
} from '../store/index.js';
import { toPostgresParams } from '../store/pg-dialect.js';
import { convertValues, fromRow } from '../store/rows.js';
import { isPostgresUrl } from '../store/pg-url.js';
import { connectPg, toPgStoreError } from '../store/postgres.js';

export type SqlValue = string | number | null;
type SqlRow = Record<string, unknown>;

// ---------------------------------------------------------------------------------------------------
// Rows

/**
 * One row of the `results` view (docs/database.md), camelCase with units in names like
 * ExperimentRecord; the fields that both have carry the same names, so the pure functions of
 * src/analysis accept either.
 */
export interface ResultRow {
  id: number;
  runId: number;
  phase: string | null;
  status: ExperimentStatus;
  engine: string;
  model: string;
  params: number | null;
  quant: string | null;
  batch: number | null;
  inputLen: number | null;
  outputLen: number | null;
  windowS: number | null;
  requests: number | null;
  tokensOut: number | null;
  tokS: number | null;
  ttftP50Ms: number | null;
  ttftP99Ms: number | null;
  itlP50Ms: number | null;
  itlP99Ms: number | null;
  e2eP50Ms: number | null;
  e2eP99Ms: number | null;
  energyJ: number | null;
  energySource: EnergySource | null;
  jPerToken: number | null;
  energyCiRel: number | null;
  avgPowerW: number | null;
  peakPowerW: number | null;
  startTempC: number | null;
  maxTempC: number | null;
  throttled: boolean | null;
  sciUg: number | null;
  sciOpUg: number | null;
  sciEmbUg: number | null;
  bpb: number | null;
  region: string | null;
  intensityGKwh: number | null;
  /** Issue 9 part 2: whose intensity (static or a time-resolved provider) and the static comparison. */
  intensityProvider: string | null;
  intensityZone: string | null;
  intensitySignal: string | null;
  intensityAt: string | null;
  intensityEstimated: boolean | null;
  intensityFallback: boolean | null;
  intensityStaticGKwh: number | null;
  sciStaticUg: number | null;
  embodiedG: number | null;
  hardwareId: string | null;
  hardwareFallback: boolean | null;
  gpusUsed: number | null;
  simulated: boolean;
  error: string | null;
  startedAt: string | null;
  endedAt: string | null;
  host: string | null;
  /** The shared study (`run --study`) and the Optuna trial that claimed the config; null for a plain run. */
  study: string | null;
  trialNumber: number | null;
  runStatus: string;
  /** Issue 9: what energyBoundaryJ covers; SCI used energyBoundaryJ (energyJ stays the GPU board's). */
  boundary: Boundary | null;
  energyBoundaryJ: number | null;
  energyCpuJ: number | null;
  energyDramJ: number | null;
  energyModuleJ: number | null;
}

/** The `results` view's columns in its documented order (the CSV and JSON exports use this order). */
export const RESULT_COLUMNS: ColumnMap<ResultRow> = {
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
  intensityProvider: ['intensity_provider', 'text'],
  intensityZone: ['intensity_zone', 'text'],
  intensitySignal: ['intensity_signal', 'text'],
  intensityAt: ['intensity_at', 'text'],
  intensityEstimated: ['intensity_estimated', 'bool'],
  intensityFallback: ['intensity_fallback', 'bool'],
  intensityStaticGKwh: ['intensity_static_g_kwh', 'real'],
  sciStaticUg: ['sci_static_ug', 'real'],
  embodiedG: ['embodied_g', 'real'],
  hardwareId: ['hardware_id', 'text'],
  hardwareFallback: ['hardware_fallback', 'bool'],
  gpusUsed: ['gpus_used', 'int'],
  simulated: ['simulated', 'bool'],
  error: ['error', 'text'],
  startedAt: ['started_at', 'text'],
  endedAt: ['ended_at', 'text'],
  host: ['host', 'text'],
  study: ['study', 'text'],
  trialNumber: ['trial_number', 'int'],
  runStatus: ['run_status', 'text'],
  boundary: ['boundary', 'text'],
  energyBoundaryJ: ['energy_boundary_j', 'real'],
  energyCpuJ: ['energy_cpu_j', 'real'],
  energyDramJ: ['energy_dram_j', 'real'],
  energyModuleJ: ['energy_module_j', 'real'],
};

const RESULT_KEYS = Object.keys(RESULT_COLUMNS) as (keyof ResultRow)[];
const RESULT_SELECT = RESULT_KEYS.map((k) => RESULT_COLUMNS[k][0]).join(', ');

/** A row of the `results` view as a ResultRow: the stores' own column conversion (booleans, JSON). */
export function toResultRow(row: SqlRow): ResultRow {
  return fromRow(RESULT_COLUMNS, row);
}

// ---------------------------------------------------------------------------------------------------
// Which experiments an analysis looks at

/**
 * The experiments an analysis ranks. Always: status `ok` with an SCI figure. By default also real
 * measurements only (no sim/table engine) and no `carbonbench measure` one-offs (phase `manual`,
 * measured outside a sweep, possibly under other settings).
 */
export interface Selection {
  /** Add the sim and table engines' rows; they stay labelled `simulated` everywhere. */
  includeSimulated?: boolean;
  /** Add `carbonbench measure` experiments (phase `manual`). */
  includeManual?: boolean;
  /**
   * Only this hardware profile (issue 10: results of different hardware stay separable, SCI is per
   * hardware profile). Must match HARDWARE_ID_RE.
   */
  hardware?: string;
}

/** What a hardware profile id may hold (data/hardware.csv ids such as `h100-sxm`). */
export const HARDWARE_ID_RE = /^[A-Za-z0-9._-]{1,64}$/;

/** The SQL condition of a selection, on the `results` view's columns. */
export function selectionWhere(sel: Selection = {}): string {
  const parts = ["status = 'ok'", 'sci_ug IS NOT NULL'];
  if (sel.includeSimulated !== true) parts.push('simulated = 0');
  if (sel.includeManual !== true) parts.push("(phase IS NULL OR phase <> 'manual')");
  if (sel.hardware !== undefined) {
    // The one literal in this file's SQL: this condition is spliced into statements whose bound
    // parameters follow it, and the id is checked against HARDWARE_ID_RE (no quote can reach the SQL).
    if (!HARDWARE_ID_RE.test(sel.hardware)) throw new RangeError(`hardware id ${JSON.stringify(sel.hardware)} does not match ${HARDWARE_ID_RE}`);
    parts.push(`hardware_id = '${sel.hardware}'`);
  }
  return parts.join(' AND ');
}

/** The same selection for rows already in memory (the report): must agree with selectionWhere. */
export function isSelected(
  row: { status: string; sciUg: number | null; simulated: boolean; phase: string | null; hardwareId?: string | null },
  sel: Selection = {},
): boolean {
  if (row.status !== 'ok' || row.sciUg === null || !Number.isFinite(row.sciUg)) return false;
  if (sel.includeSimulated !== true && row.simulated) return false;
  if (sel.includeManual !== true && row.phase === 'manual') return false;
  if (sel.hardware !== undefined && row.hardwareId !== sel.hardware) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------------
// The reader

export interface ResultsReader {
  /** Absolute path of the database (or its URL, password redacted), for messages. */
  readonly location: string;
  /** Which SQL engine answers: the queries are the same; only catalog lookups differ. */
  readonly dialect: 'sqlite' | 'postgres';
  /** The same database through the Store interface (read-only): single experiments, runs. */
  readonly store: Store;
  /** Rows of a read-only query; values bound to `?` placeholders. */
  rows(sql: string, params?: readonly SqlValue[]): Promise<SqlRow[]>;
  /** The same as arrays of column values in SELECT order: no object per row (large results). */
  rawRows(sql: string, params?: readonly SqlValue[]): Promise<unknown[][]>;
  close(): Promise<void>;
}

/**
 * Opens `dbPath` for analysis: the Store validates it (exists, is a carbonbench database, schema
 * version) and a second read-only connection runs the queries. Nothing is ever written. The queries of
 * one reader share one read transaction, so a command that asks several questions (top: the rows, then
 * whether any has a BPB) sees one snapshot even while a run is writing (WAL readers never block it).
 * A `postgresql://` URL gets the same over PostgreSQL (openPgResultsReader).
 */
export async function openResultsReader(dbPath: string): Promise<ResultsReader> {
  if (isPostgresUrl(dbPath)) return openPgResultsReader(dbPath);
  const store = await openStore(dbPath, { readonly: true });
  let db: Database.Database | null = null;
  try {
    db = new Database(sqliteDataPath(store), { readonly: true, fileMustExist: true });
    db.exec('BEGIN');
  } catch (error) {
    db?.close();
    await store.close();
    throw new StoreError(`cannot open ${store.location} for reading: ${(error as Error).message}`, { cause: error });
  }
  const conn = db;
  let closed = false;
  return {
    location: store.location,
    dialect: 'sqlite',
    store,
    async rows(sql, params = []) {
      if (closed) throw new StoreError(`query on ${store.location} after close()`);
      try {
        return conn.prepare(sql).all(...params) as SqlRow[];
      } catch (error) {
        throw new StoreError(`query on ${store.location} failed: ${(error as Error).message}`, { cause: error });
      }
    },
    async rawRows(sql, params = []) {
      if (closed) throw new StoreError(`query on ${store.location} after close()`);
      try {
        return conn.prepare(sql).raw(true).all(...params) as unknown[][];
      } catch (error) {
        throw new StoreError(`query on ${store.location} failed: ${(error as Error).message}`, { cause: error });
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      if (conn.inTransaction) conn.exec('COMMIT');
      conn.close();
      await store.close();
    },
  };
}

/**
 * The PostgreSQL reader: the same SQL with `?` numbered as `$n`, in one REPEATABLE READ READ ONLY
 * transaction (one snapshot for all the reader's queries), on a session that refuses writes. BIGINT and
 * NUMERIC come back as JS numbers (PG_TYPES), booleans are INTEGER 0/1 as in SQLite, so the rows equal
 * SQLite's for the same data.
 */
async function openPgResultsReader(url: string): Promise<ResultsReader> {
  const store = await openStore(url, { readonly: true });
  let conn: pg.Client;
  try {
    conn = await connectPg(url, { readonly: true, operation: 'open for reading' });
    await conn.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  } catch (error) {
    await store.close();
    throw toPgStoreError(error, url, 'open for reading');
  }
  const client = conn;
  const translated = new Map<string, string>();
  const text = (sql: string): string => {
    let out = translated.get(sql);
    if (out === undefined) translated.set(sql, (out = toPostgresParams(sql)));
    return out;
  };
  let closed = false;
  const run = async <R>(sql: string, params: readonly SqlValue[], rowMode: 'array' | undefined): Promise<R[]> => {
    if (closed) throw new StoreError(`query on ${store.location} after close()`);
    try {
      const result = await client.query({ text: text(sql), values: [...params], ...(rowMode ? { rowMode } : {}) });
      return result.rows as R[];
    } catch (error) {
      throw toPgStoreError(error, url, 'query');
    }
  };
  return {
    location: store.location,
    dialect: 'postgres',
    store,
    rows: (sql, params = []) => run<SqlRow>(sql, params, undefined),
    rawRows: (sql, params = []) => run<unknown[]>(sql, params, 'array'),
    async close() {
      if (closed) return;
      closed = true;
      await client.query('COMMIT').catch(() => undefined);
      await client.end().catch(() => undefined);
      await store.close();
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// Queries

/** Selected rows ordered by SCI (then id), at most `limit`. */
export async function selectTop(reader: ResultsReader, sel: Selection, limit: number): Promise<ResultRow[]> {
  const rows = await reader.rows(
    `SELECT ${RESULT_SELECT} FROM results WHERE ${selectionWhere(sel)} ORDER BY sci_ug, id LIMIT ?`,
    [limit],
  );
  return rows.map(toResultRow);
}

/** Selected rows with SCI ≤ maxSciUg, ordered by SCI then id. */
export async function selectUpToSci(reader: ResultsReader, sel: Selection, maxSciUg: number): Promise<ResultRow[]> {
  const rows = await reader.rows(
    `SELECT ${RESULT_SELECT} FROM results WHERE ${selectionWhere(sel)} AND sci_ug <= ? ORDER BY sci_ug, id`,
    [maxSciUg],
  );
  return rows.map(toResultRow);
}

/** All selected rows, ordered by id (exports of ok rows). */
export async function selectRows(reader: ResultsReader, sel: Selection): Promise<ResultRow[]> {
  const rows = await reader.rows(`SELECT ${RESULT_SELECT} FROM results WHERE ${selectionWhere(sel)} ORDER BY id`);
  return rows.map(toResultRow);
}

/**
 * Some fields of the selected experiments, ordered by id: each row as the array of its values in the
 * order of `fields`, converted as the stores convert them (booleans, JSON columns parsed). Straight from
 * the `experiments` table (every field named here is one of its columns), so a reader of a few columns
 * of many rows (the report) neither joins `runs` nor makes an object per row. Field names come from
 * EXPERIMENT_COLUMNS, never from input.
 */
export async function selectExperimentValues(reader: ResultsReader, sel: Selection, fields: readonly (keyof ExperimentRecord)[]): Promise<unknown[][]> {
  // SQLite would take the covering index for the selection, then look every row up in the table and
  // sort them by id: with most rows selected, scanning the table in id order is faster (1.0 against
  // 1.35 s for 92,000 of 100,000 rows, bench/RESULTS.md) and never reads more than the whole table.
  // PostgreSQL's planner weighs the same from its statistics.
  const table = reader.dialect === 'sqlite' ? 'experiments NOT INDEXED' : 'experiments';
  const rows = await reader.rawRows(`SELECT ${fields.map((f) => EXPERIMENT_COLUMNS[f][0]).join(', ')} FROM ${table} WHERE ${selectionWhere(sel)} ORDER BY id`);
  try {
    return rows.map(convertValues(EXPERIMENT_COLUMNS, fields));
  } catch (error) {
    throw new StoreError(`reading experiments of ${reader.location}: ${(error as Error).message}`, { cause: error });
  }
}

/** Experiments per status, any status: the most frequent first, ties in the order of their first (lowest) id. */
export async function statusCounts(reader: ResultsReader): Promise<{ status: string; count: number }[]> {
  const rows = (await reader.rawRows(`SELECT status, COUNT(*), MIN(id) FROM experiments GROUP BY status`)) as [string, number | string, number][];
  return rows
    .map(([status, count, firstId]) => ({ status, count: Number(count), firstId }))
    .sort((a, b) => b.count - a.count || a.firstId - b.firstId)
    .map(({ status, count }) => ({ status, count }));
}

/** Every row of the view, any status, ordered by id (the csv and json exports). */
export async function allRows(reader: ResultsReader): Promise<ResultRow[]> {
  return (await reader.rows(`SELECT ${RESULT_SELECT} FROM results ORDER BY id`)).map(toResultRow);
}

/** Rows by id, ordered by id. */
export async function rowsByIds(reader: ResultsReader, ids: readonly number[]): Promise<ResultRow[]> {
  const out: ResultRow[] = [];
  // Bound parameters are limited (SQLite: 32766): ask in chunks.
  for (let i = 0; i < ids.length; i += 500) {
    const chunk = ids.slice(i, i + 500);
    const rows = await reader.rows(
      `SELECT ${RESULT_SELECT} FROM results WHERE id IN (${chunk.map(() => '?').join(', ')})`,
      chunk,
    );
    out.push(...rows.map(toResultRow));
  }
  return out.sort((a, b) => a.id - b.id);
}

/**
 * The four metrics of the Pareto front for every selected row, column-wise (NaN = NULL): no other
 * column is read and no object is made per row (100,000 rows).
 */
export async function selectFrontColumns(
  reader: ResultsReader,
  sel: Selection,
): Promise<{ id: Float64Array; sciUg: Float64Array; bpb: Float64Array; tokS: Float64Array }> {
  return toColumns(await reader.rawRows(`SELECT id, sci_ug, bpb, tok_s FROM experiments WHERE ${selectionWhere(sel)}`));
}

function toColumns(rows: unknown[][]): { id: Float64Array; sciUg: Float64Array; bpb: Float64Array; tokS: Float64Array } {
  const n = rows.length;
  const out = { id: new Float64Array(n), sciUg: new Float64Array(n), bpb: new Float64Array(n), tokS: new Float64Array(n) };
  const num = (v: unknown): number => (typeof v === 'number' ? v : NaN);
  for (let i = 0; i < n; i++) {
    const r = rows[i]!;
    out.id[i] = r[0] as number;
    out.sciUg[i] = num(r[1]);
    out.bpb[i] = num(r[2]);
    out.tokS[i] = num(r[3]);
  }
  return out;
}

/** Selected rows per BPB value (NULL: no BPB): how many, how many with a throughput, their lowest SCI. */
export interface BpbGroup {
  bpb: number | null;
  count: number;
  /** Rows that also have a throughput (comparable on the front). */
  comparable: number;
  /** Lowest SCI among the comparable rows; null when none. */
  minSciUg: number | null;
}

export async function selectBpbGroups(reader: ResultsReader, sel: Selection): Promise<BpbGroup[]> {
  const rows = await reader.rawRows(
    `SELECT bpb, COUNT(*), SUM(CASE WHEN tok_s IS NOT NULL THEN 1 ELSE 0 END), MIN(CASE WHEN tok_s IS NOT NULL THEN sci_ug END)
     FROM experiments WHERE ${selectionWhere(sel)} GROUP BY bpb`,
  );
  return rows.map((r) => ({ bpb: r[0] as number | null, count: Number(r[1]), comparable: Number(r[2]), minSciUg: r[3] as number | null }));
}

/** A BPB group's lowest-SCI row: its SCI and tok/s (the highest tok/s among SCI ties). */
export interface GroupAnchor {
  bpb: number;
  sciUg: number;
  tokS: number;
}

/** The anchors of BPB groups (with a BPB and a comparable row), through `sci_ug IN (…)`. */
export async function selectGroupAnchors(reader: ResultsReader, sel: Selection, groups: readonly BpbGroup[]): Promise<GroupAnchor[]> {
  const minOf = new Map<number, number>();
  for (const g of groups) if (g.bpb !== null && g.minSciUg !== null) minOf.set(g.bpb, g.minSciUg);
  const anchors = new Map<number, GroupAnchor>();
  const values = [...new Set(minOf.values())];
  for (let i = 0; i < values.length; i += 500) {
    const chunk = values.slice(i, i + 500);
    const rows = await reader.rawRows(
      `SELECT bpb, sci_ug, tok_s FROM experiments WHERE ${selectionWhere(sel)} AND bpb IS NOT NULL AND tok_s IS NOT NULL
       AND sci_ug IN (${chunk.map(() => '?').join(', ')})`,
      chunk,
    );
    for (const [bpb, sciUg, tokS] of rows as [number, number, number][]) {
      if (minOf.get(bpb) !== sciUg) continue; // another group's minimum
      const a = anchors.get(bpb);
      if (!a || tokS > a.tokS) anchors.set(bpb, { bpb, sciUg, tokS });
    }
  }
  return [...anchors.values()].sort((a, b) => a.bpb - b.bpb);
}

/**
 * The selected rows with a BPB that are at least as fast as their group's anchor, column-wise. The
 * anchor's tok/s is found by a CASE nested as a binary search over the sorted BPB values, so each row
 * costs about log₂(groups) comparisons; a BPB that is no anchor's keeps the row (−1e308).
 */
export async function selectAtLeastAsFast(
  reader: ResultsReader,
  sel: Selection,
  anchors: readonly GroupAnchor[],
): Promise<{ id: Float64Array; sciUg: Float64Array; bpb: Float64Array; tokS: Float64Array }> {
  const params: SqlValue[] = [];
  // Parameters are pushed in the order their `?` appear in the text (pre-order).
  const search = (lo: number, hi: number): string => {
    if (lo === hi) {
      params.push(anchors[lo]!.bpb, anchors[lo]!.tokS);
      return 'CASE WHEN bpb = ? THEN ? ELSE -1e308 END';
    }
    const mid = (lo + hi + 1) >> 1;
    params.push(anchors[mid]!.bpb);
    const left = search(lo, mid - 1);
    return `CASE WHEN bpb < ? THEN ${left} ELSE ${search(mid, hi)} END`;
  };
  const threshold = anchors.length === 0 ? '-1e308' : search(0, anchors.length - 1);
  const rows = await reader.rawRows(
    `SELECT id, sci_ug, bpb, tok_s FROM experiments
     WHERE ${selectionWhere(sel)} AND bpb IS NOT NULL AND tok_s IS NOT NULL AND tok_s >= (${threshold})`,
    params,
  );
  return toColumns(rows);
}

/**
 * Whether results.db has an index that answers the analysis scans alone (query.ts header): leading
 * (status, sci_ug) and holding the other columns they read. A query plan choice only: both plans give
 * the same answer. (SQLite's index list, or PostgreSQL's catalog.)
 */
export async function hasCoveringIndex(reader: ResultsReader): Promise<boolean> {
  const needed = ['simulated', 'phase', 'bpb', 'tok_s'];
  for (const cols of (await indexColumns(reader)).values()) {
    if (cols[0] === 'status' && cols[1] === 'sci_ug' && needed.every((c) => cols.includes(c))) return true;
  }
  return false;
}

/** Index name → its columns in order, for the `experiments` table, from the engine's catalog. */
async function indexColumns(reader: ResultsReader): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  if (reader.dialect === 'postgres') {
    const rows = await reader.rawRows(
      `SELECT i.relname, a.attname
       FROM pg_index x
       JOIN pg_class t ON t.oid = x.indrelid
       JOIN pg_class i ON i.oid = x.indexrelid
       JOIN pg_namespace n ON n.oid = t.relnamespace
       CROSS JOIN LATERAL unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
       JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
       WHERE t.relname = 'experiments' AND n.nspname = current_schema()
       ORDER BY i.relname, k.ord`,
    );
    for (const [index, column] of rows as [string, string][]) out.set(index, [...(out.get(index) ?? []), column]);
    return out;
  }
  const indexes = await reader.rows(`SELECT name FROM pragma_index_list('experiments')`);
  for (const { name } of indexes) {
    const cols = (await reader.rows(`SELECT name FROM pragma_index_info(?) ORDER BY seqno`, [String(name)])).map((c) => String(c.name));
    out.set(String(name), cols);
  }
  return out;
}

/** Whether any selected row has a BPB and a throughput (decides the Pareto objectives). */
export async function anyWithBpb(reader: ResultsReader, sel: Selection): Promise<boolean> {
  const rows = await reader.rows(
    `SELECT id FROM experiments WHERE ${selectionWhere(sel)} AND bpb IS NOT NULL AND tok_s IS NOT NULL LIMIT 1`,
  );
  return rows.length > 0;
}

/** How many scored rows a selection leaves out, for the message when it leaves nothing. */
export interface ExcludedCounts {
  /** Scored rows (status ok, SCI present) of any kind. */
  scored: number;
  simulated: number;
  manual: number;
}

export async function excludedCounts(reader: ResultsReader): Promise<ExcludedCounts> {
  const [row] = await reader.rows(
    `SELECT COUNT(*) AS scored,
            SUM(CASE WHEN simulated = 1 THEN 1 ELSE 0 END) AS simulated,
            SUM(CASE WHEN phase = 'manual' THEN 1 ELSE 0 END) AS manual
     FROM experiments WHERE status = 'ok' AND sci_ug IS NOT NULL`,
  );
  return { scored: Number(row?.scored ?? 0), simulated: Number(row?.simulated ?? 0), manual: Number(row?.manual ?? 0) };
}

/** Grouping keys of the leaderboards: the column of the `results` view each one reads. */
export const GROUP_COLUMNS = { model: 'model', quant: 'quant', engine: 'engine', batch: 'batch', hardware: 'hardware_id' } as const;
export type GroupKey = keyof typeof GROUP_COLUMNS;
/**
 * The ResultRow field that holds each grouping key's value. `hardware` (the hardware profile id) keeps
 * results of different boards apart when one database holds several hosts (issue 10).
 */
const GROUP_FIELDS = { model: 'model', quant: 'quant', engine: 'engine', batch: 'batch', hardware: 'hardwareId' } as const satisfies Record<GroupKey, keyof ResultRow>;

/** One group of a leaderboard as SQL computes it. */
export interface GroupBest {
  /** The group's value; null when the column is NULL (e.g. no quant). */
  key: string | number | null;
  best: ResultRow;
  count: number;
  /** Median SCI of the group, µgCO2e/token; NaN when not asked for. */
  medianSciUg: number;
}

/**
 * Per group: the best row (lowest SCI, then lowest id) and the number of rows, in two scans and no
 * sort of the whole selection: GROUP BY for each group's minimum, then the rows whose SCI is one of
 * those minima (a row of another group may share a minimum's value: the group is checked again here).
 * Window functions (ROW_NUMBER … OVER) would do it in one statement but sort every row first, several
 * times slower at 100,000 rows. With `medians`, a third scan reads (group, SCI) pairs and the medians
 * are taken in memory.
 */
export async function selectGroupBests(
  reader: ResultsReader,
  sel: Selection,
  by: GroupKey,
  opts: { medians?: boolean } = {},
): Promise<GroupBest[]> {
  const col = GROUP_COLUMNS[by];
  const where = selectionWhere(sel);
  const mins = await reader.rawRows(`SELECT ${col}, MIN(sci_ug), COUNT(*) FROM experiments WHERE ${where} GROUP BY ${col}`);
  if (mins.length === 0) return [];
  type Key = string | number | null;
  const groups = new Map<Key, { minSciUg: number; count: number; best: ResultRow | null; median: number }>(
    mins.map((m) => [m[0] as Key, { minSciUg: m[1] as number, count: Number(m[2]), best: null, median: NaN }]),
  );
  const values = [...new Set(mins.map((m) => m[1] as number))];
  for (let i = 0; i < values.length; i += 500) {
    const chunk = values.slice(i, i + 500);
    const rows = await reader.rows(
      `SELECT ${RESULT_SELECT} FROM results WHERE ${where} AND sci_ug IN (${chunk.map(() => '?').join(', ')}) ORDER BY id`,
      chunk,
    );
    for (const row of rows.map(toResultRow)) {
      const g = groups.get(row[GROUP_FIELDS[by]]);
      if (g !== undefined && g.best === null && row.sciUg === g.minSciUg) g.best = row;
    }
  }
  if (opts.medians === true) {
    const lists = new Map<Key, number[]>();
    for (const [key, sci] of (await reader.rawRows(`SELECT ${col}, sci_ug FROM experiments WHERE ${where}`)) as [Key, number][]) {
      const list = lists.get(key);
      if (list) list.push(sci);
      else lists.set(key, [sci]);
    }
    for (const [key, list] of lists) {
      const sorted = Float64Array.from(list).sort();
      const mid = sorted.length >> 1;
      groups.get(key)!.median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
    }
  }
  return [...groups.entries()].map(([key, g]) => ({ key, best: g.best!, count: g.count, medianSciUg: g.median }));
}

/** A model's best experiment with the family that program.md gave it (from config_json). */
export interface ModelBestRow {
  row: ResultRow;
  /** `family` of the config, or null when program.md named none. */
  configFamily: string | null;
  /** Selected experiments of this model. */
  count: number;
}

/** Per model: its best selected experiment (lowest SCI, then lowest id) and its config's family. */
export async function selectModelBests(reader: ResultsReader, sel: Selection): Promise<ModelBestRow[]> {
  const groups = await selectGroupBests(reader, sel, 'model');
  const ids = groups.map((g) => g.best.id);
  const configs = new Map<number, string>();
  for (let i = 0; i < ids.length; i += 500) {
    const chunk = ids.slice(i, i + 500);
    const rows = await reader.rows(`SELECT id, config_json FROM experiments WHERE id IN (${chunk.map(() => '?').join(', ')})`, chunk);
    for (const r of rows) configs.set(r.id as number, String(r.config_json));
  }
  return groups.map((g) => ({ row: g.best, configFamily: familyFromConfig(configs.get(g.best.id)), count: g.count }));
}

function familyFromConfig(text: string | undefined): string | null {
  if (text === undefined) return null;
  try {
    const config = JSON.parse(text) as JsonObject;
    return typeof config.family === 'string' && config.family.trim() !== '' ? config.family : null;
  } catch {
    return null;
  }
}

/** Measurement window edges (epoch seconds, telemetry clock) of finished experiments, by id. */
export async function windowEdges(reader: ResultsReader): Promise<Map<number, { startTS: number | null; endTS: number | null }>> {
  const rows = await reader.rows(`SELECT id, window_start_t_s, window_end_t_s FROM experiments WHERE status = 'ok'`);
  return new Map(rows.map((r) => [r.id as number, { startTS: r.window_start_t_s as number | null, endTS: r.window_end_t_s as number | null }]));
}
