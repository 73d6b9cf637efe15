/**
 * The SQLite implementation of Store (better-sqlite3 12.x).
 *
 * Durability: WAL mode with synchronous=FULL, and every write commits in its own transaction unless the
 * caller groups writes with transaction(). A completed experiment therefore survives a crash of the
 * process and a power cut; an experiment half-written inside transaction() disappears as a whole.
 * (synchronous=NORMAL, SQLite's usual WAL setting, may lose the last commits on power loss: results that
 * took minutes of GPU time are worth one fsync each.)
 *
 * Async transactions over a synchronous driver (tx-gate.ts): while transaction(fn) awaits, other
 * callers' operations wait for it (the `openTx` gate), and operations issued from inside fn (tracked with
 * AsyncLocalStorage) join it. Without the gate an unrelated write issued during an await would silently
 * become part of the transaction and vanish with its rollback.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, rmSync, statSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

import Database from 'better-sqlite3';

import { StoreError } from '../errors.js';
import type { GpuSample } from '../telemetry/types.js';
import { experimentListStatement, experimentUpdateStatement, fromRow, insertStatement, toDb, type Row } from './rows.js';
import { LATEST_SCHEMA_VERSION, MIGRATIONS, SCHEMA_VERSION_TABLE_SQL, assertMigrationsOrdered } from './migrations.js';
import { TxGate } from './tx-gate.js';
import {
  BPB_CACHE_COLUMNS,
  EXPERIMENT_COLUMNS,
  NOTE_COLUMNS,
  REQUEST_COLUMNS,
  RUN_COLUMNS,
  SAMPLE_COLUMNS,
  StoreInputError,
  type BpbCacheEntry,
  type ColumnMap,
  type ExperimentFilter,
  type ExperimentPatch,
  type ExperimentRecord,
  type MigrationResult,
  type NewBpbCacheEntry,
  type IntensityCacheEntry,
  type NewIntensityCacheEntry,
  INTENSITY_CACHE_COLUMNS,
  type NewExperiment,
  type NewRun,
  type NoteRecord,
  type RequestRecord,
  type RunRecord,
  type RunStatus,
  type SampleSource,
  type Store,
  type StoredSample,
} from './types.js';

/** How long a writer waits for another process's lock before SQLITE_BUSY. */
export const BUSY_TIMEOUT_MS = 5000;
/**
 * The same while opening (WAL switch and migrations): several study workers start on one results.db at
 * once (issue 10) and queue behind each other's migrations; on a loaded 2-core machine 5 s was seen to
 * run out there (tests/e2e/distributed.test.ts). Waiting longer once, at open, costs nothing.
 */
export const OPEN_BUSY_TIMEOUT_MS = 30_000;

export interface SqliteStoreOptions {
  /** Open an existing db for queries only: no migration, no writes. */
  readonly?: boolean;
  /**
   * Read-only opens of a database with an older schema: called once with a sentence for the user when
   * the queries run on a migrated temporary copy (see openSqliteStore). Default: stderr.
   */
  onNotice?: (message: string) => void;
}

type Statement = Database.Statement<unknown[], unknown>;

const nowIso = (): string => new Date().toISOString();

// ---------------------------------------------------------------------------------------------------
// Opening

/**
 * Opens (and creates, unless readonly) the results database at `path`, migrating it to the latest
 * schema. A missing parent directory is an error, not created: a mistyped --db should not scatter
 * directories. ':memory:' gives a private in-memory db (tests).
 */
