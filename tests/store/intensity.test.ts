/**
 * Issue 9 part 2 in the store: the migration that adds the time-resolved intensity columns and the
 * intensity_cache table keeps old rows (they read as "no provider"), and the cache upserts by its key.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { LATEST_SCHEMA_VERSION, MIGRATIONS, SCHEMA_VERSION_TABLE_SQL } from '../../src/store/migrations.js';
import { RESULT_COLUMNS } from '../../src/analysis/query.js';
import { openSqliteStore } from '../../src/store/index.js';
import { newExperiment, newRun, tempDir, track } from './helpers.js';

const MIGRATION = MIGRATIONS.find((m) => m.name.startsWith('time-resolved grid intensity'))!;

describe('time-resolved intensity migration', () => {
  it('migrates a db from the version before: old rows keep their figures and read NULL for the new columns', async () => {
    expect(MIGRATION).toBeDefined();
    const path = join(tempDir(), 'results.db');
    const db = new Database(path);
    db.exec(SCHEMA_VERSION_TABLE_SQL);
    for (const m of MIGRATIONS.filter((x) => x.version < MIGRATION.version)) {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, '2026-01-01T00:00:00.000Z');
    }
    db.prepare("INSERT INTO runs (id, program_text, program_hash, tool_version, started_at) VALUES (1, 'p', 'h', '0.1.0', '2026-01-01T00:00:00.000Z')").run();
    db.prepare("INSERT INTO experiments (run_id, created_at, engine, model, config_json, status, region, intensity_g_kwh, sci_ug) VALUES (1, '2026-01-01T00:00:00.000Z', 'vllm', 'm', '{}', 'ok', 'FR', 44.2, 3.5)").run();
    db.close();

    const store = track(openSqliteStore(path));
    expect(await store.schemaVersion()).toBe(LATEST_SCHEMA_VERSION);
    const [old] = await store.listExperiments();
    expect(old).toMatchObject({ region: 'FR', intensityGKwh: 44.2, sciUg: 3.5, intensityProvider: null, intensityAt: null, intensityEstimated: null, intensityFallback: null, intensityStaticGKwh: null, sciStaticUg: null });
    await store.close();

    const check = new Database(path, { readonly: true });
    const row = check.prepare('SELECT region, intensity_g_kwh, intensity_provider, intensity_static_g_kwh, sci_static_ug, sci_ug FROM results').get();
    check.close();
    expect(row).toEqual({ region: 'FR', intensity_g_kwh: 44.2, intensity_provider: null, intensity_static_g_kwh: null, sci_static_ug: null, sci_ug: 3.5 });
  });

  it('the exports read every column of the results view, in its order (RESULT_COLUMNS)', async () => {
    const path = join(tempDir(), 'results.db');
    await track(openSqliteStore(path)).close();
    const db = new Database(path, { readonly: true });
    const columns = (db.prepare('PRAGMA table_info(results)').all() as { name: string }[]).map((c) => c.name);
    db.close();
    expect(Object.values(RESULT_COLUMNS).map(([c]) => c)).toEqual(columns);
    expect(columns).toEqual(expect.arrayContaining(['intensity_provider', 'intensity_at', 'intensity_static_g_kwh', 'sci_static_ug']));
  });

  it('stores and reads the new experiment fields; CHECK refuses an unknown provider', async () => {
    const store = track(openSqliteStore(join(tempDir(), 'results.db')));
    const runId = await store.createRun(newRun());
    const id = await store.insertExperiment(newExperiment(runId, {
      status: 'ok', intensityGKwh: 159.5, intensityProvider: 'electricitymaps', intensityZone: 'US-NE-ISNE', intensitySignal: 'lifecycle',
      intensityAt: '2027-01-15T08:00:00.000Z', intensityEstimated: false, intensityFallback: false, intensityStaticGKwh: 210, sciStaticUg: 4.25,
    }));
    expect(await store.getExperiment(id)).toMatchObject({ intensityProvider: 'electricitymaps', intensityZone: 'US-NE-ISNE', intensityEstimated: false, intensityFallback: false, intensityStaticGKwh: 210, sciStaticUg: 4.25 });
    await expect(store.updateExperiment(id, { intensityProvider: 'ember' as never })).rejects.toThrow(/CHECK constraint failed/);
  });

  it('intensity_cache: upsert by (provider, zone, signal, point), range reads oldest first, other series apart', async () => {
    const store = track(openSqliteStore(join(tempDir(), 'results.db')));
    const key = { provider: 'electricitymaps' as const, zone: 'DE', signal: 'lifecycle' };
    const point = (pointTS: number, gKwh: number, estimated = false) => ({ ...key, pointTS, periodS: 3600, gKwh, estimated, estimationMethod: estimated ? 'TIME_SLICER_AVERAGE' : null });
    expect(await store.putIntensityPoints([point(7200, 300, true), point(3600, 250), point(10_800, 280)])).toBe(3);
    // A later fetch replaces an estimate with the measured value.
    await store.putIntensityPoints([point(7200, 310)]);
    await store.putIntensityPoints([{ ...point(7200, 999), zone: 'FR' }]);
    const got = await store.listIntensityPoints(key, 3600, 7200);
    expect(got.map((p) => [p.pointTS, p.pointTime, p.gKwh, p.estimated, p.estimationMethod])).toEqual([
      [3600, '1970-01-01T01:00:00.000Z', 250, false, null],
      [7200, '1970-01-01T02:00:00.000Z', 310, false, null],
    ]);
    expect(got[0]!.fetchedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(await store.listIntensityPoints({ ...key, zone: 'FR' }, 0, 1e10)).toHaveLength(1);
    await expect(store.putIntensityPoints([point(1.5, 1)])).rejects.toThrow(/point_t_s: expected an integer/);
  });
});
