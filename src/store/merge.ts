/**
 * `carbonbench merge A.db B.db … --into C.db|postgresql://…` (issue 10): imports separately recorded
 * results (one results.db per host, or another PostgreSQL database) into one database, without
 * duplicates.
 *
 * Identity across databases: ids differ from one database to the next, so runs and experiments are
 * matched on their `uid` (a random UUID the store writes at insert). Rows written before that column
 * existed have none; for them a deterministic key is derived from what never changes in the source row:
 *   run:        sha256("run\n" + id + "\n" + program_hash + "\n" + host + "\n" + started_at)
 *   experiment: sha256("experiment\n" + <its run's key> + "\n" + id + "\n" + created_at + "\n" + config_json)
 * and written as the copy's uid, so a copy of a copy still matches the original. (The source id is part
 * of the key: two repetitions of one config may be created in the same millisecond.)
 *
 * What is copied, per source in one transaction of the target: runs (new ones; a run already there gets
 * the source's status and ended_at when it has moved on from `running`), finished experiments (any status
 * but queued/running; unfinished ones are left for a later merge, once their run has finished them) with
 * their samples and requests, notes (matched on run, experiment, kind, text and created_at), and the BPB
 * cache (matched on cache_key). Foreign keys are remapped to the target's ids. Every column that both
 * databases have is copied, so columns added by later migrations travel without changes here.
 *
 * Schema versions: the target is migrated like any database opened for writing, and one newer than this
 * carbonbench is refused (openStore). A SQLite source at an older version is migrated in a temporary
 * copy (the original is never written); a PostgreSQL source must be at the current version.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import Database from 'better-sqlite3';
import type pg from 'pg';

import { openResultsReader, type ResultsReader, type SqlValue } from '../analysis/query.js';
import { InputError, StoreError } from '../errors.js';
import { toPostgresParams } from './pg-dialect.js';
import { isPostgresUrl, redactPgUrl } from './pg-url.js';
import { connectPg, toPgStoreError } from './postgres.js';
import { BUSY_TIMEOUT_MS, openSqliteStore } from './sqlite.js';
import { openStore } from './index.js';

type Row = Record<string, unknown>;

export interface MergeCounts {
  imported: number;
  /** Already in the target (same uid / derived key / cache key). */
  skipped: number;
}

export interface SourceReport {
  /** The source (path, or URL with the password redacted). */
  source: string;
  runs: MergeCounts;
  experiments: MergeCounts & {
    /** queued or running in the source: not copied now; a later merge takes them once finished. */
    unfinished: number;
  };
  samples: number;
  requests: number;
  notes: MergeCounts;
  bpbCache: MergeCounts;
  /** Runs already in the target whose status and ended_at were updated from the source. */
  runsUpdated: number;
}

export interface MergeReport {
  into: string;
  schemaVersion: number;
  sources: SourceReport[];
}

const UNFINISHED = new Set(['queued', 'running']);
const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/** The identity of a run row: its uid, or the derived key of a row written before uids (header). */
export function runKey(row: Row): string {
  if (typeof row.uid === 'string' && row.uid !== '') return row.uid;
  return sha256(['run', String(row.id), String(row.program_hash), String(row.host ?? ''), String(row.started_at)].join('\n'));
}

/** The identity of an experiment row, given its run's key. */
export function experimentKey(row: Row, runKeyOfRow: string): string {
  if (typeof row.uid === 'string' && row.uid !== '') return row.uid;
  return sha256(['experiment', runKeyOfRow, String(row.id), String(row.created_at), String(row.config_json)].join('\n'));
}

function noteKey(runK: string, experimentK: string | null, row: Row): string {
  return JSON.stringify([runK, experimentK, row.kind, row.text, row.created_at]);
}

// ---------------------------------------------------------------------------------------------------
// The target: one connection, written in one transaction per source.

interface Target {
  readonly location: string;
  begin(): Promise<void>;
  commit(): Promise<void>;
  rollback(): Promise<void>;
  all(sql: string, params?: readonly SqlValue[]): Promise<Row[]>;
  /** Affected rows. */
  run(sql: string, params?: readonly SqlValue[]): Promise<number>;
  /** Column names of a table, in order. */
  columns(table: string): Promise<string[]>;
  /** Inserts rows (values in `columns` order); one statement per chunk on PostgreSQL. */
  insertMany(table: string, columns: readonly string[], rows: readonly SqlValue[][]): Promise<void>;
  close(): Promise<void>;
}

