/**
 * Issue 10, the must-show: several `carbonbench run --study` workers (real CLI child processes, sim engine,
 * distinct --host-label) against one PostgreSQL database (the throwaway cluster of
 * tests/helpers/postgres-global.ts) share one Optuna study and one results store.
 *
 * - Three workers complete the 60-experiment budget together: no config measured twice (baseline repeats
 *   aside), every phase switch taken once for the study and in order, every host contributed.
 * - kill -9 of a worker while it holds a running trial: after the heartbeat timeout another worker fails
 *   that trial, marks the half-done row interrupted, re-queues the config, and another host completes it;
 *   everything the killed worker had stored stays.
 *
 * Without PostgreSQL the file is skipped with a warning by the global setup; with CI=true it fails.
 */
import { join } from 'node:path';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { execa, type ResultPromise } from 'execa';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { runCli } from '../helpers/cli.js';
import { CLI, ROOT } from '../helpers/paths.js';
import { pgAvailable, usePgDatabase } from '../helpers/postgres.js';

const pgdb = usePgDatabase();
const PROGRAM = join(ROOT, 'tests', 'fixtures', 'programs', 'sim-study.md');

interface Summary {
  status: string;
  stopReason: string;
  experiments: number;
  phases: { from: string; to: string }[];
  study: { name: string; host: string; hardware: string; phase: string | null; finished: number; budget: number; lost: number };
}

const children: ResultPromise[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});

function worker(cwd: string, db: string, host: string, extra: readonly string[] = []): ResultPromise {
  const child = execa(process.execPath, [CLI, 'run', '--program', join(cwd, 'program.md'), '--db', db, '--host-label', host, '--json', ...extra], {
    cwd,
    reject: false,
    timeout: 120_000,
    stdin: 'ignore',
    // PGPASSWORD (set by usePgDatabase) reaches the workers and, through toSqlAlchemyUrl, Optuna.
    env: { PGPASSWORD: process.env.PGPASSWORD },
  });
  children.push(child);
  return child;
}

/** A copy of the fixture with its study name (and budget) changed: one study per test. */
function program(study: string, experiments: number): string {
  const cwd = mkdtempSync(join(tmpdir(), 'cb-dist-'));
  const text = readFileSync(PROGRAM, 'utf8').replace('name: sim-study', `name: ${study}`).replace('experiments: 60', `experiments: ${experiments}`);
  writeFileSync(join(cwd, 'program.md'), text);
  return cwd;
}

/** SQL on the test database (INTEGER columns are BIGINT there: the queries cast them to int). */
async function query<T = Record<string, unknown>>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}

/** Optuna's trials of a study: number, state, and the carbonbench user attrs (JSON-encoded by Optuna). */
async function trials(url: string, study: string): Promise<{ number: number; state: string; attrs: Record<string, unknown> }[]> {
  const rows = await query<{ number: number; state: string; key: string | null; value_json: string | null }>(
    url,
    `SELECT t.number, t.state, a.key, a.value_json FROM trials t JOIN studies s ON s.study_id = t.study_id
     LEFT JOIN trial_user_attributes a ON a.trial_id = t.trial_id WHERE s.study_name = $1 ORDER BY t.number`,
    [study],
  );
  const out = new Map<number, { number: number; state: string; attrs: Record<string, unknown> }>();
  for (const r of rows) {
    const t = out.get(r.number) ?? { number: r.number, state: r.state, attrs: {} };
    if (r.key !== null) t.attrs[r.key] = JSON.parse(r.value_json ?? 'null');
    out.set(r.number, t);
  }
  return [...out.values()];
}

