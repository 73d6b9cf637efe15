/**
 * docs/database.md is the user's contract for the `results` view: it must name every column the view
 * has (and no other), and its example queries must run and answer what they say.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { openSqliteStore } from '../../src/store/index.js';
import { newExperiment, newRun } from './helpers.js';

const doc = readFileSync(new URL('../../docs/database.md', import.meta.url), 'utf8');

function section(heading: string): string {
  const start = doc.indexOf(`\n## ${heading}\n`);
  if (start < 0) throw new Error(`docs/database.md has no "## ${heading}" section`);
  const end = doc.indexOf('\n## ', start + 4);
  return doc.slice(start, end < 0 ? undefined : end);
}

const documentedColumns = [...section('The `results` view').matchAll(/^\| `([a-z0-9_]+)` \|/gm)].map((m) => m[1]);
const exampleQueries = [...section('Example queries').matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');

// One db for the whole file (the helpers' per-test temp dirs are removed after each test).
const dir = mkdtempSync(join(tmpdir(), 'carbonbench-docs-'));
const path = join(dir, 'results.db');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeAll(async () => {
  const store = openSqliteStore(path);
  const runId = await store.createRun(newRun({ host: 'spark' }));
  const ok = (batch: number, sciUg: number, energyJ: number, over = {}) =>
    store.insertExperiment(newExperiment(runId, {
      status: 'ok', batch, sciUg, energyJ, tokensOut: 1000, tokS: 100 * batch, bpb: 0.8, ...over,
    }));
  await ok(1, 50, 3200);
  await ok(8, 9, 400);
  await ok(8, 11, 600);
  await ok(32, 4, 150);
  await ok(64, 3, 120);
  await ok(64, 3.5, 130, { quant: 'fp8' });
  await ok(128, 1, 50, { simulated: true }); // greenest, but simulated: excluded from query 1
  await ok(16, 2, 90, { model: 'Qwen/Qwen2.5-0.5B-Instruct' });
  await store.insertExperiment(newExperiment(runId, { status: 'failed', error: 'vllm exited with code 1: CUDA OOM' }));
  await store.insertExperiment(newExperiment(runId, { status: 'aborted_thermal', error: 'GPU at 86 °C >= 85 °C' }));
  await store.close();
});

describe('docs/database.md', () => {
  it('documents exactly the columns of the results view, in order', () => {
    const db = new Database(path, { readonly: true });
    const columns = (db.prepare('PRAGMA table_info(results)').all() as { name: string }[]).map((c) => c.name);
    db.close();
    expect(columns.length).toBeGreaterThan(20);
    expect(documentedColumns).toEqual(columns);
  });

  it('has three example queries that run', () => {
    expect(exampleQueries).toHaveLength(3);
  });

  it('example 1 lists the five greenest finished real configurations', () => {
    const db = new Database(path, { readonly: true });
    const rows = db.prepare(exampleQueries[0] ?? '').all() as { sci_ug: number; batch: number; j_per_token: number }[];
    db.close();
    expect(rows.map((r) => r.sci_ug)).toEqual([2, 3, 3.5, 4, 9]);
    expect(rows[0]?.j_per_token).toBe(0.09);
  });

  it('example 2 gives J/token per quant and batch for one model', () => {
    const db = new Database(path, { readonly: true });
    const rows = db.prepare(exampleQueries[1] ?? '').all();
    db.close();
    expect(rows).toEqual([
      { quant: 'bf16', batch: 1, n: 1, j_per_token: 3.2, best_j_per_token: 3.2, tok_s: 100 },
      { quant: 'bf16', batch: 8, n: 2, j_per_token: 0.5, best_j_per_token: 0.4, tok_s: 800 },
      { quant: 'bf16', batch: 32, n: 1, j_per_token: 0.15, best_j_per_token: 0.15, tok_s: 3200 },
      { quant: 'bf16', batch: 64, n: 1, j_per_token: 0.12, best_j_per_token: 0.12, tok_s: 6400 },
      { quant: 'bf16', batch: 128, n: 1, j_per_token: 0.05, best_j_per_token: 0.05, tok_s: 12800 },
      { quant: 'fp8', batch: 64, n: 1, j_per_token: 0.13, best_j_per_token: 0.13, tok_s: 6400 },
    ]);
  });

  it('example 3 lists the experiments that did not finish with their errors, newest first', () => {
    const db = new Database(path, { readonly: true });
    const rows = db.prepare(exampleQueries[2] ?? '').all() as { status: string; error: string }[];
    db.close();
    expect(rows.map((r) => [r.status, r.error])).toEqual([
      ['aborted_thermal', 'GPU at 86 °C >= 85 °C'],
      ['failed', 'vllm exited with code 1: CUDA OOM'],
    ]);
  });
});
