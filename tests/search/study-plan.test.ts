/**
 * The step planning of a shared-study worker (src/search/study-plan.ts), on hand-made study states: what a
 * worker does for each combination of phase, queue, running trials, budget and end conditions.
 */
import { describe, expect, it } from 'vitest';
import { SearchPipeline } from '../../src/search/pipeline.js';
import { claimProblem, overBudget, planStudyStep } from '../../src/search/study-plan.js';
import type { StudyClaim, StudyState, StudyTrial } from '../../src/search/study.js';
import type { Observation, SearchSpace, SpacePoint } from '../../src/search/types.js';

const space: SearchSpace = { models: ['m'], quant: ['bf16', 'fp8'], batch: [1, 2, 4, 8], inputLen: [128], outputLen: [128] };
const pt = (quant: string, batch: number): SpacePoint => ({ model: 'm', quant, batch, inputLen: 128, outputLen: 128 });
const obs = (p: SpacePoint, phase: string, sciUg: number | null = 1, status: 'ok' | 'failed' = 'ok'): Observation => ({ point: p, status, sciUg, bpb: 1, tokS: 1, phase });
const trial = (n: number, p: SpacePoint, phase: string, extra: Partial<StudyTrial> = {}): StudyTrial => ({ trialNumber: n, point: p, phase, host: 'h', requeuedFrom: null, ...extra });
const state = (s: Partial<StudyState>): StudyState => ({ phase: null, waiting: [], running: [], finished: 0, lost: 0, ...s });

function pipeline(budget = 20, patience = 3): SearchPipeline {
  return new SearchPipeline({ space, constraint: null, budgetExperiments: budget, seed: 1, patience });
}

const baselineHistory = [obs(pt('bf16', 2), 'baseline', 1.0), obs(pt('bf16', 2), 'baseline', 1.02), obs(pt('bf16', 2), 'baseline', 0.98)];

