/**
 * The PostgreSQL store against a real server (tests/helpers/postgres-global.ts): the same migrations
 * translated, the same rows as SQLite for the same calls, transactions, concurrent workers migrating
 * at once, read-only opens, refusals, and credentials kept out of messages.
 */
import { join } from 'node:path';

import Database from 'better-sqlite3';
import pg from 'pg';
import { describe, expect, it } from 'vitest';

import { StoreError } from '../../src/errors.js';
import {
  LATEST_SCHEMA_VERSION,
  MIGRATIONS,
  StoreInputError,
  openPgStore,
  openSqliteStore,
  openStore,
  type RequestRecord,
  type Store,
} from '../../src/store/index.js';
import { toPostgresDdl } from '../../src/store/pg-dialect.js';
import { MIGRATION_LOCK_KEY } from '../../src/store/postgres.js';
import type { GpuSample } from '../../src/telemetry/types.js';
import { pgAvailable, usePgDatabase } from '../helpers/postgres.js';
import { newExperiment, newRun, tempDir, track } from './helpers.js';

const pgdb = usePgDatabase();

async function rawClient(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return client;
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof Error) return error;
  }
  throw new Error('expected a rejection with an Error');
}

const sample = (over: Partial<GpuSample> = {}): GpuSample => ({
  tS: 1_738_361_045.25,
  gpuIndex: 0,
  powerW: 312.5,
  powerInstantW: 320.07,
  tempC: 61,
  memTempC: 70,
  smClockMhz: 1980,
  memClockMhz: 2619,
  fanPct: null,
  utilPct: 100,
  memUsedMib: 70211,
  eventReasons: 0xffff_ffff_ffff_fff1n,
  ...over,
});

