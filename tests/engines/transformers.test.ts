/**
 * The transformers engine: validation and server keys (pure), the JSON-lines channel and the offline load
 * generator against a fake runner (tests/fakes/fake-transformers-runner.py: the real protocol, no torch),
 * and the real scripts/transformers_runner.py on a tiny random-weights Qwen2 on the CPU when torch and
 * transformers are importable (skipped loudly otherwise; CARBONBENCH_REQUIRE_TORCH=1 makes that a failure).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished, vi } from 'vitest';
import { probePython, resolvePython } from '../../src/engines/probe.js';
import { processGroupMembers } from '../../src/engines/process.js';
import {
  RANDOM_WEIGHT_PRESETS,
  TransformersLoad,
  createTransformersEngine,
  resolveModelSource,
  transformersEngine,
  transformersServerKey,
  validateTransformers,
  type TransformersServer,
} from '../../src/engines/transformers.js';
import type { EngineContext, ExperimentConfig } from '../../src/engines/types.js';
import { EngineError, InputError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import { realClock } from '../../src/runner/clock.js';
import { ROOT } from '../helpers/paths.js';

const FAKE_RUNNER = join(ROOT, 'tests', 'fakes', 'fake-transformers-runner.py');

let dir: string;
let modelDir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'carbonbench-transformers-'));
  modelDir = join(dir, 'models', 'tiny');
  mkdirSync(modelDir, { recursive: true });
  writeFileSync(join(modelDir, 'config.json'), JSON.stringify({ model_type: 'qwen2' }));
  mkdirSync(join(dir, 'models', 'no-config'), { recursive: true });
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function cfg(over: Partial<ExperimentConfig> = {}): ExperimentConfig {
  return { engine: 'transformers', model: { id: modelDir }, quant: 'bf16', batch: 2, inputLen: 8, outputLen: 4, ...over };
}

function context(name: string, over: Partial<EngineContext> = {}): EngineContext {
  const artifactDir = join(dir, 'artifacts', name);
  mkdirSync(artifactDir, { recursive: true });
  return { artifactDir, log: createLogger({ console: false }), clock: realClock, gpus: [], startTimeoutS: 60, ...over };
}

/** A config.json for the fake runner: its directives ride under "fake". */
function fakeArch(name: string, fake: Record<string, string | number | boolean>): string {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify({ ...RANDOM_WEIGHT_PRESETS['tiny-qwen2'], fake }));
  return file;
}

const fakeEngine = createTransformersEngine({ runnerScript: FAKE_RUNNER, python: 'python3', stopGraceMs: 3000 });

function fakeCfg(name: string, fake: Record<string, string | number | boolean> = {}, over: Partial<ExperimentConfig> = {}): ExperimentConfig {
  return cfg({ model: { id: 'fake' }, engineOptions: { random_weights: fakeArch(name, fake) }, ...over });
}

function alive(pid: number): boolean {
  return processGroupMembers(pid).length > 0;
}

/** The pid the fake runner logged at start ("[fake runner] ready, pid N"). */
function loggedPid(artifactDir: string): number {
  const m = /\[fake runner\] ready, pid (\d+)/.exec(readFileSync(join(artifactDir, 'engine.log'), 'utf8'));
  if (!m) throw new Error(`no pid in ${artifactDir}/engine.log`);
  return Number(m[1]);
}

