import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { llamacppEngine } from '../../src/engines/llamacpp.js';
import { processGroupMembers } from '../../src/engines/process.js';
import type { EngineContext, EngineServer, ExperimentConfig } from '../../src/engines/types.js';
import { EngineError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import { realClock } from '../../src/runner/clock.js';
import { ROOT } from '../helpers/paths.js';

const FAKE_SERVER = join(ROOT, 'tests', 'fakes', 'llama-server');
const FAKE_PPL = join(ROOT, 'tests', 'fakes', 'llama-perplexity');

let dir: string;
let gguf: string;
const started: EngineServer[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'carbonbench-llama-server-'));
  gguf = join(dir, 'tiny-q8_0.gguf');
  writeFileSync(gguf, 'GGUF');
});

afterAll(async () => {
  await Promise.all(started.map((s) => s.stop().catch(() => {})));
  rmSync(dir, { recursive: true, force: true });
});

/** A per-test wrapper that sets the stub's knobs and execs it (no process.env changes). */
function wrapper(name: string, target: string, env: Record<string, string>): string {
  mkdirSync(join(dir, 'bin'), { recursive: true });
  const file = join(dir, 'bin', name);
  const exports = Object.entries(env)
    .map(([k, v]) => `export ${k}='${v}'`)
    .join('\n');
  writeFileSync(file, `#!/bin/sh\n${exports}\nexec '${target}' "$@"\n`);
  chmodSync(file, 0o755);
  return file;
}

function config(engineOptions: Record<string, string | number | boolean>, over: Partial<ExperimentConfig> = {}): ExperimentConfig {
  return { engine: 'llamacpp', model: { id: 'tiny', variants: { q8_0: gguf } }, quant: 'q8_0', batch: 2, inputLen: 32, outputLen: 16, engineOptions, ...over };
}

function context(name: string, over: Partial<EngineContext> = {}): EngineContext {
  const artifactDir = join(dir, 'artifacts', name);
  mkdirSync(artifactDir, { recursive: true });
  return { artifactDir, log: createLogger({ console: false }), clock: realClock, gpus: [], startTimeoutS: 30, ...over };
}

interface StubStats {
  completions: number;
  maxInFlight: number;
  args: { n_parallel: number; n_ctx: number; flash_attn: string; cache_type_k: string; cache_type_v: string; model: string; host: string };
  nCtxSlot: number;
}

async function stats(baseUrl: string): Promise<StubStats> {
  return (await (await fetch(`${baseUrl}/stub/stats`)).json()) as StubStats;
}

/** Polls until the process group is empty (a stopped server leaves nothing behind). */
async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if (processGroupMembers(pid).length === 0) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

