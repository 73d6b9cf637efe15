import { createServer } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AgentConfigError, PlannerAgent, isLocalEndpoint, plannerAgentFromProgram, resolvesToThisMachine, type MachineIdentity } from '../../src/agent/agent.js';
import { CANDIDATES, HISTORY, PROSE, SMALL, captureLog, context } from './fixtures.js';
import { answer, apiError, completion, startStubAgentServer, type StubAgentServer } from './stub-agent-server.js';

const KEY = 'sk-stub-9f8e7d6c5b4a39281706SECRET';
const REMOTE: MachineIdentity = { hostnames: ['benchbox', 'benchbox.lab.example'], addresses: ['10.1.2.3', 'fe80::1c2d:3e4f:5a6b:7c8d'] };
const GOOD = { model: SMALL, quant: 'fp8', batch: 8, input_len: 512, output_len: 128 };

let stub: StubAgentServer;
let cap: ReturnType<typeof captureLog>;

beforeAll(async () => {
  stub = await startStubAgentServer();
});
afterAll(async () => {
  await stub.close();
});
afterEach(() => {
  stub.requests.length = 0;
});

function agent(over: Partial<ConstructorParameters<typeof PlannerAgent>[0]> = {}): PlannerAgent {
  cap = captureLog();
  return new PlannerAgent({ model: 'stub-planner', baseUrl: stub.baseUrl, apiKey: KEY, timeoutMs: 2_000, maxConsecutiveFailures: 3, log: cap.log, ...over });
}

function expectFallback(choice: Awaited<ReturnType<PlannerAgent['choose']>>, noteContains: string): void {
  expect(choice.source).toBe('fallback');
  expect(choice.proposal.point).toEqual(CANDIDATES[0]);
  expect(choice.proposal.phase).toBe('grid');
  expect(choice.note).toContain(noteContains);
  expect(choice.note).toContain("used the grid strategy's first candidate");
}

