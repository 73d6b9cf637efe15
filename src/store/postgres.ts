/**
 * The PostgreSQL implementation of Store (node-postgres 8.x), for sweeps that span several hosts
 * (issue 10): every `carbonbench run` worker opens its own connection to the same database.
 *
 * Same schema as SQLite: the migrations of migrations.ts, translated by pg-dialect.ts, recorded in the
 * same schema_version table. Migrations run inside one transaction under a transaction-scoped advisory
 * lock, so workers starting at once serialize there and the later ones find the schema up to date.
 *
 * Values: the column kinds and conversions are SQLite's (toDb/fromRow of sqlite.ts): booleans stay
 * INTEGER 0/1, JSON stays canonical TEXT, the 64-bit event mask stays `0x…` TEXT. BIGINT and NUMERIC
 * come back as JS numbers (PG_TYPES below), as SQLite's INTEGER does, so a row read from either
 * backend is the same object.
 *
 * Transactions follow the SQLite store's contract (types.ts), with the same machinery (tx-gate.ts): calls
 * from outside transaction(fn) wait for it, calls from inside fn join it, nesting makes savepoints.
 * One difference: after a failed statement PostgreSQL refuses every further statement of the
 * transaction until it is rolled back, so catch errors inside fn only around a nested transaction.
 */

import pg from 'pg';

import { StoreError } from '../errors.js';
import type { GpuSample } from '../telemetry/types.js';
import { LATEST_SCHEMA_VERSION, MIGRATIONS, SCHEMA_VERSION_TABLE_SQL, assertMigrationsOrdered } from './migrations.js';
import { toPostgresDdl, toPostgresParams } from './pg-dialect.js';
import { redactPgUrl, redactSecretsIn } from './pg-url.js';
import { experimentListStatement, experimentUpdateStatement, fromRow, insertStatement, toDb, type Row } from './rows.js';
import { TxGate } from './tx-gate.js';
import {
  BPB_CACHE_COLUMNS,
  INTENSITY_CACHE_COLUMNS,
  EXPERIMENT_COLUMNS,
  NOTE_COLUMNS,
  REQUEST_COLUMNS,
  RUN_COLUMNS,
  SAMPLE_COLUMNS,
  StoreInputError,
  type BpbCacheEntry,
  type IntensityCacheEntry,
  type NewIntensityCacheEntry,
  type ColumnMap,
  type ExperimentFilter,
  type ExperimentPatch,
  type ExperimentRecord,
  type MigrationResult,
  type NewBpbCacheEntry,
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

export interface PgStoreOptions {
  /** Queries only: no migration, and the session refuses writes (default_transaction_read_only). */
  readonly?: boolean;
}


/**
 * Key of the advisory lock that serializes migrations (any constant shared by all carbonbench
 * processes; it spells "carbonbench" loosely in hex).
 */
export const MIGRATION_LOCK_KEY = 0x63617262_6e62;

/** How long to wait for the server to accept the connection. */
const CONNECT_TIMEOUT_MS = 10_000;

/** PostgreSQL's own limit on bound parameters per statement is 65535. */
const MAX_PARAMS = 60_000;

/**
 * Type parsers: BIGINT (oid 20, ids, counts, COUNT(*)) and NUMERIC (oid 1700, SUM of BIGINT) as JS
 * numbers like SQLite's INTEGER, instead of node-postgres's strings. Every integer the store holds is far
 * below 2^53. DOUBLE PRECISION and INTEGER are numbers already.
 */
export const PG_TYPES = new pg.TypeOverrides();
PG_TYPES.setTypeParser(20, (v: string) => Number(v));
PG_TYPES.setTypeParser(1700, (v: string) => Number(v));

const nowIso = (): string => new Date().toISOString();

/** A connected pg.Client with carbonbench's type parsers; errors name the redacted URL. */
export async function connectPg(url: string, opts: { readonly?: boolean; operation?: string } = {}): Promise<pg.Client> {
  const client = new pg.Client({
    connectionString: url,
    types: PG_TYPES,
    application_name: 'carbonbench',
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    ...(opts.readonly === true ? { options: '-c default_transaction_read_only=on' } : {}),
  });
  // A connection lost later (server restart) is reported by the next query; without a listener the
  // 'error' event would kill the process.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    throw toPgStoreError(error, url, opts.operation ?? 'open');
  }
  return client;
}

