/**
 * The step planning of a shared-study worker (issue 10), pure: given the study's state (from Optuna's
 * storage) and the history of all hosts (from the results store), what this worker does next.
 *
 * The phases are those of a single-host run (pipeline.ts), taken once per study:
 * - A switch (start → baseline → grid → random → bayesian → done) is done by the one worker that wins
 *   the election `phase:<to>`: it enqueues the new phase's design (baseline: the repeats; grid and
 *   random: their designs capped at the phase's share) and then sets the study's phase.
 * - Baseline, grid and random: every worker claims the next enqueued trial (one worker per trial).
 *   When the phase's end condition holds over all hosts' history (share spent or converged), the
 *   remaining queue is drained (claimed and told `skipped`).
 * - Bayesian: every worker asks TPE for a new trial (constant_liar: the RUNNING trials of the other
 *   workers count as bad, so concurrent asks spread out) until it converges or the budget is spent.
 * - A phase ends for everyone when its queue is empty and no trial of the study is running: its last
 *   results shape the next phase's design (noise floor, failures, constraint).
 * - Budget: per study. A worker claims while finished + running < budget; it stops when the study has
 *   finished the budget, and waits while other workers' running trials may still fail and come back.
 */
import { BASELINE_REPEATS } from './convergence.js';
import { DEFAULT_NOISE_FLOOR_REL, PHASES, type SearchPipeline } from './pipeline.js';
import type { StudyClaim, StudyState } from './study.js';
import { pointKey, type Observation, type PhaseName, type SpacePoint } from './types.js';

export type StudyPhase = PhaseName | 'done';

export const NEXT_PHASE: Readonly<Record<PhaseName, StudyPhase>> = { baseline: 'grid', grid: 'random', random: 'bayesian', bayesian: 'done' };

export type StudyStep =
  | { kind: 'stop'; reason: string }
  | { kind: 'switch'; from: StudyPhase | 'start'; to: StudyPhase; reason: string }
  | { kind: 'drain'; phase: StudyPhase; reason: string }
  | { kind: 'claim' }
  | { kind: 'ask' }
  | { kind: 'wait'; reason: string };

export interface StudyStepInput {
  state: StudyState;
  /** All hosts' observations, in the order they were stored. */
  history: readonly Observation[];
  budgetExperiments: number;
  pipeline: Pick<SearchPipeline, 'phaseEndReason' | 'noiseFloor'>;
  /** TPE and the random fallback found no unobserved point that is not being measured. */
  bayesianExhausted?: boolean;
}

/** Order of a phase label (unknown labels: -1); `done` after every phase. */
export function phaseRank(phase: string | null): number {
  if (phase === 'done') return PHASES.length;
  return PHASES.indexOf(phase as PhaseName);
}

function asPhase(phase: string): StudyPhase | null {
  return phaseRank(phase) >= 0 ? (phase as StudyPhase) : null;
}

export function planStudyStep(input: StudyStepInput): StudyStep {
  const { state, history, budgetExperiments: budget, pipeline } = input;
  const running = state.running.filter((t) => !t.mine).length;
  if (state.finished >= budget) return { kind: 'stop', reason: `study budget reached (${state.finished}/${budget} experiments across hosts)` };
  const room = state.finished + running < budget;
  const phase = state.phase === null ? null : asPhase(state.phase);
  if (phase === null) {
    if (state.phase !== null) return { kind: 'stop', reason: `the study is in phase ${JSON.stringify(state.phase)}, which this version does not know` };
    if (state.waiting.length > 0) return room ? { kind: 'claim' } : { kind: 'wait', reason: 'the study budget is taken by running trials' };
    return { kind: 'switch', from: 'start', to: 'baseline', reason: `measure the noise floor: ${BASELINE_REPEATS} repeats of the baseline config, once per study` };
  }
  if (phase === 'done') {
    // Only re-queued trials of workers that died can still wait here.
    if (state.waiting.length > 0 && room) return { kind: 'claim' };
    if (running > 0) return { kind: 'wait', reason: 'the study ended; other workers are finishing their last trials' };
    return { kind: 'stop', reason: 'the last search phase of the study ended' };
  }
  const end = phase === 'baseline' ? null : pipeline.phaseEndReason(phase, history);
  const rank = phaseRank(phase);
  // Trials of a later phase wait while their switch is being completed (design enqueued, phase not
  // set yet): they are claimed like any other, never drained.
  const ofThisPhase = state.waiting.filter((t) => phaseRank(t.phase) <= rank).length;
  if (ofThisPhase > 0 && end !== null && (phase === 'grid' || phase === 'random')) return { kind: 'drain', phase, reason: end };
  if (state.waiting.length > 0) return room ? { kind: 'claim' } : { kind: 'wait', reason: 'the study budget is taken by running trials' };
  if (phase === 'bayesian' && end === null && !input.bayesianExhausted) return room ? { kind: 'ask' } : { kind: 'wait', reason: 'the study budget is taken by running trials' };
  if (running > 0) return { kind: 'wait', reason: `phase ${phase} ends when the other workers' trials finish` };
  return { kind: 'switch', from: phase, to: NEXT_PHASE[phase], reason: switchReason(phase, end, history, pipeline) };
}