describe('PlannerAgent against a stub OpenAI-compatible server', () => {
  it('sends the prompt with structured output and the bearer key, and accepts a valid answer', async () => {
    stub.script(answer(GOOD, 'fp8 should keep BPB within 2% and halve energy'));
    const a = agent();
    const choice = await a.choose(context());
    expect(choice).toEqual({
      proposal: { point: { model: SMALL, quant: 'fp8', batch: 8, inputLen: 512, outputLen: 128 }, phase: 'grid', rationale: 'fp8 should keep BPB within 2% and halve energy' },
      source: 'agent',
      note: null,
      notebook: null,
    });
    expect(stub.requests).toHaveLength(1);
    const req = stub.requests[0]!;
    expect(req.authorization).toBe(`Bearer ${KEY}`);
    expect(req.body.model).toBe('stub-planner');
    const messages = req.body.messages as { role: string; content: string }[];
    expect(messages[1]!.content).toContain(PROSE);
    expect(messages[1]!.content).toContain('1. {"model"');
    const rf = req.body.response_format as { type: string; json_schema: { name: string; strict: boolean; schema: { properties: { config: { properties: { quant: { enum: string[] } } } } } } };
    expect(rf.type).toBe('json_schema');
    expect(rf.json_schema.strict).toBe(true);
    expect(rf.json_schema.schema.properties.config.properties.quant.enum).toEqual(['bf16', 'fp8', 'awq']);
    expect(a.responseFormatSupported).toBe(true);
    expect(a.consecutiveFailures).toBe(0);
    expect(cap.lines.join('')).toContain('agent: proposal accepted');
  });

  it('accepts an answer in a ```json fenced block', async () => {
    stub.script({ json: completion(`Here is my pick:\n\`\`\`json\n${JSON.stringify({ config: GOOD, rationale: 'r' })}\n\`\`\``) });
    const choice = await agent().choose(context());
    expect(choice.source).toBe('agent');
    expect(choice.proposal.point.quant).toBe('fp8');
  });

  it('falls back on an out-of-space value, naming it', async () => {
    stub.script(answer({ ...GOOD, batch: 64 }));
    expectFallback(await agent().choose(context()), 'answer rejected: config.batch 64 (number) is not in the space; allowed: 1, 8, 32');
  });

  it('falls back on a duplicate config (already measured or queued)', async () => {
    const measured = HISTORY[1]!.point;
    stub.script(answer({ model: measured.model, quant: measured.quant, batch: measured.batch, input_len: measured.inputLen, output_len: measured.outputLen }));
    expectFallback(await agent().choose(context()), 'was already measured or is queued');
    stub.script(answer(GOOD));
    const pending = { model: SMALL, quant: 'fp8', batch: 8, inputLen: 512, outputLen: 128 };
    expectFallback(await agent().choose(context({ pending: [pending] })), 'was already measured or is queued');
  });

  it('rejects shell metacharacters and ../ in values as not in the space', async () => {
    for (const bad of [{ ...GOOD, model: 'x; rm -rf /' }, { ...GOOD, model: '../../etc/passwd' }, { ...GOOD, quant: '$(touch /tmp/pwned)' }]) {
      stub.script(answer(bad, 'trust me'));
      const choice = await agent().choose(context());
      expectFallback(choice, 'is not in the space');
      expect(choice.proposal.point).toEqual(CANDIDATES[0]);
      expect(choice.proposal.rationale).not.toContain('trust me');
    }
  });

  it('falls back on non-JSON content, an empty choices list and empty content', async () => {
    stub.script({ json: completion('I would go with fp8 at batch 8.') });
    expectFallback(await agent().choose(context()), 'answer rejected: the answer is not JSON');
    stub.script({ json: { ...completion('x'), choices: [] } });
    expectFallback(await agent().choose(context()), 'the answer had no choices');
    stub.script({ json: completion(null, { refusal: 'I cannot help with that' }) });
    expectFallback(await agent().choose(context()), 'the model refused: I cannot help with that');
    stub.script({ text: '<html>502 Bad Gateway</html>', status: 200 });
    expectFallback(await agent().choose(context()), 'the endpoint did not answer with a chat completion');
  });

  it('falls back at once on HTTP 429 and 500 (no client retries)', async () => {
    stub.script({ ...apiError(429, 'Rate limit reached for requests', 'rate_limit_error'), headers: { 'retry-after': '1' } });
    expectFallback(await agent().choose(context()), 'rate limited (HTTP 429): Rate limit reached for requests;');
    expect(stub.requests).toHaveLength(1);
    stub.requests.length = 0;
    stub.script(apiError(500, 'internal error', 'server_error'));
    expectFallback(await agent().choose(context()), 'the endpoint answered HTTP 500: internal error;');
    expect(stub.requests).toHaveLength(1);
  });

  it('times out a slow answer and falls back', async () => {
    stub.script({ ...answer(GOOD), delayMs: 5_000 });
    const started = Date.now();
    const choice = await agent({ timeoutMs: 300 }).choose(context());
    expect(Date.now() - started).toBeLessThan(2_500);
    expectFallback(choice, 'timed out after 0.3 s');
  });

  it('falls back when the endpoint is down', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    expectFallback(await agent({ baseUrl: `http://127.0.0.1:${port}/v1` }).choose(context()), 'cannot reach the endpoint http://127.0.0.1:');
  });

  it('retries once without response_format when the endpoint rejects it, and remembers', async () => {
    stub.script((req) => (req.body.response_format ? apiError(400, "Unknown parameter: 'response_format'") : answer(GOOD)));
    const a = agent();
    const first = await a.choose(context());
    expect(first.source).toBe('agent');
    expect(first.note).toContain('the endpoint rejected response_format (HTTP 400)');
    expect(stub.requests.map((r) => 'response_format' in r.body)).toEqual([true, false]);
    expect(a.responseFormatSupported).toBe(false);
    stub.requests.length = 0;
    const second = await a.choose(context());
    expect(second).toMatchObject({ source: 'agent', note: null });
    expect(stub.requests.map((r) => 'response_format' in r.body)).toEqual([false]);
  });

  it('does not drop response_format when the plain request fails as well', async () => {
    stub.script(apiError(400, 'prompt too long'));
    const a = agent();
    expectFallback(await a.choose(context()), 'the endpoint answered HTTP 400');
    expect(stub.requests).toHaveLength(2);
    expect(a.responseFormatSupported).toBeNull();
  });

  it('switches itself off after 3 consecutive failures and stops calling', async () => {
    stub.script(apiError(500, 'boom'));
    const a = agent();
    for (let i = 1; i <= 2; i++) {
      const c = await a.choose(context());
      expect(c.source).toBe('fallback');
      expect(a.disabled).toBe(false);
      expect(a.consecutiveFailures).toBe(i);
    }
    const third = await a.choose(context());
    expect(third.note).toContain('agent switched off for the rest of the run after 3 consecutive failures');
    expect(a.disabled).toBe(true);
    expect(a.disabledReason).toContain('3 consecutive failures (last: the endpoint answered HTTP 500');
    expect(cap.lines.join('')).toContain('switched off for the rest of the run');
    stub.requests.length = 0;
    const fourth = await a.choose(context());
    expect(stub.requests).toHaveLength(0);
    expect(fourth.source).toBe('fallback');
    expect(fourth.note).toMatch(/^agent off: 3 consecutive failures/);
  });

  it('counts only consecutive failures: a valid answer resets the count', async () => {
    stub.script(apiError(500, 'boom'), apiError(500, 'boom'), answer(GOOD), apiError(500, 'boom'), apiError(500, 'boom'));
    const a = agent();
    for (let i = 0; i < 5; i++) await a.choose(context());
    expect(a.disabled).toBe(false);
    expect(a.consecutiveFailures).toBe(2);
  });

  it('never lets the API key into notes, rationales, errors or log lines, even when the endpoint echoes it', async () => {
    const echo = (auth: string | undefined) => `you sent ${auth ?? ''}`;
    const a = agent({ maxConsecutiveFailures: 10 });
    const notes: (string | null)[] = [];
    const rationales: string[] = [];
    // An error body, a non-JSON answer, an out-of-space value and a valid answer, all echoing the header.
    stub.script(
      (req) => apiError(401, echo(req.authorization), 'invalid_api_key'),
      (req) => ({ json: completion(echo(req.authorization)) }),
      (req) => answer({ ...GOOD, model: echo(req.authorization) }),
      (req) => answer(GOOD, echo(req.authorization)),
    );
    for (let i = 0; i < 4; i++) {
      const c = await a.choose(context());
      notes.push(c.note);
      rationales.push(c.proposal.rationale);
    }
    expect(stub.requests.every((r) => r.authorization === `Bearer ${KEY}`)).toBe(true);
    const everything = [...notes, ...rationales, ...cap.lines, JSON.stringify(a), String(a.disabledReason)].join('\n');
    expect(everything).toContain('[REDACTED]');
    expect(everything).not.toContain(KEY);
    expect(everything).not.toContain(KEY.slice(0, 20));
    expect(notes[0]).toContain('HTTP 401');
    expect(notes[0]).toContain('you sent Bearer [REDACTED]');
    expect(rationales[3]).toBe('you sent Bearer [REDACTED]');
    expect(Object.keys(a)).not.toContain('apiKey');
  });
});

