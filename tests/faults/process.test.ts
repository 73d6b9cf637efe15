/**
 * Process faults (issue 6): kill -9 of `carbonbench run` at 20 random moments of a sim sweep, SIGINT and
 * SIGTERM (clean stop), and two runs on one database (the second refuses while the first is alive).
 *
 * The kill moments are drawn from a seeded generator (printed on failure): a progress target (completed
 * experiments in results.db, so the kill does not race the ~2 s sweep) plus a random delay of 0–60 ms
 * after it, which lands anywhere inside an experiment — in its transaction, between experiments, or
 * during the start and resume of the process when the target is already reached.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, FAKE_SMI, fixture } from '../helpers/paths.js';
import { SIM_PROGRAM, cli, pathWith, removeSandboxes, rows, sandbox, startCli, survivors, tryRows, vllmWrapper, waitFor, writeProgram } from './helpers.js';

afterAll(removeSandboxes);

interface Summary {
  runId: number;
  resumed: boolean;
  status: string;
  stopReason: string;
  experiments: number;
  best: { id: number; sciUg: number; model: string } | null;
}

interface Done {
  id: number;
  config_json: string;
  phase: string;
  status: string;
  sci_ug: number | null;
  energy_j: number | null;
  tokens_out: number | null;
}

const COMPLETED = "status IN ('ok', 'failed', 'aborted_thermal')";

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function completed(db: string): Done[] {
  return tryRows<Done>(db, `SELECT id, config_json, phase, status, sci_ug, energy_j, tokens_out FROM experiments WHERE ${COMPLETED} ORDER BY id`);
}

// Independent sandboxes; the tests mostly wait on child processes: they run side by side.
describe.concurrent('kill -9 at 20 random moments of a sim sweep', () => {
  it('integrity ok after every kill, nothing completed lost or duplicated, the resumed run reaches the same end', async () => {
    const ref = sandbox('kill-ref');
    const refRun = await cli(ref, ['run', '--program', SIM_PROGRAM, '--db', ref.db, '--json']);
    expect(refRun.exitCode, refRun.stderr).toBe(0);
    const reference = JSON.parse(refRun.stdout) as Summary;
    const referenceDone = completed(ref.db);
    expect(referenceDone.length).toBe(reference.experiments);

    const seed = Number(process.env.CB_FAULT_SEED ?? 20261126);
    const random = mulberry32(seed);
    const targets = Array.from({ length: 20 }, () => Math.floor(random() * reference.experiments)).sort((a, b) => a - b);
    const delaysMs = Array.from({ length: 20 }, () => Math.floor(random() * 60));
    const context = `seed ${seed}, targets ${targets.join(',')}, delays ${delaysMs.join(',')} ms`;

    const sb = sandbox('kill');
    let before: Done[] = [];
    const killedAt: string[] = [];
    for (let k = 0; k < targets.length; k++) {
      const child = spawn(process.execPath, [CLI, 'run', '--program', SIM_PROGRAM, '--db', sb.db], { cwd: sb.dir, env: { ...process.env, ...sb.env }, stdio: 'ignore' });
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      const deadline = Date.now() + 30_000;
      let progress = 0;
      while (Date.now() < deadline && child.exitCode === null) {
        progress = tryRows<{ n: number }>(sb.db, `SELECT count(*) AS n FROM experiments WHERE ${COMPLETED}`)[0]?.n ?? 0;
        if (progress >= targets[k]!) break;
        await new Promise((r) => setTimeout(r, 3));
      }
      await new Promise((r) => setTimeout(r, delaysMs[k]));
      child.kill('SIGKILL');
      await exited;
      expect(child.signalCode, `kill ${k + 1} came after the sweep had finished (${context})`).toBe('SIGKILL');
      killedAt.push(`${progress}+${delaysMs[k]}ms`);

      const after = completed(sb.db);
      if (after.length > 0 || before.length > 0) {
        expect(rows(sb.db, 'PRAGMA integrity_check'), `kill ${k + 1} (${context})`).toEqual([{ integrity_check: 'ok' }]);
        expect(rows(sb.db, 'PRAGMA foreign_key_check'), `kill ${k + 1}`).toEqual([]);
      }
      // Nothing completed before this kill was lost or changed.
      const afterById = new Map(after.map((e) => [e.id, e]));
      for (const e of before) expect(afterById.get(e.id), `experiment ${e.id} after kill ${k + 1} (${context})`).toEqual(e);
      before = after;
    }

    const resumed = await cli(sb, ['run', '--program', SIM_PROGRAM, '--db', sb.db, '--json']);
    expect(resumed.exitCode, resumed.stderr).toBe(0);
    const s = JSON.parse(resumed.stdout) as Summary;
    expect(s.resumed, context).toBe(true);
    expect(s.status).toBe('completed');
    // The same end as the uninterrupted sweep: as many completed experiments, and the deterministic
    // phases (baseline, grid, random) measured the same configs in the same order with the same figures
    // (row ids differ: interrupted attempts took ids too). Figures agree to 1e-4, not bit for bit: a
    // resumed process starts its server again, which shifts the window against the 1 Hz sample grid.
    // The bayesian phase is not replayed bit for bit (Optuna's sampler state and its pruned duplicate
    // trials are not part of results.db): only its size is compared.
    expect(s.experiments, `${context}; killed at ${killedAt.join(' ')}`).toBe(reference.experiments);
    const got = completed(sb.db);
    const deterministic = (list: Done[]): Done[] => list.filter((e) => e.phase !== 'bayesian');
    expect(deterministic(got).map((e) => [e.phase, e.config_json, e.status]), context).toEqual(deterministic(referenceDone).map((e) => [e.phase, e.config_json, e.status]));
    deterministic(got).forEach((e, i) => {
      const want = deterministic(referenceDone)[i]!;
      if (want.sci_ug === null) expect(e.sci_ug).toBeNull();
      else expect(Math.abs(e.sci_ug! / want.sci_ug - 1), `${e.config_json} (${context})`).toBeLessThan(1e-4);
      expect(e.tokens_out).toBe(want.tokens_out);
    });
    expect(got.filter((e) => e.phase === 'bayesian').length).toBe(referenceDone.filter((e) => e.phase === 'bayesian').length);
    expect(s.best?.model).toBe(reference.best?.model);
    expect(Math.abs(s.best!.sciUg / reference.best!.sciUg - 1)).toBeLessThan(1e-4);
    expect(rows(sb.db, 'PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }]);
    expect(rows(sb.db, 'SELECT count(*) AS n FROM runs')).toEqual([{ n: 1 }]);
    // No completed config twice (the 3 baseline repeats are one config by design), nothing left running.
    expect(rows(sb.db, `SELECT config_json, count(*) AS n FROM experiments WHERE ${COMPLETED} AND phase != 'baseline' GROUP BY config_json HAVING n > 1`)).toEqual([]);
    expect(rows(sb.db, "SELECT count(*) AS n FROM experiments WHERE status IN ('running', 'queued')")).toEqual([{ n: 0 }]);
    // Every kill that landed inside an experiment left it interrupted, and the deterministic phases
    // measured it again (the rebuilt bayesian strategy may ask for another point: an interrupted
    // experiment is not an observation, decision 17).
    const interrupted = rows<{ config_json: string; phase: string }>(sb.db, "SELECT config_json, phase FROM experiments WHERE status = 'interrupted'");
    const done = new Set(completed(sb.db).map((e) => e.config_json));
    for (const e of interrupted.filter((x) => x.phase !== 'bayesian')) expect(done.has(e.config_json), `${e.phase} ${e.config_json} (${context})`).toBe(true);
    // The Optuna bridge of a killed run exits when its stdin closes: nothing of the runs is left.
    expect(await survivors(sb.tag, 5000)).toEqual([]);
  }, 180_000);
});

describe.concurrent('signals and a second run', () => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`${signal} in the middle of a sim sweep: exit 0, the run and its experiment interrupted, the db sound, resumable`, async () => {
      const sb = sandbox(`sig-${signal}`);
      const child = startCli(sb, ['run', '--program', SIM_PROGRAM, '--db', sb.db, '--json']);
      await waitFor('8 completed experiments', () => (tryRows<{ n: number }>(sb.db, `SELECT count(*) AS n FROM experiments WHERE ${COMPLETED}`)[0]?.n ?? 0) >= 8, 30_000, 3);
      child.kill(signal);
      const r = await child;
      expect(r.exitCode, String(r.stderr)).toBe(0);
      const s = JSON.parse(String(r.stdout)) as Summary;
      expect(s).toMatchObject({ status: 'interrupted', stopReason: 'interrupted by a signal' });
      expect(rows(sb.db, 'SELECT status FROM runs')).toEqual([{ status: 'interrupted' }]);
      expect(rows(sb.db, 'PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }]);
      expect(rows(sb.db, "SELECT count(*) AS n FROM experiments WHERE status IN ('running', 'queued')")).toEqual([{ n: 0 }]);
      expect(rows(sb.db, "SELECT text FROM notes WHERE kind = 'stop'")).toEqual([{ text: 'interrupted by a signal' }]);
      expect(await survivors(sb.tag)).toEqual([]);
      // The lock is released: the next run resumes at once.
      const again = await cli(sb, ['run', '--program', SIM_PROGRAM, '--db', sb.db, '--json']);
      expect(again.exitCode, again.stderr).toBe(0);
      expect(JSON.parse(again.stdout)).toMatchObject({ resumed: true, status: 'completed' });
    }, 60_000);
  }

  it('two runs on one db: the second refuses while the first measures; SIGINT then stops the first cleanly (vLLM stub)', async () => {
    const sb = sandbox('two-runs');
    const { binDir } = vllmWrapper(sb, {});
    const program = writeProgram(
      sb,
      `
engine: vllm
models: [{ id: stub/m, params: 1.0e9 }]
space: { quant: [bf16], batch: [2], input_len: [32], output_len: [16] }
budget: { experiments: 3, experiment_seconds: 60 }
carbon: { intensity: 300 }
safety: { cooldown_max_s: 1 }`,
    );
    const env = { PATH: pathWith(binDir), CARBONBENCH_NVIDIA_SMI: FAKE_SMI, FAKE_SMI_TRACE: fixture('smi-full-format-sample.csv'), FAKE_SMI_LOOP: '1', CARBONBENCH_NVML_LIB: join(sb.dir, 'none.so') };
    const first = startCli(sb, ['run', '--program', program, '--db', sb.db, '--json'], { env });
    // Wait until the first run's engine serves its load (request lines in the engine log).
    await waitFor(
      'the first run to be measuring',
      () => tryRows<{ n: number }>(sb.db, "SELECT count(*) AS n FROM experiments WHERE status = 'running' AND started_at IS NOT NULL")[0]?.n === 1,
      60_000,
    );
    const second = await cli(sb, ['run', '--program', program, '--db', sb.db], { env });
    expect(second.exitCode).toBe(2);
    expect(second.stderr).toMatch(new RegExp(`another carbonbench run \\(pid ${first.pid}, since [^)]+\\) is using .*results\\.db`));
    // The refused run wrote nothing: still one run, one experiment, and the first goes on.
    expect(rows(sb.db, 'SELECT count(*) AS n FROM runs')).toEqual([{ n: 1 }]);
    await new Promise((r) => setTimeout(r, 2500)); // into the warm-up or the window
    first.kill('SIGINT');
    const r = await first;
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(JSON.parse(String(r.stdout))).toMatchObject({ status: 'interrupted' });
    expect(rows(sb.db, 'SELECT status FROM experiments')).toEqual([{ status: 'interrupted' }]);
    expect(rows(sb.db, 'SELECT status FROM runs')).toEqual([{ status: 'interrupted' }]);
    expect(await survivors(sb.tag)).toEqual([]);
  }, 90_000);
});
