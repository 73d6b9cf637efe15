import { describe, expect, it } from 'vitest';
import { tableEvaluator } from '../../src/engines/table.js';
import { EnvironmentError } from '../../src/errors.js';
import { DEFAULT_NOISE_FLOOR_REL, PHASES, SearchPipeline, baselinePoint, dominatedByFailure, infeasibleServers, type PhaseSwitch, type PipelineOptions } from '../../src/search/pipeline.js';
import { inSpace, parseConstraint } from '../../src/search/space.js';
import { pointKey, type Observation, type PhaseName, type Proposal, type SearchSpace } from '../../src/search/types.js';
import { CARBON, FakeBayesian, MISSING, MODELS, syntheticTable } from './synthetic.js';

const table = syntheticTable();
const SPACE = table.space;
const REL = parseConstraint('bpb <= 1.02 * baseline');

interface Run {
  proposals: Proposal[];
  history: Observation[];
  switches: PhaseSwitch[];
  fakes: FakeBayesian[];
}

/** Runs a pipeline to its end on the synthetic table. */
async function run(over: Partial<PipelineOptions> = {}, noise = 0): Promise<Run> {
  const switches: PhaseSwitch[] = [];
  const fakes: FakeBayesian[] = [];
  const evaluate = tableEvaluator(table, { noise, seed: 1, carbon: CARBON });
  const pipeline = new SearchPipeline({
    space: SPACE,
    constraint: REL,
    budgetExperiments: 40,
    seed: 1,
    patience: 4,
    modelParams: MODELS,
    bayesianFactory: async () => {
      const f = new FakeBayesian(SPACE);
      fakes.push(f);
      return f;
    },
    onPhaseSwitch: (s) => switches.push(s),
    ...over,
  });
  const proposals: Proposal[] = [];
  const history: Observation[] = [];
  for (let i = 0; i < 200; i++) {
    const p = await pipeline.next(history);
    if (!p) break;
    proposals.push(p);
    const obs = evaluate(p.point, p.phase);
    history.push(obs);
    pipeline.observe(obs);
  }
  await pipeline.close();
  return { proposals, history, switches, fakes };
}

const phaseIndex = (p: string): number => PHASES.indexOf(p as PhaseName);

describe('baseline config and pruning rules', () => {
  it('baseline: smallest model, highest precision, lower median batch, first lengths', () => {
    expect(baselinePoint(SPACE, MODELS)).toEqual({ model: 'small', quant: 'bf16', batch: 2, inputLen: 128, outputLen: 128 });
    // Without parameter counts: the first model of the program.
    expect(baselinePoint(SPACE).model).toBe('big');
    const s: SearchSpace = { models: ['a'], quant: ['awq', 'fp32', 'bf16'], batch: [64, 1, 8], inputLen: [512, 128], outputLen: [256] };
    expect(baselinePoint(s)).toEqual({ model: 'a', quant: 'fp32', batch: 8, inputLen: 512, outputLen: 256 });
  });

  it('a failure rules out the same server at larger batch and lengths only', () => {
    const f = [{ model: 'm', quant: 'q', batch: 8, inputLen: 512, outputLen: 128 }];
    expect(dominatedByFailure({ model: 'm', quant: 'q', batch: 16, inputLen: 512, outputLen: 256 }, f)).toBe(true);
    expect(dominatedByFailure({ model: 'm', quant: 'q', batch: 8, inputLen: 512, outputLen: 128 }, f)).toBe(true);
    expect(dominatedByFailure({ model: 'm', quant: 'q', batch: 4, inputLen: 2048, outputLen: 128 }, f)).toBe(false);
    expect(dominatedByFailure({ model: 'm', quant: 'q2', batch: 16, inputLen: 512, outputLen: 128 }, f)).toBe(false);
  });

  it('a server is known infeasible once its BPB is over an absolute limit, or a relative one with a final baseline', () => {
    const o = (model: string, quant: string, bpb: number): Observation => ({ point: { model, quant, batch: 1, inputLen: 128, outputLen: 128 }, status: 'ok', sciUg: 1, bpb, tokS: 1, phase: 'grid' });
    // awq is over 1.02 × fp8's BPB, but bf16 (the top quant of the space) is not measured: not final.
    expect(infeasibleServers([o('small', 'fp8', 1.0), o('small', 'awq', 1.05)], REL, SPACE)).toEqual(new Set());
    expect(infeasibleServers([o('small', 'bf16', 1.0), o('small', 'awq', 1.05), o('small', 'fp8', 1.003)], REL, SPACE)).toEqual(new Set([JSON.stringify(['small', 'awq'])]));
    expect(infeasibleServers([o('small', 'fp8', 0.95), o('big', 'awq', 0.85)], parseConstraint('bpb <= 0.9'), SPACE)).toEqual(new Set([JSON.stringify(['small', 'fp8'])]));
    expect(infeasibleServers([o('small', 'awq', 9)], null, SPACE)).toEqual(new Set());
  });
});

