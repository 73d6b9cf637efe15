import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EngineError } from '../../src/errors.js';
import {
  batchedBenchNoRowsReason,
  generatedTokens,
  parseBatchedBenchJsonl,
  parseBatchedBenchMarkdown,
  parseLlamaBench,
  parseLlamaContext,
  parseLlamaFailure,
  parsePerplexityStderr,
  parsePerplexityStdout,
  perplexityBits,
  pieceBytes,
  scoredBytes,
  scoredTokenRanges,
  scoredTokensPerChunk,
  type TokenPiece,
} from '../../src/engines/llamacpp-parse.js';
import { fixture } from '../helpers/paths.js';

const read = (name: string): string => readFileSync(fixture(name), 'utf8');

describe('llama-batched-bench jsonl', () => {
  it('parses bb.jsonl (F16, -npp 128 -ntg 128 -npl 1,8,32) with every field', () => {
    const rows = parseBatchedBenchJsonl(read('bb.jsonl'));
    expect(rows).toHaveLength(3);
    expect(rows[0]).toEqual({
      nKvMax: 16384,
      nBatch: 2048,
      nUbatch: 512,
      flashAttn: 0,
      isPpShared: 0,
      nGpuLayers: 99,
      nThreads: 16,
      nThreadsBatch: 16,
      ppTokens: 128,
      tgTokens: 128,
      pl: 1,
      nKv: 256,
      tPpS: 0.01936,
      speedPpTokS: 6611.570312,
      tTgS: 0.143153,
      speedTgTokS: 894.148254,
      tS: 0.162513,
      speedTokS: 1575.258545,
    });
    expect(rows.map((r) => [r.pl, r.nKv, r.tTgS, r.speedTgTokS])).toEqual([
      [1, 256, 0.143153, 894.148254],
      [8, 2048, 0.58138, 1761.326416],
      [32, 8192, 0.667173, 6139.336914],
    ]);
    // Generated tokens = pl × tg; the tool's own speed_tg is the same figure over t_tg.
    expect(rows.map(generatedTokens)).toEqual([128, 1024, 4096]);
    for (const r of rows) expect(generatedTokens(r) / r.tTgS).toBeCloseTo(r.speedTgTokS, 0);
  });

  it('parses the Q8_0 jsonl: the pl=64 row is absent (64 × 640 > 32768), not an error', () => {
    const rows = parseBatchedBenchJsonl(read('llama-batched-bench-q8.jsonl'));
    expect(rows.map((r) => r.pl)).toEqual([1, 4, 16]);
    expect(rows.map((r) => r.nKv)).toEqual([640, 2560, 10240]);
    expect(rows[2]).toMatchObject({ nKvMax: 32768, ppTokens: 512, tgTokens: 128, tPpS: 0.277242, speedPpTokS: 29548.191406, tTgS: 0.717306, speedTgTokS: 2855.127197, tS: 0.994548, speedTokS: 10296.134766 });
  });

  it('skips blank and log lines but rejects a broken row', () => {
    expect(parseBatchedBenchJsonl('\n\nmain: something\n')).toEqual([]);
    expect(() => parseBatchedBenchJsonl('{"n_kv_max": 1,')).toThrow(EngineError);
    expect(() => parseBatchedBenchJsonl(read('bb.jsonl').replace('"speed_tg": 894.148254, ', ''))).toThrow(/speed_tg is missing/);
  });
});

describe('llama-batched-bench markdown table', () => {
  it('parses llama-batched-bench-q8.md.txt with the settings line', () => {
    const rows = parseBatchedBenchMarkdown(read('llama-batched-bench-q8.md.txt'));
    expect(rows).toEqual([
      { nKvMax: 32768, nBatch: 2048, nUbatch: 512, flashAttn: 0, isPpShared: 0, nGpuLayers: 99, nThreads: 16, nThreadsBatch: 16, ppTokens: 512, tgTokens: 128, pl: 1, nKv: 640, tPpS: 0.026, speedPpTokS: 19466.94, tTgS: 0.179, speedTgTokS: 716.35, tS: 0.205, speedTokS: 3122.18 },
      { nKvMax: 32768, nBatch: 2048, nUbatch: 512, flashAttn: 0, isPpShared: 0, nGpuLayers: 99, nThreads: 16, nThreadsBatch: 16, ppTokens: 512, tgTokens: 128, pl: 4, nKv: 2560, tPpS: 0.044, speedPpTokS: 46354.77, tTgS: 0.417, speedTgTokS: 1226.8, tS: 0.462, speedTokS: 5546.82 },
      { nKvMax: 32768, nBatch: 2048, nUbatch: 512, flashAttn: 0, isPpShared: 0, nGpuLayers: 99, nThreads: 16, nThreadsBatch: 16, ppTokens: 512, tgTokens: 128, pl: 16, nKv: 10240, tPpS: 0.248, speedPpTokS: 32966.59, tTgS: 0.692, speedTgTokS: 2958.9, tS: 0.941, speedTokS: 10886.17 },
    ]);
  });

  it('rejects a table without its settings line or with other columns', () => {
    expect(() => parseBatchedBenchMarkdown('|    PP |\n')).toThrow(/settings line/);
    expect(() => parseBatchedBenchMarkdown(read('llama-batched-bench-q8.md.txt').replace('S_PP t/s', 'X'))).toThrow(/unexpected columns/);
  });
});