export function openSqliteStore(path: string, opts: SqliteStoreOptions = {}): Store {
  const readonly = opts.readonly === true;
  const memory = path === ':memory:';
  const location = memory ? path : resolve(path);
  if (!memory) checkPathForOpen(location, readonly);

  let db: Database.Database;
  try {
    db = new Database(location, { readonly, fileMustExist: readonly, timeout: readonly ? BUSY_TIMEOUT_MS : OPEN_BUSY_TIMEOUT_MS });
  } catch (error) {
    throw toStoreError(error, location, 'open');
  }
  try {
    db.pragma('foreign_keys = ON');
    if (!readonly) {
      // The first statement that reads the file: a non-database file fails here with SQLITE_NOTADB.
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (!memory && mode !== 'wal') {
        throw new StoreError(
          `${location}: SQLite could not switch to WAL mode (journal_mode is ${String(mode)}); WAL needs a local ` +
            `filesystem with shared-memory support (not NFS or a read-only mount): choose another --db path`,
        );
      }
      db.pragma('synchronous = FULL');
    }
    const store = new SqliteStore(db, location, readonly);
    if (!readonly) {
      store.openedMigration = store.migrateSync();
      db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      return store;
    }
    if (store.checkReadableVersion() === 'current') return store;
    // Older schema whose missing migrations change what queries read (new columns, tables, view).
    const copy = migratedCopy(db, location);
    db.close();
    (opts.onNotice ?? ((m: string) => process.stderr.write(`${m}\n`)))(
      `note: ${location} has schema version ${copy.fromVersion}, this carbonbench reads version ` +
        `${LATEST_SCHEMA_VERSION}; reading a migrated temporary copy (the file itself is not changed). ` +
        `\`carbonbench migrate --db ${location}\` upgrades it in place and makes this faster.`,
    );
    return copy.store;
  } catch (error) {
    if (db.open) db.close();
    throw toStoreError(error, location, 'open');
  }
}

/**
 * A read-only open of an older database: `VACUUM INTO` a private temporary file (works on a read-only
 * connection and gives a consistent snapshot even while a run writes), migrate that copy, and open it
 * read-only. The store keeps the original path as its `location` (messages name the user's file) and
 * deletes the copy on close(). A copy of a large database costs seconds, which is why the notice points
 * to `carbonbench migrate`.
 */
function migratedCopy(source: Database.Database, location: string): { store: SqliteStore; fromVersion: number } {
  const dir = mkdtempSync(join(tmpdir(), 'carbonbench-migrated-'));
  const removeDir = (): void => rmSync(dir, { recursive: true, force: true });
  const path = join(dir, 'results.db');
  try {
    source.prepare('VACUUM INTO ?').run(path);
    const writable = new Database(path, { timeout: BUSY_TIMEOUT_MS });
    let fromVersion: number;
    try {
      fromVersion = new SqliteStore(writable, path, false).migrateSync().fromVersion;
    } finally {
      writable.close();
    }
    const db = new Database(path, { readonly: true, fileMustExist: true, timeout: BUSY_TIMEOUT_MS });
    db.pragma('foreign_keys = ON');
    return { store: new SqliteStore(db, location, true, { dataPath: path, onClose: removeDir }), fromVersion };
  } catch (error) {
    removeDir();
    throw error;
  }
}

/** What opening `store` migrated (versions before and after); null for read-only or non-SQLite stores. */
export function migrationOnOpen(store: Store): MigrationResult | null {
  return store instanceof SqliteStore ? store.openedMigration : null;
}

/**
 * The file a store's data is read from: its location, or the migrated temporary copy of an older
 * database opened read-only. A second connection (src/analysis/query.ts) must open this one.
 */
export function sqliteDataPath(store: Store): string {
  return store instanceof SqliteStore ? store.dataPath : store.location;
}

function checkPathForOpen(location: string, readonly: boolean): void {
  const dir = dirname(location);
  const dirProblem = directoryProblem(dir);
  if (dirProblem !== null) {
    throw new StoreInputError(`cannot open ${location}: ${dirProblem}; create it or pass another --db path`);
  }
  let isDirectory = false;
  let exists = true;
  try {
    isDirectory = statSync(location).isDirectory();
  } catch (error) {
    if (errnoCode(error) !== 'ENOENT') throw toStoreError(error, location, 'open');
    exists = false;
  }
  if (isDirectory) {
    throw new StoreInputError(
      `cannot open ${location}: it is a directory; --db expects a file path such as ${join(location, 'results.db')}`,
    );
  }
  if (readonly && !exists) {
    throw new StoreInputError(
      `cannot open ${location}: the file does not exist, so there are no results to read; ` +
        `run \`carbonbench run\` first or pass --db with the path of an existing results.db`,
    );
  }
}

/** null when `dir` is an existing directory, else what is wrong with it. */
function directoryProblem(dir: string): string | null {
  try {
    if (!statSync(dir).isDirectory()) return `${dir} is not a directory`;
    return null;
  } catch (error) {
    const code = errnoCode(error);
    if (code === 'ENOENT') return `directory ${dir} does not exist`;
    if (code === 'ENOTDIR') return `${dir} is not a directory (a part of it is a file)`;
    return `cannot access directory ${dir} (${code ?? String(error)})`;
  }
}

