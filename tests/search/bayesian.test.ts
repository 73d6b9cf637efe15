/**
 * The bayesian strategy through the real bridge (scripts/optuna_bridge.py) and the real Optuna of the
 * project's interpreter (resolvePython(): $CARBONBENCH_PYTHON, ./.venv, python3), plus the bridge's own
 * Python unittest. Without Optuna every test here fails with the set-up instructions, unless
 * CARBONBENCH_SKIP_PYTHON=1 (scripts/setup.sh's switch for machines without Python), which skips them
 * loudly.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { resolvePython } from '../../src/engines/probe.js';
import { EnvironmentError } from '../../src/errors.js';
import { createBayesianStrategy, OptunaBridgeError, type BayesianStrategy } from '../../src/search/bayesian.js';
import { pointKey, type Observation, type SearchSpace, type SpacePoint } from '../../src/search/types.js';
import { ROOT } from '../helpers/paths.js';

const SKIP = process.env.CARBONBENCH_SKIP_PYTHON === '1';
if (SKIP) console.warn('SKIPPING tests/search/bayesian.test.ts: CARBONBENCH_SKIP_PYTHON=1');
const PYTHON = resolvePython(resolve(ROOT));

const SMALL: SearchSpace = { models: ['m-small', 'm-large'], quant: ['fp16', 'int4'], batch: [1, 4, 16], inputLen: [128, 512], outputLen: [64] };

const open: BayesianStrategy[] = [];
async function strategy(opts: Partial<Parameters<typeof createBayesianStrategy>[0]> = {}): Promise<BayesianStrategy> {
  const s = await createBayesianStrategy({ space: SMALL, seed: 1, ...opts });
  open.push(s);
  return s;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

const tmp = mkdtempSync(join(tmpdir(), 'carbonbench-bayesian-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function inSpace(space: SearchSpace, p: SpacePoint): boolean {
  return space.models.includes(p.model) && space.quant.includes(p.quant) && space.batch.includes(p.batch) && space.inputLen.includes(p.inputLen) && space.outputLen.includes(p.outputLen);
}

function allPoints(space: SearchSpace): SpacePoint[] {
  const out: SpacePoint[] = [];
  for (const model of space.models)
    for (const quant of space.quant)
      for (const batch of space.batch) for (const inputLen of space.inputLen) for (const outputLen of space.outputLen) out.push({ model, quant, batch, inputLen, outputLen });
  return out;
}

/** A smooth synthetic SCI (µg/token): cheapest for the small model, fp16, batch 16, short inputs. */
function sciOf(p: SpacePoint): number {
  const model = p.model === 'm-small' ? 1 : 1.6;
  const quant = p.quant === 'fp16' ? 1 : 1.2;
  return 10 * model * quant * (1 + 0.1 * Math.abs(Math.log2(p.batch) - 4)) * (p.inputLen / 128) ** 0.2;
}

function observe(p: SpacePoint, over: Partial<Observation> = {}): Observation {
  return { point: p, status: 'ok', sciUg: sciOf(p), bpb: p.quant === 'int4' ? 0.95 : 0.85, tokS: 100, phase: 'bayesian', ...over };
}

/** The error a creation rejects with; a strategy created against expectations is closed, not leaked. */
async function creationError(opts: Parameters<typeof createBayesianStrategy>[0]): Promise<unknown> {
  try {
    open.push(await createBayesianStrategy(opts));
    return null;
  } catch (err) {
    return err;
  }
}

function script(name: string, body: string): string {
  const path = join(tmp, name);
  writeFileSync(path, body);
  chmodSync(path, 0o755);
  return path;
}