/** Opens the PostgreSQL store at `url`, migrating it to the latest schema unless readonly. */
export async function openPgStore(url: string, opts: PgStoreOptions = {}): Promise<Store> {
  const readonly = opts.readonly === true;
  const client = await connectPg(url, { readonly });
  const store = new PgStore(client, url, readonly);
  try {
    if (readonly) await store.checkReadableVersion();
    else await store.migrateNow();
  } catch (error) {
    await client.end().catch(() => undefined);
    throw toPgStoreError(error, url, 'open');
  }
  return store;
}

class PgStore implements Store {
  readonly location: string;
  readonly readonly: boolean;
  private readonly client: pg.Client;
  /** The URL as given (it may hold a password): used only to connect and to redact messages. */
  private readonly url: string;
  private readonly translated = new Map<string, string>();
  private readonly gate: TxGate;
  private closed = false;

  constructor(client: pg.Client, url: string, readonly: boolean) {
    this.client = client;
    this.url = url;
    this.location = redactPgUrl(url);
    this.readonly = readonly;
    this.gate = new TxGate({
      begin: 'BEGIN',
      assertOpen: (operation) => this.assertOpen(operation),
      exec: (operation, sql) => this.guard(operation, () => this.client.query(sql)),
      rollback: async () => {
        await this.client.query('ROLLBACK').catch(() => undefined);
      },
      rollbackToSavepoint: async (name) => {
        await this.client.query(`ROLLBACK TO SAVEPOINT ${name}`).catch(() => undefined);
        await this.client.query(`RELEASE SAVEPOINT ${name}`).catch(() => undefined);
      },
    });
  }

  // --- schema ---------------------------------------------------------------------------------------

  /** Applies pending migrations in one transaction under the advisory lock. */
  async migrateNow(): Promise<MigrationResult> {
    assertMigrationsOrdered();
    return this.transaction(async () => {
      await this.sql('SELECT pg_advisory_xact_lock(?)', [MIGRATION_LOCK_KEY]);
      await this.refuseForeignDatabase();
      await this.client.query(toPostgresDdl(SCHEMA_VERSION_TABLE_SQL));
      const fromVersion = await this.currentVersion();
      await this.refuseNewerVersion(fromVersion);
      const applied: number[] = [];
      for (const migration of MIGRATIONS) {
        if (migration.version <= fromVersion) continue;
        await this.client.query(toPostgresDdl(migration.sql)); // simple protocol: several statements
        await this.sql('INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)', [
          migration.version,
          migration.name,
          nowIso(),
        ]);
        applied.push(migration.version);
      }
      return { fromVersion, toVersion: Math.max(fromVersion, LATEST_SCHEMA_VERSION), applied };
    });
  }

  async checkReadableVersion(): Promise<void> {
    if (!(await this.tableNames()).includes('schema_version')) {
      await this.refuseForeignDatabase();
      throw new StoreInputError(
        `${this.location} holds no carbonbench results yet (empty database): run \`carbonbench run --db ${this.location}\` ` +
          `first or pass --db with a database that has results`,
      );
    }
    const version = await this.currentVersion();
    await this.refuseNewerVersion(version);
    if (version < LATEST_SCHEMA_VERSION) {
      throw new StoreInputError(
        `${this.location} has schema version ${version}; this carbonbench needs version ${LATEST_SCHEMA_VERSION}. ` +
          `Open it once for writing (any \`carbonbench run\` or \`measure\`) to migrate it, then retry.`,
      );
    }
  }