describe('load logs and failures', () => {
  it('reads llama_context settings from the ctx-too-small stderr', () => {
    expect(parseLlamaContext(read('llama-batched-bench-ctx-too-small.stderr.txt'))).toEqual({ nCtx: 512, nCtxPerSeq: 64, nSeqMax: 8, nBatch: 512, nUbatch: 512, flashAttn: 0 });
    expect(parseLlamaContext(read('llama-batched-bench.stderr.txt'))).toEqual({ nCtx: 16384, nCtxPerSeq: 512, nSeqMax: 32, nBatch: 2048, nUbatch: 512, flashAttn: 0 });
    expect(parseLlamaContext(read('llama-missing-model.stdout.txt'))).toBeNull();
  });

  it('explains a run without rows from its stderr (exit 0, no error line)', () => {
    const stderr = read('llama-batched-bench-ctx-too-small.stderr.txt');
    expect(parseLlamaFailure(stderr)).toEqual({ reason: '', missingModel: null });
    expect(batchedBenchNoRowsReason(stderr, { ppTokens: 512, tgTokens: 128, pl: [8] })).toBe(
      'llama-batched-bench produced no result rows: the context has n_ctx = 512 cells (llama_context: n_ctx = 512) but pl 8 needs 8 × (512 + 128) = 5120; llama-batched-bench skips such rows silently — raise -c',
    );
  });

  it('finds the missing-model messages', () => {
    const f = parseLlamaFailure(read('llama-missing-model.stdout.txt'));
    expect(f.missingModel).toBe('models/missing.gguf');
    expect(f.reason).toBe(
      "gguf_init_from_file: failed to open GGUF file 'models/missing.gguf'; llama_model_load: error loading model: llama_model_loader: failed to load model from models/missing.gguf; llama_model_load_from_file_impl: failed to load model; main: error: unable to load model",
    );
    expect(batchedBenchNoRowsReason(read('llama-missing-model.stdout.txt'), { ppTokens: 1, tgTokens: 1, pl: [1] })).toMatch(/^llama-batched-bench produced no result rows: gguf_init_from_file: failed to open GGUF file/);
  });

  it('does not mistake warnings for failures', () => {
    expect(parseLlamaFailure(read('llama-perplexity.stderr.txt')).reason).toBe('');
    expect(parseLlamaFailure(read('llama-batched-bench.stderr.txt')).reason).toBe('');
  });
});

describe('llama-bench', () => {
  it('parses -o json (bench.json)', () => {
    const [r, ...rest] = parseLlamaBench(read('bench.json'));
    expect(rest).toEqual([]);
    expect(r).toEqual({
      buildCommit: 'unknown',
      buildNumber: 0,
      cpuInfo: 'Intel(R) Xeon(R) Processor',
      gpuInfo: 'NVIDIA H200',
      backends: 'CUDA',
      modelFilename: 'models/m-q4km.gguf',
      modelType: 'llama ?B Q4_K - Medium',
      modelSizeBytes: 92383744,
      modelNParams: 151675904,
      nBatch: 2048,
      nUbatch: 512,
      nThreads: 16,
      typeK: 'f16',
      typeV: 'f16',
      nGpuLayers: 99,
      flashAttn: false,
      nPrompt: 512,
      nGen: 0,
      nDepth: 0,
      testTime: '2026-11-26T05:17:54Z',
      avgNs: 7329422,
      stddevNs: 61285,
      avgTokS: 69859.327641,
      stddevTokS: 583.440461,
      samplesNs: [7398094, 7332915, 7283114, 7378778, 7254213],
      samplesTokS: [69207, 69822.2, 70299.6, 69388.2, 70579.7],
    });
  });

  it('parses -o jsonl (llama-bench.jsonl): a prompt test and a generation test', () => {
    const rs = parseLlamaBench(read('llama-bench.jsonl'));
    expect(rs.map((r) => [r.modelType, r.nPrompt, r.nGen, r.avgNs, r.avgTokS])).toEqual([
      ['llama ?B Q8_0', 512, 0, 7129540, 71831.893088],
      ['llama ?B Q8_0', 0, 128, 144121118, 888.241234],
    ]);
    expect(rs[1]!.samplesTokS).toEqual([892.381, 870.097, 888.988, 894.416, 895.324]);
    expect(rs[1]!.modelSizeBytes).toBe(161230848);
  });

  it('rejects garbage', () => {
    expect(parseLlamaBench('')).toEqual([]);
    expect(() => parseLlamaBench('[{"build_commit": 1}]')).toThrow(/build_commit is not a string/);
    expect(() => parseLlamaBench('{oops}')).toThrow(EngineError);
  });
});