describe('SearchPipeline phases on a synthetic table', () => {
  it('baseline → grid → random → bayesian → done, each switch recorded with its reason', async () => {
    const r = await run();
    expect(r.switches.map((s) => `${s.from}>${s.to}`)).toEqual(['start>baseline', 'baseline>grid', 'grid>random', 'random>bayesian', 'bayesian>done']);
    const [start, base, grid, random, bayes] = r.switches as [PhaseSwitch, PhaseSwitch, PhaseSwitch, PhaseSwitch, PhaseSwitch];
    expect(start).toMatchObject({ atExperiment: 0, reason: 'measure the noise floor: 3 repeats of the baseline config' });
    expect(base).toMatchObject({ atExperiment: 3, reason: 'noise floor measured: relative std of SCI 0% over 3 repeats of the baseline config' });
    expect(grid.reason).toMatch(/^grid converged: the best feasible SCI improved by 0% over the last 4 grid experiments, not more than the noise floor \(0%, from 3 baseline repeats\); best [\d.]+ µgCO2e\/token$/);
    // Random's share of a 40-experiment budget is 10.
    expect(random.reason).toMatch(/^(random spent its share: 10 experiments \(25% of the 40-experiment budget\)|random converged: .*)$/);
    expect(bayes.reason).toMatch(/^(bayesian converged: |experiment budget spent)/);
    expect(bayes.atExperiment).toBe(r.history.length);

    // Proposals: phases in order, the baseline 3 times, every other point once, all in the space.
    const phases = r.proposals.map((p) => p.phase);
    for (let i = 1; i < phases.length; i++) expect(phaseIndex(phases[i]!)).toBeGreaterThanOrEqual(phaseIndex(phases[i - 1]!));
    expect(phases.slice(0, 3)).toEqual(['baseline', 'baseline', 'baseline']);
    expect(new Set(r.proposals.slice(0, 3).map((p) => pointKey(p.point)))).toEqual(new Set([pointKey(baselinePoint(SPACE, MODELS))]));
    const rest = r.proposals.slice(3).map((p) => pointKey(p.point));
    expect(new Set(rest).size).toBe(rest.length);
    expect(rest).not.toContain(pointKey(baselinePoint(SPACE, MODELS)));
    expect(r.proposals.every((p) => inSpace(SPACE, p.point))).toBe(true);
    for (const ph of ['grid', 'random', 'bayesian'] as const) {
      expect(phases.filter((p) => p === ph).length).toBe(r.switches.find((s) => s.to === (ph === 'bayesian' ? 'done' : PHASES[phaseIndex(ph) + 1]))!.atExperiment - r.switches.find((s) => s.to === ph)!.atExperiment);
    }
    expect(phases.filter((p) => p === 'grid').length).toBeLessThanOrEqual(14);
    expect(phases.filter((p) => p === 'random').length).toBeLessThanOrEqual(10);

    // Rationales say why.
    expect(r.proposals[0]!.rationale).toMatch(/^baseline repeat 1\/3: small bf16 batch 2 input 128 output 128 — the smallest model at its highest precision/);
    expect(r.proposals[3]!.rationale).toMatch(/^grid point 1\/\d+: small bf16 batch 1 — coarse grid/);
    expect(r.proposals.find((p) => p.phase === 'random')!.rationale).toMatch(/^random: uniform draw without replacement/);
    expect(r.proposals.find((p) => p.phase === 'bayesian')!.rationale).toMatch(/^bayesian: /);

    // The fake was built once, told the whole history (replay, then each observation), and closed.
    expect(r.fakes).toHaveLength(1);
    expect(r.fakes[0]!.told.map((o) => pointKey(o.point))).toEqual(r.history.map((o) => pointKey(o.point)));
    expect(r.fakes[0]!.closed).toBe(true);
  });

  it('never proposes a point of a server known infeasible, nor one dominated by a failure', async () => {
    const r = await run({ budgetExperiments: 48, patience: 50 });
    const awqSmall = r.proposals.filter((p) => p.point.model === 'small' && p.point.quant === 'awq');
    // small awq (BPB 5% over bf16) is measured once, after small bf16, and then skipped.
    expect(awqSmall).toHaveLength(1);
    const missing = MISSING[0]!;
    const failedAt = r.history.findIndex((o) => pointKey(o.point) === pointKey(missing));
    expect(failedAt).toBeGreaterThan(-1);
    expect(r.history[failedAt]!.status).toBe('failed');
    // Nothing larger of big/bf16 at input ≥ 512 after the failure (here: nothing else is larger).
    const after = r.proposals.slice(failedAt + 1).filter((p) => p.point.model === 'big' && p.point.quant === 'bf16' && p.point.batch >= 32 && p.point.inputLen >= 512);
    expect(after).toEqual([]);
  });

  it('skips the bayesian phase with the factory\'s reason when it throws', async () => {
    const why = 'python3 cannot import optuna: run scripts/setup.sh';
    const r = await run({
      bayesianFactory: async () => {
        throw new EnvironmentError(why);
      },
    });
    const last = r.switches[r.switches.length - 1]!;
    expect(r.proposals.some((p) => p.phase === 'bayesian')).toBe(false);
    expect(r.switches.some((s) => s.to === 'bayesian')).toBe(false);
    expect(last.from).toBe('random');
    expect(last.skipped).toBe('bayesian');
    expect(last.reason).toContain(`the bayesian phase is skipped: ${why}`);
    // It ends because random converged or ran out of points, not on the budget.
    expect(last.to).toBe('done');
    expect(r.history.length).toBeLessThan(40);
  });

  it('without a bayesian strategy, random continues past its share until it converges', async () => {
    const r = await run({ bayesianFactory: undefined, shares: { grid: 0.35, random: 0.05 }, patience: 6, budgetExperiments: 60 });
    const extend = r.switches.find((s) => s.from === 'random' && s.to === 'random');
    expect(extend).toBeDefined();
    expect(extend!.skipped).toBe('bayesian');
    expect(extend!.reason).toMatch(/^random spent its share: 3 experiments \(5% of the 60-experiment budget\), but the bayesian phase is skipped \(no bayesian strategy was configured\): random continues over the remaining \d+ experiments until it converges$/);
    expect(r.proposals.filter((p) => p.phase === 'random').length).toBeGreaterThan(3);
    expect(r.switches[r.switches.length - 1]).toMatchObject({ from: 'random', to: 'done', skipped: 'bayesian' });
  });

  it('a bayesian strategy that breaks mid-phase ends the phase with the reason, and is closed', async () => {
    const fakes: FakeBayesian[] = [];
    const r = await run({
      bayesianFactory: async () => {
        const f = new FakeBayesian(SPACE);
        const tell = f.tell.bind(f);
        const propose = f.propose.bind(f);
        // The bridge dies after two results told during the phase (the replay goes through).
        let proposed = false;
        let told = 0;
        f.propose = async (h, n) => {
          proposed = true;
          return propose(h, n);
        };
        f.tell = async (obs) => {
          if (proposed && ++told > 2) throw new Error('the Optuna bridge exited with code 1');
          await tell(obs);
        };
        fakes.push(f);
        return f;
      },
      patience: 40,
    });
    const last = r.switches[r.switches.length - 1]!;
    expect(last).toMatchObject({ from: 'bayesian', to: 'done' });
    expect(last.reason).toContain('the bayesian strategy failed: the Optuna bridge exited with code 1');
    expect(fakes[0]!.closed).toBe(true);
    expect(r.proposals.filter((p) => p.phase === 'bayesian')).toHaveLength(3);
  });

  it('stops at the budget, and a failed baseline falls back to the default noise floor', async () => {
    const r = await run({ budgetExperiments: 7 });
    expect(r.history).toHaveLength(7);
    expect(r.switches[r.switches.length - 1]).toMatchObject({ to: 'done', reason: 'experiment budget spent (7 of 7)', atExperiment: 7 });

    // A space whose baseline config (big bf16 batch 32 input 512) is missing from the table.
    const fail = await run({ modelParams: { small: 9e9, big: 1e9 }, budgetExperiments: 10, space: { ...SPACE, batch: [32], inputLen: [512, 128] } });
    expect(fail.proposals.filter((p) => p.phase === 'baseline')).toHaveLength(1);
    expect(fail.history[0]!.status).toBe('failed');
    expect(fail.switches[1]).toMatchObject({ from: 'baseline', to: 'grid', reason: `the baseline config failed (big bf16 batch 32 input 512 output 128); the noise floor defaults to ${DEFAULT_NOISE_FLOOR_REL * 100}%` });
  });

  it('measures the noise floor from the repeats when the table is noisy', async () => {
    const r = await run({}, 0.05);
    expect(r.switches[1]!.reason).toMatch(/^noise floor measured: relative std of SCI [1-9][\d.]*% over 3 repeats of the baseline config$/);
  });
});