  /** Tables of the schema the connection uses (search_path), like SQLite's sqlite_master. */
  private async tableNames(): Promise<string[]> {
    const rows = await this.sql(
      "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name",
    );
    return rows.map((r) => String(r.name));
  }

  private async refuseForeignDatabase(): Promise<void> {
    const tables = await this.tableNames();
    if (tables.length > 0 && !tables.includes('schema_version')) {
      const shown = tables.slice(0, 5).join(', ') + (tables.length > 5 ? ', …' : '');
      throw new StoreInputError(
        `${this.location} is a PostgreSQL database but its schema holds other tables (${shown}) and no schema_version ` +
          `table: carbonbench will not write into it. Create a database for carbonbench (createdb carbonbench) ` +
          `or pass another URL.`,
      );
    }
  }

  private async refuseNewerVersion(version: number): Promise<void> {
    if (version <= LATEST_SCHEMA_VERSION) return;
    const [row] = await this.sql('SELECT name FROM schema_version WHERE version = ?', [version]);
    throw new StoreInputError(
      `${this.location} was written by a newer carbonbench: schema version ${version}` +
        `${row ? ` ("${String(row.name)}")` : ''}, but this carbonbench knows versions up to ${LATEST_SCHEMA_VERSION}. ` +
        `Upgrade carbonbench (npm install -g carbonbench@latest) or pass another URL. Nothing was changed.`,
    );
  }

  private async currentVersion(): Promise<number> {
    const [row] = await this.sql('SELECT MAX(version) AS v FROM schema_version');
    return (row?.v as number | null) ?? 0;
  }

  async migrate(): Promise<MigrationResult> {
    if (this.readonly) throw new StoreError(`migrate: ${this.location} was opened read-only; open it without readonly to write`);
    return this.migrateNow();
  }

  async schemaVersion(): Promise<number> {
    // One statement (see read()): an open store always has schema_version (migrated, or checked when
    // opened read-only).
    return this.read('schemaVersion', () => this.currentVersion());
  }

  // --- runs -----------------------------------------------------------------------------------------

  async createRun(run: NewRun): Promise<number> {
    return this.write('createRun', () =>
      this.insertRow('runs', RUN_COLUMNS, { ...run, status: run.status ?? 'running', startedAt: run.startedAt ?? nowIso() }),
    );
  }

  async updateRunStatus(id: number, status: RunStatus): Promise<void> {
    return this.write(`updateRunStatus(run ${id})`, async () => {
      const endedAt = status === 'running' ? null : nowIso();
      const result = await this.exec('UPDATE runs SET status = ?, ended_at = ? WHERE id = ?', [status, endedAt, id]);
      if (result.rowCount === 0) throw new StoreError(`no run with id ${id} in ${this.location}`);
    });
  }

  async getRun(id: number): Promise<RunRecord | null> {
    return this.read(`getRun(${id})`, async () => {
      const [row] = await this.sql('SELECT * FROM runs WHERE id = ?', [id]);
      return row === undefined ? null : fromRow(RUN_COLUMNS, row);
    });
  }

  async listRuns(): Promise<RunRecord[]> {
    return this.read('listRuns', async () => (await this.sql('SELECT * FROM runs ORDER BY id')).map((r) => fromRow(RUN_COLUMNS, r)));
  }

  // --- experiments ----------------------------------------------------------------------------------

  async insertExperiment(row: NewExperiment): Promise<number> {
    return this.write('insertExperiment', () => this.insertRow('experiments', EXPERIMENT_COLUMNS, { ...row, createdAt: nowIso() }));
  }

  async updateExperiment(id: number, patch: ExperimentPatch): Promise<void> {
    // Validated before the gate so that the statement is issued in the same tick as the gate check.
    const update = experimentUpdateStatement(id, patch);
    return this.write(`updateExperiment(${id})`, async () => {
      const found =
        update === null
          ? (await this.sql('SELECT 1 FROM experiments WHERE id = ?', [id])).length > 0
          : ((await this.exec(update.sql, update.params)).rowCount ?? 0) > 0;
      if (!found) throw new StoreError(`no experiment with id ${id} in ${this.location}`);
    });
  }