/** Column name → type of every table and view, in SQLite's words (TEXT, INTEGER, REAL; '' = expression). */
function sqliteColumns(path: string): Map<string, [string, string][]> {
  const db = new Database(path, { readonly: true });
  const objects = db.prepare("SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as { name: string }[];
  const out = new Map<string, [string, string][]>();
  for (const { name } of objects) {
    const cols = db.prepare(`SELECT name, type FROM pragma_table_info(?) ORDER BY cid`).all(name) as { name: string; type: string }[];
    out.set(name, cols.map((c) => [c.name, c.type.toUpperCase()]));
  }
  db.close();
  return out;
}

async function pgColumns(url: string): Promise<Map<string, [string, string][]>> {
  const client = await rawClient(url);
  const { rows } = await client.query<{ table_name: string; column_name: string; data_type: string }>(
    `SELECT table_name, column_name, data_type FROM information_schema.columns
     WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position`,
  );
  await client.end();
  const out = new Map<string, [string, string][]>();
  for (const r of rows) {
    const list = out.get(r.table_name) ?? [];
    list.push([r.column_name, r.data_type]);
    out.set(r.table_name, list);
  }
  return out;
}

/** The PostgreSQL type each SQLite declared type must become; '' (a computed view column) is a double. */
const PG_TYPE_OF: Record<string, string> = { TEXT: 'text', INTEGER: 'bigint', REAL: 'double precision', '': 'double precision' };

describe.skipIf(!pgAvailable())('PostgreSQL store', () => {
  it('applies every migration of MIGRATIONS: same tables, views, columns and types as SQLite', async () => {
    const url = await pgdb.another();
    const store = track(await openStore(url));
    expect(await store.schemaVersion()).toBe(LATEST_SCHEMA_VERSION);
    const client = await rawClient(url);
    const versions = (await client.query('SELECT version::int AS version, name FROM schema_version ORDER BY version')).rows;
    const indexes = (await client.query("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()")).rows.map((r) => r.indexname as string);
    await client.end();
    expect(versions).toEqual(MIGRATIONS.map((m) => ({ version: m.version, name: m.name })));

    const path = join(tempDir(), 'results.db');
    await track(openSqliteStore(path)).close();
    const lite = sqliteColumns(path);
    const pgCols = await pgColumns(url);
    expect([...pgCols.keys()].sort()).toEqual([...lite.keys()].sort());
    for (const [table, cols] of lite) {
      expect(pgCols.get(table), table).toEqual(cols.map(([name, type]) => [name, PG_TYPE_OF[type] ?? `unmapped ${type}`]));
    }
    // Every named SQLite index exists in PostgreSQL too.
    const db = new Database(path, { readonly: true });
    const liteIndexes = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL").all() as { name: string }[]).map((r) => r.name);
    db.close();
    for (const name of liteIndexes) expect(indexes).toContain(name);
  });

  it('the same calls give the same records as SQLite (every column kind, nulls, 64-bit mask, JSON)', async () => {
    const pgStore = track(await openStore(await pgdb.another()));
    const liteStore = track(openSqliteStore(join(tempDir(), 'results.db')));
    const script = async (store: Store): Promise<unknown> => {
      const runId = await store.createRun(newRun({ host: 'h100-a', hardware: 'h100-sxm', seed: 7, gpuNames: ['NVIDIA H100 80GB HBM3'], agentEndpointLocal: false }));
      const a = await store.insertExperiment(newExperiment(runId, { config: { z: 1, a: { y: [1, 2.5, null], b: 'x' } }, params: 7.6e9 }));
      await store.updateExperiment(a, {
        status: 'ok', energyJ: 1234.5678901234, tokensOut: 9_007_199_254, tokS: 1 / 3, throttled: true, hardwareFallback: false,
        sciUg: 0.1 + 0.2, provenance: { energy_j: 'nvml counter, gpu 0' }, windowStartTS: 1_738_361_045.123456,
      });
      const b = await store.insertExperiment(newExperiment(runId, { model: 'other', status: 'failed', error: 'OOM', simulated: true }));
      await store.insertExperiment(newExperiment(runId, { model: 'third', status: 'ok', study: 'lab-sweep', host: 'h100-a', trialNumber: 3 }));
      await store.insertSamples(a, [sample(), sample({ tS: 1_738_361_046.25, powerW: null, eventReasons: null, gpuIndex: 1 }), sample({ tS: 1_738_361_044, powerW: 0 })], 'nvml');
      const requests: RequestRecord[] = [0, 1, 2].map((seq) => ({
        seq, inWindow: seq > 0, startTS: 100 + seq, endTS: seq === 2 ? null : 101.5 + seq, success: seq !== 2, error: seq === 2 ? 'timeout' : null,
        inputTokens: 512, outputTokens: seq === 2 ? null : 128, ttftMs: 12.5, itlMeanMs: 3.25, itlMaxMs: null, e2eMs: 420,
      }));
      await store.insertRequests(a, requests);
      await store.addNote(runId, 'agent', 'try batch 16', b);
      await store.putBpbCache({ key: 'k1', engine: 'vllm', model: 'm', quant: null, textSha256: 'f'.repeat(64), bpb: 0.987654321, scoredBytes: 4096, createdAt: '2026-01-01T00:00:00.000Z' });
      await store.putBpbCache({ key: 'k1', engine: 'vllm', model: 'm', quant: 'awq', textSha256: 'f'.repeat(64), bpb: 0.9, scoredBytes: 4096, method: 'x', createdAt: '2026-01-01T00:00:00.000Z' });
      const point = { provider: 'electricitymaps' as const, zone: 'US-NE-ISNE', signal: 'lifecycle', periodS: 3600, estimationMethod: null, fetchedAt: '2026-01-01T00:00:00.000Z' };
      await store.putIntensityPoints([
        { ...point, pointTS: 1_767_225_600, gKwh: 201.5, estimated: false },
        { ...point, pointTS: 1_767_229_200, gKwh: 188.25, estimated: true, estimationMethod: 'TIME_SLICER_AVERAGE' },
      ]);
      await store.putIntensityPoints([{ ...point, pointTS: 1_767_225_600, gKwh: 199, estimated: false }]); // upsert
      await store.updateRunStatus(runId, 'completed');
      const strip = <T extends object>(r: T): T => {
        const copy = { ...r } as Record<string, unknown>;
        for (const k of ['createdAt', 'startedAt', 'endedAt']) if (k in copy && copy[k] !== null) copy[k] = typeof copy[k];
        return copy as unknown as T;
      };
      return {
        runs: (await store.listRuns()).map(strip),
        experiments: (await store.listExperiments()).map(strip),
        filtered: (await store.listExperiments({ status: ['failed'], simulated: true, limit: 5 })).map((e) => e.id),
        studied: (await store.listExperiments({ study: 'lab-sweep' })).map((e) => e.id),
        samples: await store.listSamples(a),
        requests: await store.listRequests(a),
        notes: (await store.listNotes(runId)).map(strip),
        bpb: await store.getBpbCache('k1'),
        intensity: await store.listIntensityPoints({ provider: 'electricitymaps', zone: 'US-NE-ISNE', signal: 'lifecycle' }, 1_767_225_000, 1_767_230_000),
        missing: [await store.getRun(999), await store.getExperiment(999), await store.getBpbCache('nope')],
      };
    };
    const fromPg = await script(pgStore);
    expect(fromPg).toEqual(await script(liteStore));
    expect((fromPg as { studied: number[] }).studied).toEqual([3]);
    expect((fromPg as { intensity: { gKwh: number }[] }).intensity.map((p) => p.gKwh)).toEqual([199, 188.25]);
    expect((fromPg as { samples: { eventReasons: bigint | null }[] }).samples[1]!.eventReasons).toBe(0xffff_ffff_ffff_fff1n);
  });

  it('refuses bad values and unknown ids like SQLite, naming the column', async () => {
    const store = track(await openStore(await pgdb.another()));
    const runId = await store.createRun(newRun());
    await expect(store.insertExperiment(newExperiment(runId, { energyJ: Number.NaN }))).rejects.toThrow(/energy_j: expected a finite number/);
    await expect(store.updateExperiment(42, { status: 'ok' })).rejects.toThrow(/no experiment with id 42/);
    await expect(store.updateRunStatus(42, 'completed')).rejects.toThrow(/no run with id 42/);
    const e = await store.insertExperiment(newExperiment(runId));
    await store.insertRequests(e, [{ seq: 0, inWindow: true, startTS: 1, endTS: 2, success: true, error: null, inputTokens: 1, outputTokens: 1, ttftMs: 1, itlMeanMs: 1, itlMaxMs: 1, e2eMs: 1 }]);
    const dup = await rejection(store.insertRequests(e, [{ seq: 0, inWindow: true, startTS: 1, endTS: 2, success: true, error: null, inputTokens: 1, outputTokens: 1, ttftMs: 1, itlMeanMs: 1, itlMaxMs: 1, e2eMs: 1 }]));
    expect(dup).toBeInstanceOf(StoreError);
    expect(dup.message).toMatch(/rejected by postgresql:\/\/postgres@127\.0\.0\.1:\d+\/cb_test_\w+: duplicate key/);
    // All or nothing: a batch with one bad row writes nothing; a large batch spans several statements.
    await expect(store.insertSamples(e, [sample(), sample({ powerW: Number.POSITIVE_INFINITY })], 'nvml')).rejects.toThrow(/row 1/);
    expect(await store.listSamples(e)).toEqual([]);
    const many = Array.from({ length: 5000 }, (_, i) => sample({ tS: 1000 + i }));
    expect(await store.insertSamples(e, many, 'nvml')).toBe(5000);
    expect((await store.listSamples(e)).map((s) => s.tS)).toEqual(many.map((s) => s.tS));
  });

  it('transactions: rollback, commit, the gate for outside callers, savepoints, close', async () => {
    const store = track(await openStore(await pgdb.another()));
    const failure = new Error('engine crashed while scoring');
    await expect(store.transaction(async (tx) => {
      const runId = await tx.createRun(newRun());
      const id = await tx.insertExperiment(newExperiment(runId));
      await tx.insertSamples(id, [sample()], 'nvml');
      await new Promise((r) => setTimeout(r, 5));
      throw failure;
    })).rejects.toBe(failure);
    expect(await store.listRuns()).toEqual([]);

    const runId = await store.createRun(newRun());
    const order: string[] = [];
    let markWritten: () => void = () => undefined;
    const written = new Promise<void>((r) => { markWritten = r; });
    const transaction = store.transaction(async (tx) => {
      await tx.insertExperiment(newExperiment(runId));
      markWritten();
      await new Promise((r) => setTimeout(r, 30));
      order.push('transaction body done');
      throw new Error('roll back');
    });
    await written;
    const outside = store.listExperiments().then((rows) => { order.push('outside read'); return rows; });
    await expect(transaction).rejects.toThrow('roll back');
    expect(await outside).toEqual([]);
    expect(order).toEqual(['transaction body done', 'outside read']);

    await store.transaction(async (tx) => {
      await tx.insertExperiment(newExperiment(runId, { model: 'kept' }));
      await expect(tx.transaction(async (inner) => {
        await inner.insertExperiment(newExperiment(runId, { model: 'dropped' }));
        throw new Error('inner failure');
      })).rejects.toThrow('inner failure');
      await tx.insertExperiment(newExperiment(runId, { model: 'kept too' }));
      await expect(store.close()).rejects.toThrow(/while a transaction is open/);
    });
    expect((await store.listExperiments()).map((e) => e.model)).toEqual(['kept', 'kept too']);
    await store.close();
    await store.close();
    await expect(store.listRuns()).rejects.toThrow(/is closed/);
  });

  it('eight workers opening a new database at once: migrations run once, under the advisory lock', async () => {
    const url = await pgdb.another();
    const stores = await Promise.all(Array.from({ length: 8 }, () => openPgStore(url)));
    try {
      expect(await Promise.all(stores.map((s) => s.schemaVersion()))).toEqual(Array(8).fill(LATEST_SCHEMA_VERSION));
      // Each worker writes through its own connection; all rows land.
      const runIds = await Promise.all(stores.map((s, i) => s.createRun(newRun({ host: `worker-${i}` }))));
      expect(new Set(runIds).size).toBe(8);
      expect((await stores[0]!.listRuns()).map((r) => r.host).sort()).toEqual(Array.from({ length: 8 }, (_, i) => `worker-${i}`).sort());
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
    const client = await rawClient(url);
    const { rows } = await client.query('SELECT COUNT(*)::int AS n FROM schema_version');
    // While another session holds the lock, a migrating worker waits for it.
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    let opened = false;
    const waiting = openPgStore(url).then((s) => { opened = true; return s; });
    await new Promise((r) => setTimeout(r, 300));
    expect(opened).toBe(false);
    await client.query('COMMIT');
    await (await waiting).close();
    await client.end();
    expect(rows[0].n).toBe(MIGRATIONS.length);
  });

  it('read-only opens: no migration of an empty database, writes refused by the session', async () => {
    const url = await pgdb.another();
    const empty = await rejection(openStore(url, { readonly: true }));
    expect(empty).toBeInstanceOf(StoreInputError);
    expect(empty.message).toMatch(/holds no carbonbench results yet/);
    await track(await openStore(url)).close();
    const reader = track(await openStore(url, { readonly: true }));
    expect(reader.readonly).toBe(true);
    await expect(reader.createRun(newRun())).rejects.toThrow(/read-only/);
    expect(await reader.listRuns()).toEqual([]);
  });

  it('refuses a newer schema and a foreign database without changing them', async () => {
    const newer = await pgdb.another();
    await track(await openStore(newer)).close();
    let client = await rawClient(newer);
    await client.query("INSERT INTO schema_version (version, name, applied_at) VALUES ($1, 'from the future', 'x')", [LATEST_SCHEMA_VERSION + 1]);
    await client.end();
    const error = await rejection(openStore(newer));
    expect(error).toBeInstanceOf(StoreInputError);
    expect(error.message).toMatch(/newer carbonbench: schema version \d+ \("from the future"\)/);

    const foreign = await pgdb.another();
    client = await rawClient(foreign);
    await client.query('CREATE TABLE invoices (id int)');
    await client.end();
    const refused = await rejection(openStore(foreign));
    expect(refused).toBeInstanceOf(StoreInputError);
    expect(refused.message).toMatch(/other tables \(invoices\)/);
    client = await rawClient(foreign);
    const tables = (await client.query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")).rows;
    await client.end();
    expect(tables).toEqual([{ table_name: 'invoices' }]);
  });

  it('credentials: the password comes from PGPASSWORD; a wrong one is refused with exit code 2 and never echoed', async () => {
    // pgdb.url carries no password: this worker's PGPASSWORD supplies it (libpq convention).
    expect(pgdb.url).not.toContain(pgdb.password);
    const store = track(await openStore(pgdb.url));
    expect(store.location).toBe(pgdb.url);
    const withPassword = track(await openStore(pgdb.urlWithPassword));
    expect(withPassword.location).not.toContain(pgdb.password);
    expect(withPassword.location).toContain(':***@');

    const wrong = pgdb.url.replace('postgres@', 'postgres:hunter2-wrong@');
    const error = await rejection(openStore(wrong));
    expect(error).toBeInstanceOf(StoreInputError);
    expect((error as StoreError).exitCode).toBe(2);
    expect(error.message).toMatch(/refused the login/);
    expect(error.message).not.toContain('hunter2-wrong');
    const missingDb = await rejection(openStore(pgdb.url.replace(/cb_test_\w+$/, 'no_such_db')));
    expect(missingDb).toBeInstanceOf(StoreInputError);
    expect(missingDb.message).toMatch(/no_such_db.*does not exist.*createdb/);
  });

  it('the translated DDL is what the server ran: no REAL (4-byte) column anywhere', async () => {
    // Outside comments, the translated text names no 4-byte type.
    const ddl = MIGRATIONS.map((m) => toPostgresDdl(m.sql).replace(/--[^\n]*/g, '')).join('\n');
    expect(ddl).not.toMatch(/\bREAL\b|\bINTEGER\b/);
    const client = await rawClient(pgdb.url);
    await track(await openStore(pgdb.url)).close();
    const { rows } = await client.query("SELECT COUNT(*)::int AS n FROM information_schema.columns WHERE table_schema = current_schema() AND data_type IN ('real', 'integer')");
    await client.end();
    expect(rows[0].n).toBe(0);
  });
});