describe('validate', () => {
  it('names the key quant, the value and the allowed list', () => {
    expect(() => validateTransformers(cfg({ quant: 'awq' }))).toThrow(InputError);
    expect(() => validateTransformers(cfg({ quant: 'awq' }))).toThrow('quant "awq" (string) is invalid for the transformers engine; allowed: bf16, fp16, fp32');
    for (const quant of ['bf16', 'fp16', 'fp32']) expect(() => validateTransformers(cfg({ quant }))).not.toThrow();
  });

  it('wants a local model directory with a config.json, or random weights', () => {
    const missing = join(dir, 'models', 'nope');
    expect(() => validateTransformers(cfg({ model: { id: missing } }))).toThrow(`models[].id "${missing}" (string) (resolved to ${missing}) does not exist; allowed: a local transformers model directory`);
    expect(() => validateTransformers(cfg({ model: { id: join(dir, 'models', 'no-config') } }))).toThrow('has no config.json');
    writeFileSync(join(dir, 'a-file'), 'x');
    expect(() => validateTransformers(cfg({ model: { id: join(dir, 'a-file') } }))).toThrow('is not a directory');
    // A hub id is not a directory: never a download.
    expect(() => validateTransformers(cfg({ model: { id: 'Qwen/Qwen2.5-0.5B-Instruct' } }))).toThrow(InputError);
    // quant → its own checkpoint directory
    const withVariant = cfg({ model: { id: join(dir, 'models', 'nope'), variants: { fp16: modelDir } }, quant: 'fp16' });
    expect(resolveModelSource(withVariant)).toEqual({ kind: 'directory', path: modelDir });
    expect(() => validateTransformers({ ...withVariant, quant: 'bf16' })).toThrow('models[].id');
  });

  it('reads random_weights: true as "each model id names an architecture"', () => {
    const c = cfg({ model: { id: 'qwen2.5-0.5b' }, engineOptions: { random_weights: true } });
    expect(() => validateTransformers(c)).not.toThrow();
    const source = resolveModelSource(c);
    expect(source.kind).toBe('random');
    if (source.kind === 'random') {
      expect(source.arch).toMatchObject({ hidden_size: 896, num_hidden_layers: 24, num_attention_heads: 14, num_key_value_heads: 2, intermediate_size: 4864, vocab_size: 151936 });
      expect(source.seed).toBe(0);
    }
    expect(() => validateTransformers(cfg({ model: { id: 'llama-9000' }, engineOptions: { random_weights: true } }))).toThrow(
      'models[].id "llama-9000" (string) is not a known architecture; allowed: a preset (qwen2.5-0.5b, qwen2.5-1.5b, tiny-qwen2) or a path to a transformers config.json',
    );
  });

  it('reads random_weights: "<preset or config.json>" as one architecture for every model', () => {
    const c = cfg({ model: { id: 'anything' }, engineOptions: { random_weights: 'qwen2.5-1.5b', seed: 3 } });
    const source = resolveModelSource(c);
    expect(source).toMatchObject({ kind: 'random', name: 'qwen2.5-1.5b', seed: 3, arch: { hidden_size: 1536, num_hidden_layers: 28, num_attention_heads: 12, intermediate_size: 8960 } });
    const file = join(dir, 'arch.json');
    writeFileSync(file, JSON.stringify({ model_type: 'llama', hidden_size: 32, rope_scaling: { type: 'linear', factor: 2 } }));
    expect(resolveModelSource(cfg({ engineOptions: { random_weights: file } }))).toMatchObject({ kind: 'random', name: file, arch: { model_type: 'llama', rope_scaling: { factor: 2 } } });
    const noType = join(dir, 'no-type.json');
    writeFileSync(noType, JSON.stringify({ hidden_size: 32 }));
    expect(() => validateTransformers(cfg({ engineOptions: { random_weights: noType } }))).toThrow('has no "model_type"');
    expect(() => validateTransformers(cfg({ engineOptions: { random_weights: join(dir, 'gone.json') } }))).toThrow('does not exist');
    expect(() => validateTransformers(cfg({ engineOptions: { random_weights: 5 } }))).toThrow('engine_options.random_weights 5 (number) is invalid');
  });

  it('rejects unknown options and bad values, naming them', () => {
    expect(() => validateTransformers(cfg({ engineOptions: { gpu_memory_utilization: 0.9 } }))).toThrow(
      'engine_options.gpu_memory_utilization 0.9 (number) is not a transformers option; allowed: random_weights, device, python, seed',
    );
    expect(() => validateTransformers(cfg({ engineOptions: { device: 'tpu' } }))).toThrow('engine_options.device "tpu" (string) is invalid; allowed: cuda, cpu, auto');
    expect(() => validateTransformers(cfg({ engineOptions: { seed: -1 } }))).toThrow('engine_options.seed -1 (number) is invalid');
    expect(() => validateTransformers(cfg({ batch: 0 }))).toThrow('batch 0 (number) is invalid');
  });

  it('ships the published dimensions of Qwen2.5-0.5B and -1.5B', () => {
    expect(RANDOM_WEIGHT_PRESETS['qwen2.5-0.5b']).toMatchObject({ model_type: 'qwen2', tie_word_embeddings: true, rope_theta: 1000000, rms_norm_eps: 1e-6, max_position_embeddings: 32768 });
    expect(RANDOM_WEIGHT_PRESETS['qwen2.5-1.5b']).toMatchObject({ vocab_size: 151936, num_key_value_heads: 2, tie_word_embeddings: true, max_position_embeddings: 131072 });
  });
});

