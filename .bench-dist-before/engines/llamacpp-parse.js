/**
 * Parsers for what llama.cpp's tools print (pure functions; tests/fixtures/h200 holds real recordings):
 *
 * - `llama-batched-bench --output-format jsonl` rows and its default markdown table,
 * - the stderr of a batched-bench run (model load log: `llama_context: n_ctx = …`) and the reason a run
 *   produced no rows (it skips every pl whose pl × (pp + tg) exceeds the context, silently, exit 0),
 * - `llama-bench -o json` (one array) and `-o jsonl` (one object per line),
 * - failure messages (missing GGUF: `gguf_init_from_file: failed to open GGUF file '…'`, …),
 * - `llama-perplexity`: running PPL per chunk on stdout (`[1]x,[2]y,…`), and on stderr
 *   `calculating perplexity over N chunks, n_ctx=C, batch_size=B, n_seq=S` and
 *   `Final estimate: PPL = X +/- Y`.
 *
 * The BPB arithmetic for llama-perplexity follows tools/perplexity/perplexity.cpp (`perplexity()`):
 * the text is tokenized once with `common_tokenize(ctx, prompt, add_special = true)` (BOS first when the
 * vocab adds one; parse_special defaults to false), cut into n_chunk = ⌊tokens / n_ctx⌋ chunks of n_ctx
 * tokens (the tail is dropped), the first token of each chunk is replaced by BOS for the forward pass,
 * and with `first = n_ctx/2` the logits at positions first … n_ctx−2 score the tokens at positions
 * first+1 … n_ctx−1: `count += n_ctx - first - 1` per chunk, `PPL = exp(nll / count)` (nll in nats).
 */
import { EngineError } from '../errors.js';
/** Output tokens a row generated: pl sequences × tg tokens each. */
export function generatedTokens(row) {
    return row.pl * row.tgTokens;
}
const JSONL_FIELDS = [
    ['nKvMax', 'n_kv_max'],
    ['nBatch', 'n_batch'],
    ['nUbatch', 'n_ubatch'],
    ['flashAttn', 'flash_attn'],
    ['isPpShared', 'is_pp_shared'],
    ['nGpuLayers', 'n_gpu_layers'],
    ['nThreads', 'n_threads'],
    ['nThreadsBatch', 'n_threads_batch'],
    ['ppTokens', 'pp'],
    ['tgTokens', 'tg'],
    ['pl', 'pl'],
    ['nKv', 'n_kv'],
    ['tPpS', 't_pp'],
    ['speedPpTokS', 'speed_pp'],
    ['tTgS', 't_tg'],
    ['speedTgTokS', 'speed_tg'],
    ['tS', 't'],
    ['speedTokS', 'speed'],
];
function isRecord(value) {
    return typeof value === 'object' && value !== null && !Array.isArray(value);
}
/**
 * Rows of `llama-batched-bench --output-format jsonl` stdout. Lines that do not start with `{` (blank
 * lines, a log line that strayed into the stream) are skipped; a `{` line that is not a complete row is
 * an error, never a silently dropped measurement.
 */
export function parseBatchedBenchJsonl(text) {
    const rows = [];
    const lines = text.split(/\r?\n/);
    lines.forEach((raw, index) => {
        const line = raw.trim();
        if (!line.startsWith('{'))
            return;
        let parsed;
        try {
            parsed = JSON.parse(line);
        }
        catch {
            throw new EngineError(`llama-batched-bench jsonl line ${index + 1} is not JSON: ${line.slice(0, 200)}`);
        }
        if (!isRecord(parsed))
            throw new EngineError(`llama-batched-bench jsonl line ${index + 1} is not an object`);
        const row = {};
        for (const [key, field] of JSONL_FIELDS) {
            const value = parsed[field];
            if (typeof value !== 'number' || !Number.isFinite(value)) {
                throw new EngineError(`llama-batched-bench jsonl line ${index + 1}: field ${field} is ${value === undefined ? 'missing' : `not a finite number (${JSON.stringify(value)})`}`);
            }
            row[key] = value;
        }
        rows.push(row);
    });
    return rows;
}
/** `key = value` pairs of a log line such as `main: n_kv_max = 32768, n_batch = 2048, …`. */
function keyValues(line) {
    const out = {};
    for (const m of line.matchAll(/([a-z_]+)\s*=\s*(-?\d+(?:\.\d+)?)/g))
        out[m[1]] = Number(m[2]);
    return out;
}
const TABLE_COLUMNS = ['PP', 'TG', 'B', 'N_KV', 'T_PP s', 'S_PP t/s', 'T_TG s', 'S_TG t/s', 'T s', 'S t/s'];
/**
 * Rows of llama-batched-bench's default output: a `main: n_kv_max = …, n_batch = …` line and a markdown
 * table (`| PP | TG | B | N_KV | T_PP s | S_PP t/s | T_TG s | S_TG t/s | T s | S t/s |`). Its numbers are
 * rounded (3 decimals for times, 2 for speeds); prefer jsonl for measurements.
 */
