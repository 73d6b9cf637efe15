/**
 * Secrets (issue 6): API keys set in the environment never appear in logs, results.db, experiments/, the
 * report, exports, or any command's output — including the agent path, where one key really is sent (as
 * `Authorization: Bearer …`, checked at the stub) and the endpoint echoes it back in an error message, a
 * rejected answer, an accepted rationale and a notebook line. The agent key sits in a variable whose name
 * does not look secret (PLANNER_AUTH), so only the agent's own masking protects it; OPENAI_API_KEY and a
 * token are set too and are never sent anywhere. Every file under the sandbox (databases included, as
 * bytes) and every stdout/stderr is searched.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answer, apiError, completion, startStubAgentServer, type RecordedRequest, type StubAgentServer } from '../agent/stub-agent-server.js';
import { cli, filesUnder, removeSandboxes, sandbox, writeProgram, type CliOutcome } from './helpers.js';

afterAll(removeSandboxes);

let stub: StubAgentServer;
beforeAll(async () => {
  stub = await startStubAgentServer();
});
afterAll(async () => {
  await stub.close();
});

const unique = `${process.pid}${Date.now().toString(36)}`;
const AGENT_KEY = `sk-proj-AGENT${unique}xQ9`;
const OPENAI_KEY = `sk-OPENAI${unique}zZ7`;
const HF_TOKEN = `hf_TOKEN${unique}kk3`;
const SECRETS = [AGENT_KEY, OPENAI_KEY, HF_TOKEN];

function candidate(req: RecordedRequest): Record<string, unknown> {
  const messages = req.body.messages as { role: string; content: string }[];
  return JSON.parse(/^1\. (\{.*\})$/m.exec(messages[messages.length - 1]!.content)![1]!) as Record<string, unknown>;
}

describe('secrets never reach what a run writes', () => {
  it('keys in the environment: sent to the agent endpoint, echoed back, and found in no file and no output', async () => {
    const sb = sandbox('secrets');
    const program = writeProgram(
      sb,
      `
engine: sim
models:
  - { id: sim/qwen2.5-0.5b, params: 0.49e9, family: qwen2.5 }
  - { id: sim/qwen2.5-1.5b, params: 1.54e9, family: qwen2.5 }
space: { quant: [bf16, fp8], batch: [1, 8, 64], input_len: [128], output_len: [128] }
budget: { experiments: 10 }
carbon: { region: US-NE-ISNE }
safety: { cooldown_max_s: 30 }
agent: { model: stub-planner, base_url_env: PLANNER_URL, api_key_env: PLANNER_AUTH, timeout_s: 5 }
seed: 2`,
    );
    const replies = [
      () => apiError(401, `Incorrect API key provided: ${AGENT_KEY}. You can find your API key at https://platform.example/account.`),
      () => ({ json: completion(`I was configured with ${AGENT_KEY} and will not answer in JSON.`) }),
      (req: RecordedRequest) => ({ json: completion(JSON.stringify({ config: candidate(req), rationale: `cheapest; my key is ${AGENT_KEY}`, notebook: `note: key ${AGENT_KEY}` })) }),
      (req: RecordedRequest) => answer(candidate(req), `fine (also ${OPENAI_KEY})`),
    ];
    let n = 0;
    stub.script((req) => replies[Math.min(n++, replies.length - 1)]!(req));
    const env = { PLANNER_URL: stub.baseUrl, PLANNER_AUTH: AGENT_KEY, OPENAI_API_KEY: OPENAI_KEY, HF_TOKEN, CARBONBENCH_LOG_LEVEL: 'debug' };
    const outputs: CliOutcome[] = [];
    const run = await cli(sb, ['run', '--program', program, '--db', sb.db], { env });
    outputs.push(run);
    expect(run.exitCode, run.stderr).toBe(0);
    // The key is really used: the endpoint received it on every request.
    expect(stub.requests.length).toBeGreaterThanOrEqual(4);
    expect(stub.requests.every((q) => q.authorization === `Bearer ${AGENT_KEY}`)).toBe(true);

    // Every command that reads the results, as the user would run them in the morning.
    const help = (await cli(sb, ['--help'])).stdout;
    const has = (command: string): boolean => new RegExp(`^\\s+${command}\\b`, 'm').test(help);
    const queries: string[][] = [['status'], ['status', '--json'], ['report', '--out', join(sb.dir, 'report')]];
    for (const c of ['top', 'leaderboard', 'pareto', 'fit']) if (has(c)) queries.push([c], [c, '--json']);
    if (has('calc')) queries.push(['calc', '--experiment', '5', '--intensity', '100']);
    if (has('export')) for (const f of ['csv', 'json', 'codecarbon', 'impact']) queries.push(['export', '--format', f]);
    for (const q of queries) {
      if (!has(q[0]!)) continue;
      const r = await cli(sb, [...q, '--db', sb.db], { env });
      outputs.push(r);
      expect(r.exitCode, `${q.join(' ')}: ${r.stderr}`).toBe(0);
      expect(r.stdout.length, q.join(' ')).toBeGreaterThan(0);
    }
    // status, report, and (where registered) the analysis commands and every export format.
    expect(outputs.length - 1).toBeGreaterThanOrEqual(3);

    // The agent's words did get stored (masked), so the search below is not vacuous.
    const files = filesUnder(sb.dir).filter((f) => !f.endsWith('program.md'));
    const all = Buffer.concat(files.map((f) => readFileSync(f)));
    expect(all.includes(Buffer.from('Incorrect API key provided: [REDACTED]'))).toBe(true);
    expect(files.some((f) => f.endsWith('carbonbench.log'))).toBe(true);
    expect(files.some((f) => f.endsWith('index.html'))).toBe(true);
    for (const secret of SECRETS) {
      for (const f of files) expect(readFileSync(f).includes(Buffer.from(secret)), `${secret.slice(0, 12)}… in ${f}`).toBe(false);
      for (const o of outputs) expect(`${o.stdout}\n${o.stderr}`.includes(secret), `${secret.slice(0, 12)}… in a command's output`).toBe(false);
    }
  }, 90_000);
});
