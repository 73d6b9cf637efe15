/**
 * Databases written by an older carbonbench: read-only commands still read them without changing the
 * file (directly when the missing migrations only add indexes, else through a migrated temporary
 * copy), and `carbonbench migrate` upgrades them in place.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';

import { openResultsReader, selectRows } from '../../src/analysis/query.js';
import {
  LATEST_SCHEMA_VERSION,
  MIGRATIONS,
  openSqliteStore,
  sqliteDataPath,
} from '../../src/store/index.js';
import { SCHEMA_VERSION_TABLE_SQL } from '../../src/store/migrations.js';
import { runCli } from '../helpers/cli.js';
import { tempDir, track } from './helpers.js';

/** A results.db exactly as version 1 of the schema left it, with one finished experiment. */
function writeVersion1Db(path: string): void {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.exec(SCHEMA_VERSION_TABLE_SQL);
  db.exec(MIGRATIONS[0]!.sql);
  db.prepare('INSERT INTO schema_version (version, name, applied_at) VALUES (1, ?, ?)').run(MIGRATIONS[0]!.name, '2026-01-01T00:00:00.000Z');
  db.prepare(
    `INSERT INTO runs (id, program_text, program_hash, tool_version, status, started_at, host, hardware)
     VALUES (1, 'p', ?, '0.1.0', 'completed', '2026-01-01T00:00:00.000Z', 'h200-box', 'nvidia-h200')`,
  ).run('a'.repeat(64));
  db.prepare(
    `INSERT INTO experiments (id, run_id, created_at, engine, model, params, quant, batch, input_len, output_len,
       config_json, phase, status, window_s, tokens_out, tok_s, energy_j, energy_source, sci_ug, sci_op_ug, sci_emb_ug,
       region, intensity_g_kwh, simulated)
     VALUES (1, 1, '2026-01-01T00:00:01.000Z', 'transformers', 'qwen-0.5b', 4.9e8, 'bf16', 8, 128, 128, '{}', 'grid', 'ok',
       20, 4000, 200, 1000, 'nvml', 12.5, 12, 0.5, 'US-NE-ISNE', 210, 0)`,
  ).run();
  db.close();
}

const sha256 = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');
const needsCopy = MIGRATIONS.some((m) => m.version > 1 && m.readCompatible !== true);

describe('a results.db of schema version 1', () => {
  it('is read read-only without changing the file, and answers queries', async () => {
    const path = join(tempDir(), 'results.db');
    writeVersion1Db(path);
    const before = sha256(path);
    const notices: string[] = [];
    const store = track(openSqliteStore(path, { readonly: true, onNotice: (m) => notices.push(m) }));
    expect(store.location).toBe(path);
    expect((await store.getExperiment(1))?.sciUg).toBe(12.5);
    if (needsCopy) {
      // A migration that adds what queries read is missing: the data comes from a migrated copy.
      expect(await store.schemaVersion()).toBe(LATEST_SCHEMA_VERSION);
      expect(sqliteDataPath(store)).not.toBe(path);
      expect(notices).toHaveLength(1);
      expect(notices[0]).toContain('schema version 1');
      expect(notices[0]).toContain('carbonbench migrate');
    } else {
      // Only index migrations are missing: the file is read as it is, slower but exact.
      expect(await store.schemaVersion()).toBe(1);
      expect(sqliteDataPath(store)).toBe(path);
      expect(notices).toEqual([]);
    }
    const dataPath = sqliteDataPath(store);
    await store.close();
    if (needsCopy) expect(existsSync(dataPath)).toBe(false); // the temporary copy is gone
    expect(sha256(path)).toBe(before);
  });

  it('works with the analysis reader (top, report) and leaves no file behind', async () => {
    const path = join(tempDir(), 'results.db');
    writeVersion1Db(path);
    const before = sha256(path);
    const reader = await openResultsReader(path);
    try {
      const rows = await selectRows(reader, {});
      expect(rows.map((r) => [r.id, r.sciUg, r.host])).toEqual([[1, 12.5, 'h200-box']]);
    } finally {
      await reader.close();
    }
    expect(sha256(path)).toBe(before);
  });

  it('`carbonbench migrate` upgrades it in place, once', async () => {
    const path = join(tempDir(), 'results.db');
    writeVersion1Db(path);
    const first = await runCli(['migrate', '--db', path]);
    expect(first.stderr).toBe('');
    expect(first.exitCode).toBe(0);
    expect(first.stdout).toContain(`schema version ${LATEST_SCHEMA_VERSION} (migrated from 1)`);
    const second = await runCli(['migrate', '--db', path, '--json']);
    expect(second.exitCode).toBe(0);
    expect(JSON.parse(second.stdout)).toEqual({ db: path, from_version: LATEST_SCHEMA_VERSION, schema_version: LATEST_SCHEMA_VERSION });
    const db = new Database(path, { readonly: true });
    const indexes = db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'experiments_scored'").all();
    const experiment = db.prepare('SELECT sci_ug FROM experiments WHERE id = 1').get() as { sci_ug: number };
    db.close();
    expect(indexes).toHaveLength(1);
    expect(experiment.sci_ug).toBe(12.5);
  });

  it('`carbonbench migrate` on a missing file is a usage error that creates nothing', async () => {
    const path = join(tempDir(), 'nope.db');
    const r = await runCli(['migrate', '--db', path]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('does not exist');
    expect(existsSync(path)).toBe(false);
  });
});
