/**
 * vLLM: `vllm serve MODEL --host 127.0.0.1 --port P …` with an OpenAI-compatible API.
 *
 * Quantization axis → flags (validated before launch):
 *   bf16 → --dtype bfloat16      fp16 → --dtype float16      fp32 → --dtype float32
 *   fp8  → --quantization fp8 (dynamic FP8 weights on a bf16/fp16 checkpoint, Hopper/Ada and newer)
 *   awq | gptq | awq_marlin | gptq_marlin | bitsandbytes | compressed-tensors → --quantization Q on the
 *   checkpoint named by models[].variants[Q] (a quantized checkpoint of its own) or the model id itself.
 * Server-level options from program.md (engineOptions): kv_cache_dtype, max_num_seqs (default = batch:
 * a closed loop never has more in flight), max_model_len (default input + output rounded up to 256),
 * gpu_memory_utilization, enforce_eager, extra_args (an argv array passed through as-is), vllm (executable).
 * Readiness: vLLM opens its socket only once loaded, so GET /health answering 200 plus one real
 * completion is the test.
 */
import { join } from 'node:path';
import { EngineError, InputError, describeValue } from '../errors.js';
import { createOpenAiLoad } from '../workload/openai-load.js';
import { freePort, launch, waitForHealth } from './process.js';
import { scoreBpbWithPromptLogprobs } from './vllm-bpb.js';
const DTYPE_QUANTS = { bf16: 'bfloat16', fp16: 'float16', fp32: 'float32' };
const QUANTIZATION_METHODS = ['fp8', 'awq', 'gptq', 'awq_marlin', 'gptq_marlin', 'bitsandbytes', 'compressed-tensors'];
export const VLLM_QUANTS = [...Object.keys(DTYPE_QUANTS), ...QUANTIZATION_METHODS];
function opt(config, key) {
    return config.engineOptions?.[key];
}
/** The checkpoint for this quant: its own variant if program.md names one, else the model id. */
export function checkpointFor(config) {
    return config.model.variants?.[config.quant] ?? config.model.id;
}
export function maxModelLen(config) {
    const explicit = opt(config, 'max_model_len');
    if (explicit !== undefined)
        return Number(explicit);
    return Math.ceil((config.inputLen + config.outputLen) / 256) * 256;
}
/** The exact argv after `vllm` (no shell ever sees it). */
export function vllmArgs(config, port) {
    const args = ['serve', checkpointFor(config), '--host', '127.0.0.1', '--port', String(port)];
    const dtype = DTYPE_QUANTS[config.quant];
    if (dtype)
        args.push('--dtype', dtype);
    else
        args.push('--quantization', config.quant);
    const kv = opt(config, 'kv_cache_dtype');
    if (kv !== undefined)
        args.push('--kv-cache-dtype', String(kv));
    args.push('--max-num-seqs', String(opt(config, 'max_num_seqs') ?? config.batch));
    args.push('--max-model-len', String(maxModelLen(config)));
    const mem = opt(config, 'gpu_memory_utilization');
    if (mem !== undefined)
        args.push('--gpu-memory-utilization', String(mem));
    if (opt(config, 'enforce_eager') === true)
        args.push('--enforce-eager');
    args.push('--seed', '0', '--disable-log-requests');
    const extra = opt(config, 'extra_args');
    if (typeof extra === 'string' && extra.trim() !== '')
        args.push(...extra.trim().split(/\s+/));
    return args;
}
export const vllmEngine = {
    name: 'vllm',
    simulated: false,
    validate(config) {
        if (!VLLM_QUANTS.includes(config.quant)) {
            throw new InputError(`quant ${describeValue(config.quant)} is not supported by the vllm engine; allowed: ${VLLM_QUANTS.join(', ')}`);
        }
        const checkpoint = checkpointFor(config);
        if (checkpoint.trim() === '' || checkpoint.includes('\0'))
            throw new InputError(`models[].id ${describeValue(checkpoint)} is not a model id or path`);
        const checks = [
            ['gpu_memory_utilization', opt(config, 'gpu_memory_utilization'), (v) => v > 0 && v <= 1, 'a number in (0, 1]'],
            ['max_num_seqs', opt(config, 'max_num_seqs'), (v) => Number.isInteger(v) && v >= config.batch, `an integer >= batch (${config.batch})`],
            ['max_model_len', opt(config, 'max_model_len'), (v) => Number.isInteger(v) && v >= config.inputLen + config.outputLen, `an integer >= input_len + output_len (${config.inputLen + config.outputLen})`],
        ];
        for (const [key, value, ok, allowed] of checks) {
            if (value !== undefined && !(typeof value === 'number' && ok(value))) {
                throw new InputError(`engine option ${key} ${describeValue(value)} is invalid; allowed: ${allowed}`);
            }
        }
        const kv = opt(config, 'kv_cache_dtype');
        const kvAllowed = ['auto', 'fp8', 'fp8_e4m3', 'fp8_e5m2'];
        if (kv !== undefined && !kvAllowed.includes(String(kv))) {
            throw new InputError(`engine option kv_cache_dtype ${describeValue(kv)} is invalid; allowed: ${kvAllowed.join(', ')}`);
        }
    },
    serverKey(config) {
        // Everything that is a server flag: a different batch only changes the key when it changes
        // --max-num-seqs (default = batch), so give max_num_seqs to share one server across batches.
        return JSON.stringify(['vllm', vllmArgs(config, 0).filter((a, i, all) => all[i - 1] !== '--port')]);
    },
    async start(config, ctx) {
        const port = await freePort();
        const executable = String(opt(config, 'vllm') ?? process.env.CARBONBENCH_VLLM ?? 'vllm');
        const logFile = join(ctx.artifactDir, 'engine.log');
        const proc = launch({
            command: executable,
            args: vllmArgs(config, port),
            logFile,
            env: ctx.gpus.length > 0 ? { CUDA_VISIBLE_DEVICES: ctx.gpus.join(',') } : {},
        });
        const baseUrl = `http://127.0.0.1:${port}`;
        const server = {
            key: vllmEngine.serverKey(config),
            baseUrl,
            pid: proc.pid,
            logFile,
            died: proc.died,
            load: (cfg, c) => createOpenAiLoad({ baseUrl, model: checkpointFor(cfg), batch: cfg.batch, inputLen: cfg.inputLen, outputLen: cfg.outputLen, seed: 0, dialect: 'vllm', clock: c.clock, signal: c.signal }),
            bpb: (cfg, text) => scoreBpbWithPromptLogprobs({ baseUrl, model: checkpointFor(cfg), text, maxModelLen: maxModelLen(cfg) }),
            stop: () => proc.stop(),
        };
        try {
            await waitForHealth({ url: `${baseUrl}/health`, proc, timeoutS: ctx.startTimeoutS, clock: ctx.clock, signal: ctx.signal });
            await probeCompletion(baseUrl, checkpointFor(config), proc.died);
        }
        catch (err) {
            await proc.stop().catch(() => { });
            throw err;
        }
        return server;
    },
};
/** One real request: readiness is "answers a completion", not only "answers /health". */
export async function probeCompletion(baseUrl, model, died) {
    const res = await Promise.race([
        fetch(`${baseUrl}/v1/completions`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ model, prompt: 'Hello', max_tokens: 2, temperature: 0 }),
            signal: AbortSignal.timeout(120_000),
        }),
        died,
    ]);
    if (res.status !== 200) {
        throw new EngineError(`the first completion request failed: HTTP ${res.status} ${(await res.text()).slice(0, 300)}`);
    }
}
//# sourceMappingURL=vllm.js.map