/**
 * Whether results.db can be written at `path`, for `carbonbench doctor`. Works whether or not the file
 * exists, and leaves nothing behind: it creates and removes one uniquely named probe file in the
 * directory (SQLite must be able to create `-wal` and `-shm` files there), and opens an existing file
 * for reading and writing without changing it. Creating a file is the only test that root's permission
 * bypass does not fool on a read-only filesystem.
 */
export function checkWritable(path: string): { ok: boolean; reason?: string } {
  const location = resolve(path);
  const dir = dirname(location);
  const dirProblem = directoryProblem(dir);
  if (dirProblem !== null) return { ok: false, reason: dirProblem };

  const probe = join(dir, `.carbonbench-write-probe-${process.pid}-${randomBytes(6).toString('hex')}`);
  let created = false;
  try {
    closeSync(openSync(probe, 'wx'));
    created = true;
  } catch (error) {
    return { ok: false, reason: `cannot create files in ${dir}: ${describeFsError(error)}` };
  } finally {
    if (created) rmSync(probe, { force: true });
  }

  try {
    const stat = statSync(location);
    if (stat.isDirectory()) return { ok: false, reason: `${location} is a directory, not a database file` };
    closeSync(openSync(location, 'r+')); // read/write, no create, no truncate
  } catch (error) {
    if (errnoCode(error) !== 'ENOENT') {
      return { ok: false, reason: `cannot open ${location} for writing: ${describeFsError(error)}` };
    }
  }
  return { ok: true };
}

// ---------------------------------------------------------------------------------------------------
// The store

class SqliteStore implements Store {
  readonly location: string;
  readonly readonly: boolean;
  private readonly db: Database.Database;
  private readonly statements = new Map<string, Statement>();
  private readonly gate: TxGate;
  private closed = false;

  /** What the opener's migration did (writable opens). */
  openedMigration: MigrationResult | null = null;
  /** Where the data is: `location`, or a migrated temporary copy of it (sqliteDataPath). */
  readonly dataPath: string;
  private readonly onClose: (() => void) | null;

  constructor(
    db: Database.Database,
    location: string,
    readonly: boolean,
    copy: { dataPath: string; onClose: () => void } | null = null,
  ) {
    this.db = db;
    this.location = location;
    this.readonly = readonly;
    this.dataPath = copy?.dataPath ?? location;
    this.onClose = copy?.onClose ?? null;
    this.gate = new TxGate({
      // IMMEDIATE takes the write lock now, so a concurrent writer (another process) makes us wait up to
      // the busy timeout at BEGIN instead of failing at the first write. A read-only db cannot take it.
      begin: readonly ? 'BEGIN' : 'BEGIN IMMEDIATE',
      assertOpen: (operation) => this.assertOpen(operation),
      exec: (operation, sql) => this.exec(operation, () => this.db.exec(sql)),
      rollback: () => this.rollbackQuietly(),
      rollbackToSavepoint: (name) => {
        if (this.db.inTransaction) {
          this.db.exec(`ROLLBACK TO ${name}`);
          this.db.exec(`RELEASE ${name}`);
        }
      },
    });
  }

  // --- schema ---------------------------------------------------------------------------------------

  /** Synchronous migration, used by the opener. */
  migrateSync(): MigrationResult {
    assertMigrationsOrdered();
    // IMMEDIATE: two processes opening a new db at once serialize here; the second sees the first's work.
    const migrate = this.db.transaction((): MigrationResult => {
      this.refuseForeignDatabase();
      this.db.exec(SCHEMA_VERSION_TABLE_SQL);
      const fromVersion = this.currentVersion();
      this.refuseNewerVersion(fromVersion);
      const applied: number[] = [];
      const record = this.db.prepare('INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)');
      for (const migration of MIGRATIONS) {
        if (migration.version <= fromVersion) continue;
        this.db.exec(migration.sql);
        record.run(migration.version, migration.name, nowIso());
        applied.push(migration.version);
      }
      return { fromVersion, toVersion: Math.max(fromVersion, LATEST_SCHEMA_VERSION), applied };
    });
    // Each pending migration could get its own transaction; one for all of them is simpler and equally
    // safe (all or nothing), and a db is only ever a few versions behind.
    return migrate.immediate();
  }