describe('serverKey', () => {
  it('is model + quant + device (+ interpreter), not the workload', () => {
    const base = transformersServerKey(cfg());
    expect(transformersServerKey(cfg({ batch: 64, inputLen: 2048, outputLen: 512 }))).toBe(base);
    expect(transformersServerKey(cfg({ quant: 'fp16' }))).not.toBe(base);
    expect(transformersServerKey(cfg({ engineOptions: { device: 'cpu' } }))).not.toBe(base);
    expect(transformersServerKey(cfg({ engineOptions: { python: '/opt/py/bin/python' } }))).not.toBe(base);
    const random = (id: string, seed?: number): string => transformersServerKey(cfg({ model: { id }, engineOptions: { random_weights: true, ...(seed === undefined ? {} : { seed }) } }));
    expect(random('qwen2.5-0.5b')).not.toBe(random('qwen2.5-1.5b'));
    expect(random('qwen2.5-0.5b')).not.toBe(random('qwen2.5-0.5b', 1));
    expect(transformersEngine.serverKey(cfg())).toBe(base);
    expect(transformersEngine.name).toBe('transformers');
    expect(transformersEngine.simulated).toBe(false);
  });
});

describe('start and stop (fake runner)', () => {
  it('loads, reports what it loaded, and stop() leaves no process, grandchildren included', async () => {
    const c = fakeCfg('start-ok', { spawn_child: true });
    const ctx = context('start-ok');
    const server = (await fakeEngine.start(c, ctx)) as TransformersServer;
    // A failed expectation must not leave the runner's grandchild behind.
    onTestFinished(() => server.stop());
    expect(server.baseUrl).toBeNull();
    expect(server.key).toBe(fakeEngine.serverKey(c));
    expect(server.loadInfo).toMatchObject({ params: 12345, dtype: 'bf16', device: 'cpu' });
    expect(server.pid).toBeGreaterThan(0);
    expect(processGroupMembers(server.pid!).length).toBeGreaterThanOrEqual(2); // runner + its sleep child
    // What the runner was asked to load (stderr → engine.log, written asynchronously): dtype = quant, the
    // architecture, no model path.
    await vi.waitFor(() => {
      const log = readFileSync(join(ctx.artifactDir, 'engine.log'), 'utf8');
      expect(log).toContain('"dtype": "bf16"');
      expect(log).toContain('"hidden_size": 64');
      expect(log).toContain('"model": null');
    });
    await server.stop();
    expect(alive(server.pid!)).toBe(false);
    await server.stop(); // idempotent
  });

  it('fails with the runner\'s error and the log tail when load fails, and leaves no process', async () => {
    const oom = 'CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 79.19 GiB';
    const ctx = context('load-fail');
    const err = await fakeEngine.start(fakeCfg('load-fail', { load_error: oom, spawn_child: true }), ctx).catch((e: unknown) => e);
    expect(alive(loggedPid(ctx.artifactDir))).toBe(false);
    expect(err).toBeInstanceOf(EngineError);
    expect((err as Error).message).toContain(`could not load random weights`);
    expect((err as Error).message).toContain(oom);
    expect((err as Error).message).toContain('[fake runner] ready');
    expect(((err as EngineError).details.command ?? [])[0]).toBe('python3');
  });

  it('fails at once with the exit code and last log lines when the runner dies while loading', async () => {
    const started = Date.now();
    const err = await fakeEngine.start(fakeCfg('die', { die_on_load: true }), context('die')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineError);
    expect((err as Error).message).toContain('exited with code 3');
    expect((err as Error).message).toContain('RuntimeError: simulated crash while loading');
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('gives up after startTimeoutS and stops the runner', async () => {
    const ctx = context('hang', { startTimeoutS: 1 });
    const err = await fakeEngine.start(fakeCfg('hang', { hang_on_load: true, spawn_child: true }), ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineError);
    expect((err as Error).message).toContain('did not load random weights');
    expect((err as Error).message).toContain('within 1 s');
    expect((err as Error).message).toContain('[fake runner] ready');
    expect(alive(loggedPid(ctx.artifactDir))).toBe(false);
  });

  it('says when the interpreter cannot be started', async () => {
    const c = fakeCfg('no-python', {}, {});
    const err = await fakeEngine.start({ ...c, engineOptions: { ...c.engineOptions, python: join(dir, 'no-such-python') } }, context('no-python')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineError);
    expect((err as Error).message).toMatch(/no-such-python/);
  });

  it('computes BPB as bits / bytes through the bpb op', async () => {
    const c = fakeCfg('bpb');
    const ctx = context('bpb');
    const server = await fakeEngine.start(c, ctx);
    try {
      const r = await server.bpb(c, 'héllo wörld', ctx);
      expect(r).toEqual({ bpb: 2.5, bits: 2.5 * 12, bytes: 12, tokens: 12, method: 'fake forward pass' });
    } finally {
      await server.stop();
    }
  });
});

describe('the offline load generator (fake runner)', () => {
  it('snaps the window to call boundaries and counts whole calls only', async () => {
    const c = fakeCfg('window', { call_s: 0.15, stray_stdout: true }, { batch: 4, inputLen: 16, outputLen: 8 });
    const ctx = context('window');
    const server = await fakeEngine.start(c, ctx);
    try {
      const load = server.load(c, ctx) as TransformersLoad;
      await load.warmUp({ minS: 0.2, minRequests: 8 });
      const warmCalls = load.completedCalls().length;
      expect(warmCalls).toBeGreaterThanOrEqual(2); // 8 sequences at batch 4, and 0.2 s
      expect(load.completedCalls().every((call) => call.warmup)).toBe(true);

      // Boundary listeners (decision 41: the energy counter is read at each call's end) run once per
      // completed call, after it is recorded, and stop when unsubscribed.
      const boundaryTimesS: { atS: number; calls: number }[] = [];
      const offBoundary = load.onBoundary(() => boundaryTimesS.push({ atS: Date.now() / 1000, calls: load.completedCalls().length }));
      const askedS = Date.now() / 1000;
      const fromS = await load.openWindow();
      // The window opens at the start of a call that starts after the request (the next one).
      expect(fromS).toBeGreaterThanOrEqual(askedS - 0.01);
      await realClock.sleep(500);
      const closeAskedS = Date.now() / 1000;
      const toS = await load.closeWindow();
      expect(toS).toBeGreaterThan(closeAskedS);
      await new Promise((r) => setImmediate(r)); // the listener of the last call runs in the next turn
      offBoundary();
      const heardS = boundaryTimesS.length;

      const calls = load.completedCalls();
      const inside = calls.filter((call) => call.startS >= fromS && call.endS <= toS);
      expect(inside.length).toBeGreaterThanOrEqual(3);
      expect(inside[0]!.startS).toBe(fromS);
      expect(inside[inside.length - 1]!.endS).toBe(toS);
      expect(inside.every((call) => !call.warmup)).toBe(true);
      expect(load.tokensBetween(fromS, toS)).toBe(inside.length * 4 * 8);
      expect(load.requestsCompletedBetween(fromS, toS)).toBe(inside.length * 4);
      const segments = load.segments(fromS, toS);
      expect(segments).toEqual(inside.map((call) => ({ fromS: call.startS, toS: call.endS, tokens: 32 })));
      // Calls are back to back and ordered.
      for (let i = 1; i < calls.length; i++) expect(calls[i]!.startS).toBeGreaterThanOrEqual(calls[i - 1]!.endS);
      // A call cut by the window's edge does not count.
      const mid = (inside[1]!.startS + inside[1]!.endS) / 2;
      expect(load.tokensBetween(mid, toS)).toBe((inside.length - 2) * 32);
      expect(load.segments(fromS, mid)).toHaveLength(1);
      // Every call that ended while subscribed was heard, each just after its end (a few ms at most).
      const endedWhileSubscribed = calls.filter((call) => call.endS > boundaryTimesS[0]!.atS - 0.05 && call.endS <= toS);
      expect(heardS).toBeGreaterThanOrEqual(inside.length);
      expect(heardS).toBe(endedWhileSubscribed.length);
      for (const heard of boundaryTimesS) {
        const ended = calls[heard.calls - 1]!;
        expect(heard.atS).toBeGreaterThanOrEqual(ended.endS - 0.002);
        expect(heard.atS - ended.endS).toBeLessThan(0.1);
      }

      const records = load.requests();
      expect(records.length).toBeGreaterThanOrEqual(calls.length);
      const r0 = records[0]!;
      expect(r0).toMatchObject({ success: true, error: null, promptTokens: 64, outputTokens: 32, ttftMs: null, itlMs: [], warmup: true });
      expect(r0.e2eMs).toBeCloseTo((r0.endS - r0.startS) * 1000, 6);

      // Calls go on after closeWindow() (the GPU stays loaded) until stop(), which cancels the running one.
      await realClock.sleep(50);
      expect(boundaryTimesS).toHaveLength(heardS); // unsubscribed: calls after closeWindow() are not heard
      expect(load.failure).toBeNull();
      await load.stop();
      expect(load.requests().every((r) => r.success)).toBe(true);
      await expect(load.openWindow()).rejects.toThrow('stopped');
      // The runner is still usable by the next experiment on the same server.
      const next = server.load(c, ctx) as TransformersLoad;
      const from2 = await next.openWindow();
      const to2 = await next.closeWindow();
      expect(next.tokensBetween(from2, to2)).toBe(32);
      await next.stop();
    } finally {
      await server.stop();
    }
    expect(alive(server.pid!)).toBe(false);
  });

  it('stop() cancels a long call at once instead of waiting for it', async () => {
    const c = fakeCfg('cancel', { call_s: 30 });
    const ctx = context('cancel');
    const server = await fakeEngine.start(c, ctx);
    try {
      const load = server.load(c, ctx);
      const warm = load.warmUp({ minS: 0, minRequests: 1 });
      await realClock.sleep(300);
      const t0 = Date.now();
      await load.stop();
      await warm; // a stopped warm-up ends
      expect(Date.now() - t0).toBeLessThan(3000);
      expect(load.requests()).toEqual([]); // a cancelled call is not a request
      expect(load.failure).toBeNull();
    } finally {
      await server.stop();
    }
  });

  it('an abort signal stops the load like stop()', async () => {
    const c = fakeCfg('abort', { call_s: 30 });
    const controller = new AbortController();
    const ctx = context('abort', { signal: controller.signal });
    const server = await fakeEngine.start(c, ctx);
    try {
      const load = server.load(c, ctx);
      const opened = load.openWindow(); // resolves at the first call's start
      await opened;
      const t0 = Date.now();
      controller.abort(new Error('thermal abort'));
      const closing = load.closeWindow().catch((e: unknown) => e);
      expect(await closing).toBeInstanceOf(EngineError);
      expect(Date.now() - t0).toBeLessThan(3000);
    } finally {
      await server.stop();
    }
  });

  it('surfaces a CUDA OOM verbatim as the load failure, and warm-up rejects with it', async () => {
    const c = fakeCfg('oom', { oom_after: 2, call_s: 0.02 });
    const ctx = context('oom');
    const server = await fakeEngine.start(c, ctx);
    try {
      const load = server.load(c, ctx);
      const err = await load.warmUp({ minS: 60, minRequests: 1000 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(EngineError);
      expect((err as Error).message).toBe(
        'generate (batch 2, input 8, output 4 tokens) failed: CUDA out of memory. Tried to allocate 20.00 GiB. GPU 0 has a total capacity of 79.19 GiB',
      );
      expect(load.failure).toBe(err);
      const records = load.requests();
      expect(records.map((r) => r.success)).toEqual([true, true, false]);
      expect(records[2]!.error).toContain('CUDA out of memory');
      await expect(load.openWindow()).rejects.toBe(err);
      await expect(load.closeWindow()).rejects.toBe(err);
      await load.stop();
    } finally {
      await server.stop();
    }
  });

  it('fails the load when the runner dies mid-call', async () => {
    const c = fakeCfg('dies', { call_s: 30 });
    const ctx = context('dies');
    const server = await fakeEngine.start(c, ctx);
    const load = server.load(c, ctx);
    const fromS = await load.openWindow();
    expect(fromS).toBeGreaterThan(0);
    process.kill(server.pid!, 'SIGKILL');
    const err = await load.closeWindow().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineError);
    expect((err as Error).message).toContain('was killed by SIGKILL');
    await expect(server.died).rejects.toThrow('SIGKILL');
    await load.stop();
    await server.stop();
    expect(alive(server.pid!)).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------------
// the real runner (torch + transformers on the CPU)

// CI (CI=true) must run the torch tests: .ci/run installs CPU torch with `setup.sh --test`.
const REQUIRE_TORCH = process.env.CARBONBENCH_REQUIRE_TORCH === '1' || process.env.CI === 'true';
const python = resolvePython(resolve(ROOT));
const probe = await probePython(['torch', 'transformers'], python);
const haveTorch = probe.modules.torch !== null && probe.modules.transformers !== null;
if (!haveTorch) {
  const msg = `torch/transformers are not importable in ${python} (${JSON.stringify(probe.modules)}${probe.error ? `, ${probe.error}` : ''})`;
  if (REQUIRE_TORCH) throw new Error(`CARBONBENCH_REQUIRE_TORCH=1 but ${msg}: install scripts/requirements-test.txt into .venv`);
  console.warn(`\n*** SKIPPING the real transformers runner tests: ${msg}. Install scripts/requirements-test.txt into .venv. ***\n`);
}

describe.skipIf(!haveTorch)('the real runner on a tiny random-weights Qwen2 (CPU)', () => {
  const real = createTransformersEngine({ python });
  const tiny = (over: Partial<ExperimentConfig> = {}): ExperimentConfig =>
    cfg({ model: { id: 'tiny-qwen2' }, quant: 'fp32', engineOptions: { random_weights: true, device: 'cpu' }, ...over });

  it('loads, generates exact lengths for batch 1 and 4 with ordered timestamps, scores BPB, and stops clean', { timeout: 120_000 }, async () => {
    const ctx = context('real', { startTimeoutS: 120 });
    const server = (await real.start(tiny({ batch: 1 }), ctx)) as TransformersServer;
    try {
      expect(server.loadInfo).toMatchObject({ dtype: 'fp32', device: 'cpu', model_type: 'qwen2', tokenizer: false });
      expect(server.loadInfo.params).toBeGreaterThan(64_000);
      for (const batch of [1, 4]) {
        const c = tiny({ batch, inputLen: 12, outputLen: 6 });
        expect(real.serverKey(c)).toBe(server.key); // batch does not need another runner
        const load = server.load(c, ctx) as TransformersLoad;
        await load.warmUp({ minS: 0, minRequests: batch });
        const fromS = await load.openWindow();
        await realClock.sleep(200);
        const toS = await load.closeWindow();
        await load.stop();
        expect(toS).toBeGreaterThan(fromS);
        const inside = load.completedCalls().filter((call) => call.startS >= fromS && call.endS <= toS);
        expect(inside.length).toBeGreaterThanOrEqual(1);
        expect(load.tokensBetween(fromS, toS)).toBe(inside.length * batch * 6);
        for (const call of load.completedCalls()) expect(call.endS).toBeGreaterThan(call.startS);
        expect(load.requests().every((r) => r.success && r.outputTokens === batch * 6 && r.promptTokens === batch * 12)).toBe(true);
      }
      const text = 'Energy per token, measured: ünïcode bytes count twice. ';
      const nBytes = Buffer.byteLength(text, 'utf8');
      const r = await server.bpb(tiny(), text, ctx);
      // Byte-level fallback (random weights have no tokenizer): one chunk, first byte unscored.
      expect(r.bytes).toBe(nBytes - 1);
      expect(r.tokens).toBe(nBytes - 1);
      expect(Number.isFinite(r.bpb) && r.bpb > 0).toBe(true);
      expect(r.bpb).toBeGreaterThan(Math.log2(1000) - 1.5); // ≈ uniform over the 1000-token vocabulary
      expect(r.bpb).toBeLessThan(Math.log2(1000) + 1.5);
      expect(r.method).toContain('byte-level fallback');
    } finally {
      await server.stop();
    }
    expect(alive(server.pid!)).toBe(false);
    expect(existsSync(join(ctx.artifactDir, 'engine.log'))).toBe(true);
  });

  it('a directory transformers cannot load fails start with transformers\' own words', { timeout: 60_000 }, async () => {
    const ctx = context('real-errors');
    const err = await real.start(cfg({ quant: 'fp32', engineOptions: { device: 'cpu' } }), ctx).catch((e: unknown) => e);
    // modelDir holds only a stub config.json: transformers refuses it, and the message says so.
    expect(err).toBeInstanceOf(EngineError);
    expect((err as Error).message).toContain(`could not load ${modelDir} as fp32`);
  });
});