export function parseBatchedBenchMarkdown(text) {
    const lines = text.split(/\r?\n/);
    const settingsLine = lines.find((l) => /^main: n_kv_max\s*=/.test(l.trim()));
    if (settingsLine === undefined)
        throw new EngineError('llama-batched-bench table: no "main: n_kv_max = …" settings line');
    const s = keyValues(settingsLine);
    const headerIndex = lines.findIndex((l) => /^\|\s*PP\s*\|/.test(l.trim()));
    if (headerIndex < 0)
        throw new EngineError('llama-batched-bench table: no header row (| PP | TG | B | …)');
    const header = lines[headerIndex].split('|').slice(1, -1).map((c) => c.trim());
    if (header.join('|') !== TABLE_COLUMNS.join('|')) {
        throw new EngineError(`llama-batched-bench table: unexpected columns ${JSON.stringify(header)}; expected ${JSON.stringify(TABLE_COLUMNS)}`);
    }
    const setting = (name) => {
        const v = s[name];
        if (v === undefined)
            throw new EngineError(`llama-batched-bench table: settings line has no ${name}`);
        return v;
    };
    const rows = [];
    for (const line of lines.slice(headerIndex + 1)) {
        const t = line.trim();
        if (!t.startsWith('|')) {
            if (rows.length > 0 || t !== '')
                break;
            continue;
        }
        if (/^\|[-\s|]+\|$/.test(t))
            continue; // the |----|----| separator
        const cells = t.split('|').slice(1, -1).map((c) => Number(c.trim()));
        if (cells.length !== TABLE_COLUMNS.length || cells.some((c) => !Number.isFinite(c))) {
            throw new EngineError(`llama-batched-bench table: malformed row ${JSON.stringify(t)}`);
        }
        const [pp, tg, pl, nKv, tPp, sPp, tTg, sTg, tAll, sAll] = cells;
        rows.push({
            nKvMax: setting('n_kv_max'),
            nBatch: setting('n_batch'),
            nUbatch: setting('n_ubatch'),
            flashAttn: setting('flash_attn'),
            isPpShared: setting('is_pp_shared'),
            nGpuLayers: setting('n_gpu_layers'),
            nThreads: setting('n_threads'),
            nThreadsBatch: setting('n_threads_batch'),
            ppTokens: pp,
            tgTokens: tg,
            pl,
            nKv,
            tPpS: tPp,
            speedPpTokS: sPp,
            tTgS: tTg,
            speedTgTokS: sTg,
            tS: tAll,
            speedTokS: sAll,
        });
    }
    return rows;
}
/** Reads `llama_context: n_ctx = 512` and its neighbours; null when the log never got that far. */
export function parseLlamaContext(stderr) {
    const values = {};
    for (const m of stderr.matchAll(/^llama_context:\s+([a-z_]+)\s*=\s*(-?\d+)\s*$/gm))
        values[m[1]] = Number(m[2]);
    if (values.n_ctx === undefined)
        return null;
    return {
        nCtx: values.n_ctx,
        nCtxPerSeq: values.n_ctx_per_seq ?? null,
        nSeqMax: values.n_seq_max ?? null,
        nBatch: values.n_batch ?? null,
        nUbatch: values.n_ubatch ?? null,
        flashAttn: values.flash_attn ?? null,
    };
}
// A line is an error line when llama.cpp says so; "load: special_eos_id is not in special_eog_ids - the
// tokenizer config may be incorrect" and similar warnings are not failures.
const ERROR_LINE = /(\berror\b|\bfailed\b|\bunable to\b|GGML_ASSERT|\bout of memory\b|\bterminate called\b|\bAborted\b)/i;
export function parseLlamaFailure(output) {
    const lines = output
        .split(/\r?\n/)
        .map((l) => l.trim())
        .filter((l) => l !== '' && ERROR_LINE.test(l) && !/^exit \d+$/.test(l));
    const missing = /failed to open GGUF file '([^']*)'/.exec(output) ?? /failed to load model from (\S+)/.exec(output);
    return { reason: lines.join('; '), missingModel: missing ? missing[1] : null };
}
/**
 * Why a llama-batched-bench run that exited 0 produced no rows. The tool skips every pl whose
 * pl × (pp + tg) (pp + pl × tg with -pps) exceeds n_kv_max without a word (batched-bench.cpp:
 * `if (n_ctx_req > n_kv_max) continue;`), so the reason is reconstructed from the context size in
 * its load log and the requested sizes; an error line in stderr wins when there is one.
 */