describe('resume', () => {
  it('a pipeline built again on the history proposes what the uninterrupted one does, in every phase', async () => {
    const opts = (switches: PhaseSwitch[]): PipelineOptions => ({
      space: SPACE,
      constraint: REL,
      budgetExperiments: 40,
      seed: 3,
      patience: 4,
      modelParams: MODELS,
      bayesianFactory: async () => new FakeBayesian(SPACE),
      onPhaseSwitch: (s) => switches.push(s),
    });
    const evaluate = tableEvaluator(table, { noise: 0.03, seed: 3, carbon: CARBON });
    const mainSwitches: PhaseSwitch[] = [];
    const main = new SearchPipeline(opts(mainSwitches));
    const history: Observation[] = [];
    const seenPhases = new Set<string>();
    for (;;) {
      const fresh = new SearchPipeline(opts([]));
      const resumed = await fresh.next(history);
      const p = await main.next(history);
      expect(resumed).toEqual(p);
      await fresh.close();
      if (!p) break;
      seenPhases.add(p.phase);
      const obs = evaluate(p.point, p.phase);
      history.push(obs);
      main.observe(obs);
    }
    expect([...seenPhases]).toEqual(['baseline', 'grid', 'random', 'bayesian']);
    await main.close();
  });

  it('a resumed pipeline reports only the switches that happen from then on', async () => {
    const r = await run();
    const at = r.switches.find((s) => s.to === 'random')!.atExperiment + 2;
    const switches: PhaseSwitch[] = [];
    const p = new SearchPipeline({ space: SPACE, constraint: REL, budgetExperiments: 40, seed: 1, patience: 4, modelParams: MODELS, onPhaseSwitch: (s) => switches.push(s) });
    const next = await p.next(r.history.slice(0, at));
    expect(next?.phase).toBe('random');
    expect(switches).toEqual([]);
    expect(p.state(r.history.slice(0, at))).toMatchObject({ phase: 'random', experiments: at, budgetExperiments: 40, noiseFloorRel: 0, noiseFloorSource: 'baseline' });
  });
});
