import { describe, expect, it } from 'vitest';
import { buildMessages, formatResultsTable, rankObservations } from '../../src/agent/prompt.js';
import { CANDIDATES, HISTORY, LARGE, PROSE, SMALL, context, obs, point } from './fixtures.js';

describe('buildMessages', () => {
  const messages = buildMessages(context({ objective: 'minimize sci; constraint: bpb <= 1.02 * baseline', budget: { experimentsDone: 4, experimentsTotal: 40 } }));
  const user = messages[1]!.content;

  it('has a system prompt asking for the JSON answer and a user message with the state', () => {
    expect(messages.map((m) => m.role)).toEqual(['system', 'user']);
    expect(messages[0]!.content).toContain('{"config": {"model"');
    expect(messages[0]!.content).toContain('"rationale"');
    expect(user).toContain('Reply with the JSON object only');
  });

  it('contains the prose, the objective, the space, the phase and the budget', () => {
    expect(user).toContain(PROSE);
    expect(user).toContain('bpb <= 1.02 * baseline');
    expect(user).toContain('model: ["Qwen/Qwen2.5-0.5B-Instruct","Qwen/Qwen2.5-7B-Instruct"]');
    expect(user).toContain('batch (concurrent requests): [1,8,32]');
    expect(user).toContain('(72 configurations in all)');
    expect(user).toContain('## Phase\n\ngrid — experiment 5 of a budget of 40 — 3 measured, 1 failed so far');
  });

  it('numbers the candidates in the answer format', () => {
    expect(user).toContain('## Candidates from the grid strategy');
    expect(user).toContain(`1. {"model":"${SMALL}","quant":"fp8","batch":32,"input_len":128,"output_len":128}`);
    expect(user).toContain(`2. {"model":"${LARGE}","quant":"fp8","batch":8,"input_len":512,"output_len":512}`);
  });

  it('contains the results table (units in headers, best first) and the Pareto set', () => {
    expect(user).toContain('| model | quant | batch | in (tokens) | out (tokens) | SCI (µgCO2e/token) | BPB (bits/byte) | tok/s | status |');
    const table = user.slice(user.indexOf('## Results so far'), user.indexOf('## Pareto set'));
    const rows = table.split('\n').filter((l) => l.startsWith(`| Qwen`));
    expect(rows).toEqual([
      `| ${SMALL} | bf16 | 32 | 128 | 128 | 61.25 | 0.9812 | 1030 | ok |`,
      `| ${LARGE} | bf16 | 8 | 128 | 128 | 310.7 | 0.7421 | 180.4 | ok |`,
      `| ${SMALL} | bf16 | 1 | 128 | 128 | 950.5 | 0.9812 | 41.2 | ok |`,
      `| ${LARGE} | awq | 32 | 128 | 128 | — | — | — | failed |`,
    ]);
    const pareto = user.slice(user.indexOf('## Pareto set'), user.indexOf('## Candidates'));
    expect(pareto).toContain(`| ${SMALL} | bf16 | 32 |`);
    expect(pareto).toContain(`| ${LARGE} | bf16 | 8 |`);
    expect(pareto).not.toContain('| 950.5 |');
    expect(pareto).not.toContain('failed');
  });

  it('lists queued points and says when the prose is empty or too long', () => {
    const queued = buildMessages(context({ pending: [CANDIDATES[1]!], prose: '' }))[1]!.content;
    expect(queued).toContain('## Queued (do not choose these)');
    expect(queued).toContain('(the program has no prose)');
    const long = buildMessages(context({ prose: 'x'.repeat(500) }), { maxProseChars: 100 })[1]!.content;
    expect(long).toContain('[… brief cut at 100 characters]');
    expect(long).not.toContain('x'.repeat(101));
  });

  it('is pure: the same context gives the same messages', () => {
    expect(buildMessages(context())).toEqual(buildMessages(context()));
  });
});

describe('formatResultsTable', () => {
  it('caps the rows and counts the rest', () => {
    const many = Array.from({ length: 50 }, (_, i) => obs(point(SMALL, 'bf16', 1, 128 + i), 100 + i, 1, 10));
    const table = formatResultsTable(many, 10);
    expect(table.split('\n').filter((l) => l.startsWith('| Qwen'))).toHaveLength(10);
    expect(table).toContain('(40 more not shown');
    expect(table).toContain('| 100 |'); // the best row is kept
    expect(table).not.toContain('| 149 |');
  });

  it('says when there is nothing yet and escapes pipes in model ids', () => {
    expect(formatResultsTable([])).toBe('(no experiments yet)');
    expect(formatResultsTable([obs(point('a|b', 'bf16', 1), 1, 1, 1)])).toContain('| a\\|b |');
  });

  it('ranks measured by SCI, then failed most recent first', () => {
    const ranked = rankObservations(HISTORY);
    expect(ranked.map((o) => o.sciUg)).toEqual([61.25, 310.7, 950.5, null]);
  });
});
