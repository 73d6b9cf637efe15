/**
 * `carbonbench run` end to end: the real CLI as a child process. The sim engine makes a whole sweep take
 * about a second, so the loop, the phases, resume after kill -9, the lock and steering are exercised for
 * real; one test drives the vLLM stub to check SIGINT on a real engine.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import Database from 'better-sqlite3';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { parseProgram } from '../../src/program/parse.js';
import { steer } from '../../src/runner/run.js';
import { runCli } from '../helpers/cli.js';
import { CLI, FAKE_SMI, ROOT, fixture } from '../helpers/paths.js';

const SIM_PROGRAM = join(ROOT, 'tests', 'fixtures', 'programs', 'sim-sweep.md');

interface Summary {
  runId: number;
  resumed: boolean;
  status: string;
  stopReason: string;
  experiments: number;
  ok: number;
  failed: number;
  phases: { from: string; to: string; reason: string }[];
  best: { sciUg: number; model: string } | null;
}

function dir(): string {
  return mkdtempSync(join(tmpdir(), 'cb-run-'));
}

function rows(db: string, sql: string): Record<string, unknown>[] {
  const d = new Database(db, { readonly: true });
  try {
    return d.prepare(sql).all() as Record<string, unknown>[];
  } finally {
    d.close();
  }
}

describe('carbonbench run (sim engine)', () => {
  it('runs a 40-experiment sweep baseline → grid → random → bayesian, recording every switch', async () => {
    const d = dir();
    const db = join(d, 'results.db');
    const r = await runCli(['run', '--program', SIM_PROGRAM, '--db', db, '--json'], { cwd: d });
    expect(r.exitCode, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout) as Summary;
    expect(s.status).toBe('completed');
    expect(s.phases.map((p) => `${p.from}→${p.to}`)).toEqual(['start→baseline', 'baseline→grid', 'grid→random', 'random→bayesian']);
    expect(s.experiments).toBe(40);
    expect(s.stopReason).toBe('experiment budget reached (40/40)');
    expect(s.best?.sciUg).toBeGreaterThan(0);
    const notes = rows(db, "SELECT kind, text FROM notes WHERE kind = 'phase_switch' ORDER BY id");
    expect(notes.map((n) => String(n.text).split(' after')[0])).toEqual(['start → baseline', 'baseline → grid', 'grid → random', 'random → bayesian']);
    const phases = rows(db, 'SELECT phase, count(*) AS n FROM experiments GROUP BY phase');
    expect(Object.fromEntries(phases.map((p) => [p.phase, p.n]))).toMatchObject({ baseline: 3 });
    for (const phase of ['grid', 'random', 'bayesian']) expect(phases.find((p) => p.phase === phase)?.n).toBeGreaterThan(0);
    // Every stored row is labelled simulated; no config was measured twice outside the baseline repeats.
    expect(rows(db, 'SELECT count(*) AS n FROM experiments WHERE simulated = 0')[0]!.n).toBe(0);
    // Every experiment records its host (issue 10), the run's; a plain run belongs to no study.
    expect(rows(db, 'SELECT count(*) AS n FROM experiments e JOIN runs r ON r.id = e.run_id WHERE e.host IS NULL OR e.host <> r.host OR e.study IS NOT NULL OR e.trial_number IS NOT NULL')[0]!.n).toBe(0);
    expect(rows(db, "SELECT count(*) AS n FROM (SELECT config_json FROM experiments WHERE phase != 'baseline' GROUP BY config_json HAVING count(*) > 1)")[0]!.n).toBe(0);

    const status = await runCli(['status', '--db', db, '--json']);
    expect(status.exitCode).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ run: s.runId, status: 'completed', done: s.experiments, budget: 40 });
  }, 60_000);

  it('is deterministic for a seed', async () => {
    const a = dir();
    const b = dir();
    const ra = JSON.parse((await runCli(['run', '--program', SIM_PROGRAM, '--db', join(a, 'r.db'), '--json'], { cwd: a })).stdout) as Summary;
    const rb = JSON.parse((await runCli(['run', '--program', SIM_PROGRAM, '--db', join(b, 'r.db'), '--json'], { cwd: b })).stdout) as Summary;
    expect(rb.experiments).toBe(ra.experiments);
    expect(rb.best).toEqual(ra.best);
  }, 60_000);

  it('after kill -9 at random moments, resuming loses and repeats nothing and reaches the same end', async () => {
    const ref = dir();
    const reference = JSON.parse((await runCli(['run', '--program', SIM_PROGRAM, '--db', join(ref, 'r.db'), '--json'], { cwd: ref })).stdout) as Summary;
    const d = dir();
    const db = join(d, 'results.db');
    let completedBefore = 0;
    // Kill when the sweep has reached a given point (a fixed delay would race the ~1 s sweep).
    for (const target of [2, 9, 17, 25]) {
      const child = spawn(process.execPath, [CLI, 'run', '--program', SIM_PROGRAM, '--db', db], { cwd: d, stdio: 'ignore' });
      const exited = new Promise((r) => child.once('exit', r));
      let done = 0;
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline && child.exitCode === null) {
        try {
          done = rows(db, "SELECT count(*) AS n FROM experiments WHERE status IN ('ok', 'failed')")[0]!.n as number;
        } catch {
          // the database does not exist yet
        }
        if (done >= target) break;
        await new Promise((r) => setTimeout(r, 5));
      }
      child.kill('SIGKILL');
      await exited;
      expect(child.exitCode === null || child.signalCode === 'SIGKILL', 'the sweep finished before it could be killed').toBe(true);
      expect(done).toBeGreaterThanOrEqual(completedBefore); // nothing completed was lost
      completedBefore = done;
    }
    const resumed = await runCli(['run', '--program', SIM_PROGRAM, '--db', db, '--json'], { cwd: d });
    expect(resumed.exitCode, resumed.stderr).toBe(0);
    const s = JSON.parse(resumed.stdout) as Summary;
    expect(s.resumed).toBe(true);
    expect(s.experiments).toBe(reference.experiments);
    // Same best config and figures (its row id may differ: interrupted experiments took ids too).
    expect({ ...s.best, id: 0 }).toEqual({ ...reference.best, id: 0 });
    expect(rows(db, 'PRAGMA integrity_check')[0]).toEqual({ integrity_check: 'ok' });
    expect(rows(db, 'SELECT count(*) AS n FROM runs')[0]!.n).toBe(1);
    expect(rows(db, "SELECT count(*) AS n FROM (SELECT config_json FROM experiments WHERE status = 'ok' AND phase != 'baseline' GROUP BY config_json HAVING count(*) > 1)")[0]!.n).toBe(0);
    expect(rows(db, "SELECT count(*) AS n FROM experiments WHERE status IN ('running', 'queued')")[0]!.n).toBe(0);
  }, 120_000);

  it('a second run on the same db refuses while the first is alive', async () => {
    const d = dir();
    const db = join(d, 'results.db');
    const holder = execa('sleep', ['30']);
    writeFileSync(`${db}.lock`, JSON.stringify({ pid: holder.pid, host: (await import('node:os')).hostname(), since: 'test' }));
    const r = await runCli(['run', '--program', SIM_PROGRAM, '--db', db]);
    holder.kill();
    await holder.catch(() => {});
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/another carbonbench run \(pid \d+, since test\) is using/);
    // A stale lock (its process gone) is taken over.
    const again = await runCli(['run', '--program', SIM_PROGRAM, '--db', db, '--max-experiments', '5', '--json'], { cwd: d });
    expect(again.exitCode, again.stderr).toBe(0);
    expect((JSON.parse(again.stdout) as Summary).stopReason).toMatch(/experiment budget reached \(5\/5\)/);
  }, 60_000);

  it('--dry-run prints the baseline and grid plan and measures nothing', async () => {
    const d = dir();
    const r = await runCli(['run', '--program', SIM_PROGRAM, '--db', join(d, 'r.db'), '--dry-run']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^dry run: the first \d+ experiments/);
    expect(r.stdout).toMatch(/ 1\. baseline/);
    expect(r.stdout).toMatch(/grid {5}sim\/qwen2.5-0.5b/);
  });

  it('bad program.md exits 2 naming the problem, and nothing is written', async () => {
    const d = dir();
    const bad = join(d, 'program.md');
    writeFileSync(bad, readFileSync(SIM_PROGRAM, 'utf8').replace('batch: [1, 2, 4, 8, 16, 32, 64]', 'batch: [1, 0]'));
    const r = await runCli(['run', '--program', bad, '--db', join(d, 'r.db')]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/space\.batch\[1\]: 0 \(number\) — allowed: an integer from 1 to 4096/);
    const unknownQuant = join(d, 'q.md');
    writeFileSync(unknownQuant, readFileSync(SIM_PROGRAM, 'utf8').replace('quant: [bf16, fp8, awq]', 'quant: [bf16, q9_z]'));
    const q = await runCli(['run', '--program', unknownQuant, '--db', join(d, 'r.db')]);
    expect(q.exitCode).toBe(2);
    expect(q.stderr).toMatch(/space does not fit the sim engine/);
  });
});

describe('steering: program.md is re-read before each step', () => {
  it('applies a valid edit, ignores an invalid one, refuses an engine change', () => {
    const d = dir();
    const file = join(d, 'program.md');
    copyFileSync(SIM_PROGRAM, file);
    const current = parseProgram(readFileSync(file, 'utf8'), file);
    const engine = { name: 'sim', simulated: true, validate: () => {}, serverKey: () => '', start: async () => { throw new Error('unused'); } } as const;
    expect(steer(file, current, engine).note).toBeNull();
    writeFileSync(file, readFileSync(SIM_PROGRAM, 'utf8').replace('experiments: 40', 'experiments: 60').replace('A 40-experiment', 'A longer'));
    const applied = steer(file, current, engine);
    expect(applied.kind).toBe('program_change');
    expect(applied.note).toMatch(/program.md changed \(budget, prose\)/);
    expect(applied.program.program.budget.experiments).toBe(60);
    writeFileSync(file, readFileSync(SIM_PROGRAM, 'utf8').replace('experiments: 40', 'experiments: -1'));
    const ignored = steer(file, current, engine);
    expect(ignored.kind).toBe('warning');
    expect(ignored.note).toMatch(/edit ignored.*budget\.experiments/s);
    expect(ignored.program).toBe(current);
    writeFileSync(file, readFileSync(SIM_PROGRAM, 'utf8').replace('engine: sim', 'engine: vllm'));
    expect(steer(file, current, engine).note).toMatch(/engine cannot change during a run/);
  });
});

describe('SIGINT on a real engine process (vLLM stub)', () => {
  it('stops the load, stores the experiment as interrupted, stops the engine, exits 0', async () => {
    const { buildFakeNvml } = await import('../helpers/fake-nvml.js');
    const d = dir();
    const db = join(d, 'results.db');
    const program = join(d, 'program.md');
    const model = `stub/sigint-${d.slice(-6)}`; // unique: other test files run stubs at the same time
    writeFileSync(program, `---\nengine: vllm\nmodels: [{ id: ${model}, params: 1e9 }]\nspace: { quant: [bf16], batch: [2], input_len: [32], output_len: [16] }\nbudget: { experiments: 3, experiment_seconds: 60 }\nsafety: { cooldown_max_s: 1 }\n---\n`);
    const child = execa(process.execPath, [CLI, 'run', '--program', program, '--db', db, '--json'], {
      cwd: d,
      reject: false,
      env: {
        PATH: `${join(ROOT, 'tests', 'fakes')}${delimiter}${process.env.PATH}`,
        CARBONBENCH_NVIDIA_SMI: FAKE_SMI,
        FAKE_SMI_TRACE: fixture('smi-full-format-sample.csv'),
        FAKE_SMI_LOOP: '1',
        CARBONBENCH_NVML_LIB: buildFakeNvml(),
      },
    });
    // Wait until an experiment is running, then interrupt.
    const deadline = Date.now() + 60_000;
    for (;;) {
      await new Promise((r) => setTimeout(r, 300));
      let running = 0;
      try {
        running = rows(db, "SELECT count(*) AS n FROM experiments WHERE status = 'running' AND started_at IS NOT NULL")[0]!.n as number;
      } catch {
        // the db may not exist yet
      }
      if (running > 0 || Date.now() > deadline) break;
    }
    await new Promise((r) => setTimeout(r, 4000)); // into the warm-up or the window
    child.kill('SIGINT');
    const r = await child;
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(JSON.parse(String(r.stdout))).toMatchObject({ status: 'interrupted' });
    expect(rows(db, 'SELECT status FROM experiments ORDER BY id DESC LIMIT 1')[0]).toEqual({ status: 'interrupted' });
    expect(rows(db, 'SELECT status FROM runs')[0]).toEqual({ status: 'interrupted' });
    const { stdout } = await execa('ps', ['-eo', 'args']);
    expect(stdout.split('\n').filter((l) => /fakes\/vllm/.test(l) && l.includes(model))).toEqual([]);
  }, 120_000);
});