function sqliteTarget(path: string): Target {
  const db = new Database(path, { timeout: BUSY_TIMEOUT_MS });
  db.pragma('foreign_keys = ON');
  const wrap = <T>(op: () => T): T => {
    try {
      return op();
    } catch (error) {
      throw new StoreError(`merge into ${path} failed: ${(error as Error).message}`, { cause: error });
    }
  };
  return {
    location: path,
    begin: async () => {
      wrap(() => db.exec('BEGIN IMMEDIATE'));
    },
    commit: async () => {
      wrap(() => db.exec('COMMIT'));
    },
    rollback: async () => {
      if (db.inTransaction) db.exec('ROLLBACK');
    },
    all: async (sql, params = []) => wrap(() => db.prepare(sql).all(...params) as Row[]),
    run: async (sql, params = []) => wrap(() => db.prepare(sql).run(...params).changes),
    columns: async (table) => wrap(() => (db.prepare(`SELECT name FROM pragma_table_info(?) ORDER BY cid`).all(table) as { name: string }[]).map((c) => c.name)),
    insertMany: async (table, columns, rows) =>
      wrap(() => {
        const statement = db.prepare(`INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`);
        for (const row of rows) statement.run(...row);
      }),
    close: async () => {
      db.close();
    },
  };
}

async function pgTarget(url: string): Promise<Target> {
  const client: pg.Client = await connectPg(url, { operation: 'merge' });
  const q = async (sql: string, params: readonly SqlValue[] = []): Promise<pg.QueryResult<Row>> => {
    try {
      return await client.query<Row>(toPostgresParams(sql), [...params]);
    } catch (error) {
      throw toPgStoreError(error, url, 'merge');
    }
  };
  return {
    location: redactPgUrl(url),
    begin: async () => {
      await q('BEGIN');
      // Two merges into one database at once would both find a row missing and both insert it.
      await q('SELECT pg_advisory_xact_lock(?)', [MERGE_LOCK_KEY]);
    },
    commit: async () => {
      await q('COMMIT');
    },
    rollback: async () => {
      await client.query('ROLLBACK').catch(() => undefined);
    },
    all: async (sql, params) => (await q(sql, params)).rows,
    run: async (sql, params) => (await q(sql, params)).rowCount ?? 0,
    columns: async (table) =>
      (await q('SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position', [table])).rows.map(
        (r) => String(r.column_name),
      ),
    insertMany: async (table, columns, rows) => {
      const perChunk = Math.max(1, Math.floor(60_000 / columns.length));
      const tuple = `(${columns.map(() => '?').join(', ')})`;
      for (let i = 0; i < rows.length; i += perChunk) {
        const chunk = rows.slice(i, i + perChunk);
        await q(`INSERT INTO ${table} (${columns.join(', ')}) VALUES ${chunk.map(() => tuple).join(', ')}`, chunk.flat());
      }
    },
    close: async () => {
      await client.end().catch(() => undefined);
    },
  };
}

/** Advisory lock key of merges into one PostgreSQL database. */
const MERGE_LOCK_KEY = 0x63617262_6d67;

// ---------------------------------------------------------------------------------------------------
// Sources

interface OpenedSource {
  reader: ResultsReader;
  cleanup(): Promise<void>;
}

/**
 * Opens a source for reading. A SQLite file at an older schema version is copied (SQLite's online
 * backup, WAL included) into a temporary directory and the copy migrated: the original is never written.
 */
