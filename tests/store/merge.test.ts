/**
 * carbonbench merge: results.db files (and PostgreSQL databases) into one, without duplicates, with
 * foreign keys remapped; legacy rows without uid; older sources migrated in a copy; refusals.
 */
import { copyFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';

import { LATEST_SCHEMA_VERSION, MIGRATIONS, StoreInputError, openSqliteStore, openStore, type Store } from '../../src/store/index.js';
import { SCHEMA_VERSION_TABLE_SQL } from '../../src/store/migrations.js';
import { mergeDatabases } from '../../src/store/merge.js';
import type { GpuSample } from '../../src/telemetry/types.js';
import { runCli } from '../helpers/cli.js';
import { pgAvailable, usePgDatabase } from '../helpers/postgres.js';
import { newExperiment, newRun, tempDir, track } from './helpers.js';

const pgdb = usePgDatabase();

const sample = (tS: number, powerW: number | null): GpuSample => ({
  tS, gpuIndex: 0, powerW, powerInstantW: null, tempC: 60, memTempC: null, smClockMhz: 1980, memClockMhz: null,
  fanPct: null, utilPct: 100, memUsedMib: 1000, eventReasons: 4n,
});

/** A results.db of one host: a run with `n` finished experiments (samples, requests, notes), a bpb entry. */
async function hostDb(path: string, host: string, n: number, opts: { unfinished?: boolean } = {}): Promise<void> {
  const store = openSqliteStore(path);
  const runId = await store.createRun(newRun({ host, hardware: host.startsWith('h200') ? 'h200-sxm' : 'h100-sxm' }));
  for (let i = 0; i < n; i++) {
    const id = await store.insertExperiment(newExperiment(runId, { batch: 2 ** i, config: { batch: 2 ** i, host } }));
    await store.updateExperiment(id, { status: 'ok', energyJ: 100 + i, tokensOut: 1000, sciUg: 10 + i + (host.length % 3) / 10, tokS: 50 * (i + 1), hardwareId: host });
    await store.insertSamples(id, [sample(1000 + i, 300), sample(1001 + i, null)], 'nvml');
    await store.insertRequests(id, [{ seq: 0, inWindow: true, startTS: 1, endTS: 2, success: true, error: null, inputTokens: 512, outputTokens: 128, ttftMs: 10, itlMeanMs: 2, itlMaxMs: 3, e2eMs: 300 }]);
    await store.addNote(runId, 'agent', `exp ${i} on ${host}`, id);
  }
  if (opts.unfinished === true) await store.insertExperiment(newExperiment(runId, { model: 'still-queued' }));
  await store.addNote(runId, 'phase_switch', 'grid → random');
  await store.putBpbCache({ key: `bpb-${host}`, engine: 'vllm', model: 'm', quant: null, textSha256: 'a'.repeat(64), bpb: 0.8, scoredBytes: 10 });
  await store.putBpbCache({ key: 'bpb-shared', engine: 'vllm', model: 'm', quant: null, textSha256: 'a'.repeat(64), bpb: 0.7, scoredBytes: 10 });
  await store.close();
}

/** Everything of a store except ids, as comparable data (experiments by uid-independent content). */
async function contents(store: Store): Promise<unknown> {
  const runs = await store.listRuns();
  const out = [];
  for (const run of runs) {
    const experiments = [];
    for (const e of await store.listExperiments({ runId: run.id })) {
      experiments.push({ ...e, id: 0, runId: 0, samples: await store.listSamples(e.id), requests: await store.listRequests(e.id) });
    }
    const notes = (await store.listNotes(run.id)).map((n) => ({ kind: n.kind, text: n.text, createdAt: n.createdAt, hasExperiment: n.experimentId !== null }));
    out.push({ ...run, id: 0, experiments, notes });
  }
  return out;
}

describe('mergeDatabases (SQLite)', () => {
  it('imports two hosts, then skips everything when merged again or via a copy of a copy', async () => {
    const dir = tempDir();
    const [a, b, c, d] = ['a.db', 'b.db', 'c.db', 'd.db'].map((f) => join(dir, f)) as [string, string, string, string];
    await hostDb(a, 'h100-node', 3);
    await hostDb(b, 'h200-node', 2);
    const first = await mergeDatabases([a, b], c);
    expect(first.schemaVersion).toBe(LATEST_SCHEMA_VERSION);
    expect(first.sources.map((s) => [s.runs, s.experiments, s.samples, s.requests, s.notes, s.bpbCache])).toEqual([
      [{ imported: 1, skipped: 0 }, { imported: 3, skipped: 0, unfinished: 0 }, 6, 3, { imported: 4, skipped: 0 }, { imported: 2, skipped: 0 }],
      [{ imported: 1, skipped: 0 }, { imported: 2, skipped: 0, unfinished: 0 }, 4, 2, { imported: 3, skipped: 0 }, { imported: 1, skipped: 1 }],
    ]);
    const merged = track(openSqliteStore(c, { readonly: true }));
    const [sa, sb] = [track(openSqliteStore(a, { readonly: true })), track(openSqliteStore(b, { readonly: true }))];
    // Same rows as the sources, foreign keys remapped (run ids 1 and 2, experiments under their own run).
    expect(await contents(merged)).toEqual([...((await contents(sa)) as unknown[]), ...((await contents(sb)) as unknown[])]);
    expect((await merged.listExperiments()).map((e) => [e.id, e.runId])).toEqual([[1, 1], [2, 1], [3, 1], [4, 2], [5, 2]]);

    const again = await mergeDatabases([a, b], c);
    for (const s of again.sources) {
      expect(s.runs.imported + s.experiments.imported + s.notes.imported + s.bpbCache.imported + s.samples + s.requests).toBe(0);
    }
    expect(again.sources[0]!.experiments.skipped).toBe(3);
    copyFileSync(c, d);
    const viaCopy = await mergeDatabases([a, c], d);
    expect(viaCopy.sources.every((s) => s.experiments.imported === 0 && s.runs.imported === 0)).toBe(true);
    await expect(mergeDatabases([c], c)).rejects.toThrow(/cannot be merged into itself/);
  });

  it('rows from before uids (NULL uid) get a derived key: no duplicates on re-merge or through a copy', async () => {
    const dir = tempDir();
    const [a, c, d] = ['a.db', 'c.db', 'd.db'].map((f) => join(dir, f)) as [string, string, string];
    await hostDb(a, 'old-host', 2);
    const raw = new Database(a);
    raw.exec('UPDATE runs SET uid = NULL; UPDATE experiments SET uid = NULL;');
    raw.close();
    expect((await mergeDatabases([a], c)).sources[0]!.experiments.imported).toBe(2);
    const db = new Database(c, { readonly: true });
    const uids = (db.prepare('SELECT uid FROM experiments ORDER BY id').all() as { uid: string }[]).map((r) => r.uid);
    db.close();
    expect(uids.every((u) => /^[0-9a-f]{64}$/.test(u))).toBe(true); // derived, stored in the copy
    expect((await mergeDatabases([a], c)).sources[0]!.experiments).toEqual({ imported: 0, skipped: 2, unfinished: 0 });
    await mergeDatabases([c], d);
    expect((await mergeDatabases([a], d)).sources[0]!.experiments).toEqual({ imported: 0, skipped: 2, unfinished: 0 });
  });

  it('unfinished experiments wait for a later merge; a finished run updates its status', async () => {
    const dir = tempDir();
    const [a, c] = [join(dir, 'a.db'), join(dir, 'c.db')];
    await hostDb(a, 'busy-host', 1, { unfinished: true });
    const first = await mergeDatabases([a], c);
    expect(first.sources[0]!.experiments).toEqual({ imported: 1, skipped: 0, unfinished: 1 });
    const src = openSqliteStore(a);
    const queued = (await src.listExperiments({ status: 'queued' }))[0]!;
    await src.updateExperiment(queued.id, { status: 'ok', sciUg: 99, energyJ: 1, tokensOut: 1 });
    await src.addNote(queued.runId, 'agent', 'late note', queued.id);
    await src.updateRunStatus(queued.runId, 'completed');
    await src.close();
    const second = await mergeDatabases([a], c);
    expect(second.sources[0]!.experiments).toEqual({ imported: 1, skipped: 1, unfinished: 0 });
    expect(second.sources[0]!.notes.imported).toBe(1);
    expect(second.sources[0]!.runsUpdated).toBe(1);
    const merged = track(openSqliteStore(c, { readonly: true }));
    expect((await merged.listRuns())[0]!.status).toBe('completed');
    expect((await merged.listExperiments()).map((e) => e.model)).toContain('still-queued');
  });

  it('an older source is migrated in a temporary copy (the file is untouched); a newer target is refused', async () => {
    const dir = tempDir();
    const old = join(dir, 'old.db');
    // A results.db as the release before the uid migration wrote it: every migration before it.
    const uidIndex = MIGRATIONS.findIndex((m) => m.name.startsWith('runs.uid and experiments.uid'));
    expect(uidIndex).toBeGreaterThan(0);
    const raw = new Database(old);
    raw.exec(SCHEMA_VERSION_TABLE_SQL);
    for (const m of MIGRATIONS.slice(0, uidIndex)) {
      raw.exec(m.sql);
      raw.prepare('INSERT INTO schema_version VALUES (?, ?, ?)').run(m.version, m.name, '2025-01-01T00:00:00Z');
    }
    raw.prepare("INSERT INTO runs (program_text, program_hash, tool_version, started_at) VALUES ('p', 'h', '0.1.0', '2025-01-01T00:00:00Z')").run();
    raw.prepare("INSERT INTO experiments (run_id, created_at, engine, model, config_json, status, sci_ug) VALUES (1, '2025-01-01T00:00:01Z', 'vllm', 'm', '{}', 'ok', 5)").run();
    raw.close();
    const before = statSync(old).mtimeMs;
    const into = join(dir, 'into.db');
    const report = await mergeDatabases([old], into);
    expect(report.sources[0]!.experiments.imported).toBe(1);
    expect((await mergeDatabases([old], into)).sources[0]!.experiments.skipped).toBe(1);
    const check = new Database(old, { readonly: true });
    expect((check.prepare('SELECT MAX(version) AS v FROM schema_version').get() as { v: number }).v).toBe(MIGRATIONS[uidIndex - 1]!.version);
    check.close();
    expect(statSync(old).mtimeMs).toBe(before);

    const newer = join(dir, 'newer.db');
    await hostDb(newer, 'x', 1);
    const n = new Database(newer);
    n.prepare("INSERT INTO schema_version VALUES (?, 'future', 'x')").run(LATEST_SCHEMA_VERSION + 1);
    n.close();
    const error = await mergeDatabases([old], newer).catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(StoreInputError);
    expect((error as Error).message).toMatch(/newer carbonbench/);
  });
});

describe.skipIf(!pgAvailable())('mergeDatabases with PostgreSQL', () => {
  it('SQLite files into PostgreSQL and back: the same rows, no duplicates on a second merge', async () => {
    const dir = tempDir();
    const [a, b, lite, back] = ['a.db', 'b.db', 'c.db', 'back.db'].map((f) => join(dir, f)) as [string, string, string, string];
    await hostDb(a, 'h100-node', 3);
    await hostDb(b, 'h200-node', 2);
    const url = await pgdb.another();
    const toPg = await mergeDatabases([a, b], url);
    expect(toPg.into).toBe(url);
    expect(toPg.sources.map((s) => s.experiments.imported)).toEqual([3, 2]);
    expect((await mergeDatabases([a, b], url)).sources.map((s) => s.experiments.skipped)).toEqual([3, 2]);
    await mergeDatabases([a, b], lite);
    const pgStore = track(await openStore(url, { readonly: true }));
    const liteStore = track(openSqliteStore(lite, { readonly: true }));
    expect(await contents(pgStore)).toEqual(await contents(liteStore));
    // PostgreSQL as a source; and the copy made from it is known to the originals.
    await mergeDatabases([url], back);
    expect(await contents(track(openSqliteStore(back, { readonly: true })))).toEqual(await contents(liteStore));
    expect((await mergeDatabases([a], back)).sources[0]!.experiments.skipped).toBe(3);
  });

  it('the CLI: --json counts, the password never printed, --into required (exit 2)', async () => {
    const dir = tempDir();
    const a = join(dir, 'a.db');
    await hostDb(a, 'cli-host', 1);
    const url = (await pgdb.another()).replace('postgres@', `postgres:${pgdb.password}@`);
    const r = await runCli(['merge', a, '--into', url, '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).not.toContain(pgdb.password);
    const doc = JSON.parse(r.stdout) as { into: string; sources: { experiments: { imported: number } }[] };
    expect(doc.into).toContain(':***@');
    expect(doc.sources[0]!.experiments.imported).toBe(1);
    const text = await runCli(['merge', a, '--into', url]);
    expect(text.exitCode).toBe(0);
    expect(text.stdout).toMatch(/0 new, 1 dup/);
    const missing = await runCli(['merge', a]);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toMatch(/--into is required/);
  });
});