  async getExperiment(id: number): Promise<ExperimentRecord | null> {
    return this.read(`getExperiment(${id})`, async () => {
      const [row] = await this.sql('SELECT * FROM experiments WHERE id = ?', [id]);
      return row === undefined ? null : fromRow(EXPERIMENT_COLUMNS, row);
    });
  }

  async listExperiments(filter: ExperimentFilter = {}): Promise<ExperimentRecord[]> {
    const list = experimentListStatement(filter);
    if (list === null) return [];
    return this.read('listExperiments', async () => (await this.sql(list.sql, list.params)).map((r) => fromRow(EXPERIMENT_COLUMNS, r)));
  }

  // --- samples and requests -------------------------------------------------------------------------

  async insertSamples(experimentId: number, samples: readonly GpuSample[], source: SampleSource): Promise<number> {
    return this.insertMany('samples', SAMPLE_COLUMNS, experimentId, samples.map((s) => ({ ...s, source })));
  }

  async listSamples(experimentId: number): Promise<StoredSample[]> {
    return this.read(`listSamples(experiment ${experimentId})`, async () =>
      (await this.sql('SELECT * FROM samples WHERE experiment_id = ? ORDER BY t_s, gpu_index, id', [experimentId])).map((r) =>
        fromRow(SAMPLE_COLUMNS, r),
      ),
    );
  }

  async insertRequests(experimentId: number, rows: readonly RequestRecord[]): Promise<number> {
    return this.insertMany('requests', REQUEST_COLUMNS, experimentId, rows);
  }

  async listRequests(experimentId: number): Promise<RequestRecord[]> {
    return this.read(`listRequests(experiment ${experimentId})`, async () =>
      (await this.sql('SELECT * FROM requests WHERE experiment_id = ? ORDER BY seq', [experimentId])).map((r) =>
        fromRow(REQUEST_COLUMNS, r),
      ),
    );
  }

  // --- notes and BPB cache --------------------------------------------------------------------------

  async addNote(runId: number, kind: string, text: string, experimentId: number | null = null): Promise<number> {
    if (kind.trim() === '') throw new StoreError('addNote: expected `kind` to be a non-empty string, got ""');
    return this.write(`addNote(run ${runId})`, () =>
      this.insertRow('notes', NOTE_COLUMNS, { runId, kind, text, experimentId, createdAt: nowIso() }),
    );
  }

  async listNotes(runId: number): Promise<NoteRecord[]> {
    return this.read(`listNotes(run ${runId})`, async () =>
      (await this.sql('SELECT * FROM notes WHERE run_id = ? ORDER BY id', [runId])).map((r) => fromRow(NOTE_COLUMNS, r)),
    );
  }

  async getBpbCache(key: string): Promise<BpbCacheEntry | null> {
    return this.read('getBpbCache', async () => {
      const [row] = await this.sql('SELECT * FROM bpb_cache WHERE cache_key = ?', [key]);
      return row === undefined ? null : fromRow(BPB_CACHE_COLUMNS, row);
    });
  }

  async putBpbCache(entry: NewBpbCacheEntry): Promise<void> {
    const full: BpbCacheEntry = { scoredTokens: null, method: null, createdAt: nowIso(), ...entry };
    const keys = Object.keys(BPB_CACHE_COLUMNS) as (keyof BpbCacheEntry)[];
    const columns = keys.map((k) => BPB_CACHE_COLUMNS[k][0]);
    const values = keys.map((k) => toDb(BPB_CACHE_COLUMNS[k][1], full[k], `bpb_cache.${BPB_CACHE_COLUMNS[k][0]}`));
    const updates = columns.filter((c) => c !== 'cache_key').map((c) => `${c} = excluded.${c}`);
    return this.write('putBpbCache', async () => {
      await this.exec(
        `INSERT INTO bpb_cache (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')}) ` +
          `ON CONFLICT (cache_key) DO UPDATE SET ${updates.join(', ')}`,
        values,
      );
    });
  }

