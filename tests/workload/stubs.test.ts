/**
 * The stub engines themselves, launched and probed exactly as the engines launch the real programs
 * (src/engines/process.ts): start-up states, failure modes, and the endpoints the engines use.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { EngineError } from '../../src/errors.js';
import { freePort, launch, processGroupMembers, waitForHealth } from '../../src/engines/process.js';
import { realClock } from '../../src/runner/clock.js';
import { FAKE_LLAMA, FAKE_VLLM, MODEL, alive, sleep, startStub, type Stub } from './stub-helpers.js';

const started: Stub[] = [];
afterAll(async () => {
  for (const s of started.splice(0)) await s.stop().catch(() => {});
});
async function stub(kind: 'vllm' | 'llamacpp', opts: Parameters<typeof startStub>[1] = {}): Promise<Stub> {
  const s = await startStub(kind, opts);
  started.push(s);
  return s;
}

async function post(url: string, body: unknown): Promise<{ status: number; json: unknown }> {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: r.status, json: await r.json() };
}

describe('stub vllm', () => {
  it('rejects an unknown --quantization like argparse (exit 2), accepts unknown flags', async () => {
    const bad = await execa(FAKE_VLLM, ['serve', MODEL, '--quantization', 'int3'], { reject: false });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/^usage: vllm serve/);
    expect(bad.stderr).toMatch(/vllm serve: error: argument --quantization\/-q: invalid choice: 'int3' \(choose from 'aqlm', 'awq'/);
    const s = await stub('vllm', { args: ['--some-new-flag', 'x', '--enforce-eager', '--kv-cache-dtype', 'fp8'] });
    expect(s.log()).toMatch(/accepted unknown argument --some-new-flag x/);
  });

  it('keeps the port closed while loading, then /health answers 200 with an empty body', async () => {
    const s = await stub('vllm', { env: { STUB_LOAD_DELAY_S: '0.8' }, waitReady: false });
    await sleep(300);
    await expect(fetch(`${s.baseUrl}/health`)).rejects.toThrow();
    await waitForHealth({ url: `${s.baseUrl}/health`, proc: s.proc, timeoutS: 10, clock: realClock, intervalMs: 50 });
    const r = await fetch(`${s.baseUrl}/health`);
    expect(r.status).toBe(200);
    expect(await r.text()).toBe('');
  });

  it('tokenize/detokenize round-trip; prompt_logprobs in vLLM shape, deterministic', async () => {
    const s = await stub('vllm');
    const text = 'The energy of a token, measured: 0.12 J — naïve?';
    const t = (await post(`${s.baseUrl}/tokenize`, { model: MODEL, prompt: text, add_special_tokens: false })).json as { tokens: number[]; count: number; max_model_len: number };
    expect(t.count).toBe(t.tokens.length);
    expect(t.max_model_len).toBe(4096);
    const withBos = (await post(`${s.baseUrl}/tokenize`, { model: MODEL, prompt: text })).json as { tokens: number[] };
    expect(withBos.tokens).toEqual([0, ...t.tokens]);
    const d = (await post(`${s.baseUrl}/detokenize`, { model: MODEL, tokens: t.tokens })).json as { prompt: string };
    expect(d.prompt).toBe(text);

    const ask = { model: MODEL, prompt: t.tokens, max_tokens: 1, prompt_logprobs: 1, temperature: 0 };
    const a = (await post(`${s.baseUrl}/v1/completions`, ask)).json as { choices: { prompt_logprobs: (Record<string, { logprob: number; rank: number; decoded_token: string }> | null)[] }[]; usage: { prompt_tokens: number } };
    const b = (await post(`${s.baseUrl}/v1/completions`, ask)).json as typeof a;
    const lp = a.choices[0]!.prompt_logprobs;
    expect(lp).toHaveLength(t.tokens.length);
    expect(lp[0]).toBeNull();
    for (let i = 1; i < lp.length; i++) {
      const entry = lp[i]!;
      const own = entry[String(t.tokens[i])]!;
      expect(own.logprob).toBeLessThan(0);
      expect(own.rank).toBeGreaterThanOrEqual(1);
      expect(typeof own.decoded_token).toBe('string');
      for (const v of Object.values(entry)) if (v !== own) expect(v.logprob).toBeGreaterThan(own.logprob);
    }
    expect(b.choices[0]!.prompt_logprobs).toEqual(lp);
    expect(a.usage.prompt_tokens).toBe(t.tokens.length);
    // The logprob of a prompt token does not depend on how many alternatives are asked for.
    const c = (await post(`${s.baseUrl}/v1/completions`, { ...ask, prompt_logprobs: 5 })).json as typeof a;
    expect(c.choices[0]!.prompt_logprobs.map((e, i) => (e ? e[String(t.tokens[i])]!.logprob : null))).toEqual(lp.map((e, i) => (e ? e[String(t.tokens[i])]!.logprob : null)));
  });

  it('STUB_CRASH_ON_START: dies while loading with the CUDA out-of-memory traceback; waitForHealth says so', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'carbonbench-crash-'));
    try {
      const port = await freePort();
      const proc = launch({ command: FAKE_VLLM, args: ['serve', MODEL, '--host', '127.0.0.1', '--port', String(port)], logFile: join(dir, 'engine.log'), env: { STUB_CRASH_ON_START: '1', STUB_LOAD_DELAY_S: '0.2' } });
      const err = await waitForHealth({ url: `http://127.0.0.1:${port}/health`, proc, timeoutS: 10, clock: realClock, intervalMs: 50 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(EngineError);
      expect((err as Error).message).toMatch(/exited with code 1/);
      expect((err as Error).message).toMatch(/torch\.OutOfMemoryError: CUDA out of memory/);
      expect((err as Error).message).toMatch(/RuntimeError: Engine core initialization failed/);
      await proc.stop(1000);
      expect(processGroupMembers(proc.pid)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('STUB_HANG: accepts connections but never answers, not even /health; stop() clears the group', async () => {
    const s = await stub('vllm', { env: { STUB_HANG: '1' }, waitReady: false });
    let err: unknown = null;
    for (let i = 0; i < 50; i++) {
      err = await fetch(`${s.baseUrl}/health`, { signal: AbortSignal.timeout(400) }).catch((e: unknown) => e);
      if ((err as Error).name === 'TimeoutError') break; // connected, then no answer (not refused)
      await sleep(50);
    }
    expect((err as Error).name).toBe('TimeoutError');
    await s.stop();
    expect(processGroupMembers(s.proc.pid)).toEqual([]);
  });

  it('STUB_NEVER_LISTEN: stays alive, port closed', async () => {
    const s = await stub('vllm', { env: { STUB_NEVER_LISTEN: '1' }, waitReady: false });
    await sleep(400);
    const err = await fetch(`${s.baseUrl}/health`).catch((e: unknown) => e);
    expect(((err as Error).cause as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
    expect(s.proc.exited).toBe(false);
    expect(s.log()).toMatch(/STUB_NEVER_LISTEN/);
  });

  it('STUB_IGNORE_SIGTERM: stop() escalates to SIGKILL and nothing survives', async () => {
    const s = await stub('vllm', { env: { STUB_IGNORE_SIGTERM: '1' } });
    const { childPid } = await s.stats();
    await s.proc.stop(300);
    expect(processGroupMembers(s.proc.pid)).toEqual([]);
    expect(alive(childPid!)).toBe(false);
  });
});

describe('stub llama-server', () => {
  it('fails on a missing model file with the real messages and exit code 1', async () => {
    const r = await execa(FAKE_LLAMA, ['-m', '/nonexistent/models/missing.gguf', '--port', String(await freePort()), '-ngl', '99'], { reject: false, all: true });
    expect(r.exitCode).toBe(1);
    expect(r.all).toMatch(/gguf_init_from_file: failed to open GGUF file '\/nonexistent\/models\/missing.gguf'/);
    expect(r.all).toMatch(/llama_model_load: error loading model: llama_model_loader: failed to load model from/);
    expect(r.all).toMatch(/main: exiting due to model loading error/);
  });

  it('rejects unknown arguments and cache types like common_params_parse', async () => {
    const a = await execa(FAKE_LLAMA, ['-m', 'x.gguf', '--frobnicate'], { reject: false });
    expect(a.exitCode).toBe(1);
    expect(a.stderr).toMatch(/error: invalid argument: --frobnicate/);
    const b = await execa(FAKE_LLAMA, ['-m', 'x.gguf', '-ctk', 'q3_k'], { reject: false });
    expect(b.exitCode).toBe(1);
    expect(b.stderr).toMatch(/error while handling argument "-ctk": Unsupported cache type: q3_k/);
  });

  it('answers /health 503 "Loading model" until loaded, then 200 {"status":"ok"}; tokenize/detokenize', async () => {
    const s = await stub('llamacpp', { env: { STUB_LOAD_DELAY_S: '0.8' }, waitReady: false, args: ['-fa', 'on', '-ctk', 'q8_0', '-ctv', 'q8_0'] });
    let loading: Response | null = null;
    for (let i = 0; i < 50 && !loading; i++) {
      loading = await fetch(`${s.baseUrl}/health`).catch(() => null);
      if (!loading) await sleep(20);
    }
    expect(loading!.status).toBe(503);
    expect(await loading!.json()).toEqual({ error: { code: 503, message: 'Loading model', type: 'unavailable_error' } });
    await waitForHealth({ url: `${s.baseUrl}/health`, proc: s.proc, timeoutS: 10, clock: realClock, intervalMs: 50 });
    const ok = await fetch(`${s.baseUrl}/health`);
    expect(await ok.json()).toEqual({ status: 'ok' });
    const t = (await post(`${s.baseUrl}/tokenize`, { content: 'the model of energy' })).json as { tokens: number[] };
    expect(t.tokens.length).toBe(4);
    const d = (await post(`${s.baseUrl}/detokenize`, { tokens: t.tokens })).json as { content: string };
    expect(d.content).toBe('the model of energy');
  });

  it('-np slots: requests beyond them wait; a prompt beyond the slot context is refused', async () => {
    const s = await stub('llamacpp', { slots: 2, ctx: 512, env: { STUB_TOKENS_PER_S: '100' } });
    const body = (i: number) => ({ prompt: [300 + i, 301, 302], n_predict: 10, ignore_eos: true });
    const t0 = Date.now();
    const all = await Promise.all([0, 1, 2, 3].map((i) => post(`${s.baseUrl}/v1/completions`, body(i))));
    const elapsedMs = Date.now() - t0;
    for (const r of all) expect((r.json as { usage: { completion_tokens: number } }).usage.completion_tokens).toBe(10);
    // Two waves of 10 tokens at ~100 tokens/s: about 200 ms, not 100 ms.
    expect(elapsedMs).toBeGreaterThan(170);
    const big = await post(`${s.baseUrl}/v1/completions`, { prompt: Array.from({ length: 300 }, () => 300), n_predict: 4 });
    expect(big.status).toBe(400);
    expect(big.json).toMatchObject({ error: { code: 400, type: 'exceed_context_size_error', n_prompt_tokens: 300, n_ctx: 256 } });
  });
});