describe('server mode against the llama-server stub', () => {
  it('waits through 503 "Loading model" to 200, probes one completion, serves a load, and stops cleanly', async () => {
    const server = wrapper('srv-ok', FAKE_SERVER, { STUB_LOAD_DELAY_S: '1', STUB_TOKENS_PER_S: '400' });
    const cfg = config({ llama_server: server, flash_attn: 'on', cache_type: 'q8_0' });
    const ctx = context('srv-ok');
    const s = await llamacppEngine.start(cfg, ctx);
    started.push(s);
    expect(s.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(s.pid).toBeGreaterThan(0);
    expect(s.key).toBe(llamacppEngine.serverKey(cfg));
    const log = readFileSync(join(ctx.artifactDir, 'engine.log'), 'utf8');
    // The port was open while the model loaded: /health answered 503 first, then 200.
    expect(log).toMatch(/GET \/health \S+ 503/);
    expect(log).toMatch(/GET \/health \S+ 200/);
    expect(log.indexOf(' 503')).toBeLessThan(log.lastIndexOf('GET /health 127.0.0.1 200'));
    const st = await stats(s.baseUrl!);
    expect(st.completions).toBe(1); // the readiness probe
    expect(st.args).toMatchObject({ n_parallel: 2, n_ctx: 512, flash_attn: 'on', cache_type_k: 'q8_0', cache_type_v: 'q8_0', model: gguf, host: '127.0.0.1' });
    expect(st.nCtxSlot).toBe(256);

    const load = s.load(cfg, ctx);
    await load.warmUp({ minS: 0.2, minRequests: 2 });
    const fromS = await load.openWindow();
    await new Promise((r) => setTimeout(r, 1200));
    const toS = await load.closeWindow();
    await load.stop();
    expect(load.failure).toBeNull();
    expect(load.tokensBetween(fromS, toS)).toBeGreaterThan(0);
    expect(load.requests().filter((r) => !r.warmup && r.success).length).toBeGreaterThan(0);
    expect((await stats(s.baseUrl!)).maxInFlight).toBeLessThanOrEqual(2);

    const pid = s.pid!;
    await s.stop();
    expect(await gone(pid)).toBe(true);
    await expect(fetch(`${s.baseUrl}/health`)).rejects.toThrow();
  });

  it('computes BPB with the running server’s /tokenize pieces', async () => {
    const server = wrapper('srv-bpb', FAKE_SERVER, { STUB_LOAD_DELAY_S: '0.2' });
    const cfg = config({ llama_server: server, llama_perplexity: FAKE_PPL });
    const ctx = context('srv-bpb');
    const s = await llamacppEngine.start(cfg, ctx);
    started.push(s);
    const words = ['the', 'carbon', 'energy', 'model', 'and', 'of', 'window', 'token'];
    const text = Array.from({ length: 2500 }, (_, i) => words[(i * 7 + (i >> 3)) % words.length]).join(' ') + '\n';
    const r = await s.bpb(cfg, text, ctx);
    // The stub's tokenizer makes each word one token (" word"), BOS first: 2501 tokens → 4 chunks of 512.
    expect(r.tokens).toBe(4 * 255);
    expect(r.bits).toBeGreaterThan(0);
    expect(r.bytes).toBeGreaterThan(4 * 255 * 3);
    expect(r.bpb).toBeCloseTo(r.bits / r.bytes, 12);
    expect(r.method).toContain('llama-perplexity -c 512: 4 chunks × 255 scored tokens');
    await s.stop();
  });

  it('fails at once with the log tail when the server dies while loading, leaving no process', async () => {
    const pidFile = join(dir, 'crash.pid');
    const script = join(dir, 'bin', 'srv-crash');
    mkdirSync(join(dir, 'bin'), { recursive: true });
    writeFileSync(script, `#!/bin/sh\necho $$ > '${pidFile}'\nexport STUB_CRASH_ON_START=1 STUB_LOAD_DELAY_S=0.4\nexec '${FAKE_SERVER}' "$@"\n`);
    chmodSync(script, 0o755);
    const cfg = config({ llama_server: script });
    const ctx = context('srv-crash', { startTimeoutS: 60 });
    const t0 = Date.now();
    const err = await llamacppEngine.start(cfg, ctx).then(
      () => null,
      (e: unknown) => e,
    );
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(err).toBeInstanceOf(EngineError);
    const message = (err as Error).message;
    expect(message).toContain('exited with code 1');
    expect(message).toContain('cudaMalloc failed: out of memory');
    expect(message).toContain('main: exiting due to model loading error');
    expect((err as EngineError).details.outputTail).toContain('llama_model_load: error loading model: unable to allocate CUDA0 buffer');
    expect(await gone(Number(readFileSync(pidFile, 'utf8')))).toBe(true);
  });

  it('fails with the model-load messages when the GGUF vanished before launch', async () => {
    const vanishing = join(dir, 'vanishing.gguf');
    writeFileSync(vanishing, 'GGUF');
    const script = join(dir, 'bin', 'srv-vanish');
    mkdirSync(join(dir, 'bin'), { recursive: true });
    writeFileSync(script, `#!/bin/sh\nrm -f '${vanishing}'\nexec '${FAKE_SERVER}' "$@"\n`);
    chmodSync(script, 0o755);
    const cfg = config({ llama_server: script }, { model: { id: vanishing } });
    await expect(llamacppEngine.start(cfg, context('srv-vanish'))).rejects.toThrow(`gguf_init_from_file: failed to open GGUF file '${vanishing}'`);
  });

  it('gives up after startTimeoutS when the server never becomes healthy, and stops it', async () => {
    const pidLog = join(dir, 'hang.pid');
    const script = join(dir, 'bin', 'srv-hang');
    mkdirSync(join(dir, 'bin'), { recursive: true });
    writeFileSync(script, `#!/bin/sh\necho $$ > '${pidLog}'\nexport STUB_NEVER_LISTEN=1\nexec '${FAKE_SERVER}' "$@"\n`);
    chmodSync(script, 0o755);
    const cfg = config({ llama_server: script });
    await expect(llamacppEngine.start(cfg, context('srv-hang', { startTimeoutS: 1 }))).rejects.toThrow(/did not become ready within 1 s/);
    const pid = Number(readFileSync(pidLog, 'utf8'));
    expect(await gone(pid)).toBe(true);
  });

  it('batched mode starts a tokenizer-only server for BPB and stops it afterwards', async () => {
    const server = wrapper('srv-tok', FAKE_SERVER, { STUB_LOAD_DELAY_S: '0.2' });
    const cfg = config({ mode: 'batched', llama_server: server, llama_perplexity: FAKE_PPL, llama_batched_bench: join(ROOT, 'tests', 'fakes', 'llama-batched-bench') });
    const ctx = context('srv-tok');
    const s = await llamacppEngine.start(cfg, ctx);
    const text = Array.from({ length: 1500 }, (_, i) => ['the', 'model', 'of', 'energy'][i % 4]).join(' ');
    const r = await s.bpb(cfg, text, ctx);
    expect(r.tokens).toBe(2 * 255);
    const log = readFileSync(join(ctx.artifactDir, 'tokenizer-server.log'), 'utf8');
    expect(log).toContain('POST /tokenize');
    expect(log).toContain('cleaning up before exit');
    expect(existsSync(join(ctx.artifactDir, 'perplexity.stdout.txt'))).toBe(true);
    await s.stop();
  });
});