describe('planStudyStep', () => {
  it('a fresh study starts with the baseline switch, once the queue of a switch in progress is empty', () => {
    expect(planStudyStep({ state: state({}), history: [], budgetExperiments: 20, pipeline: pipeline() })).toMatchObject({ kind: 'switch', from: 'start', to: 'baseline' });
    // Another worker won the switch and enqueued the repeats but has not set the phase yet: claim them.
    expect(planStudyStep({ state: state({ waiting: [trial(0, pt('bf16', 2), 'baseline')] }), history: [], budgetExperiments: 20, pipeline: pipeline() })).toEqual({ kind: 'claim' });
  });

  it('claims while the phase has a queue, waits for the others at its end, then switches with the noise floor as reason', () => {
    const p = pipeline();
    const s1 = state({ phase: 'baseline', waiting: [trial(2, pt('bf16', 2), 'baseline')], running: [{ ...trial(0, pt('bf16', 2), 'baseline'), mine: false }], finished: 1 });
    expect(planStudyStep({ state: s1, history: baselineHistory.slice(0, 1), budgetExperiments: 20, pipeline: p })).toEqual({ kind: 'claim' });
    const s2 = state({ phase: 'baseline', running: [{ ...trial(2, pt('bf16', 2), 'baseline'), mine: false }], finished: 2 });
    expect(planStudyStep({ state: s2, history: baselineHistory.slice(0, 2), budgetExperiments: 20, pipeline: p })).toMatchObject({ kind: 'wait' });
    const s3 = state({ phase: 'baseline', finished: 3 });
    const step = planStudyStep({ state: s3, history: baselineHistory, budgetExperiments: 20, pipeline: p });
    expect(step).toMatchObject({ kind: 'switch', from: 'baseline', to: 'grid' });
    expect(step.kind === 'switch' && step.reason).toMatch(/noise floor measured: relative std of SCI 2% over 3 repeats/);
  });

  it('drains a grid queue when the grid spent its share over all hosts’ results, but never a later phase’s trials', () => {
    const p = pipeline(10); // grid share: floor(0.35 × 10) = 3
    const history = [...baselineHistory, obs(pt('bf16', 1), 'grid', 0.9), obs(pt('bf16', 4), 'grid', 0.8), obs(pt('bf16', 8), 'grid', 0.7)];
    const s = state({ phase: 'grid', waiting: [trial(7, pt('fp8', 1), 'grid')], finished: 6 });
    expect(planStudyStep({ state: s, history, budgetExperiments: 10, pipeline: p })).toMatchObject({ kind: 'drain', phase: 'grid', reason: expect.stringMatching(/grid spent its share: 3 experiments/) });
    // The waiting trial belongs to the random phase (its switch is completing): claimed, not drained.
    const s2 = state({ phase: 'grid', waiting: [trial(8, pt('fp8', 1), 'random')], finished: 6 });
    expect(planStudyStep({ state: s2, history, budgetExperiments: 10, pipeline: p })).toEqual({ kind: 'claim' });
  });

  it('asks TPE in the bayesian phase while the budget has room, waits when running trials fill it, stops when finished', () => {
    const p = pipeline(10);
    const history = [...baselineHistory, obs(pt('bf16', 1), 'grid', 0.9)];
    expect(planStudyStep({ state: state({ phase: 'bayesian', finished: 4 }), history, budgetExperiments: 10, pipeline: p })).toEqual({ kind: 'ask' });
    const full = state({ phase: 'bayesian', finished: 8, running: [{ ...trial(20, pt('fp8', 1), 'bayesian'), mine: false }, { ...trial(21, pt('fp8', 2), 'bayesian'), mine: false }] });
    expect(planStudyStep({ state: full, history, budgetExperiments: 10, pipeline: p })).toMatchObject({ kind: 'wait', reason: expect.stringMatching(/budget is taken by running trials/) });
    expect(planStudyStep({ state: state({ phase: 'bayesian', finished: 10 }), history, budgetExperiments: 10, pipeline: p })).toEqual({ kind: 'stop', reason: 'study budget reached (10/10 experiments across hosts)' });
    // A re-queued trial of a dead worker comes first, even in the bayesian phase.
    const requeued = state({ phase: 'bayesian', finished: 4, waiting: [trial(22, pt('fp8', 4), 'grid', { requeuedFrom: 9 })] });
    expect(planStudyStep({ state: requeued, history, budgetExperiments: 10, pipeline: p })).toEqual({ kind: 'claim' });
  });

  it('after the last phase: claims leftovers of dead workers, waits for running ones, then stops', () => {
    const p = pipeline();
    expect(planStudyStep({ state: state({ phase: 'done', waiting: [trial(30, pt('fp8', 8), 'bayesian', { requeuedFrom: 29 })], finished: 12 }), history: baselineHistory, budgetExperiments: 20, pipeline: p })).toEqual({ kind: 'claim' });
    expect(planStudyStep({ state: state({ phase: 'done', running: [{ ...trial(31, pt('fp8', 8), 'bayesian'), mine: false }], finished: 12 }), history: baselineHistory, budgetExperiments: 20, pipeline: p })).toMatchObject({ kind: 'wait' });
    expect(planStudyStep({ state: state({ phase: 'done', finished: 12 }), history: baselineHistory, budgetExperiments: 20, pipeline: p })).toEqual({ kind: 'stop', reason: 'the last search phase of the study ended' });
    expect(planStudyStep({ state: state({ phase: 'warp' }), history: [], budgetExperiments: 20, pipeline: p })).toMatchObject({ kind: 'stop', reason: expect.stringMatching(/phase "warp", which this version does not know/) });
  });
});