describe('construction', () => {
  const log = captureLog().log;

  it('needs a base URL and a key, naming the environment variable', () => {
    const agentBlock = { model: 'gpt-4.1-mini', base_url_env: 'PLANNER_URL', api_key_env: 'PLANNER_KEY' };
    expect(() => plannerAgentFromProgram(agentBlock, { log, env: { PLANNER_KEY: KEY } })).toThrow(AgentConfigError);
    expect(() => plannerAgentFromProgram(agentBlock, { log, env: { PLANNER_KEY: KEY } })).toThrow(/environment variable PLANNER_URL is not set.*--no-agent/);
    expect(() => plannerAgentFromProgram(agentBlock, { log, env: { PLANNER_URL: 'http://127.0.0.1:1/v1' } })).toThrow(/environment variable PLANNER_KEY is not set/);
    expect(() => plannerAgentFromProgram(agentBlock, { log, env: { PLANNER_URL: '', PLANNER_KEY: KEY } })).toThrow(/PLANNER_URL is not set/);
    const ok = plannerAgentFromProgram(agentBlock, { log, env: { PLANNER_URL: 'https://api.example.com/v1/', PLANNER_KEY: KEY }, machine: REMOTE });
    expect(ok.baseUrl).toBe('https://api.example.com/v1');
    expect(ok.isLocalEndpoint).toBe(false);
    expect(ok.timeoutMs).toBe(60_000);
    expect(ok.maxConsecutiveFailures).toBe(3);
  });

  it('rejects a bad URL without echoing the key', () => {
    const make = (baseUrl: string) => () => new PlannerAgent({ model: 'm', baseUrl, apiKey: KEY, log, baseUrlEnv: 'U' });
    expect(make('not a url')).toThrow(/U "not a url" is not a URL; allowed: an http/);
    expect(make('file:///etc/passwd')).toThrow(/allowed: http: or https:/);
    expect(make(`https://user:pw@api.example.com/v1`)).toThrow(/contains credentials/);
    try {
      make(`${KEY} nonsense`)();
      expect.unreachable();
    } catch (err) {
      expect((err as Error).message).not.toContain(KEY);
    }
  });

  it('gives the key as Error details nowhere and strips the query from the stored URL', () => {
    const a = new PlannerAgent({ model: 'm', baseUrl: 'https://api.example.com/v1?api-version=1#x', apiKey: KEY, log, machine: REMOTE });
    expect(a.baseUrl).toBe('https://api.example.com/v1');
    expect(JSON.stringify(a)).not.toContain(KEY);
  });

  it('flags a local endpoint', () => {
    expect(agent().isLocalEndpoint).toBe(true);
  });

  it('throws when there is no candidate to fall back to', async () => {
    await expect(agent().choose(context({ candidates: [] }))).rejects.toThrow(/needs at least one candidate/);
  });
});