  // --- grid intensity cache (issue 9) ----------------------------------------------------------------

  async putIntensityPoints(points: readonly NewIntensityCacheEntry[]): Promise<number> {
    const keys = Object.keys(INTENSITY_CACHE_COLUMNS) as (keyof IntensityCacheEntry)[];
    const columns = keys.map((k) => INTENSITY_CACHE_COLUMNS[k][0]);
    const unique = ['provider', 'zone', 'signal', 'point_t_s'];
    const updates = columns.filter((c) => !unique.includes(c)).map((c) => `${c} = excluded.${c}`);
    const sql =
      `INSERT INTO intensity_cache (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')}) ` +
      `ON CONFLICT (${unique.join(', ')}) DO UPDATE SET ${updates.join(', ')}`;
    const fetchedAt = nowIso();
    // One transaction: a cache write is all or nothing, as in SQLite.
    return this.transaction(async () => {
      for (const p of points) {
        const full: IntensityCacheEntry = { fetchedAt, ...p, pointTime: new Date(p.pointTS * 1000).toISOString() };
        await this.write('putIntensityPoints', async () => {
          await this.exec(sql, keys.map((k) => toDb(INTENSITY_CACHE_COLUMNS[k][1], full[k], `intensity_cache.${INTENSITY_CACHE_COLUMNS[k][0]}`)));
        });
      }
      return points.length;
    });
  }

  async listIntensityPoints(key: { provider: IntensityCacheEntry['provider']; zone: string; signal: string }, fromS: number, toS: number): Promise<IntensityCacheEntry[]> {
    return this.read('listIntensityPoints', async () =>
      (
        await this.sql('SELECT * FROM intensity_cache WHERE provider = ? AND zone = ? AND signal = ? AND point_t_s >= ? AND point_t_s <= ? ORDER BY point_t_s', [
          key.provider,
          key.zone,
          key.signal,
          Math.floor(fromS),
          Math.ceil(toS),
        ])
      ).map((r) => fromRow(INTENSITY_CACHE_COLUMNS, r)),
    );
  }

  // --- transactions ---------------------------------------------------------------------------------