export function batchedBenchNoRowsReason(stderr, request) {
    const failure = parseLlamaFailure(stderr);
    if (failure.reason !== '')
        return `llama-batched-bench produced no result rows: ${failure.reason}`;
    const context = parseLlamaContext(stderr);
    if (context === null)
        return 'llama-batched-bench produced no result rows and its log has no llama_context line (it stopped before creating a context)';
    const needs = request.pl.map((pl) => `pl ${pl} needs ${pl} × (${request.ppTokens} + ${request.tgTokens}) = ${pl * (request.ppTokens + request.tgTokens)}`);
    return (`llama-batched-bench produced no result rows: the context has n_ctx = ${context.nCtx} cells (llama_context: n_ctx = ${context.nCtx}) ` +
        `but ${needs.join(', ')}; llama-batched-bench skips such rows silently — raise -c`);
}
function benchResult(obj, where) {
    if (!isRecord(obj))
        throw new EngineError(`llama-bench ${where}: not an object`);
    const str = (k) => {
        const v = obj[k];
        if (typeof v !== 'string')
            throw new EngineError(`llama-bench ${where}: ${k} is not a string`);
        return v;
    };
    const num = (k) => {
        const v = obj[k];
        if (typeof v !== 'number' || !Number.isFinite(v))
            throw new EngineError(`llama-bench ${where}: ${k} is not a finite number`);
        return v;
    };
    const nums = (k) => {
        const v = obj[k];
        if (!Array.isArray(v) || v.some((x) => typeof x !== 'number'))
            throw new EngineError(`llama-bench ${where}: ${k} is not an array of numbers`);
        return v;
    };
    const flashAttn = () => {
        const fa = obj.flash_attn;
        // Older builds print a bool, newer ones may print the flash_attn_type int (-1 auto, 0 off, 1 on).
        if (typeof fa === 'boolean')
            return fa;
        if (typeof fa === 'number')
            return fa === 1;
        throw new EngineError(`llama-bench ${where}: flash_attn is neither a bool nor a number`);
    };
    return {
        buildCommit: str('build_commit'),
        buildNumber: num('build_number'),
        cpuInfo: str('cpu_info'),
        gpuInfo: str('gpu_info'),
        backends: str('backends'),
        modelFilename: str('model_filename'),
        modelType: str('model_type'),
        modelSizeBytes: num('model_size'),
        modelNParams: num('model_n_params'),
        nBatch: num('n_batch'),
        nUbatch: num('n_ubatch'),
        nThreads: num('n_threads'),
        typeK: str('type_k'),
        typeV: str('type_v'),
        nGpuLayers: num('n_gpu_layers'),
        flashAttn: flashAttn(),
        nPrompt: num('n_prompt'),
        nGen: num('n_gen'),
        nDepth: typeof obj.n_depth === 'number' ? obj.n_depth : 0,
        testTime: str('test_time'),
        avgNs: num('avg_ns'),
        stddevNs: num('stddev_ns'),
        avgTokS: num('avg_ts'),
        stddevTokS: num('stddev_ts'),
        samplesNs: nums('samples_ns'),
        samplesTokS: nums('samples_ts'),
    };
}
/** `llama-bench -o json` (one JSON array) or `-o jsonl` (one object per line). */
export function parseLlamaBench(text) {
    const trimmed = text.trim();
    if (trimmed === '')
        return [];
    if (trimmed.startsWith('[')) {
        let parsed;
        try {
            parsed = JSON.parse(trimmed);
        }
        catch (err) {
            // llama-bench prints the closing "]" only when it finishes (its json printer's footer); output
            // cut short after a complete test (bench.json is such a recording) still holds whole results.
            try {
                parsed = JSON.parse(`${trimmed}\n]`);
            }
            catch {
                throw new EngineError(`llama-bench json output is not valid JSON: ${err.message}`);
            }
        }
        if (!Array.isArray(parsed))
            throw new EngineError('llama-bench json output is not an array');
        return parsed.map((o, i) => benchResult(o, `result ${i + 1}`));
    }
    const out = [];
    trimmed.split(/\r?\n/).forEach((line, i) => {
        const l = line.trim();
        if (l === '')
            return;
        let parsed;
        try {
            parsed = JSON.parse(l);
        }
        catch {
            throw new EngineError(`llama-bench jsonl line ${i + 1} is not JSON: ${l.slice(0, 200)}`);
        }
        out.push(benchResult(parsed, `jsonl line ${i + 1}`));
    });
    return out;
}
// ---------------------------------------------------------------------------------------------------
// llama-perplexity
/** Running PPL after each chunk, from stdout's `[1]12756.1013,[2]12129.1236,…` (index i → chunk i+1). */
export function parsePerplexityStdout(stdout) {
    const values = [];
    for (const m of stdout.matchAll(/\[(\d+)\]([-+0-9.eE]+|nan|-?inf),/g)) {
        const index = Number(m[1]);
        if (index !== values.length + 1)
            throw new EngineError(`llama-perplexity output: chunk [${index}] follows chunk [${values.length}]`);
        values.push(Number(m[2]));
    }
    return values;
}
export function parsePerplexityStderr(stderr) {
    const over = /calculating perplexity over (\d+) chunks, n_ctx=(\d+)(?:, batch_size=(\d+))?(?:, n_seq=(\d+))?/.exec(stderr);
    const final = /Final estimate: PPL = ([0-9.eE+-]+|nan|inf) \+\/- ([0-9.eE+-]+|nan|inf)/.exec(stderr);
    const errorLines = stderr
        .split(/\r?\n/)
        .map((l) => l.trim())
        .filter((l) => /you need at least \d+ tokens|tokenizes to only \d+ tokens|Unexpected negative standard deviation|failed to decode/.test(l));
    const failure = parseLlamaFailure(stderr);
    const error = [...errorLines, ...(failure.reason ? [failure.reason] : [])].join('; ');
    return {
        chunks: over ? Number(over[1]) : null,
        nCtx: over ? Number(over[2]) : null,
        batchSize: over?.[3] !== undefined ? Number(over[3]) : null,
        nSeq: over?.[4] !== undefined ? Number(over[4]) : null,
        finalPpl: final ? Number(final[1]) : null,
        finalPplStderr: final ? Number(final[2]) : null,
        error: error === '' ? null : error,
    };
}
/** Tokens llama-perplexity scores in one chunk of n_ctx tokens: positions n_ctx/2 + 1 … n_ctx − 1. */
export function scoredTokensPerChunk(nCtx) {
    return nCtx - Math.floor(nCtx / 2) - 1;
}
/**
 * Token index ranges [from, to) (into the tokenization with BOS, as llama-perplexity sees it) that it
 * scored: chunk i covers tokens [i·n_ctx, (i+1)·n_ctx) and scores its positions first+1 … n_ctx−1.
 */