  /**
   * For a read-only open: refuses what is not a carbonbench database or is newer than this build;
   * 'older' when a migration that queries depend on is missing (the opener then reads a migrated copy).
   */
  checkReadableVersion(): 'current' | 'older' {
    if (!this.tableNames().includes('schema_version')) {
      this.refuseForeignDatabase();
      throw new StoreInputError(
        `${this.location} holds no carbonbench results yet (empty database): run \`carbonbench run\` first ` +
          `or pass --db with the path of an existing results.db`,
      );
    }
    const version = this.currentVersion();
    this.refuseNewerVersion(version);
    // Missing migrations that only add indexes change speed, not answers: read the file as it is.
    const missing = MIGRATIONS.filter((m) => m.version > version);
    return missing.every((m) => m.readCompatible === true) ? 'current' : 'older';
  }

  private tableNames(): string[] {
    const rows = this.db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
      .all() as { name: string }[];
    return rows.map((r) => r.name);
  }

  /** Never write into somebody else's SQLite file. */
  private refuseForeignDatabase(): void {
    const tables = this.tableNames();
    if (tables.length > 0 && !tables.includes('schema_version')) {
      const shown = tables.slice(0, 5).join(', ') + (tables.length > 5 ? ', …' : '');
      throw new StoreInputError(
        `${this.location} is an SQLite database but not a carbonbench results database (tables: ${shown}; ` +
          `no schema_version table). carbonbench will not write into it: pass --db with another path.`,
      );
    }
  }

  private refuseNewerVersion(version: number): void {
    if (version <= LATEST_SCHEMA_VERSION) return;
    const row = this.db.prepare('SELECT name FROM schema_version WHERE version = ?').get(version) as
      | { name: string }
      | undefined;
    throw new StoreInputError(
      `${this.location} was written by a newer carbonbench: schema version ${version}` +
        `${row ? ` ("${row.name}")` : ''}, but this carbonbench knows versions up to ${LATEST_SCHEMA_VERSION}. ` +
        `Upgrade carbonbench (npm install -g carbonbench@latest) or pass --db with another path. Nothing was changed.`,
    );
  }

  private currentVersion(): number {
    const row = this.db.prepare('SELECT MAX(version) AS v FROM schema_version').get() as { v: number | null };
    return row.v ?? 0;
  }

  async migrate(): Promise<MigrationResult> {
    return this.write('migrate', () => this.migrateSync());
  }

  async schemaVersion(): Promise<number> {
    return this.read('schemaVersion', () => this.currentVersion());
  }

  // --- runs -----------------------------------------------------------------------------------------

  async createRun(run: NewRun): Promise<number> {
    return this.write('createRun', () =>
      this.insertRow('runs', RUN_COLUMNS, { ...run, status: run.status ?? 'running', startedAt: run.startedAt ?? nowIso() }),
    );
  }

  async updateRunStatus(id: number, status: RunStatus): Promise<void> {
    return this.write(`updateRunStatus(run ${id})`, () => {
      const endedAt = status === 'running' ? null : nowIso();
      const info = this.stmt('UPDATE runs SET status = ?, ended_at = ? WHERE id = ?').run(status, endedAt, id);
      if (info.changes === 0) throw new StoreError(`no run with id ${id} in ${this.location}`);
    });
  }

  async getRun(id: number): Promise<RunRecord | null> {
    return this.read(`getRun(${id})`, () => {
      const row = this.stmt('SELECT * FROM runs WHERE id = ?').get(id) as Row | undefined;
      return row === undefined ? null : fromRow(RUN_COLUMNS, row);
    });
  }

  async listRuns(): Promise<RunRecord[]> {
    return this.read('listRuns', () =>
      (this.stmt('SELECT * FROM runs ORDER BY id').all() as Row[]).map((r) => fromRow(RUN_COLUMNS, r)),
    );
  }

  // --- experiments ----------------------------------------------------------------------------------

  async insertExperiment(row: NewExperiment): Promise<number> {
    return this.write('insertExperiment', () =>
      this.insertRow('experiments', EXPERIMENT_COLUMNS, { ...row, createdAt: nowIso() }),
    );
  }

  async updateExperiment(id: number, patch: ExperimentPatch): Promise<void> {
    return this.write(`updateExperiment(${id})`, () => {
      const update = experimentUpdateStatement(id, patch);
      const found =
        update === null
          ? this.stmt('SELECT 1 FROM experiments WHERE id = ?').get(id) !== undefined // nothing to set: still check the id
          : this.stmt(update.sql).run(...update.params).changes > 0;
      if (!found) throw new StoreError(`no experiment with id ${id} in ${this.location}`);
    });
  }