async function openSource(location: string): Promise<OpenedSource> {
  if (isPostgresUrl(location)) {
    const reader = await openResultsReader(location);
    return { reader, cleanup: () => reader.close() };
  }
  const path = resolve(location);
  const probe = await openStore(path, { readonly: true }).catch((error: unknown) => error as Error);
  if (!(probe instanceof Error)) {
    await probe.close();
    const reader = await openResultsReader(path);
    return { reader, cleanup: () => reader.close() };
  }
  if (!/has schema version \d+; this carbonbench needs version/.test(probe.message)) throw probe;
  const dir = mkdtempSync(join(tmpdir(), 'carbonbench-merge-'));
  try {
    const source = new Database(path, { readonly: true, fileMustExist: true });
    try {
      await source.backup(join(dir, 'source.db'));
    } finally {
      source.close();
    }
    await openSqliteStore(join(dir, 'source.db')).close(); // migrates the copy
    const reader = await openResultsReader(join(dir, 'source.db'));
    return {
      reader,
      cleanup: async () => {
        await reader.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------------
// Merging

/** Keys of the target's runs and experiments (uid or derived) → target id; built once per source. */
async function targetKeys(target: Target): Promise<{ runs: Map<string, number>; experiments: Map<string, number>; runKeyById: Map<number, string> }> {
  const runs = new Map<string, number>();
  const runKeyById = new Map<number, string>();
  for (const r of await target.all('SELECT id, uid, program_hash, host, started_at FROM runs')) {
    const key = runKey(r);
    runs.set(key, r.id as number);
    runKeyById.set(r.id as number, key);
  }
  const experiments = new Map<string, number>();
  for (const e of await target.all('SELECT id, run_id, uid, created_at, config_json FROM experiments')) {
    experiments.set(experimentKey(e, runKeyById.get(e.run_id as number) ?? ''), e.id as number);
  }
  return { runs, experiments, runKeyById };
}

function valuesOf(row: Row, columns: readonly string[], override: Row): SqlValue[] {
  return columns.map((c) => {
    const v = c in override ? override[c] : row[c];
    return v === undefined ? null : (v as SqlValue);
  });
}

async function mergeSource(source: ResultsReader, target: Target, shown: string): Promise<SourceReport> {
  const report: SourceReport = {
    source: shown,
    runs: { imported: 0, skipped: 0 },
    experiments: { imported: 0, skipped: 0, unfinished: 0 },
    samples: 0,
    requests: 0,
    notes: { imported: 0, skipped: 0 },
    bpbCache: { imported: 0, skipped: 0 },
    runsUpdated: 0,
  };
  // Columns copied: those both databases have (identical at equal schema versions), minus the ids.
  const columnsOf = async (table: string, without: readonly string[]): Promise<string[]> => {
    const there = new Set(await target.columns(table));
    const sample = await source.rows(`SELECT * FROM ${table} LIMIT 1`);
    const here = sample[0] ? Object.keys(sample[0]) : [...there];
    return here.filter((c) => there.has(c) && !without.includes(c) && /^[a-z_][a-z0-9_]*$/.test(c));
  };
  const keys = await targetKeys(target);

  // Runs.
  const runIdMap = new Map<number, number>();
  const sourceRunKey = new Map<number, string>();
  const runColumns = await columnsOf('runs', ['id', 'uid']);
  for (const run of await source.rows('SELECT * FROM runs ORDER BY id')) {
    const key = runKey(run);
    sourceRunKey.set(run.id as number, key);
    const existing = keys.runs.get(key);
    if (existing !== undefined) {
      runIdMap.set(run.id as number, existing);
      report.runs.skipped++;
      if (run.status !== 'running') {
        report.runsUpdated += await target.run(
          "UPDATE runs SET status = ?, ended_at = ? WHERE id = ? AND status = 'running'",
          [run.status as string, run.ended_at as string | null, existing],
        );
      }
      continue;
    }
    const [inserted] = await target.all(
      `INSERT INTO runs (${[...runColumns, 'uid'].join(', ')}) VALUES (${[...runColumns, 'uid'].map(() => '?').join(', ')}) RETURNING id`,
      [...valuesOf(run, runColumns, {}), key],
    );
    const id = inserted!.id as number;
    runIdMap.set(run.id as number, id);
    keys.runs.set(key, id);
    keys.runKeyById.set(id, key);
    report.runs.imported++;
  }

  // Experiments (finished ones), then their samples and requests.
  const experimentIdMap = new Map<number, number>();
  const sourceExperimentKey = new Map<number, string>();
  const newExperiments: [number, number][] = [];
  const experimentColumns = await columnsOf('experiments', ['id', 'uid', 'run_id']);
  for (const e of await source.rows('SELECT * FROM experiments ORDER BY id')) {
    const key = experimentKey(e, sourceRunKey.get(e.run_id as number) ?? '');
    sourceExperimentKey.set(e.id as number, key);
    const existing = keys.experiments.get(key);
    if (existing !== undefined) {
      experimentIdMap.set(e.id as number, existing);
      report.experiments.skipped++;
      continue;
    }
    if (UNFINISHED.has(String(e.status))) {
      report.experiments.unfinished++;
      continue;
    }
    const runId = runIdMap.get(e.run_id as number);
    if (runId === undefined) throw new StoreError(`${shown}: experiment ${String(e.id)} refers to run ${String(e.run_id)}, which does not exist`);
    const [inserted] = await target.all(
      `INSERT INTO experiments (${[...experimentColumns, 'run_id', 'uid'].join(', ')}) VALUES (${[...experimentColumns, 'run_id', 'uid'].map(() => '?').join(', ')}) RETURNING id`,
      [...valuesOf(e, experimentColumns, {}), runId, key],
    );
    const id = inserted!.id as number;
    experimentIdMap.set(e.id as number, id);
    keys.experiments.set(key, id);
    newExperiments.push([e.id as number, id]);
    report.experiments.imported++;
  }
  for (const table of ['samples', 'requests'] as const) {
    const columns = await columnsOf(table, ['id', 'experiment_id']);
    for (let i = 0; i < newExperiments.length; i += 500) {
      const chunk = newExperiments.slice(i, i + 500);
      const idMap = new Map(chunk);
      const rows = await source.rows(
        `SELECT * FROM ${table} WHERE experiment_id IN (${chunk.map(() => '?').join(', ')}) ORDER BY id`,
        chunk.map(([from]) => from),
      );
      await target.insertMany(table, [...columns, 'experiment_id'], rows.map((r) => [...valuesOf(r, columns, {}), idMap.get(r.experiment_id as number)!]));
      report[table] += rows.length;
    }
  }

  // Notes: matched on content, per target run.
  const noteColumns = await columnsOf('notes', ['id', 'run_id', 'experiment_id']);
  const existingNotes = new Set<string>();
  const experimentKeyById = new Map<number, string>([...keys.experiments].map(([k, id]) => [id, k]));
  for (const n of await target.all('SELECT run_id, experiment_id, kind, text, created_at FROM notes')) {
    const expK = n.experiment_id === null ? null : (experimentKeyById.get(n.experiment_id as number) ?? null);
    existingNotes.add(noteKey(keys.runKeyById.get(n.run_id as number) ?? '', expK, n));
  }
  for (const n of await source.rows('SELECT * FROM notes ORDER BY id')) {
    const runId = runIdMap.get(n.run_id as number);
    if (runId === undefined) continue;
    let experimentId: number | null = null;
    let expK: string | null = null;
    if (n.experiment_id !== null) {
      const mapped = experimentIdMap.get(n.experiment_id as number);
      if (mapped === undefined) continue; // its experiment is unfinished: the note comes with it later
      experimentId = mapped;
      expK = sourceExperimentKey.get(n.experiment_id as number) ?? null;
    }
    const k = noteKey(sourceRunKey.get(n.run_id as number)!, expK, n);
    if (existingNotes.has(k)) {
      report.notes.skipped++;
      continue;
    }
    await target.insertMany('notes', [...noteColumns, 'run_id', 'experiment_id'], [[...valuesOf(n, noteColumns, {}), runId, experimentId]]);
    existingNotes.add(k);
    report.notes.imported++;
  }

  // BPB cache: keyed already.
  const bpbColumns = await columnsOf('bpb_cache', []);
  for (const b of await source.rows('SELECT * FROM bpb_cache ORDER BY cache_key')) {
    const added = await target.run(
      `INSERT INTO bpb_cache (${bpbColumns.join(', ')}) VALUES (${bpbColumns.map(() => '?').join(', ')}) ON CONFLICT (cache_key) DO NOTHING`,
      valuesOf(b, bpbColumns, {}),
    );
    if (added > 0) report.bpbCache.imported++;
    else report.bpbCache.skipped++;
  }
  return report;
}

/** Same database? Paths compare resolved; URLs compare as written, without the password. */
function sameLocation(a: string, b: string): boolean {
  if (isPostgresUrl(a) || isPostgresUrl(b)) return redactPgUrl(a) === redactPgUrl(b);
  return resolve(a) === resolve(b);
}

/**
 * Merges every source into `into`, in order, one target transaction per source: a source that fails
 * leaves the target as the sources before it left it. Returns the counts.
 */
export async function mergeDatabases(sources: readonly string[], into: string): Promise<MergeReport> {
  if (sources.length === 0) throw new InputError('merge: name at least one source database (results.db path or postgresql:// URL)');
  for (const s of sources) {
    if (sameLocation(s, into)) throw new InputError(`merge: ${redactPgUrl(s)} is both a source and the target (--into); a database cannot be merged into itself`);
  }
  // Creates and migrates the target, and refuses a newer schema or a foreign database.
  const store = await openStore(into);
  const schemaVersion = await store.schemaVersion();
  await store.close();
  const target = isPostgresUrl(into) ? await pgTarget(into) : sqliteTarget(resolve(into));
  const reports: SourceReport[] = [];
  try {
    for (const location of sources) {
      const shown = isPostgresUrl(location) ? redactPgUrl(location) : resolve(location);
      const opened = await openSource(location);
      try {
        await target.begin();
        try {
          reports.push(await mergeSource(opened.reader, target, shown));
          await target.commit();
        } catch (error) {
          await target.rollback();
          throw error;
        }
      } finally {
        await opened.cleanup();
      }
    }
  } finally {
    await target.close();
  }
  return { into: target.location, schemaVersion, sources: reports };
}