export function scoredTokenRanges(chunks, nCtx) {
    const first = Math.floor(nCtx / 2);
    const ranges = [];
    for (let i = 0; i < chunks; i++)
        ranges.push([i * nCtx + first + 1, (i + 1) * nCtx]);
    return ranges;
}
export function pieceBytes(piece) {
    return typeof piece === 'string' ? Buffer.byteLength(piece, 'utf8') : piece.length;
}
/**
 * Total bits from a llama-perplexity run: PPL = exp(nll_nats / count), so Σ −log2 p = count × log2(PPL).
 * The final PPL is printed with 4 decimals: the relative error of log2(PPL) is below 1e-5 / ln(PPL).
 */
export function perplexityBits(stdout, stderr) {
    const info = parsePerplexityStderr(stderr);
    const running = parsePerplexityStdout(stdout);
    if (info.chunks === null || info.nCtx === null) {
        throw new EngineError(`llama-perplexity did not start scoring${info.error ? `: ${info.error}` : ' (no "calculating perplexity over N chunks" line)'}`);
    }
    // stdout's last running value is the same exp(nll / count) as the final estimate; it stands in when
    // stderr lacks the final line ("Unexpected negative standard deviation of log(prob)").
    const ppl = info.finalPpl ?? running[running.length - 1] ?? null;
    if (running.length !== info.chunks) {
        throw new EngineError(`llama-perplexity printed ${running.length} running values for ${info.chunks} chunks${info.error ? `: ${info.error}` : ''}`);
    }
    if (ppl === null || !Number.isFinite(ppl) || ppl < 1)
        throw new EngineError(`llama-perplexity gave no usable PPL (${String(ppl)})`);
    const scoredTokens = info.chunks * scoredTokensPerChunk(info.nCtx);
    return { chunks: info.chunks, nCtx: info.nCtx, ppl, scoredTokens, bits: scoredTokens * Math.log2(ppl) };
}
/**
 * UTF-8 bytes of exactly the tokens llama-perplexity scored, from the pieces of the same tokenization
 * (BOS included, so indices line up with the tool's). Throws when the token count implies a different
 * chunk count than the tool reported: then the two tokenizations disagree and the bytes would be wrong.
 */
export function scoredBytes(pieces, chunks, nCtx) {
    const implied = Math.floor(pieces.length / nCtx);
    if (implied !== chunks) {
        throw new EngineError(`tokenization mismatch: /tokenize gave ${pieces.length} tokens (⌊${pieces.length} / ${nCtx}⌋ = ${implied} chunks) but llama-perplexity scored ${chunks} chunks`);
    }
    let bytes = 0;
    for (const [from, to] of scoredTokenRanges(chunks, nCtx))
        for (let i = from; i < to; i++)
            bytes += pieceBytes(pieces[i].piece);
    return bytes;
}
//# sourceMappingURL=llamacpp-parse.js.map