  async getExperiment(id: number): Promise<ExperimentRecord | null> {
    return this.read(`getExperiment(${id})`, () => {
      const row = this.stmt('SELECT * FROM experiments WHERE id = ?').get(id) as Row | undefined;
      return row === undefined ? null : fromRow(EXPERIMENT_COLUMNS, row);
    });
  }

  async listExperiments(filter: ExperimentFilter = {}): Promise<ExperimentRecord[]> {
    return this.read('listExperiments', () => {
      const list = experimentListStatement(filter);
      if (list === null) return [];
      return (this.stmt(list.sql).all(...list.params) as Row[]).map((r) => fromRow(EXPERIMENT_COLUMNS, r));
    });
  }

  // --- samples and requests -------------------------------------------------------------------------

  async insertSamples(experimentId: number, samples: readonly GpuSample[], source: SampleSource): Promise<number> {
    return this.write(`insertSamples(experiment ${experimentId})`, () =>
      this.insertMany('samples', SAMPLE_COLUMNS, experimentId, samples.map((s) => ({ ...s, source }))),
    );
  }

  async listSamples(experimentId: number): Promise<StoredSample[]> {
    return this.read(`listSamples(experiment ${experimentId})`, () =>
      (this.stmt('SELECT * FROM samples WHERE experiment_id = ? ORDER BY t_s, gpu_index, id').all(experimentId) as Row[]).map(
        (r) => fromRow(SAMPLE_COLUMNS, r),
      ),
    );
  }

  async insertRequests(experimentId: number, rows: readonly RequestRecord[]): Promise<number> {
    return this.write(`insertRequests(experiment ${experimentId})`, () =>
      this.insertMany('requests', REQUEST_COLUMNS, experimentId, rows),
    );
  }

  async listRequests(experimentId: number): Promise<RequestRecord[]> {
    return this.read(`listRequests(experiment ${experimentId})`, () =>
      (this.stmt('SELECT * FROM requests WHERE experiment_id = ? ORDER BY seq').all(experimentId) as Row[]).map((r) =>
        fromRow(REQUEST_COLUMNS, r),
      ),
    );
  }

  // --- notes and BPB cache --------------------------------------------------------------------------

  async addNote(runId: number, kind: string, text: string, experimentId: number | null = null): Promise<number> {
    return this.write(`addNote(run ${runId})`, () => {
      if (kind.trim() === '') throw new StoreError('addNote: expected `kind` to be a non-empty string, got ""');
      return this.insertRow('notes', NOTE_COLUMNS, { runId, kind, text, experimentId, createdAt: nowIso() });
    });
  }

  async listNotes(runId: number): Promise<NoteRecord[]> {
    return this.read(`listNotes(run ${runId})`, () =>
      (this.stmt('SELECT * FROM notes WHERE run_id = ? ORDER BY id').all(runId) as Row[]).map((r) =>
        fromRow(NOTE_COLUMNS, r),
      ),
    );
  }

  async getBpbCache(key: string): Promise<BpbCacheEntry | null> {
    return this.read('getBpbCache', () => {
      const row = this.stmt('SELECT * FROM bpb_cache WHERE cache_key = ?').get(key) as Row | undefined;
      return row === undefined ? null : fromRow(BPB_CACHE_COLUMNS, row);
    });
  }

  async putBpbCache(entry: NewBpbCacheEntry): Promise<void> {
    return this.write('putBpbCache', () => {
      const full: BpbCacheEntry = { scoredTokens: null, method: null, createdAt: nowIso(), ...entry };
      const keys = Object.keys(BPB_CACHE_COLUMNS) as (keyof BpbCacheEntry)[];
      const columns = keys.map((k) => BPB_CACHE_COLUMNS[k][0]);
      const values = keys.map((k) => toDb(BPB_CACHE_COLUMNS[k][1], full[k], `bpb_cache.${BPB_CACHE_COLUMNS[k][0]}`));
      // ON CONFLICT … DO UPDATE: the upsert that SQLite (≥ 3.24) and PostgreSQL both understand.
      const updates = columns.filter((c) => c !== 'cache_key').map((c) => `${c} = excluded.${c}`);
      this.stmt(
        `INSERT INTO bpb_cache (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')}) ` +
          `ON CONFLICT (cache_key) DO UPDATE SET ${updates.join(', ')}`,
      ).run(...values);
    });
  }

