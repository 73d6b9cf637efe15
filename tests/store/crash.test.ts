/**
 * "Completed experiments survive any crash" (DESIGN.md section 8), tested with a real crash: a child
 * process writes through the store and dies by SIGKILL (no close, no cleanup) while a second experiment
 * is half-written inside an open transaction.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';

import { openSqliteStore } from '../../src/store/index.js';
import { tempDir, track } from './helpers.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const storeModule = join(repoRoot, 'src', 'store', 'index.ts');
const viteNode = join(repoRoot, 'node_modules', 'vite-node', 'vite-node.mjs');

const childSource = (dbPath: string): string => `
import { openSqliteStore } from ${JSON.stringify(storeModule)};
const store = openSqliteStore(${JSON.stringify(dbPath)});
const runId = await store.createRun({ programText: 'p', programHash: 'h', toolVersion: '0.1.0' });
const sample = (tS) => ({ tS, gpuIndex: 0, powerW: 300, powerInstantW: null, tempC: 60, memTempC: null,
  smClockMhz: null, memClockMhz: null, fanPct: null, utilPct: null, memUsedMib: null, eventReasons: 4n });
await store.transaction(async (tx) => {
  const id = await tx.insertExperiment({ runId, engine: 'sim', model: 'completed', config: {}, status: 'ok', energyJ: 99 });
  await tx.insertSamples(id, [sample(1), sample(2)], 'sim');
});
await store.transaction(async (tx) => {
  const id = await tx.insertExperiment({ runId, engine: 'sim', model: 'half-written', config: {}, status: 'ok' });
  await tx.insertSamples(id, [sample(3)], 'sim');
  process.kill(process.pid, 'SIGKILL');
  await new Promise(() => {});
});
`;

describe('crash safety', () => {
  it('keeps committed experiments and drops the half-written one after SIGKILL', async () => {
    const dir = tempDir();
    const dbPath = join(dir, 'results.db');
    const script = join(dir, 'child.ts');
    writeFileSync(script, childSource(dbPath));

    const signal = await new Promise<NodeJS.Signals | null>((resolveExit) => {
      const child = execFile(process.execPath, [viteNode, script], { cwd: repoRoot, timeout: 60_000 });
      child.on('exit', (_code, sig) => resolveExit(sig));
    });
    expect(signal).toBe('SIGKILL');

    const store = track(openSqliteStore(dbPath));
    const experiments = await store.listExperiments();
    expect(experiments.map((e) => [e.model, e.status, e.energyJ])).toEqual([['completed', 'ok', 99]]);
    const samples = await store.listSamples(experiments[0]?.id ?? -1);
    expect(samples.map((s) => [s.tS, s.eventReasons])).toEqual([[1, 4n], [2, 4n]]);
    expect(await store.listRuns()).toHaveLength(1);
    await store.close();

    const db = new Database(dbPath, { readonly: true });
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(db.prepare('SELECT count(*) AS n FROM samples').get()).toEqual({ n: 2 });
    db.close();
  }, 90_000);
});