describe('llama-perplexity', () => {
  it('parses the running PPL of all 95 chunks', () => {
    const v = parsePerplexityStdout(read('llama-perplexity.stdout.txt'));
    expect(v).toHaveLength(95);
    expect(v.slice(0, 4)).toEqual([12756.1013, 12129.1236, 11700.0859, 11163.165]);
    expect(v[94]).toBe(12278.368);
  });

  it('parses --chunks 4: the same first four values', () => {
    expect(parsePerplexityStdout(read('llama-perplexity-4chunks.stdout.txt'))).toEqual([12756.1013, 12129.1236, 11700.0859, 11163.165]);
  });

  it('parses the stderr: chunk count, n_ctx, batch, n_seq, final estimate', () => {
    expect(parsePerplexityStderr(read('llama-perplexity.stderr.txt'))).toEqual({
      chunks: 95,
      nCtx: 512,
      batchSize: 2048,
      nSeq: 4,
      finalPpl: 12278.368,
      finalPplStderr: 50.48937,
      error: null,
    });
  });

  it('agrees with the tool: 95 chunks × n_ctx 512 = the 48640 tokens it evaluated', () => {
    const stderr = read('llama-perplexity.stderr.txt');
    const evaluated = Number(/prompt eval time = .*\/\s*(\d+) tokens/.exec(stderr)![1]);
    expect(evaluated).toBe(95 * 512);
    // llama_context n_ctx = n_seq × n_ctx (the tool multiplies -c by n_seq = batch / n_ctx).
    expect(parseLlamaContext(stderr)).toMatchObject({ nCtx: 2048, nSeqMax: 4, nCtxPerSeq: 512 });
  });

  it('computes the bits from the final PPL: 95 × 255 scored tokens × log2(12278.3680)', () => {
    expect(scoredTokensPerChunk(512)).toBe(255);
    const r = perplexityBits(read('llama-perplexity.stdout.txt'), read('llama-perplexity.stderr.txt'));
    expect(r).toMatchObject({ chunks: 95, nCtx: 512, ppl: 12278.368, scoredTokens: 24225 });
    expect(r.bits).toBeCloseTo(24225 * Math.log2(12278.368), 6);
    expect(r.bits).toBeCloseTo(329068.3107, 3);
    // The running value of the last chunk is the same exp(nll / count).
    expect(parsePerplexityStdout(read('llama-perplexity.stdout.txt')).at(-1)).toBe(r.ppl);
  });

  it('falls back to the last running value when stderr lacks the final line', () => {
    const stderr = read('llama-perplexity.stderr.txt').replace(/Final estimate: PPL = [^\n]*\n/, 'Unexpected negative standard deviation of log(prob)\n');
    const r = perplexityBits(read('llama-perplexity.stdout.txt'), stderr);
    expect(r.ppl).toBe(12278.368);
  });

  it('refuses a run whose running values do not match its chunk count', () => {
    expect(() => perplexityBits(read('llama-perplexity-4chunks.stdout.txt'), read('llama-perplexity.stderr.txt'))).toThrow(/4 running values for 95 chunks/);
  });

  it('reports a text that is too short', () => {
    const stderr = 'perplexity: tokenizing the input ..\nperplexity: you need at least 1024 tokens to evaluate perplexity with a context of 512\nperplexity: the data file you provided tokenizes to only 700 tokens\n';
    expect(parsePerplexityStderr(stderr).error).toBe(
      'perplexity: you need at least 1024 tokens to evaluate perplexity with a context of 512; perplexity: the data file you provided tokenizes to only 700 tokens',
    );
    expect(() => perplexityBits('\n', stderr)).toThrow(/did not start scoring: perplexity: you need at least 1024 tokens/);
  });

  it('counts the bytes of exactly the scored positions (BOS-prefixed indices)', () => {
    // n_ctx 8: first = 4, positions 5, 6, 7 of each chunk are scored.
    expect(scoredTokenRanges(2, 8)).toEqual([
      [5, 8],
      [13, 16],
    ]);
    const pieces: TokenPiece[] = Array.from({ length: 19 }, (_, i) => ({ id: i, piece: i === 0 ? '<s>' : 'x'.repeat(i) }));
    // chunk 0: 5 + 6 + 7, chunk 1: 13 + 14 + 15; tokens 16..18 are the dropped tail.
    expect(scoredBytes(pieces, 2, 8)).toBe(5 + 6 + 7 + 13 + 14 + 15);
    expect(() => scoredBytes(pieces.slice(0, 15), 2, 8)).toThrow(/tokenization mismatch/);
  });

  it('measures pieces in UTF-8 bytes, byte arrays by length', () => {
    expect(pieceBytes(' naïve')).toBe(7);
    expect(pieceBytes('€')).toBe(3);
    expect(pieceBytes([0xe2, 0x82])).toBe(2);
  });
});