  async putIntensityPoints(points: readonly NewIntensityCacheEntry[]): Promise<number> {
    return this.write('putIntensityPoints', () => {
      const keys = Object.keys(INTENSITY_CACHE_COLUMNS) as (keyof IntensityCacheEntry)[];
      const columns = keys.map((k) => INTENSITY_CACHE_COLUMNS[k][0]);
      const unique = ['provider', 'zone', 'signal', 'point_t_s'];
      const updates = columns.filter((c) => !unique.includes(c)).map((c) => `${c} = excluded.${c}`);
      const statement = this.stmt(
        `INSERT INTO intensity_cache (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')}) ` +
          `ON CONFLICT (${unique.join(', ')}) DO UPDATE SET ${updates.join(', ')}`,
      );
      const fetchedAt = nowIso();
      const insertAll = this.db.transaction((all: readonly NewIntensityCacheEntry[]) => {
        for (const p of all) {
          const full: IntensityCacheEntry = { fetchedAt, ...p, pointTime: new Date(p.pointTS * 1000).toISOString() };
          statement.run(...keys.map((k) => toDb(INTENSITY_CACHE_COLUMNS[k][1], full[k], `intensity_cache.${INTENSITY_CACHE_COLUMNS[k][0]}`)));
        }
        return all.length;
      });
      return insertAll(points);
    });
  }

  async listIntensityPoints(key: { provider: IntensityCacheEntry['provider']; zone: string; signal: string }, fromS: number, toS: number): Promise<IntensityCacheEntry[]> {
    return this.read('listIntensityPoints', () =>
      (this.stmt('SELECT * FROM intensity_cache WHERE provider = ? AND zone = ? AND signal = ? AND point_t_s >= ? AND point_t_s <= ? ORDER BY point_t_s')
        .all(key.provider, key.zone, key.signal, Math.floor(fromS), Math.ceil(toS)) as Row[]).map((r) => fromRow(INTENSITY_CACHE_COLUMNS, r)),
    );
  }

  // --- transactions ---------------------------------------------------------------------------------

  async transaction<T>(fn: (tx: Store) => Promise<T> | T): Promise<T> {
    return this.gate.transaction(() => fn(this));
  }

  private rollbackQuietly(): void {
    try {
      if (this.db.open && this.db.inTransaction) this.db.exec('ROLLBACK');
    } catch {
      // SQLite already rolled back (e.g. after SQLITE_FULL); the original error is the one to report.
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.gate.busy) {
      throw new StoreError(`close() on ${this.location} while a transaction is open: await the transaction first`);
    }
    this.closed = true;
    this.statements.clear();
    this.db.close();
    this.onClose?.();
  }

  // --- plumbing -------------------------------------------------------------------------------------

  /**
   * Runs a synchronous operation once no foreign transaction is open. The check and the operation run
   * in the same tick (no await in between), so no transaction can start in the gap.
   */
  private async read<T>(operation: string, op: () => T): Promise<T> {
    return this.gate.run(operation, () => this.exec(operation, op));
  }

  private async write<T>(operation: string, op: () => T): Promise<T> {
    if (this.readonly) {
      throw new StoreError(`${operation}: ${this.location} was opened read-only; open it without readonly to write`);
    }
    return this.read(operation, op);
  }

  private exec<T>(operation: string, op: () => T): T {
    try {
      return op();
    } catch (error) {
      throw toStoreError(error, this.location, operation);
    }
  }

  private assertOpen(operation: string): void {
    if (this.closed) throw new StoreError(`${operation}: the store ${this.location} is closed`);
  }

