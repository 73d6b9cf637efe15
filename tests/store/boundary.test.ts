/**
 * Migration of the energy boundary (issue 9): new columns round-trip, the CHECK list equals BOUNDARIES,
 * rows measured before the migration become boundary `gpu` with energy_boundary_j = energy_j, and the
 * results view shows the new columns.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/store/index.js';
import { BOUNDARIES, type EnergyComponentRecord } from '../../src/store/types.js';
import { LATEST_SCHEMA_VERSION, MIGRATIONS, SCHEMA_VERSION_TABLE_SQL } from '../../src/store/migrations.js';
import { newExperiment, newRun, tempDir, track } from './helpers.js';

const BOUNDARY_MIGRATION = MIGRATIONS.find((m) => m.name.startsWith('energy boundary'))!;

describe('energy boundary columns', () => {
  it('round-trip boundary, per-component energy and the components JSON', async () => {
    const store = track(openSqliteStore(join(tempDir(), 'r.db')));
    const runId = await store.createRun(newRun());
    const components: EnergyComponentRecord[] = [
      { component: 'gpu', source: 'nvml', sensor: 'GPU 0', energy_j: 2500, counted: true, in_boundary: true, note: null },
      { component: null, source: 'rapl', sensor: 'intel-rapl:0:0 core', energy_j: 300, counted: false, in_boundary: false, note: 'core is part of package intel-rapl:0' },
    ];
    const id = await store.insertExperiment(newExperiment(runId));
    await store.updateExperiment(id, { status: 'ok', energyJ: 2500, tokensOut: 1000, boundary: 'gpu+cpu+dram', energyBoundaryJ: 2960, energyCpuJ: 400, energyDramJ: 60, energyModuleJ: null, energyComponents: components });
    const back = (await store.getExperiment(id))!;
    expect(back).toMatchObject({ boundary: 'gpu+cpu+dram', energyBoundaryJ: 2960, energyCpuJ: 400, energyDramJ: 60, energyModuleJ: null, energyComponents: components });
    const db = new Database(join(store.location), { readonly: true });
    const view = db.prepare('SELECT boundary, energy_boundary_j, energy_cpu_j, energy_dram_j, energy_module_j, j_per_token FROM results WHERE id = ?').get(id);
    db.close();
    expect(view).toEqual({ boundary: 'gpu+cpu+dram', energy_boundary_j: 2960, energy_cpu_j: 400, energy_dram_j: 60, energy_module_j: null, j_per_token: 2.5 });
  });

  it('the CHECK accepts exactly BOUNDARIES', async () => {
    const store = track(openSqliteStore(join(tempDir(), 'r.db')));
    const runId = await store.createRun(newRun());
    for (const boundary of BOUNDARIES) await store.insertExperiment(newExperiment(runId, { boundary }));
    await expect(store.insertExperiment(newExperiment(runId, { boundary: 'gpu+dram' as never }))).rejects.toThrow(/CHECK constraint failed/);
  });

  it('migrating a db from before: measured rows become gpu with energy_boundary_j = energy_j; unmeasured rows stay NULL', async () => {
    const path = join(tempDir(), 'old.db');
    const db = new Database(path);
    db.exec(SCHEMA_VERSION_TABLE_SQL);
    for (const m of MIGRATIONS.filter((x) => x.version < BOUNDARY_MIGRATION.version)) {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, '2026-01-01T00:00:00.000Z');
    }
    db.prepare("INSERT INTO runs (id, program_text, program_hash, tool_version, started_at) VALUES (1, 'p', 'h', '0.1.0', '2026-01-01T00:00:00.000Z')").run();
    db.prepare("INSERT INTO experiments (id, run_id, created_at, engine, model, config_json, status, energy_j, tokens_out) VALUES (1, 1, '2026-01-01T00:00:00.000Z', 'vllm', 'm', '{}', 'ok', 1234.5, 100)").run();
    db.prepare("INSERT INTO experiments (id, run_id, created_at, engine, model, config_json, status) VALUES (2, 1, '2026-01-01T00:00:00.000Z', 'vllm', 'm', '{}', 'failed')").run();
    db.close();
    const store = track(openSqliteStore(path));
    expect(await store.schemaVersion()).toBe(LATEST_SCHEMA_VERSION);
    expect(await store.getExperiment(1)).toMatchObject({ boundary: 'gpu', energyBoundaryJ: 1234.5, energyCpuJ: null, energyComponents: null });
    expect(await store.getExperiment(2)).toMatchObject({ boundary: null, energyBoundaryJ: null });
  });
});
