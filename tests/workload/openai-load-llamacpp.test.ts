/**
 * The closed-loop load generator against the stub llama-server (a real child process).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineError } from '../../src/errors.js';
import { realClock } from '../../src/runner/clock.js';
import { createOpenAiLoad, type OpenAiLoad, type OpenAiLoadOptions } from '../../src/workload/openai-load.js';
import { MODEL, sleep, startStub, until, type Stub } from './stub-helpers.js';

const SLOTS = 3;
const INPUT_LEN = 100;
const OUTPUT_LEN = 24;

function load(stub: Stub, over: Partial<OpenAiLoadOptions> = {}): OpenAiLoad {
  return createOpenAiLoad({ baseUrl: stub.baseUrl, model: MODEL, batch: SLOTS, inputLen: INPUT_LEN, outputLen: OUTPUT_LEN, seed: 3, dialect: 'llamacpp', clock: realClock, ...over });
}

describe('llama-server dialect on the stub server', () => {
  let stub: Stub;
  beforeAll(async () => {
    stub = await startStub('llamacpp', { slots: SLOTS, env: { STUB_TOKENS_PER_S: '200' } });
  });
  afterAll(async () => {
    await stub?.stop();
  });

  it('batch = -np requests in flight, exact prompts without cache reuse, exact outputs, tokens by arrival', async () => {
    const l = load(stub);
    try {
      await l.warmUp({ minS: 0.2, minRequests: SLOTS });
      await stub.reset();
      const fromS = await l.openWindow();
      await sleep(1200);
      const toS = await l.closeWindow();
      const stats = await stub.stats();
      await l.stop();

      expect(stats.maxInFlight).toBe(SLOTS);
      const total = Object.values(stats.concurrencyS).reduce((a, b) => a + b, 0);
      expect((stats.concurrencyS[String(SLOTS)] ?? 0) / total).toBeGreaterThan(0.85);
      for (const p of stats.prompts) expect(p.len).toBe(INPUT_LEN);
      expect(new Set(stats.prompts.map((p) => p.head)).size).toBe(stats.prompts.length);
      // What llama-server understands (tools/server/server-task.cpp params_from_json_cmpl).
      expect(stats.lastBody).toMatchObject({ n_predict: OUTPUT_LEN, max_tokens: OUTPUT_LEN, ignore_eos: true, cache_prompt: false, timings_per_token: true, temperature: 0, stream: true });

      const ok = l.records().filter((r) => r.success);
      expect(ok.length).toBeGreaterThan(2 * SLOTS);
      for (const r of ok) {
        expect(r.outputTokens).toBe(OUTPUT_LEN);
        expect(r.promptTokens).toBe(INPUT_LEN);
        expect(r.tokenTiming).toBe('exact');
        expect(r.tokenChunks).toBe(OUTPUT_LEN);
        expect(r.cachedPromptTokens).toBe(0); // cache_prompt: false, and prompts share no prefix anyway
        expect(r.finishReason).toBe('length');
      }
      const inWindow = l.tokenEvents().filter((e) => e.tS >= fromS && e.tS <= toS).reduce((a, e) => a + e.tokens, 0);
      expect(l.tokensBetween(fromS, toS)).toBe(inWindow);
      expect(l.segments(fromS, toS).reduce((a, s) => a + s.tokens, 0)).toBe(inWindow);
      expect(l.tokensBetween(0, Infinity)).toBe(l.records().reduce((a, r) => a + (r.outputTokens ?? 0), 0));
      for (const r of l.records()) expect(r.warmup).toBe(r.startS < fromS);
    } finally {
      await l.stop();
    }
  });

  it('a context too small for input + output: failure records that say so, then the load fails', async () => {
    const l = load(stub, { batch: 2, inputLen: 4000, outputLen: 200 });
    try {
      await l.openWindow();
      await until(() => l.failure !== null, 8000, 'failure');
      const bad = l.records().filter((r) => !r.success && !r.error?.startsWith('aborted'));
      expect(bad.length).toBeGreaterThan(0);
      for (const r of bad) expect(r.error).toMatch(/^completion_tokens \d+ != output_len 200 \(finish_reason length\): the context .* is too small\?$/);
      expect(l.failure).toBeInstanceOf(EngineError);
    } finally {
      await l.stop();
    }
  });
});

describe('llama-server dialect: older servers', () => {
  it('without per-token timings it counts one token per chunk and checks against the final usage', async () => {
    const stub = await startStub('llamacpp', { slots: 2, env: { STUB_NO_TOKEN_COUNTS: '1' } });
    const l = load(stub, { batch: 2 });
    try {
      await l.warmUp({ minS: 0, minRequests: 4 });
      await l.stop();
      const ok = l.records().filter((r) => r.success);
      expect(ok.length).toBeGreaterThanOrEqual(4);
      // One token per chunk agrees with the usage: exact.
      for (const r of ok) {
        expect(r.tokenTiming).toBe('exact');
        expect(r.tokenChunks).toBe(OUTPUT_LEN);
      }
    } finally {
      await l.stop();
      await stub.stop();
    }
  });
});