  /** Statements are cached by their text; identifiers in the text come from the column maps, never from callers. */
  private stmt(sql: string): Statement {
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  /** INSERT of the defined fields of `values`; returns the new id (RETURNING: SQLite ≥ 3.35 and PostgreSQL). */
  private insertRow<T>(table: string, map: ColumnMap<T>, values: Partial<T>): number {
    const insert = insertStatement(table, map, values);
    // Fix (issue 6, tests/faults/disk.test.ts): `.get()` steps once and resets the statement; with
    // RETURNING in autocommit mode the commit happens at that reset, whose error better-sqlite3 does not
    // report. On a full disk createRun/insertExperiment returned an id for a row that was rolled back
    // (then "FOREIGN KEY constraint failed" further on). `.all()` steps to the end, so a failed commit throws.
    const rows = this.stmt(insert.sql).all(...insert.params) as { id: number }[];
    return rows[0]!.id;
  }

  /** Bulk INSERT with one prepared statement in one transaction (a savepoint inside an open one). */
  private insertMany<T extends object>(table: string, map: ColumnMap<T>, experimentId: number, rows: readonly T[]): number {
    const keys = Object.keys(map) as (keyof T)[];
    const columns = keys.map((k) => map[k][0]);
    const statement = this.stmt(
      `INSERT INTO ${table} (experiment_id, ${columns.join(', ')}) VALUES (?, ${columns.map(() => '?').join(', ')})`,
    );
    const insertAll = this.db.transaction((all: readonly T[]) => {
      all.forEach((row, i) => {
        const values = keys.map((k) => toDb(map[k][1], row[k], `${table}.${map[k][0]} (row ${i})`));
        statement.run(experimentId, ...values);
      });
      return all.length;
    });
    return insertAll(rows);
  }
}

// ---------------------------------------------------------------------------------------------------
// Errors

function errnoCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code = (error as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

function describeFsError(error: unknown): string {
  const code = errnoCode(error);
  switch (code) {
    case 'EROFS':
      return 'read-only filesystem (EROFS)';
    case 'EACCES':
    case 'EPERM':
      return `permission denied (${code})`;
    case 'ENOSPC':
      return 'no space left on device (ENOSPC)';
    default:
      return error instanceof Error ? error.message : String(error);
  }
}

/** Whether the filesystem holding `location` has less than 1 MiB left (false when it cannot tell). */
function nearlyFull(location: string): boolean {
  try {
    const fs = statfsSync(dirname(location));
    return fs.bavail * fs.bsize < 1024 * 1024;
  } catch {
    return false;
  }
}

/** Maps a driver or filesystem error to a StoreError that names the path and what to do. */
function toStoreError(error: unknown, location: string, operation: string): StoreError {
  if (error instanceof StoreError) return error;
  const code = errnoCode(error) ?? '';
  const message = error instanceof Error ? error.message : String(error);
  const details = { cause: error };
  if (code.startsWith('SQLITE_READONLY') || code === 'EROFS') {
    return new StoreError(
      `${operation}: ${location} is read-only (${message}): the filesystem, the file or its directory does not ` +
        `allow writing. Pass --db with a writable path, or fix the permissions.`,
      details,
    );
  }
  if (code.startsWith('SQLITE_CANTOPEN')) {
    return new StoreError(
      `${operation}: cannot open ${location} (${message}): it must be a file in a directory you can write ` +
        `(SQLite also creates ${location}-wal and -shm beside it). Pass --db with another path.`,
      details,
    );
  }
  if (code === 'SQLITE_NOTADB') {
    return new StoreInputError(
      `${location} is not an SQLite database (${message}): pass --db with a results.db written by carbonbench, ` +
        `or a path where a new one may be created.`,
      details,
    );
  }
  if (code.startsWith('SQLITE_CORRUPT')) {
    return new StoreError(
      `${location} is corrupt (${message}): restore it from a backup or pass --db with a new path ` +
        `(\`sqlite3 ${location} .recover\` may salvage rows).`,
      details,
    );
  }
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new StoreError(
      `${operation}: ${location} stayed locked by another process for more than ${operation === 'open' ? OPEN_BUSY_TIMEOUT_MS : BUSY_TIMEOUT_MS} ms (${message}): ` +
        `is another carbonbench writing to it? Wait for it or use another --db.`,
      details,
    );
  }
  if (code.startsWith('SQLITE_FULL') || code === 'ENOSPC') {
    return new StoreError(`${operation}: the disk holding ${location} is full (${message}): free space and retry.`, details);
  }
  if (code.startsWith('SQLITE_IOERR')) {
    // Fix (issue 6, tests/faults/disk.test.ts): on a full disk SQLite often reports a bare "disk I/O error"
    // (the -shm or -wal file cannot grow), which sent the user looking for a broken disk.
    if (nearlyFull(location)) {
      return new StoreError(`${operation}: the disk holding ${location} is full (${message}): free space and retry.`, details);
    }
    return new StoreError(`${operation}: I/O error on ${location} (${message}): check the disk and the filesystem.`, details);
  }
  if (code.startsWith('SQLITE_CONSTRAINT')) {
    return new StoreError(`${operation}: rejected by ${location}: ${message}`, details);
  }
  return new StoreError(`${operation} failed on ${location}: ${message}`, details);
}
