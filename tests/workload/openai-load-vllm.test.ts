/**
 * The closed-loop load generator against the stub vLLM (a real child process speaking HTTP/SSE).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineError } from '../../src/errors.js';
import { processGroupMembers } from '../../src/engines/process.js';
import { realClock } from '../../src/runner/clock.js';
import { createOpenAiLoad, type OpenAiLoad, type OpenAiLoadOptions } from '../../src/workload/openai-load.js';
import { MODEL, alive, sleep, startStub, until, type Stub } from './stub-helpers.js';

const BATCH = 4;
const INPUT_LEN = 64;
const OUTPUT_LEN = 32;

function load(stub: Stub, over: Partial<OpenAiLoadOptions> = {}): OpenAiLoad {
  return createOpenAiLoad({ baseUrl: stub.baseUrl, model: MODEL, batch: BATCH, inputLen: INPUT_LEN, outputLen: OUTPUT_LEN, seed: 7, dialect: 'vllm', clock: realClock, binS: 0.25, ...over });
}

describe('vLLM dialect on the stub server', () => {
  let stub: Stub;
  beforeAll(async () => {
    // Requests of ~160 ms: the gaps between one request's end and the next one's arrival stay small.
    stub = await startStub('vllm', { env: { STUB_TOKENS_PER_S: '200' } });
  });
  afterAll(async () => {
    await stub?.stop();
  });

  it.each([
    ['on two reader threads', 2, 2],
    ['on the main thread', 0, 0],
  ])('keeps exactly batch requests in flight, with exact unique prompts and exact outputs; tokens are counted by arrival (streams read %s)', async (_how, readerThreads, expectedThreads) => {
    const l = load(stub, { readerThreads });
    expect(l.readerThreads).toBe(expectedThreads);
    try {
      await l.warmUp({ minS: 0.3, minRequests: BATCH });
      const warmupDone = l.records().length;
      expect(warmupDone).toBeGreaterThanOrEqual(BATCH);
      await stub.reset();
      const fromS = await l.openWindow();
      await sleep(1500);
      const toS = await l.closeWindow();
      expect(l.inFlight()).toBe(BATCH);
      const stats = await stub.stats();
      await l.stop();
      expect(l.inFlight()).toBe(0);

      // Closed loop: never more than batch open; exactly batch almost all the time (the gaps are the
      // moments between one response's end and the next request's arrival).
      expect(stats.maxInFlight).toBe(BATCH);
      const total = Object.values(stats.concurrencyS).reduce((a, b) => a + b, 0);
      expect((stats.concurrencyS[String(BATCH)] ?? 0) / total).toBeGreaterThan(0.85);

      // Prompts: exactly inputLen tokens; no two share their first 32 tokens (no prefix-cache block).
      expect(stats.prompts.length).toBeGreaterThan(BATCH);
      for (const p of stats.prompts) expect(p.len).toBe(INPUT_LEN);
      expect(new Set(stats.prompts.map((p) => p.head)).size).toBe(stats.prompts.length);
      const body = stats.lastBody!;
      expect(body).toMatchObject({ model: MODEL, max_tokens: OUTPUT_LEN, min_tokens: OUTPUT_LEN, ignore_eos: true, temperature: 0, stream: true, stream_options: { include_usage: true, continuous_usage_stats: true } });

      const records = l.records();
      const done = records.filter((r) => r.success);
      expect(done.length).toBeGreaterThan(3 * BATCH);
      for (const r of done) {
        expect(r.outputTokens).toBe(OUTPUT_LEN);
        expect(r.promptTokens).toBe(INPUT_LEN);
        expect(r.tokenTiming).toBe('exact');
        expect(r.tokenChunks).toBe(OUTPUT_LEN);
        expect(r.ttftMs).toBeGreaterThan(0);
        expect(r.itlMs).toHaveLength(OUTPUT_LEN - 1);
        expect(r.e2eMs).toBeGreaterThanOrEqual(r.ttftMs!);
      }
      // The requests stop() cut off are failure records, not exceptions.
      const aborted = records.filter((r) => r.error?.startsWith('aborted'));
      expect(aborted).toHaveLength(BATCH);

      // Token accounting: the window's tokens are the chunk tokens that arrived inside it …
      const events = l.tokenEvents();
      const inWindow = events.filter((e) => e.tS >= fromS && e.tS <= toS).reduce((a, e) => a + e.tokens, 0);
      expect(l.tokensBetween(fromS, toS)).toBe(inWindow);
      expect(inWindow).toBeGreaterThan(0);
      // … every token is counted exactly once: the whole run adds up to the servers' usage …
      const usage = records.reduce((a, r) => a + (r.outputTokens ?? 0), 0);
      expect(l.tokensBetween(0, Infinity)).toBe(usage);
      // … and the segments (0.25 s bins, the last one partial) add up to the window.
      const segs = l.segments(fromS, toS);
      expect(segs).toHaveLength(Math.ceil((toS - fromS) / 0.25 - 1e-9));
      expect(segs[0]!.fromS).toBe(fromS);
      expect(segs.at(-1)!.toS).toBe(toS);
      expect(segs.reduce((a, s) => a + s.tokens, 0)).toBe(inWindow);
      for (const s of segs.slice(0, -1)) expect(s.toS - s.fromS).toBeCloseTo(0.25, 9);

      // Warm-up: what started before openWindow is flagged; its tokens inside the window still count.
      const warm = records.filter((r) => r.warmup);
      expect(warm.length).toBeGreaterThanOrEqual(warmupDone);
      for (const r of records) expect(r.warmup).toBe(r.startS < fromS);
      const straddling = warm.filter((r) => r.endS > fromS && r.success);
      expect(straddling.length).toBeGreaterThan(0);
      expect(l.requestsCompletedBetween(fromS, toS)).toBe(records.filter((r) => r.success && r.endS >= fromS && r.endS <= toS).length);
    } finally {
      await l.stop();
    }
  });

  it('stop() leaves no sockets or timers behind (streams read on the main thread)', async () => {
    const count = (): Record<string, number> => {
      const c: Record<string, number> = {};
      for (const r of process.getActiveResourcesInfo()) c[r] = (c[r] ?? 0) + 1;
      return c;
    };
    await sleep(50);
    const before = count();
    const l = load(stub, { batch: 3, readerThreads: 0 });
    expect(l.readerThreads).toBe(0);
    await l.warmUp({ minS: 0.1, minRequests: 3 });
    expect(count().TCPSocketWrap ?? 0).toBeGreaterThanOrEqual(3);
    await l.stop();
    await sleep(50);
    const after = count();
    expect(after.TCPSocketWrap ?? 0).toBeLessThanOrEqual(before.TCPSocketWrap ?? 0);
    expect(after.Timeout ?? 0).toBeLessThanOrEqual(before.Timeout ?? 0);
    // Idempotent, and the data stays queryable after stop().
    await l.stop();
    expect(l.requests().length).toBeGreaterThan(0);
  });

  it('uses a fresh prompt range for each load on the same server (its prefix cache outlives an experiment)', async () => {
    const a = load(stub, { batch: 1 });
    await a.warmUp({ minS: 0, minRequests: 2 });
    await a.stop();
    const b = load(stub, { batch: 1 });
    await b.warmUp({ minS: 0, minRequests: 2 });
    await b.stop();
    const used = new Set(a.records().map((r) => r.promptIndex));
    for (const r of b.records()) expect(used.has(r.promptIndex)).toBe(false);
  });

  it('reports a server error (here: a prompt longer than max_model_len) as failure records, then fails the load', async () => {
    const l = load(stub, { batch: 2, inputLen: 4000, outputLen: 200 });
    try {
      await expect(l.warmUp({ minS: 0, minRequests: 1 })).rejects.toThrow(EngineError);
      expect(l.failure?.message).toMatch(/all of the last 4 requests .* failed; last error: HTTP 400: This model's maximum context length is 4096 tokens/);
      // Every answer was the server's 400; a request still in flight when the load failed is aborted.
      const records = l.records();
      expect(records.filter((r) => r.error?.startsWith('HTTP 400')).length).toBeGreaterThanOrEqual(4);
      for (const r of records) {
        expect(r.success).toBe(false);
        expect(r.error).toMatch(/^(HTTP 400|aborted: the load failed \(all of the last 4 requests)/);
      }
    } finally {
      await l.stop();
    }
  });

  it('after launch(...).stop() neither the server nor its engine-core child process is left', async () => {
    const own = await startStub('vllm');
    const { pid, childPid } = await own.stats();
    expect(childPid).toBeGreaterThan(0);
    expect(alive(childPid!)).toBe(true);
    await own.stop();
    expect(processGroupMembers(pid)).toEqual([]);
    expect(alive(pid)).toBe(false);
    expect(alive(childPid!)).toBe(false);
  });
});

describe('vLLM dialect: misbehaving servers', () => {
  it('a server that does not honour ignore_eos/min_tokens gives failure records with a clear error', async () => {
    const stub = await startStub('vllm', { env: { STUB_DROP_EOS_FLAGS: '1' } });
    const l = load(stub, { batch: 2, outputLen: 128 });
    try {
      await l.openWindow();
      await until(() => l.failure !== null, 8000, 'the load to fail');
      const bad = l.records().filter((r) => !r.success && !r.error?.startsWith('aborted'));
      expect(bad.length).toBeGreaterThan(0);
      for (const r of bad) {
        expect(r.error).toMatch(/^completion_tokens \d+ != output_len 128 \(finish_reason stop\): EOS was not ignored\?$/);
        expect(r.outputTokens).toBeLessThan(128);
      }
      expect(l.failure!.message).toMatch(/EOS was not ignored/);
    } finally {
      await l.stop();
      await stub.stop();
    }
  });

  it('chunks of several tokens without running counts: usage is authoritative, timing marked approximate', async () => {
    const stub = await startStub('vllm', { env: { STUB_NO_TOKEN_COUNTS: '1', STUB_TOKENS_PER_CHUNK: '4' } });
    const l = load(stub, { batch: 2 });
    try {
      await l.warmUp({ minS: 0, minRequests: 4 });
      await l.stop();
      const ok = l.records().filter((r) => r.success);
      expect(ok.length).toBeGreaterThanOrEqual(4);
      for (const r of ok) {
        expect(r.outputTokens).toBe(OUTPUT_LEN);
        expect(r.tokenTiming).toBe('approximate');
        expect(r.tokenChunks).toBe(OUTPUT_LEN / 4);
      }
      const events = l.tokenEvents();
      expect(events.reduce((a, e) => a + e.tokens, 0)).toBe(l.records().reduce((a, r) => a + (r.outputTokens ?? 0), 0));
    } finally {
      await l.stop();
      await stub.stop();
    }
  });

  it('the server dying mid-window sets `failure` within a few seconds', async () => {
    const stub = await startStub('vllm', { env: { STUB_DIE_AFTER_S: '1.2' } });
    const l = load(stub, { batch: 3 });
    try {
      await l.warmUp({ minS: 0.2, minRequests: 3 });
      await l.openWindow();
      await expect(stub.proc.died).rejects.toThrow(/exited with code 1/);
      const diedAt = Date.now();
      await until(() => l.failure !== null, 6000, 'failure');
      expect(Date.now() - diedAt).toBeLessThan(4500);
      expect(l.failure).toBeInstanceOf(EngineError);
      expect(l.failure!.message).toMatch(/is gone: .*ECONNREFUSED/);
      // The requests the crash cut off are failure records.
      expect(l.records().some((r) => r.error !== null && /mid-stream|ECONNRESET|socket hang up/.test(r.error))).toBe(true);
    } finally {
      await l.stop();
      await stub.stop();
    }
  });
});