  async transaction<T>(fn: (tx: Store) => Promise<T> | T): Promise<T> {
    return this.gate.transaction(() => fn(this));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.gate.busy) {
      throw new StoreError(`close() on ${this.location} while a transaction is open: await the transaction first`);
    }
    this.closed = true;
    await this.client.end().catch(() => undefined);
  }

  // --- plumbing -------------------------------------------------------------------------------------

  /**
   * Runs `op` once no foreign transaction is open. `op` must issue its first statement synchronously
   * (before any await of its own): node-postgres queues statements in call order, so a transaction that
   * starts later cannot slip in before it. An op of several statements goes through transaction().
   */
  private async read<T>(operation: string, op: () => Promise<T>): Promise<T> {
    return this.gate.run(operation, () => this.guard(operation, op));
  }

  private async write<T>(operation: string, op: () => Promise<T>): Promise<T> {
    if (this.readonly) {
      throw new StoreError(`${operation}: ${this.location} was opened read-only; open it without readonly to write`);
    }
    return this.read(operation, op);
  }

  private async guard<T>(operation: string, op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (error) {
      throw toPgStoreError(error, this.url, operation);
    }
  }

  private assertOpen(operation: string): void {
    if (this.closed) throw new StoreError(`${operation}: the store ${this.location} is closed`);
  }

  /** `?` placeholders → `$n`, translated once per statement text. */
  private text(sql: string): string {
    let out = this.translated.get(sql);
    if (out === undefined) {
      out = toPostgresParams(sql);
      this.translated.set(sql, out);
    }
    return out;
  }

  private exec(sql: string, params: readonly unknown[] = []): Promise<pg.QueryResult<Row>> {
    return this.client.query<Row>(this.text(sql), params as unknown[]);
  }

  private async sql(sql: string, params: readonly unknown[] = []): Promise<Row[]> {
    return (await this.exec(sql, params)).rows;
  }

  private async insertRow<T>(table: string, map: ColumnMap<T>, values: Partial<T>): Promise<number> {
    const insert = insertStatement(table, map, values);
    const rows = await this.sql(insert.sql, insert.params);
    return rows[0]!.id as number;
  }

  /** Bulk INSERT as multi-row statements (chunks under the parameter limit) in one transaction. */
  private async insertMany<T extends object>(table: string, map: ColumnMap<T>, experimentId: number, rows: readonly T[]): Promise<number> {
    const operation = `insert${table[0]!.toUpperCase()}${table.slice(1)}(experiment ${experimentId})`;
    if (this.readonly) throw new StoreError(`${operation}: ${this.location} was opened read-only; open it without readonly to write`);
    const keys = Object.keys(map) as (keyof T)[];
    const columns = ['experiment_id', ...keys.map((k) => map[k][0])];
    // Converted (and validated) before anything is sent: a bad value fails the call with nothing written.
    const values = rows.map((row, i) => [experimentId, ...keys.map((k) => toDb(map[k][1], row[k], `${table}.${map[k][0]} (row ${i})`))]);
    if (values.length === 0) return 0;
    const perChunk = Math.floor(MAX_PARAMS / columns.length);
    const tuple = `(${columns.map(() => '?').join(', ')})`;
    return this.transaction(async () => {
      for (let i = 0; i < values.length; i += perChunk) {
        const chunk = values.slice(i, i + perChunk);
        await this.guard(operation, () =>
          this.exec(`INSERT INTO ${table} (${columns.join(', ')}) VALUES ${chunk.map(() => tuple).join(', ')}`, chunk.flat()),
        );
      }
      return values.length;
    });
  }
}

// ---------------------------------------------------------------------------------------------------
// Errors

function field(error: unknown, name: string): string | undefined {
  if (typeof error === 'object' && error !== null && name in error) {
    const value = (error as Record<string, unknown>)[name];
    return typeof value === 'string' ? value : undefined;
  }
  return undefined;
}

/**
 * Maps a node-postgres or network error to a StoreError that names the (redacted) URL and what to do.
 * The driver's message is scrubbed of the password too.
 */
export function toPgStoreError(error: unknown, url: string, operation: string): StoreError {
  if (error instanceof StoreError) return error;
  const location = redactPgUrl(url);
  const code = field(error, 'code') ?? '';
  const message = redactSecretsIn(error instanceof Error ? error.message : String(error), url);
  const details = { cause: error };
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'ETIMEDOUT' || code === 'ENOENT' ||
      /timeout expired|Connection terminated/i.test(message)) {
    return new StoreError(
      `${operation}: cannot connect to ${location} (${message}): is the PostgreSQL server running and reachable from ` +
        `this host (host, port, firewall, listen_addresses)?`,
      details,
    );
  }
  if (code === '28P01' || code === '28000' || /password authentication|no password supplied|SASL/i.test(message)) {
    return new StoreInputError(
      `${operation}: PostgreSQL refused the login to ${location} (${message}): set PGUSER/PGPASSWORD in the environment ` +
        `(or ~/.pgpass) rather than in the URL, and check the server's pg_hba.conf`,
      details,
    );
  }
  if (code === '3D000') {
    return new StoreInputError(`${operation}: ${location}: ${message}; create it first (createdb) or pass another URL`, details);
  }
  if (code.startsWith('23')) return new StoreError(`${operation}: rejected by ${location}: ${message}`, details);
  if (code === '25006') {
    return new StoreError(`${operation}: ${location} was opened read-only (${message})`, details);
  }
  return new StoreError(`${operation} failed on ${location}: ${message}${code ? ` (SQLSTATE ${code})` : ''}`, details);
}