/** query() while the workers may not have created the schema yet (an empty database): no rows. */
async function poll<T>(url: string, sql: string): Promise<T[]> {
  try {
    return await query<T>(url, sql);
  } catch (err) {
    if ((err as { code?: string }).code === '42P01') return []; // undefined_table
    throw err;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

describe.skipIf(!pgAvailable())('carbonbench run --study: three workers, one PostgreSQL', () => {
  it('complete 60 experiments together: no config twice, each phase switch once and in order, all hosts contributed', async () => {
    const cwd = program('three-workers', 60);
    const results = await Promise.all(['gpu-a', 'gpu-b', 'gpu-c'].map((h) => worker(cwd, pgdb.url, h)));
    for (const r of results) expect(r.exitCode, String(r.stderr).slice(-2000)).toBe(0);
    const summaries = results.map((r) => JSON.parse(String(r.stdout)) as Summary);
    for (const s of summaries) {
      expect(s.status).toBe('completed');
      expect(s.stopReason).toBe('study budget reached (60/60 experiments across hosts)');
      expect(s.study).toMatchObject({ name: 'three-workers', finished: 60, budget: 60, lost: 0, hardware: 'dgx-spark' });
    }

    const rows = await query<{ id: number; host: string; phase: string; status: string; config_json: string; trial_number: number; hardware_id: string | null; run_host: string; run_study: string }>(
      pgdb.url,
      `SELECT e.id::int AS id, e.host, e.phase, e.status, e.config_json, e.trial_number::int AS trial_number, e.hardware_id, r.host AS run_host, r.study AS run_study
       FROM experiments e JOIN runs r ON r.id = e.run_id WHERE e.study = $1 ORDER BY e.id`,
      ['three-workers'],
    );
    const final = rows.filter((r) => ['ok', 'failed', 'aborted_thermal'].includes(r.status));
    expect(final).toHaveLength(60);
    expect(rows.filter((r) => !['ok', 'failed', 'aborted_thermal'].includes(r.status))).toEqual([]);
    // Each experiment records its worker's host label and hardware; its run is the worker's.
    for (const r of rows) {
      expect(r.host).toBe(r.run_host);
      expect(r.run_study).toBe('three-workers');
      expect(r.hardware_id).toBe('dgx-spark');
    }
    // Every host contributed.
    const byHost = new Map<string, number>();
    for (const r of final) byHost.set(r.host, (byHost.get(r.host) ?? 0) + 1);
    expect([...byHost.keys()].sort()).toEqual(['gpu-a', 'gpu-b', 'gpu-c']);
    for (const n of byHost.values()) expect(n).toBeGreaterThanOrEqual(5);
    // No config ran twice (ok rows), except the 3 baseline repeats of one config, run once per study.
    const ok = rows.filter((r) => r.status === 'ok');
    const nonBaseline = ok.filter((r) => r.phase !== 'baseline').map((r) => r.config_json);
    expect(new Set(nonBaseline).size).toBe(nonBaseline.length);
    const baseline = rows.filter((r) => r.phase === 'baseline');
    expect(baseline).toHaveLength(3);
    expect(new Set(baseline.map((r) => r.config_json)).size).toBe(1);
    expect(nonBaseline).not.toContain(baseline[0]!.config_json);
    // One trial per experiment.
    expect(new Set(rows.map((r) => r.trial_number)).size).toBe(rows.length);

    // Phases coordinated: every switch noted once for the study, in order, by whichever worker took it…
    const notes = await query<{ text: string; host: string }>(
      pgdb.url,
      `SELECT n.text, r.host FROM notes n JOIN runs r ON r.id = n.run_id WHERE r.study = $1 AND n.kind = 'phase_switch' ORDER BY n.id`,
      ['three-workers'],
    );
    expect(notes.map((n) => n.text.split(' after ')[0])).toEqual(['start → baseline', 'baseline → grid', 'grid → random', 'random → bayesian']);
    // … and a phase starts for everyone only after the previous one ended for everyone: by trial number
    // (the order of the claims in the study) all of one phase's experiments precede the next phase's.
    const order = ['baseline', 'grid', 'random', 'bayesian'];
    for (let i = 0; i + 1 < order.length; i++) {
      const before = rows.filter((r) => r.phase === order[i]).map((r) => r.trial_number);
      const after = rows.filter((r) => r.phase === order[i + 1]).map((r) => r.trial_number);
      expect(before.length, order[i]).toBeGreaterThan(0);
      expect(after.length, order[i + 1]).toBeGreaterThan(0);
      expect(Math.max(...before)).toBeLessThan(Math.min(...after));
    }
    // The grid design was enqueued once and each of its configs ran on one host only.
    const gridNote = notes.find((n) => n.text.startsWith('baseline → grid'))!.text;
    const enqueued = Number(/\((\d+) configs enqueued/.exec(gridNote)?.[1]);
    const grid = rows.filter((r) => r.phase === 'grid');
    expect(grid.length).toBeGreaterThan(0);
    expect(grid.length).toBeLessThanOrEqual(enqueued);
    expect(new Set(grid.map((r) => r.config_json)).size).toBe(grid.length);

    // The study agrees with the store: 60 told experiments, nothing left running.
    const t = await trials(pgdb.url, 'three-workers');
    expect(t.filter((x) => x.state === 'RUNNING')).toEqual([]);
    const told = t.filter((x) => x.state === 'COMPLETE' || (x.state === 'FAIL' && x.attrs.carbonbench_kind === 'experiment'));
    expect(told).toHaveLength(60);
    expect(new Set(told.map((x) => x.number))).toEqual(new Set(rows.map((r) => r.trial_number)));
  }, 110_000);

  it('kill -9 of a worker holding a running trial: re-queued after the heartbeat timeout, completed by another host, nothing stored lost', async () => {
    const cwd = program('kill-one', 30);
    const a = worker(cwd, pgdb.url, 'gpu-a');
    const b = worker(cwd, pgdb.url, 'gpu-b');
    const victim = worker(cwd, pgdb.url, 'gpu-c');
    // Wait until the victim has stored two results and is measuring a non-baseline config, then kill it.
    let held: { id: number; trial_number: number; config_json: string; phase: string } | null = null;
    let storedBefore: number[] = [];
    const deadline = Date.now() + 60_000;
    while (!held && Date.now() < deadline) {
      const mine = await poll<{ id: number; status: string; trial_number: number; config_json: string; phase: string }>(
        pgdb.url,
        "SELECT id::int AS id, status, trial_number::int AS trial_number, config_json, phase FROM experiments WHERE study = 'kill-one' AND host = 'gpu-c' ORDER BY id",
      );
      const ok = mine.filter((e) => e.status === 'ok');
      const running = mine.find((e) => e.status === 'running' && e.phase !== 'baseline');
      if (ok.length >= 2 && running) {
        victim.kill('SIGKILL');
        held = running;
        storedBefore = ok.map((e) => e.id);
      } else await sleep(10);
    }
    if (!held) throw new Error('the victim never held a running non-baseline trial');
    const h = held;
    const killed = await victim;
    expect(killed.signal).toBe('SIGKILL');
    const [ra, rb] = await Promise.all([a, b]);
    expect(ra.exitCode, String(ra.stderr).slice(-2000)).toBe(0);
    expect(rb.exitCode, String(rb.stderr).slice(-2000)).toBe(0);

    const rows = await query<{ id: number; host: string; status: string; error: string | null; config_json: string; trial_number: number; phase: string; run_status: string }>(
      pgdb.url,
      "SELECT e.id::int AS id, e.host, e.status, e.error, e.config_json, e.trial_number::int AS trial_number, e.phase, r.status AS run_status FROM experiments e JOIN runs r ON r.id = e.run_id WHERE e.study = 'kill-one' ORDER BY e.id",
    );
    // The half-done row of the killed worker: interrupted, with the reason.
    const half = rows.find((r) => r.id === h.id)!;
    expect(half.status).toBe('interrupted');
    expect(half.error).toMatch(/worker gpu-c sent no heartbeat for [\d.]+ s \(timeout 3 s\) while it held trial \d+; marked interrupted by worker gpu-[ab]/);
    expect(half.run_status).toBe('interrupted');
    // Its config was completed by another host, under another trial.
    const redo = rows.filter((r) => r.config_json === h.config_json && r.status === 'ok');
    expect(redo).toHaveLength(1);
    expect(redo[0]!.host).not.toBe('gpu-c');
    expect(redo[0]!.trial_number).not.toBe(h.trial_number);
    // Nothing the victim stored was lost.
    for (const id of storedBefore) expect(rows.find((r) => r.id === id)?.status).toBe('ok');
    // The budget is still met exactly, and no config ran twice.
    expect(rows.filter((r) => ['ok', 'failed', 'aborted_thermal'].includes(r.status))).toHaveLength(30);
    const nonBaseline = rows.filter((r) => r.status === 'ok' && r.phase !== 'baseline').map((r) => r.config_json);
    expect(new Set(nonBaseline).size).toBe(nonBaseline.length);
    // In the study: the killed trial failed as lost, and the re-queued copy points back at it.
    const t = await trials(pgdb.url, 'kill-one');
    expect(t.find((x) => x.number === h.trial_number)).toMatchObject({ state: 'FAIL', attrs: { carbonbench_kind: 'lost', carbonbench_host: 'gpu-c' } });
    expect(t.find((x) => x.number === redo[0]!.trial_number)).toMatchObject({ state: 'COMPLETE', attrs: { carbonbench_requeued_from: h.trial_number } });
    expect(t.filter((x) => x.state === 'RUNNING')).toEqual([]);
    const requeue = await query<{ text: string }>(
      pgdb.url,
      "SELECT n.text FROM notes n JOIN runs r ON r.id = n.run_id WHERE r.study = 'kill-one' AND n.kind = 'requeue'",
    );
    expect(requeue.map((n) => n.text)).toEqual([expect.stringContaining(`while it held trial ${h.trial_number}; re-queued`)]);
  }, 110_000);

  it('SIGINT stops a worker cleanly (exit 0, interrupted): its experiment in flight is kept or handed back at once, never lost', async () => {
    const cwd = program('sigint-one', 24);
    const a = worker(cwd, pgdb.url, 'gpu-a');
    const b = worker(cwd, pgdb.url, 'gpu-b');
    const c = worker(cwd, pgdb.url, 'gpu-c');
    let held: { id: number; trial_number: number; config_json: string } | null = null;
    const deadline = Date.now() + 60_000;
    while (!held && Date.now() < deadline) {
      const running = await poll<{ id: number; trial_number: number; config_json: string }>(
        pgdb.url,
        "SELECT id::int AS id, trial_number::int AS trial_number, config_json FROM experiments WHERE study = 'sigint-one' AND host = 'gpu-c' AND status = 'running' AND phase <> 'baseline'",
      );
      if (running[0]) {
        c.kill('SIGINT');
        held = running[0];
      } else await sleep(10);
    }
    if (!held) throw new Error('gpu-c never held a running non-baseline trial');
    const h = held;
    const [ra, rb, rc] = await Promise.all([a, b, c]);
    for (const r of [ra, rb, rc]) expect(r.exitCode, String(r.stderr).slice(-2000)).toBe(0);
    expect(JSON.parse(String(rc.stdout))).toMatchObject({ status: 'interrupted', stopReason: 'interrupted by a signal' });
    const rows = await query<{ id: number; host: string; status: string; config_json: string; trial_number: number; phase: string }>(
      pgdb.url,
      "SELECT id::int AS id, host, status, config_json, trial_number::int AS trial_number, phase FROM experiments WHERE study = 'sigint-one' ORDER BY id",
    );
    // The signal is handled between two awaits: the experiment in flight either finished first (then it
    // stays stored and its trial complete) or was stopped (then its config was handed back and another
    // host completed it). Either way nothing is lost or measured twice.
    const status = rows.find((r) => r.id === h.id)?.status;
    expect(['ok', 'interrupted']).toContain(status);
    const done = rows.filter((r) => r.config_json === h.config_json && r.status === 'ok');
    expect(done).toHaveLength(1);
    const t = await trials(pgdb.url, 'sigint-one');
    if (status === 'interrupted') {
      expect(done[0]!.host).not.toBe('gpu-c');
      expect(t.find((x) => x.number === h.trial_number)).toMatchObject({ state: 'FAIL', attrs: { carbonbench_kind: 'lost', carbonbench_host: 'gpu-c' } });
      expect(t.find((x) => x.number === done[0]!.trial_number)?.attrs.carbonbench_requeued_from).toBe(h.trial_number);
    } else {
      expect(t.find((x) => x.number === h.trial_number)?.state).toBe('COMPLETE');
    }
    expect(rows.filter((r) => ['ok', 'failed', 'aborted_thermal'].includes(r.status))).toHaveLength(24);
    const nonBaseline = rows.filter((r) => r.status === 'ok' && r.phase !== 'baseline').map((r) => r.config_json);
    expect(new Set(nonBaseline).size).toBe(nonBaseline.length);
    expect(t.filter((x) => x.state === 'RUNNING')).toEqual([]);
    // Handed back by the worker itself, not found stale by the others after the timeout.
    const requeue = await query(pgdb.url, "SELECT n.text FROM notes n JOIN runs r ON r.id = n.run_id WHERE r.study = 'sigint-one' AND n.kind = 'requeue'");
    expect(requeue).toEqual([]);
  }, 110_000);
});

describe('carbonbench run --study on one machine: a results.db and an Optuna SQLite file', () => {
  it('two workers share a results.db (a plain run is refused meanwhile); the study is beside it', async () => {
    const cwd = program('local', 16);
    const db = join(cwd, 'results.db');
    const a = worker(cwd, db, 'local-a');
    const b = worker(cwd, db, 'local-b');
    // Once a worker holds the database, a run outside the study is refused (it would repeat configs).
    while (!readdirSync(cwd).some((n) => n.startsWith('results.db.worker-')) && a.exitCode === null) await sleep(20);
    const plain = await runCli(['run', '--program', join(ROOT, 'tests', 'fixtures', 'programs', 'sim-sweep.md'), '--db', db, '--max-experiments', '1'], { cwd });
    expect(plain.exitCode, plain.stderr).toBe(2);
    expect(plain.stderr).toMatch(/study worker\(s\) \(study "local".*join with --study local/);
    const [ra, rb] = await Promise.all([a, b]);
    expect(ra.exitCode, String(ra.stderr).slice(-2000)).toBe(0);
    expect(rb.exitCode, String(rb.stderr).slice(-2000)).toBe(0);
    for (const r of [ra, rb]) expect(JSON.parse(String(r.stdout))).toMatchObject({ status: 'completed', stopReason: 'study budget reached (16/16 experiments across hosts)', db });
    const d = new Database(db, { readonly: true });
    const rows = d.prepare("SELECT host, phase, config_json FROM experiments WHERE study = 'local' AND status = 'ok'").all() as { host: string; phase: string; config_json: string }[];
    d.close();
    expect(rows).toHaveLength(16);
    expect(new Set(rows.map((r) => r.host))).toEqual(new Set(['local-a', 'local-b']));
    const nonBaseline = rows.filter((r) => r.phase !== 'baseline').map((r) => r.config_json);
    expect(new Set(nonBaseline).size).toBe(nonBaseline.length);
    const optuna = new Database(`${db}.optuna.sqlite`, { readonly: true });
    const states = optuna.prepare("SELECT t.state, count(*) AS n FROM trials t JOIN studies s ON s.study_id = t.study_id WHERE s.study_name = 'local' GROUP BY t.state").all();
    optuna.close();
    expect(states).toContainEqual({ state: 'COMPLETE', n: 16 });
    expect(states.map((x) => (x as { state: string }).state)).not.toContain('RUNNING');
  }, 90_000);

  it('refuses bad --study, --host-label and --heartbeat-timeout-s values and a bad program.md study key, naming what is allowed', async () => {
    const cwd = program('bad', 5);
    const db = join(cwd, 'results.db');
    const cases: [string[], RegExp][] = [
      [['--study', 'a::b'], /--study "a::b" \(string\) is invalid; allowed: 1 to 100 letters, digits/],
      [['--study', 'ok', '--host-label', '-rf'], /--host-label "-rf" \(string\) is invalid; allowed: 1 to 100 letters/],
      [['--study', 'ok', '--heartbeat-timeout-s', '0'], /--heartbeat-timeout-s "0" \(string\) is invalid; allowed: seconds from 1 to 86400/],
      [['--study', 'ok', '--fresh'], /--fresh has no meaning for a study worker/],
    ];
    for (const [flags, message] of cases) {
      const r = await runCli(['run', '--program', join(cwd, 'program.md'), '--db', db, ...flags], { cwd });
      expect(r.exitCode, flags.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
    }
    writeFileSync(join(cwd, 'bad.md'), readFileSync(join(cwd, 'program.md'), 'utf8').replace('study: { name: bad, heartbeat_timeout_s: 3 }', 'study: { name: bad, heartbeat_timeout_s: 0 }'));
    const r = await runCli(['run', '--program', join(cwd, 'bad.md'), '--db', db], { cwd });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/study.*heartbeat_timeout_s.*allowed: seconds from 1 to 86400/s);
    expect(existsSync(db)).toBe(false);
  }, 60_000);
});
