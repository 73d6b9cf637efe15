import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BatchedBenchLoad,
  batchedBenchArgs,
  contextSize,
  llamaBpb,
  llamaExecutable,
  llamaServerArgs,
  llamacppEngine,
  parseExtraArgs,
  perplexityArgs,
  resolveGguf,
  tokenizerServerArgs,
  validateLlamacpp,
} from '../../src/engines/llamacpp.js';
import { batchedBenchNoRowsReason, parseBatchedBenchJsonl, parseBatchedBenchMarkdown, parseLlamaContext } from '../../src/engines/llamacpp-parse.js';
import { processGroupMembers } from '../../src/engines/process.js';
import type { EngineContext, ExperimentConfig } from '../../src/engines/types.js';
import { EngineError, InputError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import { realClock } from '../../src/runner/clock.js';
import { ROOT, fixture } from '../helpers/paths.js';

const FAKE_BENCH = join(ROOT, 'tests', 'fakes', 'llama-batched-bench');
const FAKE_PPL = join(ROOT, 'tests', 'fakes', 'llama-perplexity');

let dir: string;
let q4: string;
let q8: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'carbonbench-llamacpp-'));
  mkdirSync(join(dir, 'models'));
  q4 = join(dir, 'models', 'm-q4_k_m.gguf');
  q8 = join(dir, 'models', 'm-q8_0.gguf');
  writeFileSync(q4, 'GGUF');
  writeFileSync(q8, 'GGUF');
  writeFileSync(join(dir, 'models', 'm.bin'), 'not gguf');
  mkdirSync(join(dir, 'models', 'dir.gguf'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function config(over: Partial<ExperimentConfig> = {}): ExperimentConfig {
  return {
    engine: 'llamacpp',
    model: { id: 'tiny-llama', variants: { q4_k_m: q4, q8_0: q8 } },
    quant: 'q8_0',
    batch: 8,
    inputLen: 512,
    outputLen: 128,
    ...over,
  };
}

function context(artifactDir: string, over: Partial<EngineContext> = {}): EngineContext {
  mkdirSync(artifactDir, { recursive: true });
  return { artifactDir, log: createLogger({ console: false }), clock: realClock, gpus: [], startTimeoutS: 30, ...over };
}

/** A per-test wrapper that sets the stub's knobs and execs it (no process.env changes). */
function wrapper(name: string, target: string, env: Record<string, string>): string {
  mkdirSync(join(dir, 'bin'), { recursive: true });
  const file = join(dir, 'bin', name);
  const exports = Object.entries(env)
    .map(([k, v]) => `export ${k}='${v.replace(/'/g, `'\\''`)}'`)
    .join('\n');
  writeFileSync(file, `#!/bin/sh\n${exports}\nexec '${target}' "$@"\n`);
  chmodSync(file, 0o755);
  return file;
}

function expectInputError(fn: () => unknown, ...fragments: string[]): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(InputError);
  expect((caught as InputError).exitCode).toBe(2);
  for (const f of fragments) expect((caught as Error).message).toContain(f);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('validation: the quant must name an existing GGUF file', () => {
  it('accepts a variant and resolves it to an absolute path', () => {
    expect(() => validateLlamacpp(config())).not.toThrow();
    expect(resolveGguf(config())).toBe(q8);
    expect(() => llamacppEngine.validate(config({ quant: 'q4_k_m' }))).not.toThrow();
  });

  it('names the key, the value and the quants that have files for an unknown quant', () => {
    expectInputError(() => validateLlamacpp(config({ quant: 'q5_k_m' })), 'models[].variants.q5_k_m (missing) is not set', 'allowed: quants of model "tiny-llama" that have a .gguf file: q4_k_m, q8_0');
  });

  it('rejects a missing file, listing only the quants whose files exist', () => {
    const missing = join(dir, 'models', 'gone.gguf');
    expectInputError(
      () => validateLlamacpp(config({ model: { id: 'tiny-llama', variants: { q4_k_m: q4, q8_0: missing } } })),
      `models[].variants.q8_0 "${missing}" (string) (resolved to ${missing}) does not exist`,
      'that have a .gguf file: q4_k_m',
    );
  });

  it('rejects a file that is not .gguf, a directory, an empty value and a NUL byte', () => {
    const variants = (p: string): ExperimentConfig => config({ model: { id: 'tiny-llama', variants: { q8_0: p } } });
    expectInputError(() => validateLlamacpp(variants(join(dir, 'models', 'm.bin'))), 'does not end in .gguf', 'no variant of model "tiny-llama" has one');
    expectInputError(() => validateLlamacpp(variants(join(dir, 'models', 'dir.gguf'))), 'is not a regular file');
    expectInputError(() => validateLlamacpp(variants('')), 'is empty');
    expectInputError(() => validateLlamacpp(variants(`${q8}\0x.gguf`)), 'contains a NUL byte');
  });

  it('takes models[].id as the GGUF when a model has no variants', () => {
    expect(resolveGguf(config({ model: { id: q4 } }))).toBe(q4);
    expectInputError(() => validateLlamacpp(config({ model: { id: 'Qwen/Qwen2.5-0.5B-Instruct' } })), 'models[].id "Qwen/Qwen2.5-0.5B-Instruct" (string) does not end in .gguf', 'allowed: a path to an existing .gguf file as models[].id');
  });

  it('treats ../ and shell metacharacters as plain path characters', () => {
    const weird = join(dir, 'models', `a;b $(touch pwned) \`x\` 'q' | & >o.gguf`);
    writeFileSync(weird, 'GGUF');
    const cfg = config({ model: { id: 'tiny-llama', variants: { q8_0: weird } } });
    expect(() => validateLlamacpp(cfg)).not.toThrow();
    const args = llamaServerArgs(cfg, resolveGguf(cfg), 9000);
    expect(args[1]).toBe(weird);
    // A relative path with ../ resolves against the working directory, nothing more.
    const sub = join(dir, 'sub');
    mkdirSync(sub, { recursive: true });
    const rel = config({ model: { id: 'tiny-llama', variants: { q8_0: '../models/m-q8_0.gguf' } } });
    expect(resolveGguf(rel, sub)).toBe(q8);
    expect(() => validateLlamacpp(rel, sub)).not.toThrow();
    expect(existsSync(join(dir, 'models', 'pwned'))).toBe(false);
  });

  it('validates engine options with the key, the value and what is allowed', () => {
    const withOpts = (engineOptions: Record<string, string | number | boolean>): ExperimentConfig => config({ engineOptions });
    expectInputError(() => validateLlamacpp(withOpts({ gpu_memory_utilization: 0.9 })), 'engine_options.gpu_memory_utilization 0.9 (number) is not a llamacpp option', 'allowed: mode, flash_attn');
    expectInputError(() => validateLlamacpp(withOpts({ mode: 'offline' })), 'engine_options.mode "offline" (string) is invalid; allowed: server, batched');
    expectInputError(() => validateLlamacpp(withOpts({ flash_attn: 'yes' })), 'flash_attn "yes" (string) is invalid; allowed: true, false, on, off, auto');
    expectInputError(() => validateLlamacpp(withOpts({ cache_type: 'fp8' })), 'cache_type "fp8" (string) is invalid; allowed: f32, f16, bf16, q8_0, q4_0, q4_1, iq4_nl, q5_0, q5_1');
    expectInputError(() => validateLlamacpp(withOpts({ n_gpu_layers: -3 })), 'n_gpu_layers -3 (number) is invalid; allowed: an integer >= 0');
    expectInputError(() => validateLlamacpp(withOpts({ batched_repeats: 0 })), 'batched_repeats 0 (number)');
    expectInputError(() => validateLlamacpp(withOpts({ extra_args: '["--threads", 8]' })), 'is not an array of strings');
    expectInputError(() => validateLlamacpp(config({ batch: 0 })), 'batch 0 (number) is invalid; allowed: a positive integer');
    expect(() => validateLlamacpp(withOpts({ mode: 'batched', flash_attn: true, cache_type: 'q8_0', extra_args: '--threads 8' }))).not.toThrow();
  });
});

describe('argument arrays', () => {
  it('sizes the context as batch slots of input + output (+ BOS), each rounded up to 256 cells', () => {
    expect(contextSize({ batch: 8, inputLen: 512, outputLen: 128 })).toBe(8 * 768);
    expect(contextSize({ batch: 1, inputLen: 127, outputLen: 128 })).toBe(256);
    expect(contextSize({ batch: 4, inputLen: 128, outputLen: 128 })).toBe(4 * 512);
  });

  it('builds the llama-server argv', () => {
    expect(llamaServerArgs(config(), q8, 8080)).toEqual(['-m', q8, '--host', '127.0.0.1', '--port', '8080', '-ngl', '99', '-np', '8', '-c', '6144']);
    expect(
      llamaServerArgs(config({ engineOptions: { flash_attn: true, cache_type: 'q8_0', cache_type_v: 'f16', n_gpu_layers: 20, extra_args: '["--threads", "8", "--alias", "a b"]' } }), q8, 8080),
    ).toEqual(['-m', q8, '--host', '127.0.0.1', '--port', '8080', '-ngl', '20', '-np', '8', '-c', '6144', '-fa', 'on', '-ctk', 'q8_0', '-ctv', 'f16', '--threads', '8', '--alias', 'a b']);
    expect(llamaServerArgs(config({ engineOptions: { flash_attn: 'off' } }), q8, 1)).toContain('off');
  });

  it('builds the llama-batched-bench argv', () => {
    expect(batchedBenchArgs(config(), q8)).toEqual(['-m', q8, '-ngl', '99', '-c', '6144', '-npp', '512', '-ntg', '128', '-npl', '8', '--output-format', 'jsonl']);
    expect(batchedBenchArgs(config({ batch: 4, engineOptions: { batched_repeats: 3, flash_attn: 'auto', extra_args: '-t 8' } }), q8)).toEqual([
      '-m', q8, '-ngl', '99', '-c', '3072', '-npp', '512', '-ntg', '128', '-npl', '4,4,4', '--output-format', 'jsonl', '-fa', 'auto', '-t', '8',
    ]);
  });

  it('builds the llama-perplexity and tokenizer-server argv', () => {
    expect(perplexityArgs(q8, '/tmp/x/bpb-input.txt')).toEqual(['-m', q8, '-f', '/tmp/x/bpb-input.txt', '-c', '512', '-ngl', '99']);
    expect(tokenizerServerArgs(q8, 9999)).toEqual(['-m', q8, '--host', '127.0.0.1', '--port', '9999', '-ngl', '0', '-np', '1', '-c', '256', '--no-warmup']);
  });

  it('splits extra_args without any shell semantics', () => {
    expect(parseExtraArgs('--a $(x)  "b c"')).toEqual(['--a', '$(x)', '"b', 'c"']);
    expect(parseExtraArgs('["--x", "$(y) z"]')).toEqual(['--x', '$(y) z']);
    expect(parseExtraArgs(undefined)).toEqual([]);
  });

  it('picks executables: engine option, then environment, then PATH', () => {
    expect(llamaExecutable(config(), 'llama_server', {})).toBe('llama-server');
    expect(llamaExecutable(config(), 'llama_perplexity', { CARBONBENCH_LLAMA_PERPLEXITY: '/opt/ppl' })).toBe('/opt/ppl');
    expect(llamaExecutable(config({ engineOptions: { llama_batched_bench: '/x/bb' } }), 'llama_batched_bench', { CARBONBENCH_LLAMA_BATCHED_BENCH: '/y/bb' })).toBe('/x/bb');
  });

  it('keys servers by every server flag: GGUF, -np (batch), -c, -fa, cache types; never the port', () => {
    const key = llamacppEngine.serverKey(config());
    expect(llamacppEngine.serverKey(config())).toBe(key);
    expect(key).not.toContain('--port');
    expect(llamacppEngine.serverKey(config({ batch: 16 }))).not.toBe(key);
    expect(llamacppEngine.serverKey(config({ quant: 'q4_k_m' }))).not.toBe(key);
    expect(llamacppEngine.serverKey(config({ outputLen: 512 }))).not.toBe(key); // larger slots
    expect(llamacppEngine.serverKey(config({ outputLen: 120 }))).toBe(key); // same slot size
    expect(llamacppEngine.serverKey(config({ engineOptions: { cache_type: 'q8_0' } }))).not.toBe(key);
    // Offline mode: every per-run flag goes to each llama-batched-bench process, one handle serves all.
    const batched = (b: number): ExperimentConfig => config({ batch: b, engineOptions: { mode: 'batched' } });
    expect(llamacppEngine.serverKey(batched(1))).toBe(llamacppEngine.serverKey(batched(64)));
    expect(llamacppEngine.serverKey(batched(1))).not.toBe(key);
  });
});

describe('the llama-batched-bench stub replays the recorded formats', () => {
  it('prints the Q8_0 recording’s rows (pl 64 skipped for context) as a table and as jsonl', async () => {
    const argv = ['-m', q8, '-c', '32768', '-npp', '512', '-ntg', '128', '-npl', '1,4,16,64', '-ngl', '99'];
    const table = await execa(FAKE_BENCH, argv, { env: { FAKE_LLAMA_ROW_S: '0', FAKE_LLAMA_LOAD_S: '0' } });
    const mdRows = parseBatchedBenchMarkdown(table.stdout);
    expect(mdRows.map((r) => [r.ppTokens, r.tgTokens, r.pl, r.nKv, r.nKvMax, r.nGpuLayers])).toEqual([
      [512, 128, 1, 640, 32768, 99],
      [512, 128, 4, 2560, 32768, 99],
      [512, 128, 16, 10240, 32768, 99],
    ]);
    const jsonl = await execa(FAKE_BENCH, [...argv, '--output-format', 'jsonl'], { env: { FAKE_LLAMA_ROW_S: '0', FAKE_LLAMA_LOAD_S: '0' } });
    const rows = parseBatchedBenchJsonl(jsonl.stdout);
    expect(rows.map((r) => r.pl)).toEqual([1, 4, 16]);
    expect(parseLlamaContext(jsonl.stderr)).toEqual({ nCtx: 32768, nCtxPerSeq: 512, nSeqMax: 64, nBatch: 2048, nUbatch: 512, flashAttn: 0 });
  });

  it('exits 0 with no rows when the context is too small, like the recording', async () => {
    const r = await execa(FAKE_BENCH, ['-m', q8, '-c', '512', '-npp', '512', '-ntg', '128', '-npl', '8', '--output-format', 'jsonl'], { env: { FAKE_LLAMA_LOAD_S: '0' } });
    expect(r.exitCode).toBe(0);
    expect(parseBatchedBenchJsonl(r.stdout)).toEqual([]);
    expect(batchedBenchNoRowsReason(r.stderr, { ppTokens: 512, tgTokens: 128, pl: [8] })).toBe(
      batchedBenchNoRowsReason(readFileSync(fixture('llama-batched-bench-ctx-too-small.stderr.txt'), 'utf8'), { ppTokens: 512, tgTokens: 128, pl: [8] }),
    );
  });

  it('fails on a missing model with the recorded messages and exit 1', async () => {
    const r = await execa(FAKE_BENCH, ['-m', 'models/missing.gguf', '-npl', '1'], { reject: false });
    expect(r.exitCode).toBe(1);
    const recorded = readFileSync(fixture('llama-missing-model.stdout.txt'), 'utf8').replace('exit 1\n', '');
    expect(r.stderr + '\n').toBe(recorded);
  });
});

describe('offline mode: llama-batched-bench runs as segments (stub)', () => {
  const small = (artifacts: string, over: Partial<ExperimentConfig> = {}, bench = FAKE_BENCH): { cfg: ExperimentConfig; ctx: EngineContext } => ({
    cfg: config({ batch: 4, inputLen: 64, outputLen: 32, engineOptions: { mode: 'batched', llama_batched_bench: bench }, ...over }),
    ctx: context(join(dir, artifacts)),
  });

  it('runs warm-up, snaps the window to run boundaries and counts pl × tg per run', async () => {
    const argsLog = join(dir, 'bb-args.jsonl');
    const pidFile = join(dir, 'bb.pid');
    const bench = wrapper('bb-ok', FAKE_BENCH, { FAKE_LLAMA_ARGS_LOG: argsLog, FAKE_LLAMA_PID_FILE: pidFile, FAKE_LLAMA_ROW_S: '0.1', FAKE_LLAMA_LOAD_S: '0.02' });
    const { cfg, ctx } = small('bb-ok', {}, bench);
    const server = await llamacppEngine.start(cfg, ctx);
    expect(server.baseUrl).toBeNull();
    expect(server.pid).toBeNull();
    const load = server.load(cfg, ctx) as BatchedBenchLoad;
    await load.warmUp({ minS: 0.2, minRequests: 8 });
    const warm = load.completedRuns().length;
    expect(warm).toBeGreaterThanOrEqual(2);
    const fromS = await load.openWindow();
    await sleep(700);
    const toS = await load.closeWindow();
    const segments = load.segments(fromS, toS);
    expect(segments.length).toBeGreaterThanOrEqual(2);
    // The window is made of whole runs: it starts where the first one started, ends where the last ended.
    expect(segments[0]!.fromS).toBe(fromS);
    expect(segments.at(-1)!.toS).toBe(toS);
    for (const s of segments) expect(s.tokens).toBe(4 * 32);
    expect(load.tokensBetween(fromS, toS)).toBe(segments.length * 128);
    expect(load.requestsCompletedBetween(fromS, toS)).toBe(segments.length * 4);
    // Runs before the window do not count; warm-up runs are flagged.
    expect(load.completedRuns().filter((r) => r.startS < fromS).length).toBeGreaterThanOrEqual(warm);
    const records = load.requests();
    expect(records.filter((r) => r.warmup).length).toBe(warm * 4);
    expect(records.every((r) => r.success && r.outputTokens === 32 && r.promptTokens === 64)).toBe(true);
    // Runs go on after closeWindow() (the GPU stays in use while the meter waits for its last sample),
    // so closing again later extends the window by whole runs (decision 42).
    const closedRuns = load.completedRuns().length;
    await sleep(300);
    expect(load.completedRuns().length).toBeGreaterThan(closedRuns);
    const toS2 = await load.closeWindow();
    expect(toS2).toBeGreaterThan(toS);
    const extended = load.segments(fromS, toS2);
    expect(extended.slice(0, segments.length)).toEqual(segments);
    expect(extended.length).toBeGreaterThan(segments.length);
    expect(extended.at(-1)!.toS).toBe(toS2);
    await load.stop();
    // stop() killed the run in flight: it is no run, and nothing starts after it.
    const runs = load.completedRuns().length;
    await sleep(300);
    expect(load.completedRuns().length).toBe(runs);
    const argv = readFileSync(argsLog, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as string[]);
    // Plus the killed one, if it lived long enough to log its argv.
    expect(argv.length).toBeGreaterThanOrEqual(runs);
    expect(argv.length).toBeLessThanOrEqual(runs + 1);
    expect(argv[0]).toEqual(['-m', q8, '-ngl', '99', '-c', '1024', '-npp', '64', '-ntg', '32', '-npl', '4', '--output-format', 'jsonl']);
    expect(readFileSync(join(ctx.artifactDir, 'engine.log'), 'utf8')).toContain('llama_context: n_ctx         = 1024');
    expect(readFileSync(join(ctx.artifactDir, 'batched-bench.jsonl'), 'utf8').trim().split('\n')).toHaveLength(runs);
    await server.stop();
    expect(processGroupMembers(Number(readFileSync(pidFile, 'utf8')))).toEqual([]);
    expect(load.failure).toBeNull();
  });

  it('calls boundary listeners at each run edge, in the tick of its timestamp, until unsubscribed', async () => {
    // Decision 41: the energy counter is read at every segment edge. Runs are back to back (the next
    // process starts in the tick the previous one's end is recorded), so an edge is a run's end, plus the
    // start of the loop's first run.
    const bench = wrapper('bb-edges', FAKE_BENCH, { FAKE_LLAMA_ROW_S: '0.1', FAKE_LLAMA_LOAD_S: '0.02' });
    const { cfg, ctx } = small('bb-edges', {}, bench);
    const load = (await llamacppEngine.start(cfg, ctx)).load(cfg, ctx) as BatchedBenchLoad;
    const heard: { atS: number; runs: number }[] = [];
    const offBoundary = load.onBoundary(() => heard.push({ atS: Date.now() / 1000, runs: load.completedRuns().length }));
    await load.warmUp({ minS: 0.2, minRequests: 4 });
    const fromS = await load.openWindow();
    await sleep(500);
    const toS = await load.closeWindow();
    offBoundary();
    const heardWhileSubscribed = heard.length;
    const subscribedRuns = load.completedRuns().filter((r) => r.endS <= toS);
    expect(subscribedRuns.length).toBeGreaterThanOrEqual(5);
    // The first run's start, then one per run end: no edge missed, none heard twice.
    expect(heard.map((h) => h.runs)).toEqual(Array.from({ length: subscribedRuns.length + 1 }, (_, i) => i));
    const first = subscribedRuns[0]!;
    expect(heard[0]!.atS).toBeGreaterThanOrEqual(first.startS - 0.002);
    expect(heard[0]!.atS - first.startS).toBeLessThan(0.05);
    subscribedRuns.forEach((run, i) => {
      const atS = heard[i + 1]!.atS;
      // Date.now() has whole milliseconds; the listener runs after the run is recorded, before the next starts.
      expect(atS).toBeGreaterThanOrEqual(run.endS - 0.002);
      expect(atS - run.endS).toBeLessThan(0.05);
      const next = load.completedRuns()[i + 1];
      if (next) expect(next.startS).toBeGreaterThanOrEqual(atS - 0.002);
      if (next) expect(next.startS - run.endS).toBeLessThan(0.05);
    });
    expect(load.segments(fromS, toS).length).toBeGreaterThanOrEqual(2);
    // Unsubscribed: runs go on after closeWindow(), unheard.
    const runsAtClose = load.completedRuns().length;
    await sleep(400);
    expect(load.completedRuns().length).toBeGreaterThan(runsAtClose);
    expect(heard).toHaveLength(heardWhileSubscribed);
    await load.stop();
    expect(load.failure).toBeNull();
  });

  it('turns a run without rows (exit 0, context too small) into a failure with the reason from stderr', async () => {
    const { cfg, ctx } = small('bb-norows', { engineOptions: { mode: 'batched', llama_batched_bench: FAKE_BENCH, extra_args: '-c 256' } });
    const server = await llamacppEngine.start(cfg, ctx);
    const load = server.load(cfg, ctx);
    const err = await load.warmUp({ minS: 0, minRequests: 1 }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(EngineError);
    expect((err as Error).message).toBe(
      'llama-batched-bench produced no result rows: the context has n_ctx = 256 cells (llama_context: n_ctx = 256) but pl 4 needs 4 × (64 + 32) = 384; llama-batched-bench skips such rows silently — raise -c',
    );
    expect(load.failure).toBe(err);
    expect(load.requests()).toMatchObject([{ success: false, warmup: true }]);
    await expect(load.openWindow()).rejects.toBe(err);
    await load.stop();
  });

  it('fails with the tool’s own messages when a run exits non-zero (model gone, CUDA error)', async () => {
    const gone = join(dir, 'models', 'vanishing.gguf');
    writeFileSync(gone, 'GGUF');
    const { cfg, ctx } = small('bb-gone', { model: { id: gone } });
    const server = await llamacppEngine.start(cfg, ctx);
    rmSync(gone);
    const load = server.load(cfg, ctx);
    await expect(load.warmUp({ minS: 0, minRequests: 1 })).rejects.toThrow(
      `exited with code 1: gguf_init_from_file: failed to open GGUF file '${gone}'; llama_model_load: error loading model: llama_model_loader: failed to load model from ${gone}`,
    );
    await load.stop();

    const crashing = wrapper('bb-crash', FAKE_BENCH, { FAKE_LLAMA_EXIT_CODE: '134' });
    const c2 = small('bb-crash', {}, crashing);
    const load2 = (await llamacppEngine.start(c2.cfg, c2.ctx)).load(c2.cfg, c2.ctx);
    await expect(load2.warmUp({ minS: 0, minRequests: 1 })).rejects.toThrow(/exited with code 134: .*CUDA error: an illegal memory access was encountered/);
    await load2.stop();
  });

  it('stop() in the middle of a run kills its process group and releases the waiters', async () => {
    const pidFile = join(dir, 'bb-slow.pid');
    const slow = wrapper('bb-slow', FAKE_BENCH, { FAKE_LLAMA_ROW_S: '30', FAKE_LLAMA_PID_FILE: pidFile });
    const { cfg, ctx } = small('bb-slow', {}, slow);
    const load = (await llamacppEngine.start(cfg, ctx)).load(cfg, ctx) as BatchedBenchLoad;
    const warm = load.warmUp({ minS: 0, minRequests: 1 });
    const opened = load.openWindow();
    opened.catch(() => {});
    for (let i = 0; i < 100 && !existsSync(pidFile); i++) await sleep(50);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    expect(processGroupMembers(pid).length).toBeGreaterThan(0);
    const t0 = Date.now();
    await load.stop();
    expect(Date.now() - t0).toBeLessThan(5000);
    await warm;
    expect(processGroupMembers(pid)).toEqual([]);
    expect(load.failure).toBeNull();
    expect(load.completedRuns()).toHaveLength(0);
  });

  it('stops when the context signal aborts', async () => {
    const slow = wrapper('bb-abort', FAKE_BENCH, { FAKE_LLAMA_ROW_S: '30' });
    const controller = new AbortController();
    const cfg = config({ batch: 2, inputLen: 16, outputLen: 16, engineOptions: { mode: 'batched', llama_batched_bench: slow } });
    const ctx = context(join(dir, 'bb-abort'), { signal: controller.signal });
    const load = (await llamacppEngine.start(cfg, ctx)).load(cfg, ctx) as BatchedBenchLoad;
    const warm = load.warmUp({ minS: 0, minRequests: 1 });
    await sleep(300);
    controller.abort(new Error('SIGINT'));
    await warm;
    expect(load.completedRuns()).toHaveLength(0);
  });

  it('refuses to start when llama-batched-bench cannot be found', async () => {
    const { cfg, ctx } = small('bb-missing', {}, join(dir, 'no-such-llama-batched-bench'));
    await expect(llamacppEngine.start(cfg, ctx)).rejects.toThrow(/no-such-llama-batched-bench was not found/);
  });
});

// ---------------------------------------------------------------------------------------------------
// BPB with the llama-perplexity stub and a /tokenize endpoint built on the stubs' own tokenizer.

interface StubTokenizer {
  tokenize(text: string, addSpecial: boolean): number[];
  piece(id: number): string;
}

async function stubTokenizer(): Promise<StubTokenizer> {
  const url = pathToFileURL(join(ROOT, 'tests', 'fakes', 'stub-common.mjs')).href;
  const mod = (await import(url)) as { Tokenizer: new () => StubTokenizer };
  return new mod.Tokenizer();
}

/** A minimal llama-server /tokenize (add_special, with_pieces), optionally dropping tokens. */
async function tokenizeServer(tok: StubTokenizer, drop = 0): Promise<{ url: string; server: Server; bodies: unknown[] }> {
  const bodies: unknown[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { content: string; add_special?: boolean; with_pieces?: boolean };
      bodies.push(body);
      const ids = tok.tokenize(body.content, body.add_special === true).slice(drop);
      const tokens = body.with_pieces ? ids.map((id) => ({ id, piece: tok.piece(id) })) : ids;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ tokens }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('no address');
  return { url: `http://127.0.0.1:${address.port}`, server, bodies };
}

/** ASCII prose: every stub token's piece is then its exact UTF-8 text. */
function heldOutText(words: number): string {
  const vocab = ['the', 'carbon', 'energy', 'model', 'window', 'token', 'of', 'and', 'in', 'measure', 'x9', 'Q', ';', '(', ')'];
  const out: string[] = [];
  let h = 7;
  for (let i = 0; i < words; i++) {
    h = (h * 1103515245 + 12345) >>> 0;
    out.push(vocab[h % vocab.length]!);
    if (i % 17 === 16) out.push('\n');
  }
  return out.join(' ') + '\n';
}

describe('BPB through llama-perplexity (stub) and /tokenize pieces', () => {
  it('computes bits from the final PPL and bytes from exactly the scored tokens', async () => {
    const tok = await stubTokenizer();
    const { url, server, bodies } = await tokenizeServer(tok);
    try {
      const argsLog = join(dir, 'ppl-args.jsonl');
      const ppl = wrapper('ppl-ok', FAKE_PPL, { FAKE_LLAMA_ARGS_LOG: argsLog, FAKE_LLAMA_PPL: '6.5', FAKE_LLAMA_PPL_JITTER: '0.3' });
      const cfg = config({ engineOptions: { llama_perplexity: ppl } });
      const ctx = context(join(dir, 'bpb-ok'));
      const text = heldOutText(3000);
      const r = await llamaBpb(cfg, text, ctx, url);

      // What the tool saw: the file minus one trailing newline, BOS first.
      const ids = tok.tokenize(text.slice(0, -1), true);
      const nCtx = 512;
      const chunks = Math.floor(ids.length / nCtx);
      expect(chunks).toBeGreaterThanOrEqual(2);
      let bytes = 0;
      let nllNats = 0;
      for (let c = 0; c < chunks; c++) {
        for (let j = c * nCtx + 257; j < (c + 1) * nCtx; j++) {
          bytes += Buffer.byteLength(tok.piece(ids[j]!), 'utf8');
          nllNats += Math.log(6.5) + (0.3 * ((j % 7) - 3)) / 3; // the stub's model
        }
      }
      expect(r.tokens).toBe(chunks * 255);
      expect(r.bytes).toBe(bytes);
      // bits = count × log2(PPL printed with 4 decimals): within 1e-5 of the exact Σ −log2 p.
      expect(Math.abs(r.bits - nllNats / Math.LN2) / r.bits).toBeLessThan(1e-5);
      expect(r.bpb).toBeCloseTo(r.bits / r.bytes, 12);
      expect(r.method).toContain(`llama-perplexity -c 512: ${chunks} chunks × 255 scored tokens`);
      expect(bodies).toEqual([{ content: text.slice(0, -1), add_special: true, parse_special: false, with_pieces: true }]);
      const argv = JSON.parse(readFileSync(argsLog, 'utf8').trim()) as string[];
      expect(argv).toEqual(['-m', q8, '-f', join(ctx.artifactDir, 'bpb-input.txt'), '-c', '512', '-ngl', '99']);
      expect(readFileSync(join(ctx.artifactDir, 'bpb-input.txt'), 'utf8')).toBe(text);
      expect(readFileSync(join(ctx.artifactDir, 'perplexity.log'), 'utf8')).toContain('Final estimate: PPL = ');
    } finally {
      server.close();
    }
  });

  it('refuses when /tokenize disagrees with the tool about the token count', async () => {
    const tok = await stubTokenizer();
    const { url, server } = await tokenizeServer(tok, 600);
    try {
      const cfg = config({ engineOptions: { llama_perplexity: FAKE_PPL } });
      await expect(llamaBpb(cfg, heldOutText(3000), context(join(dir, 'bpb-mismatch')), url)).rejects.toThrow(/tokenization mismatch/);
    } finally {
      server.close();
    }
  });

  it('reports a llama-perplexity that cannot be started', async () => {
    const cfg = config({ engineOptions: { llama_perplexity: join(dir, 'no-such-llama-perplexity') } });
    await expect(llamaBpb(cfg, 'x', context(join(dir, 'bpb-enoent')), null)).rejects.toThrow(/no-such-llama-perplexity could not be started: .*ENOENT/);
  });

  it('reports a held-out text that is too short for two chunks', async () => {
    const cfg = config({ engineOptions: { llama_perplexity: FAKE_PPL } });
    await expect(llamaBpb(cfg, 'the carbon model', context(join(dir, 'bpb-short')), 'http://127.0.0.1:9')).rejects.toThrow(
      /llama-perplexity did not start scoring: perplexity: you need at least 1024 tokens to evaluate perplexity with a context of 512; perplexity: the data file you provided tokenizes to only \d+ tokens/,
    );
  });

  it('reports a missing model with the tool’s messages', async () => {
    const gone = join(dir, 'models', 'gone-too.gguf');
    writeFileSync(gone, 'GGUF');
    // The file vanishes between validation and the run.
    const script = join(dir, 'bin', 'ppl-gone');
    mkdirSync(join(dir, 'bin'), { recursive: true });
    writeFileSync(script, `#!/bin/sh\nrm -f '${gone}'\nexec '${FAKE_PPL}' "$@"\n`);
    chmodSync(script, 0o755);
    const cfg = config({ model: { id: gone }, engineOptions: { llama_perplexity: script } });
    await expect(llamaBpb(cfg, 'x', context(join(dir, 'bpb-gone')), null)).rejects.toThrow(
      `${script} exited with code 1: gguf_init_from_file: failed to open GGUF file '${gone}'; llama_model_load: error loading model: llama_model_loader: failed to load model from ${gone}; llama_model_load_from_file_impl: failed to load model; common_init_from_params: failed to load model '${gone}'; main: unable to load model`,
    );
  });
});