describe.skipIf(SKIP)('bayesian strategy (real Optuna bridge)', () => {
  it('scripts/test_optuna_bridge.py passes', async () => {
    const run = await execa(PYTHON, [join(ROOT, 'scripts', 'test_optuna_bridge.py')], { cwd: ROOT, reject: false, all: true, stdin: 'ignore', timeout: 60_000 });
    const summary = (run.all ?? '').split('\n').filter((l) => /^(Ran \d+ tests|OK|FAILED)|^optuna \d/.test(l)).join('\n');
    if (run.exitCode === 0) console.log(`${PYTHON} scripts/test_optuna_bridge.py:\n${summary}`);
    expect(run.exitCode, `${PYTHON} scripts/test_optuna_bridge.py failed:\n${(run.all ?? '').slice(-6000)}`).toBe(0);
  });

  it('round trip: proposes distinct in-space points, is told results, reports the best', async () => {
    const log: string[] = [];
    const s = await strategy({ onStderr: (line) => log.push(line) });
    expect(s.name).toBe('bayesian');
    expect(s.bridgePid).toBeGreaterThan(0);
    expect(s.optunaVersion).toMatch(/^\d+\.\d+/);
    const history: Observation[] = [];
    const points = await s.propose(history, 3);
    expect(points).toHaveLength(3);
    expect(new Set(points.map(pointKey)).size).toBe(3);
    for (const p of points) {
      expect(inSpace(SMALL, p)).toBe(true);
      const obs = observe(p);
      await s.tell(obs);
      history.push(obs);
    }
    const next = await s.propose(history, 2);
    for (const p of next) expect(history.map((o) => pointKey(o.point))).not.toContain(pointKey(p));
    const best = await s.best();
    const bestSci = Math.min(...history.map((o) => o.sciUg!));
    expect(best).toHaveLength(1);
    expect(best[0]!.values).toEqual([bestSci]);
    const summary = await s.summary();
    expect(summary.experiments).toEqual({ complete: 3 });
    expect(summary.pendingTrialNumbers).toHaveLength(2);
    expect(log.some((l) => l.startsWith("optuna_bridge: study 'carbonbench' (in memory)"))).toBe(true);
  });

  it('enqueue: the queued point is proposed next', async () => {
    const s = await strategy();
    const queued: SpacePoint = { model: 'm-large', quant: 'int4', batch: 16, inputLen: 512, outputLen: 64 };
    await s.enqueue(queued);
    expect(await s.propose([], 1)).toEqual([queued]);
  });

  it('failed experiments are told as failed and never proposed again', async () => {
    const s = await strategy();
    const [p] = await s.propose([], 1);
    const failed = observe(p!, { status: 'failed', sciUg: null, bpb: null, tokS: null });
    await s.tell(failed);
    const summary = await s.summary();
    expect(summary.experiments).toEqual({ fail: 1 });
    expect((await s.best())).toEqual([]);
    const later = await s.propose([failed], 4);
    expect(later.map(pointKey)).not.toContain(pointKey(p!));
  });

  it('resume: replaying history with add_trial rebuilds the same study, and asking continues', async () => {
    const a = await strategy({ seed: 5 });
    const history: Observation[] = [];
    for (let i = 0; i < 8; i++) {
      const [p] = await a.propose(history, 1);
      const obs = i % 4 === 3 ? observe(p!, { status: 'failed', sciUg: null, bpb: null }) : observe(p!);
      await a.tell(obs);
      history.push(obs);
    }
    // the baseline repeated for the noise floor: three observations of one point, all replayed
    history.push(observe(history[0]!.point), observe(history[0]!.point));
    await a.tell(history[8]!);
    await a.tell(history[9]!);
    const before = await a.summary();

    const b = await strategy({ seed: 5, history });
    const after = await b.summary();
    expect(after.experiments).toEqual(before.experiments);
    expect(after.kinds.experiment).toBe(history.length);
    expect(after.nTrials).toBe(history.length); // only real observations are rebuilt
    expect(await b.best()).toEqual((await a.best()).map((t) => ({ ...t, trialNumber: expect.any(Number) })));
    const next = await b.propose(history, 2);
    expect(next).toHaveLength(2);
    for (const p of next) expect(history.map((o) => pointKey(o.point))).not.toContain(pointKey(p));
    // propose() with the same history, or telling an observation the history replayed, adds nothing twice
    for (const o of history) await b.tell(o);
    expect((await b.summary()).kinds.experiment).toBe(history.length);
  });

  it('constraint: BPB over the limit is infeasible, never the best, though its SCI is lower', async () => {
    const s = await strategy({ constraint: true, constraintValue: (o) => (o.bpb === null ? null : o.bpb - 0.9) });
    const cheapButBad = observe({ model: 'm-small', quant: 'int4', batch: 16, inputLen: 128, outputLen: 64 }, { sciUg: 1, bpb: 0.95 });
    const good = observe({ model: 'm-large', quant: 'fp16', batch: 16, inputLen: 128, outputLen: 64 }, { sciUg: 5, bpb: 0.85 });
    const unknown = observe({ model: 'm-small', quant: 'fp16', batch: 1, inputLen: 128, outputLen: 64 }, { sciUg: 0.5, bpb: null });
    await s.tell(cheapButBad);
    await s.tell(good);
    await s.tell(unknown);
    const best = await s.best();
    expect(best.map((t) => t.point)).toEqual([good.point]);
    expect(best[0]!.constraint).toBeCloseTo(-0.05, 10);
    // TPE keeps proposing with infeasible trials in the study
    expect(await s.propose([cheapButBad, good, unknown], 2)).toHaveLength(2);
    expect(await creationError({ space: SMALL, seed: 1, constraint: true })).toBeInstanceOf(TypeError);
  });

  it('multi-objective: best() is the feasible Pareto front of SCI × BPB', async () => {
    const s = await strategy({ multiObjective: true, constraint: true, constraintValue: (o) => o.bpb! - 0.9 });
    const at = (model: string, quant: string, batch: number, sciUg: number, bpb: number): Observation =>
      observe({ model, quant, batch, inputLen: 128, outputLen: 64 }, { sciUg, bpb });
    const rows = [
      at('m-small', 'int4', 16, 2, 0.89), // front: cheapest feasible
      at('m-large', 'fp16', 16, 6, 0.7), // front: best quality
      at('m-large', 'int4', 16, 7, 0.8), // dominated by the one above
      at('m-small', 'fp16', 16, 4, 0.8), // front
      at('m-small', 'int4', 1, 1, 0.99), // dominates nothing feasible: infeasible
    ];
    for (const o of rows) await s.tell(o);
    const front = await s.best();
    expect(front.map((t) => t.values)).toEqual([
      [2, 0.89],
      [6, 0.7],
      [4, 0.8],
    ]);
    const points = await s.propose(rows, 3);
    expect(points).toHaveLength(3);
  });

  it('duplicates: a tiny space is proposed exhaustively, each point once, then nothing', async () => {
    const tiny: SearchSpace = { models: ['m'], quant: ['fp16', 'int4'], batch: [1, 8], inputLen: [128], outputLen: [64] };
    const s = await strategy({ space: tiny, seed: 3, maxDuplicateAsks: 3 });
    const history: Observation[] = [];
    for (let i = 0; i < 4; i++) {
      const [p] = await s.propose(history, 1);
      expect(p).toBeDefined();
      const obs = observe(p!);
      await s.tell(obs);
      history.push(obs);
    }
    expect(new Set(history.map((o) => pointKey(o.point))).size).toBe(4);
    expect(await s.propose(history, 1)).toEqual([]);
    const summary = await s.summary();
    expect(summary.experiments).toEqual({ complete: 4 });
    expect(summary.states.running ?? 0).toBe(0);
  });

  it('proposals the runner did not run are abandoned (failed), leaving no running trial', async () => {
    const s = await strategy();
    const [first, second] = await s.propose([], 2);
    await s.tell(observe(first!));
    await s.propose([observe(first!)], 1);
    const summary = await s.summary();
    expect(summary.kinds.abandoned).toBe(1);
    expect(summary.experiments).toEqual({ complete: 1 });
    expect(summary.pendingTrialNumbers).toHaveLength(1);
    // what was run instead (the agent's choice) is added as its own trial
    await s.tell(observe(second!));
    expect((await s.summary()).experiments).toEqual({ complete: 2 });
  });

  it('a dead bridge: the next call rejects with its exit status and stderr tail', async () => {
    const s = await strategy();
    process.kill(s.bridgePid, 'SIGKILL');
    const err = await s.propose([], 1).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(OptunaBridgeError);
    expect((err as Error).message).toMatch(/signal SIGKILL/);
    expect((err as Error).message).toContain('optuna_bridge: python'); // the bridge's own stderr
    await expect(s.best()).rejects.toThrow(/is gone/);
    await s.close(); // closing a dead bridge is fine
  });

  it('a python that crashes at start: EnvironmentError with its stderr', async () => {
    const crash = script('crash.sh', '#!/bin/sh\necho "boom: interpreter exploded" >&2\nexit 1\n');
    const err = await creationError({ space: SMALL, seed: 1, python: crash });
    expect(err).toBeInstanceOf(EnvironmentError);
    expect((err as Error).message).toContain('boom: interpreter exploded');
    expect((err as Error).message).toContain('exit code 1');
  });

  it('a bridge that stops answering: the request times out and the bridge is killed', async () => {
    // Says hello like the bridge, then never answers.
    const deaf = script('deaf.sh', `#!/bin/sh\necho '{"event":"hello","ok":true,"optuna":"0.0-fake","python":"3"}'\nexec sleep 60\n`);
    const startedMs = Date.now();
    const err = await creationError({ space: SMALL, seed: 1, python: deaf, requestTimeoutMs: 300 });
    expect(err).toBeInstanceOf(OptunaBridgeError);
    expect((err as Error).message).toMatch(/did not answer `init` within 300 ms; killed it/);
    expect(Date.now() - startedMs).toBeLessThan(10_000); // killed, not waited for
  });

  it('missing Optuna, or no python at all: EnvironmentError that says how to fix it', async () => {
    const shadow = join(tmp, 'no-optuna');
    mkdirSync(join(shadow, 'optuna'), { recursive: true });
    writeFileSync(join(shadow, 'optuna', '__init__.py'), "raise ModuleNotFoundError(\"No module named 'optuna'\", name='optuna')\n");
    // A real python without Optuna: the project's interpreter with optuna shadowed on PYTHONPATH.
    const noOptuna = script('python-without-optuna', `#!/bin/sh\nPYTHONPATH='${shadow}' exec '${PYTHON}' "$@"\n`);
    const err = await creationError({ space: SMALL, seed: 1, python: noOptuna });
    expect(err).toBeInstanceOf(EnvironmentError);
    const message = (err as Error).message;
    expect(message).toContain(`Optuna is not available to ${noOptuna}`);
    expect(message).toContain('bash scripts/setup.sh');
    expect(message).toContain('CARBONBENCH_PYTHON');
    expect(message).toContain("No module named 'optuna'");

    const none = await creationError({ space: SMALL, seed: 1, python: join(tmp, 'no-such-python') });
    expect(none).toBeInstanceOf(EnvironmentError);
    expect((none as Error).message).toMatch(/not found/);
  });

  it('TPE reaches 5% of the optimum of a smooth 300-point space in far fewer trials than random', async () => {
    const space: SearchSpace = { models: ['m0', 'm1', 'm2'], quant: ['fp16', 'int4'], batch: [1, 4, 16, 64, 256], inputLen: [128, 512, 2048, 4096, 8192], outputLen: [64, 512] };
    const modelFactor: Record<string, number> = { m0: 1, m1: 1.3, m2: 1.8 };
    // Smooth in the ordinal indices, with an interaction between batch and input length; optimum at
    // m0, fp16, batch 64, input 512.
    const f = (p: SpacePoint): number => {
      const b = space.batch.indexOf(p.batch) - 3.2;
      const i = space.inputLen.indexOf(p.inputLen) - 1.4;
      const o = space.outputLen.indexOf(p.outputLen) - 0.6;
      return 10 * modelFactor[p.model]! * (p.quant === 'fp16' ? 1 : 1.15) * (1 + 0.15 * b * b + 0.1 * i * i + 0.05 * o * o + 0.05 * b * i);
    };
    const points = allPoints(space);
    const optimum = Math.min(...points.map(f));
    const good = new Set(points.filter((p) => f(p) <= optimum * 1.05).map(pointKey));
    expect(points).toHaveLength(300);
    // Random search without replacement: expected trials until one of k good points is (N + 1) / (k + 1).
    const randomExpected = (points.length + 1) / (good.size + 1);

    const budget = 150;
    const seeds = [1, 2, 3, 4, 5, 6];
    const tpeTrials: number[] = [];
    const startedMs = Date.now();
    for (const seed of seeds) {
      const s = await strategy({ space, seed });
      const history: Observation[] = [];
      let reached = budget + 1;
      for (let t = 1; t <= budget; t++) {
        const [p] = await s.propose(history, 1);
        const obs: Observation = { point: p!, status: 'ok', sciUg: f(p!), bpb: 0.8, tokS: 100, phase: 'bayesian' };
        await s.tell(obs);
        history.push(obs);
        if (good.has(pointKey(p!))) {
          reached = t;
          break;
        }
      }
      tpeTrials.push(reached);
      await s.close();
    }
    const elapsedMs = Date.now() - startedMs;
    // The same seeds for random search (a seeded shuffle), for the record next to the expectation.
    const randomTrials = seeds.map((seed) => {
      let a = seed >>> 0; // mulberry32
      const rand = (): number => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = Math.imul(a ^ (a >>> 15), a | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
      };
      const order = [...points];
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1));
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      return order.findIndex((p) => good.has(pointKey(p))) + 1;
    });
    const mean = (xs: number[]): number => xs.reduce((x, y) => x + y, 0) / xs.length;
    console.log(
      `TPE vs random, ${points.length} points, ${good.size} within 5% of the optimum: TPE trials ${tpeTrials.join(',')} (mean ${mean(tpeTrials).toFixed(1)}); ` +
        `random ${randomTrials.join(',')} (mean ${mean(randomTrials).toFixed(1)}, expected ${randomExpected.toFixed(1)}); ${elapsedMs} ms`,
    );
    expect(mean(tpeTrials)).toBeLessThan(randomExpected / 2);
    expect(mean(tpeTrials)).toBeLessThan(mean(randomTrials));
  });
});