describe('isLocalEndpoint', () => {
  it.each([
    ['http://localhost:8000/v1', true],
    ['http://LOCALHOST./v1', true],
    ['http://vllm.localhost:8000/v1', true],
    ['http://127.0.0.1:8000/v1', true],
    ['http://127.5.6.7/v1', true],
    ['http://2130706433/v1', true], // 127.0.0.1 as a number
    ['http://0.0.0.0:8000/v1', true],
    ['http://[::1]:8000/v1', true],
    ['http://[::ffff:127.0.0.1]:8000/v1', true],
    ['http://10.1.2.3:8000/v1', true], // this machine's interface address
    ['http://[fe80::1c2d:3e4f:5a6b:7c8d]:8000/v1', true],
    ['http://benchbox:8000/v1', true], // this machine's host name
    ['http://BenchBox.lab.example/v1', true],
    ['http://benchbox.local/v1', true],
    ['https://api.openai.com/v1', false],
    ['http://10.1.2.4:8000/v1', false],
    ['http://[::ffff:10.0.0.1]/v1', false],
    ['http://128.0.0.1/v1', false],
    ['http://notbenchbox/v1', false],
    ['not a url', false],
  ])('%s → %s', (url, expected) => {
    expect(isLocalEndpoint(url, REMOTE)).toBe(expected);
  });

  it('uses this machine by default (its own host name is local)', async () => {
    const { hostname } = await import('node:os');
    expect(isLocalEndpoint(`http://${hostname()}:8000/v1`)).toBe(true);
  });

  it('resolvesToThisMachine also checks what a name resolves to', async () => {
    const lookup = async (host: string) => (host === 'planner.lab' ? ['10.1.2.3'] : host === 'loop.lab' ? ['127.0.1.1'] : ['93.184.216.34']);
    expect(await resolvesToThisMachine('http://planner.lab/v1', REMOTE, lookup)).toBe(true);
    expect(await resolvesToThisMachine('http://loop.lab/v1', REMOTE, lookup)).toBe(true);
    expect(await resolvesToThisMachine('http://api.example.com/v1', REMOTE, lookup)).toBe(false);
    expect(await resolvesToThisMachine('http://nxdomain.invalid/v1', REMOTE, async () => Promise.reject(new Error('ENOTFOUND')))).toBe(false);
  });
});