function pct(x: number): string {
  return `${Number((100 * x).toPrecision(3))}%`;
}

function switchReason(phase: PhaseName, end: string | null, history: readonly Observation[], pipeline: StudyStepInput['pipeline']): string {
  if (end !== null) return end;
  switch (phase) {
    case 'baseline': {
      const failed = history.some((o) => o.phase === 'baseline' && o.status === 'failed');
      const floor = pipeline.noiseFloor(history);
      return failed || floor.source === 'default'
        ? `the baseline repeats did not all succeed; the noise floor defaults to ${pct(DEFAULT_NOISE_FLOOR_REL)}`
        : `noise floor measured: relative std of SCI ${pct(floor.rel)} over ${floor.repeats} repeats of the baseline config`;
    }
    case 'grid':
      return 'grid design complete: every enqueued point of the coarse design was run by a worker or skipped (observed, dominated by a failure, or of a server known to violate the constraint)';
    case 'random':
      return 'random design complete: every enqueued point was run by a worker or skipped';
    case 'bayesian':
      return 'space exhausted: no unobserved point is left that is not being measured';
  }
}

/**
 * Why a claimed trial must not run (it is then told `skipped`), or null. Baseline repeats are the one
 * deliberate repetition (up to BASELINE_REPEATS per study); anything else must be unobserved by every
 * host, not being measured by another worker, and usable by the pipeline's rules.
 */
export function claimProblem(claim: StudyClaim, history: readonly Observation[], state: StudyState, usable: (p: SpacePoint) => boolean): string | null {
  const key = pointKey(claim.point);
  // A trial whose result is already stored but which its worker has not told Optuna yet is still RUNNING
  // in the study: count it once (in the history), not twice (found by the 3-worker test under load: the
  // third baseline repeat was skipped as "already 3").
  const observed = new Set(history.map((o) => o.trialNumber).filter((n): n is number => typeof n === 'number'));
  const elsewhere = state.running.filter((t) => t.trialNumber !== claim.trialNumber && !t.mine && t.point !== null && pointKey(t.point) === key && !observed.has(t.trialNumber));
  if (claim.phase === 'baseline') {
    const done = history.filter((o) => o.phase === 'baseline').length;
    return done + elsewhere.length >= BASELINE_REPEATS ? `the baseline already has ${BASELINE_REPEATS} repeats (done or running)` : null;
  }
  if (elsewhere.length > 0) return `being measured by ${elsewhere[0]!.host ?? 'another worker'} (trial ${elsewhere[0]!.trialNumber})`;
  if (history.some((o) => pointKey(o.point) === key)) return 'already measured in the study';
  if (!usable(claim.point)) return 'dominated by a failed config or of a server known to violate the constraint';
  return null;
}

/**
 * Whether a claimed trial is beyond the study's budget: the finished experiments plus the running
 * trials claimed before it (lower trial numbers) already fill the budget. The trial with the lowest
 * number is never over while finished < budget, so some worker always makes progress.
 */
export function overBudget(claim: StudyClaim, state: StudyState, budget: number): boolean {
  const before = state.running.filter((t) => t.trialNumber < claim.trialNumber).length;
  return state.finished + before >= budget;
}
