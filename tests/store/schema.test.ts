import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';

import { StoreError } from '../../src/errors.js';
import {
  ENERGY_SOURCES,
  EXPERIMENT_COLUMNS,
  EXPERIMENT_STATUSES,
  LATEST_SCHEMA_VERSION,
  MIGRATIONS,
  RUN_STATUSES,
  SAMPLE_SOURCES,
  StoreInputError,
  openSqliteStore,
  openStore,
  type ExperimentStatus,
} from '../../src/store/index.js';
import { assertMigrationsOrdered } from '../../src/store/migrations.js';
import { newExperiment, newRun, tempDir, track } from './helpers.js';

function raw(path: string): Database.Database {
  return new Database(path);
}

/** Catches the error of a sync or async call; fails the test when nothing is thrown. */
async function errorOf(fn: () => unknown): Promise<Error> {
  try {
    await fn();
  } catch (error) {
    if (error instanceof Error) return error;
    throw new Error(`threw a non-Error: ${String(error)}`);
  }
  throw new Error('expected an error, got none');
}

describe('migrations', () => {
  it('are numbered 1, 2, 3, … and the latest version is the last one', () => {
    expect(() => assertMigrationsOrdered()).not.toThrow();
    expect(LATEST_SCHEMA_VERSION).toBe(MIGRATIONS.length);
    expect(() => assertMigrationsOrdered([{ version: 2, name: 'x', sql: '' }])).toThrow(/expected 1/);
  });

  it('create every table, index and the results view', async () => {
    const path = join(tempDir(), 'results.db');
    await track(openSqliteStore(path)).close();
    const db = raw(path);
    const objects = db.prepare("SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'").all() as {
      type: string;
      name: string;
    }[];
    db.close();
    const tables = objects.filter((o) => o.type === 'table').map((o) => o.name).sort();
    expect(tables).toEqual(['bpb_cache', 'experiments', 'notes', 'requests', 'runs', 'samples', 'schema_version']);
    expect(objects).toContainEqual({ type: 'view', name: 'results' });
    expect(objects).toContainEqual({ type: 'index', name: 'experiments_run_status' });
    expect(objects).toContainEqual({ type: 'index', name: 'samples_experiment_t' });
  });

  it('give experiments every column that DESIGN.md and the column map name', async () => {
    const path = join(tempDir(), 'results.db');
    await track(openSqliteStore(path)).close();
    const db = raw(path);
    const columns = (db.prepare('PRAGMA table_info(experiments)').all() as { name: string }[]).map((c) => c.name);
    const runColumns = (db.prepare('PRAGMA table_info(runs)').all() as { name: string }[]).map((c) => c.name);
    db.close();
    const required = [
      'engine', 'model', 'params', 'quant', 'batch', 'input_len', 'output_len', 'config_json', 'phase', 'rationale',
      'status', 'error', 'window_s', 'requests', 'tokens_out', 'tok_s',
      'ttft_p50_ms', 'ttft_p90_ms', 'ttft_p99_ms', 'itl_p50_ms', 'itl_p90_ms', 'itl_p99_ms',
      'e2e_p50_ms', 'e2e_p90_ms', 'e2e_p99_ms', 'energy_j', 'energy_source', 'energy_nvml_j', 'energy_smi_j',
      'energy_ci_rel', 'energy_samples', 'avg_power_w', 'peak_power_w', 'start_temp_c', 'max_temp_c', 'throttled',
      'throttle_reasons', 'bpb', 'region', 'intensity_g_kwh', 'embodied_g', 'hardware_id', 'hardware_fallback',
      'gpus_used', 'sci_op_ug', 'sci_emb_ug', 'sci_ug', 'simulated', 'server_key', 'started_at', 'ended_at',
      'cooldown_wait_s', 'provenance',
    ];
    for (const column of required) expect(columns, column).toContain(column);
    // The TypeScript map and the table agree exactly: no column is unreachable, none is missing, except
    // `uid`, which the store writes itself at insert (identity for carbonbench merge, never a caller's).
    expect(columns).toContain('uid');
    expect(runColumns).toContain('uid');
    expect(new Set(columns.filter((c) => c !== 'uid'))).toEqual(new Set(Object.values(EXPERIMENT_COLUMNS).map(([c]) => c)));
    for (const column of ['program_text', 'program_hash', 'hardware', 'host', 'tool_version', 'seed', 'status',
      'started_at', 'ended_at', 'gpu_names', 'driver_version', 'agent_endpoint_local']) {
      expect(runColumns, column).toContain(column);
    }
  });

  it('record schema_version once and are not re-applied on re-open', async () => {
    const path = join(tempDir(), 'results.db');
    const first = track(openSqliteStore(path));
    expect(await first.schemaVersion()).toBe(LATEST_SCHEMA_VERSION);
    const runId = await first.createRun(newRun());
    await first.close();

    let db = raw(path);
    const before = db.prepare('SELECT version, name, applied_at FROM schema_version ORDER BY version').all();
    db.close();
    expect(before).toHaveLength(MIGRATIONS.length);
    expect(before[0]).toMatchObject({ version: 1, name: MIGRATIONS[0]?.name });
    expect((before[0] as { applied_at: string }).applied_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

    const second = track(openSqliteStore(path));
    expect(await second.migrate()).toEqual({
      fromVersion: LATEST_SCHEMA_VERSION,
      toVersion: LATEST_SCHEMA_VERSION,
      applied: [],
    });
    expect(await second.getRun(runId)).not.toBeNull(); // data kept: nothing was recreated
    await second.close();

    db = raw(path);
    expect(db.prepare('SELECT version, name, applied_at FROM schema_version ORDER BY version').all()).toEqual(before);
    db.close();
  });

  it('keep CHECK lists equal to the TypeScript enumerations', async () => {
    const store = track(openSqliteStore(join(tempDir(), 'results.db')));
    const runId = await store.createRun(newRun());
    for (const status of EXPERIMENT_STATUSES) await store.insertExperiment(newExperiment(runId, { status }));
    for (const energySource of ENERGY_SOURCES) await store.insertExperiment(newExperiment(runId, { energySource }));
    for (const status of RUN_STATUSES) await store.updateRunStatus(runId, status);
    const experimentId = await store.insertExperiment(newExperiment(runId));
    for (const source of SAMPLE_SOURCES) {
      await store.insertSamples(experimentId, [{ tS: 1, gpuIndex: 0, powerW: null, powerInstantW: null, tempC: null,
        memTempC: null, smClockMhz: null, memClockMhz: null, fanPct: null, utilPct: null, memUsedMib: null,
        eventReasons: null }], source);
    }
    expect(await store.listExperiments({ runId })).toHaveLength(EXPERIMENT_STATUSES.length + ENERGY_SOURCES.length + 1);
    expect((await store.listSamples(experimentId)).map((s) => s.source).sort()).toEqual([...SAMPLE_SOURCES].sort());
  });

  it('CHECK on experiments.status rejects an unknown value, on insert and on update', async () => {
    const store = track(openSqliteStore(join(tempDir(), 'results.db')));
    const runId = await store.createRun(newRun());
    const bogus = 'done' as unknown as ExperimentStatus;
    const insertError = await errorOf(() => store.insertExperiment(newExperiment(runId, { status: bogus })));
    expect(insertError).toBeInstanceOf(StoreError);
    expect(insertError.message).toMatch(/CHECK constraint failed/);
    const id = await store.insertExperiment(newExperiment(runId));
    const updateError = await errorOf(() => store.updateExperiment(id, { status: bogus }));
    expect(updateError.message).toMatch(/CHECK constraint failed/);
    expect((await store.getExperiment(id))?.status).toBe('queued');
    expect(await store.listExperiments()).toHaveLength(1);
  });
});

describe('opening', () => {
  it('turns on WAL mode and foreign keys', async () => {
    const path = join(tempDir(), 'results.db');
    const store = track(openSqliteStore(path));
    const fkError = await errorOf(() => store.insertExperiment(newExperiment(999)));
    expect(fkError).toBeInstanceOf(StoreError);
    expect(fkError.message).toMatch(/FOREIGN KEY/);
    await store.close();
    const db = raw(path);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal'); // persistent in the file
    db.close();
  });

  it('refuses a database with a newer schema version and leaves it unchanged', async () => {
    const path = join(tempDir(), 'results.db');
    await track(openSqliteStore(path)).close();
    const db = raw(path);
    db.prepare('INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)').run(
      LATEST_SCHEMA_VERSION + 41, 'from the future', '2030-01-01T00:00:00.000Z');
    db.close();
    const bytes = readFileSync(path);

    for (const readonly of [false, true]) {
      const error = await errorOf(() => openSqliteStore(path, { readonly }));
      expect(error).toBeInstanceOf(StoreInputError);
      expect((error as StoreInputError).exitCode).toBe(2);
      expect(error.message).toContain(path);
      expect(error.message).toContain(`schema version ${LATEST_SCHEMA_VERSION + 41}`);
      expect(error.message).toMatch(/newer carbonbench/);
      expect(error.message).toMatch(/Upgrade carbonbench/);
    }
    expect(readFileSync(path).equals(bytes)).toBe(true);
  });

  it('refuses a file that is not a database, naming the path', async () => {
    const path = join(tempDir(), 'notes.txt');
    writeFileSync(path, 'hello, this is a text file and certainly not SQLite\n'.repeat(20));
    const error = await errorOf(() => openSqliteStore(path));
    expect(error).toBeInstanceOf(StoreError);
    expect(error.message).toContain(path);
    expect(error.message).toMatch(/not an SQLite database/);
    expect(readFileSync(path, 'utf8')).toMatch(/^hello/);
  });

  it("refuses another program's SQLite database instead of writing into it", async () => {
    const path = join(tempDir(), 'other.db');
    const db = raw(path);
    db.exec('CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)');
    db.close();
    const error = await errorOf(() => openSqliteStore(path));
    expect(error).toBeInstanceOf(StoreInputError);
    expect(error.message).toMatch(/not a carbonbench results database.*customers/);
    const check = raw(path);
    const names = (check.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map(
      (r) => r.name);
    check.close();
    expect(names).toEqual(['customers']);
  });

  it('does not create a missing parent directory, and says which one is missing', async () => {
    const dir = tempDir();
    const path = join(dir, 'no-such-dir', 'results.db');
    const error = await errorOf(() => openSqliteStore(path));
    expect(error).toBeInstanceOf(StoreInputError);
    expect(error.message).toContain(join(dir, 'no-such-dir'));
    expect(error.message).toMatch(/does not exist/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('refuses a directory given as the database path', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'results.db'));
    const error = await errorOf(() => openSqliteStore(join(dir, 'results.db')));
    expect(error.message).toMatch(/is a directory/);
  });

  it('read-only: reads an existing db, refuses writes, and refuses a missing file', async () => {
    const dir = tempDir();
    const path = join(dir, 'results.db');
    const writer = track(openSqliteStore(path));
    const runId = await writer.createRun(newRun());
    await writer.close();

    const reader = track(openSqliteStore(path, { readonly: true }));
    expect(reader.readonly).toBe(true);
    expect((await reader.getRun(runId))?.programHash).toBe('a'.repeat(64));
    const writeError = await errorOf(() => reader.createRun(newRun()));
    expect(writeError).toBeInstanceOf(StoreError);
    expect(writeError.message).toMatch(/read-only/);
    expect(await reader.listRuns()).toHaveLength(1);

    const missing = await errorOf(() => openSqliteStore(join(dir, 'missing.db'), { readonly: true }));
    expect(missing).toBeInstanceOf(StoreInputError);
    expect(missing.message).toContain(join(dir, 'missing.db'));
    expect(readdirSync(dir).filter((f) => f.startsWith('missing'))).toEqual([]);
  });

  it('openStore: a bad or unreachable postgresql:// URL names the URL without its password', async () => {
    const badPort = await errorOf(() => openStore('postgresql://bench:s3cret@db.example:99999/results'));
    expect(badPort).toBeInstanceOf(StoreError);
    expect((badPort as StoreError).exitCode).toBe(2);
    expect(badPort.message).toMatch(/postgresql:\/\/bench:\*\*\*@/);
    expect(badPort.message).not.toContain('s3cret');
    // Port 1 on loopback: nothing listens, the connection is refused (a real connect attempt).
    const refused = await errorOf(() => openStore('postgresql://bench:s3cret@127.0.0.1:1/results'));
    expect(refused).toBeInstanceOf(StoreError);
    expect(refused.message).toMatch(/cannot connect to postgresql:\/\/bench:\*\*\*@127\.0\.0\.1:1\/results/);
    expect(refused.message).not.toContain('s3cret');
    const other = await errorOf(() => openStore('mysql://x/y'));
    expect((other as StoreError).exitCode).toBe(2);
    expect(other.message).toMatch(/unsupported URL scheme "mysql"/);
  });

  it("':memory:' opens a private migrated store (for tests of other modules)", async () => {
    const store = track(openSqliteStore(':memory:'));
    expect(await store.schemaVersion()).toBe(LATEST_SCHEMA_VERSION);
    const runId = await store.createRun(newRun());
    expect((await store.getRun(runId))?.status).toBe('running');
  });

  it('openStore: a file path opens a migrated SQLite store', async () => {
    const store = track(await openStore(join(tempDir(), 'results.db')));
    expect(await store.schemaVersion()).toBe(LATEST_SCHEMA_VERSION);
  });
});