describe('claimProblem and overBudget', () => {
  const claim = (n: number, p: SpacePoint, phase: string): StudyClaim => ({ trialNumber: n, point: p, phase, requeuedFrom: null });
  const usable = pipeline().usable.bind(pipeline());

  it('skips a config measured anywhere or being measured by another worker; baseline repeats up to 3', () => {
    const history = [...baselineHistory, obs(pt('bf16', 1), 'grid')];
    const s = state({ phase: 'grid', running: [{ ...trial(5, pt('fp8', 1), 'grid', { host: 'gpu-b' }), mine: false }, { ...trial(6, pt('fp8', 2), 'grid'), mine: true }] });
    expect(claimProblem(claim(6, pt('fp8', 2), 'grid'), history, s, usable(history))).toBeNull();
    expect(claimProblem(claim(6, pt('bf16', 1), 'grid'), history, s, usable(history))).toBe('already measured in the study');
    expect(claimProblem(claim(6, pt('fp8', 1), 'grid'), history, s, usable(history))).toBe('being measured by gpu-b (trial 5)');
    expect(claimProblem(claim(7, pt('bf16', 2), 'baseline'), baselineHistory.slice(0, 2), state({}), usable([]))).toBeNull();
    expect(claimProblem(claim(7, pt('bf16', 2), 'baseline'), baselineHistory, state({}), usable([]))).toMatch(/already has 3 repeats/);
  });

  it('a repeat whose result is stored but whose trial is still running counts once, not twice', () => {
    // Trials 0 and 1 stored their rows; trial 1's worker has not told Optuna yet (still RUNNING there).
    const stored = [{ ...baselineHistory[0]!, trialNumber: 0 }, { ...baselineHistory[1]!, trialNumber: 1 }];
    const s = state({ phase: 'baseline', running: [{ ...trial(1, pt('bf16', 2), 'baseline', { host: 'gpu-b' }), mine: false }, { ...trial(2, pt('bf16', 2), 'baseline'), mine: true }] });
    expect(claimProblem(claim(2, pt('bf16', 2), 'baseline'), stored, s, usable([]))).toBeNull();
    // Without the trial numbers (rows of a plain run), the running trial would be counted again.
    expect(claimProblem(claim(2, pt('bf16', 2), 'baseline'), baselineHistory.slice(0, 2), s, usable([]))).toMatch(/already has 3 repeats/);
    // Still running and not stored: it is a repeat in progress.
    expect(claimProblem(claim(2, pt('bf16', 2), 'baseline'), stored.slice(0, 1), state({ running: [{ ...trial(1, pt('bf16', 2), 'baseline'), mine: false }, { ...trial(5, pt('bf16', 2), 'baseline'), mine: false }] }), usable([]))).toMatch(/already has 3 repeats/);
  });

  it('skips a config dominated by a failure (same server, every dimension at least as large)', () => {
    const history = [...baselineHistory, obs(pt('fp8', 2), 'grid', null, 'failed')];
    expect(claimProblem(claim(9, pt('fp8', 4), 'grid'), history, state({}), usable(history))).toMatch(/dominated by a failed config/);
    expect(claimProblem(claim(9, pt('fp8', 1), 'grid'), history, state({}), usable(history))).toBeNull();
  });

  it('a claim is over budget when finished experiments and earlier running claims fill it; the lowest never is', () => {
    const running = [{ ...trial(3, pt('fp8', 1), 'grid'), mine: false }, { ...trial(4, pt('fp8', 2), 'grid'), mine: false }, { ...trial(5, pt('fp8', 4), 'grid'), mine: true }];
    const s = state({ phase: 'grid', running, finished: 8 });
    expect(overBudget(claim(5, pt('fp8', 4), 'grid'), s, 10)).toBe(true);
    expect(overBudget(claim(4, pt('fp8', 2), 'grid'), s, 10)).toBe(false);
    expect(overBudget(claim(3, pt('fp8', 1), 'grid'), s, 10)).toBe(false);
    expect(overBudget(claim(5, pt('fp8', 4), 'grid'), s, 11)).toBe(false);
  });
});

describe('SearchPipeline.design (what the winner of a switch enqueues)', () => {
  it('baseline: the missing repeats; grid: usable design points capped at the share; random: never an observed point', async () => {
    const p = pipeline(20);
    expect(await p.design('baseline', [])).toEqual([p.baseline, p.baseline, p.baseline]);
    expect(await p.design('baseline', baselineHistory.slice(0, 2))).toEqual([p.baseline]);
    const grid = await p.design('grid', baselineHistory);
    expect(grid.length).toBeGreaterThan(3);
    expect(grid.length).toBeLessThanOrEqual(p.phaseBudget('grid'));
    expect(new Set(grid.map((x) => JSON.stringify(x))).size).toBe(grid.length);
    // The share caps it: 35% of a 10-experiment budget is 3.
    expect(await pipeline(10).design('grid', baselineHistory)).toEqual(grid.slice(0, 3));
    expect(grid.map((x) => JSON.stringify(x))).not.toContain(JSON.stringify(pt('bf16', 2)));
    const history = [...baselineHistory, ...grid.map((g) => obs(g, 'grid'))];
    const random = await p.design('random', history);
    expect(random.length).toBeLessThanOrEqual(p.phaseBudget('random'));
    for (const r of random) expect(history.map((o) => JSON.stringify(o.point))).not.toContain(JSON.stringify(r));
  });
});
