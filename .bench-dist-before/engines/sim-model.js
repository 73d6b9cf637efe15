/**
 * The sim engine's performance and power model: a documented, deterministic, pure model of one GPU
 * serving one LLM, so that a whole sweep runs in seconds on a laptop. Every number it gives is
 * simulated and labelled so; the model exists to exercise the search, the protocol and the report, and
 * to land in the right order of magnitude, not to replace a measurement.
 *
 * ## Equations (SI units; P = parameters, b = batch, I = input_len, O = output_len)
 *
 *   weight bytes        W   = P × bytesPerWeight(quant)
 *   KV bytes per token  kv  = 2 (K and V) × layers × kvHeads × headDim × 2 (bf16 cache, vLLM's 'auto')
 *   memory needed       M   = W + b × (I + O) × kv            OOM when M > memoryBytes × 0.9
 *                       (0.9 = vLLM's default gpu_memory_utilization; activations are not modelled)
 *   effective bandwidth BW  = peak bandwidth × ηbw            effective compute F = peak FLOP/s × ηfl
 *   decode step, memory tm  = (W + b × (I + O/2) × kv) / BW   (weights once per step, plus the KV cache of
 *                                                              every sequence at its mean context length)
 *   decode step, compute tc = 2 × P × b / F                   (one multiply-add per weight per token;
 *                                                              attention FLOPs are not modelled)
 *   decode step         ts  = max(tm, tc) + t0 + b × t1       (t0: per-step launch/scheduler overhead,
 *                                                              t1: per-sequence sampling/detokenization)
 *   prefill             tp  = max(2 × P × b × I / F, W / BW)
 *   one batch cycle     T   = tp + O × ts                     (static batching: prefill, then O steps)
 *   throughput          tok/s = b × O / T
 *   activity of a phase x   = min(1, wmem × (memory time / phase time) + (compute time / phase time))
 *                       (wmem < 1: streaming weights from DRAM costs less power than saturating the
 *                        tensor cores; both times are at the *effective* rates, so x = 1 is "as busy as
 *                        this engine gets")
 *   power of a phase    Pw  = idle + (TDP − idle) × (1 − e^(−k·x)) / (1 − e^(−k)),  k = 2 (saturating)
 *   average power       P̄   = (Pw_prefill × tp + Pw_decode × O × ts) / T
 *   energy per token    J/tok = P̄ × T / (b × O)
 *   GPU utilization     util% = 100 × (tp + O × max(tm, tc)) / T   (time with a kernel running, as
 *                                                                   nvidia-smi's utilization.gpu)
 *   regime              'memory' when tm ≥ tc, else 'compute'; ridge batch b* ≈ F × bytesPerWeight / (2 × BW)
 *   server start        20 s + 2 s per GB of weights (simulated load time, so server reuse shows)
 *
 * ## Constants and where they come from
 *
 * Hardware (SIM_HARDWARE): bandwidth, FLOP/s, memory and TDP from the vendors' data sheets where they
 * exist; idle power and temperatures from the recorded H100/H200 traces in tests/fixtures and
 * bench/gpu/results; everything marked "estimate" is ours. Efficiencies ηbw = 0.8 (decode kernels of
 * vLLM/TensorRT-LLM reach roughly 70–85% of peak DRAM bandwidth), ηfl = 0.6 (large-GEMM utilization),
 * t0 = 1 ms and t1 = 10 µs are estimates, calibrated so that Llama 3.1 8B bf16 at batch 1 on an H100
 * decodes at ~140 tok/s, which is what vLLM reaches there. wmem is an estimate per board: 0.6 on HBM
 * (H100/H200: a memory-bound decode draws well over half the TDP), 0.3 on the DGX Spark (LPDDR5x is
 * cheap to stream; calibrated so a memory-bound decode lands in the 60–90 W that independent tests saw).
 *
 * Quantizations (SIM_QUANTS): bytes per weight from the formats (llama.cpp's GGUF block layouts give
 * q8_0 8.5 bits, q4_0 4.5, q4_k_m ≈ 4.85, q5_k_m ≈ 5.69, q6_k ≈ 6.56 bits per weight; AWQ/GPTQ 4-bit with
 * group-128 scales ≈ 4.25). fp8/int8 run the tensor cores at twice the bf16 rate; weight-only formats
 * (awq, gptq, GGUF) dequantize to bf16 and compute at the bf16 rate.
 *
 * Model shapes (modelShape): layers, KV heads and head size of the nearest reference model (by log
 * parameter count, within the family when program.md names a known one) from the models' published
 * config.json: Qwen2.5 0.5B–72B, Qwen3 0.6B–32B, Llama 3.x 1B–70B.
 *
 * BPB (simBpb) is a TOY model: the Chinchilla loss law L(N) = 1.69 + 406.4 / N^0.34 nats per token
 * (Hoffmann et al. 2022, "approach 3" fit, data term dropped), at 4.0 UTF-8 bytes per token (an
 * estimate for English text and 100k+-entry vocabularies), times (1 + penalty) for the quantization:
 * fp8 +0.3%, int8 +0.3%, q8_0 +0.1%, q6_k +0.5%, q5_k_m +1.2%, awq +2.5%, gptq/q4_k_m +3%, int4/nf4 +3.5%,
 * q4_0 +4.5%. The penalties are chosen to order the formats the way published 4-bit/8-bit results do;
 * real penalties depend on model and text (llama.cpp reports smaller ones for its K-quants).
 *
 * ## Against DESIGN section 10's reference numbers (noise 0; see tests/engines/sim-model.test.ts)
 *
 *   Llama 3.1 8B bf16, H100 SXM, batch 64, input 512, output 512: the sim gives 0.115 J/token
 *     (≈ 5,440 tok/s at ≈ 623 W) against ≈ 0.12 J/token measured with vLLM: 0.95× the reference.
 *   Qwen3-8B bf16, H100 SXM, batch 128, input 512, output 512: 0.088 J/token (≈ 7,380 tok/s at ≈ 651 W)
 *     against 0.094 (ML.ENERGY, max_num_seqs 128): 0.94×.
 *   (Both at input = output = 512: the references' length mixes are not given here. Over inputs and
 *   outputs of 128–2048 tokens the Llama figure ranges 0.089–0.22 J/token, and 0.44 when a 2048-token
 *   prompt yields only 128 tokens: prefill dominates.)
 *   0.5B (Qwen2.5-0.5B shape) bf16 on H200, input 128, output 128: batch 1 0.30 J/token (≈ 790 tok/s at
 *     ≈ 237 W) and batch 128 0.0067 J/token, against 3.2 and 0.026 J/token measured with HF
 *     transformers `generate`. The sim models a serving engine (CUDA graphs, ~1 ms per step), while
 *     `generate` at batch 1 spends ~25 ms per token in Python and kernel launches at ~130 W: the sim is
 *     ~11× (batch 1) and ~4× (batch 128) more efficient, as vLLM is against `generate` on small models.
 *     Only the vLLM-like figures are meant to match (within a factor 2: they do, within 6%).
 *   DGX Spark, Qwen2.5-7B bf16, batch 1: ≈ 14 tok/s at ≈ 88 W (6.3 J/token), inside the 60–90 W that
 *     independent tests saw during LLM inference.
 */
export const SIM_HARDWARE_IDS = ['dgx-spark', 'h100-sxm', 'h200'];
export const DEFAULT_SIM_HARDWARE = 'dgx-spark';
const SHARED_EFFICIENCY = {
    bandwidthEfficiency: 0.8,
    computeEfficiency: 0.6,
    stepOverheadS: 1e-3,
    perSequenceOverheadS: 10e-6,
};
/** H100 thermal constants fitted by eye to bench/gpu/results/h100-energy-check-trace.csv. */
const HOPPER_THERMAL = { fastCPerW: 0.022, fastTauS: 1.5, slowCPerW: 0.032, slowTauS: 30, memOffsetC: 3 };
export const SIM_HARDWARE = {
    'dgx-spark': {
        id: 'dgx-spark',
        gpuName: 'NVIDIA GB10',
        memBandwidthBytesPerS: 273e9,
        // NVIDIA quotes 1 PFLOP FP4 with sparsity; halving for dense and per precision step gives
        // 500 (FP4) → 250 (FP8) → 125 TFLOP/s (BF16): an estimate, no dense BF16 figure is published.
        bf16FlopsPerS: 125e12,
        fp8FlopsPerS: 250e12,
        memoryBytes: 128e9,
        tdpW: 140,
        idleW: 30,
        ...SHARED_EFFICIENCY,
        memoryPowerWeight: 0.3,
        // Estimates: ~40 °C idle, ~75 °C at the full 140 W in a small desktop enclosure.
        thermal: { ambientC: 30.4, fastCPerW: 0.1, fastTauS: 2, slowCPerW: 0.22, slowTauS: 60, memOffsetC: 0 },
        clocks: { idleSmMhz: 208, busySmMhz: 2418, powerCapSmMhz: 2100, memMhz: null },
        reports: { memTemp: false, memUsed: false },
        source: 'NVIDIA DGX Spark data sheet: 273 GB/s LPDDR5x, 128 GB unified memory, 1 PFLOP FP4 (sparse); GB10 chip TDP 140 W (data/hardware.csv); ' +
            'idle 30 W within the 22-45 W independent tests saw (DESIGN section 10); BF16/FP8 FLOP/s, clocks and thermal constants are estimates; ' +
            'memory.used, temperature.memory and clocks.mem reported as [N/A] as nvidia-smi does for several fields on GB10',
    },
    'h100-sxm': {
        id: 'h100-sxm',
        gpuName: 'NVIDIA H100 80GB HBM3',
        memBandwidthBytesPerS: 3.35e12,
        bf16FlopsPerS: 989e12,
        fp8FlopsPerS: 1979e12,
        memoryBytes: 80e9,
        tdpW: 700,
        idleW: 71,
        ...SHARED_EFFICIENCY,
        memoryPowerWeight: 0.6,
        thermal: { ambientC: 29, ...HOPPER_THERMAL },
        clocks: { idleSmMhz: 345, busySmMhz: 1980, powerCapSmMhz: 1350, memMhz: 2619 },
        reports: { memTemp: true, memUsed: true },
        source: 'NVIDIA H100 data sheet (SXM): 3.35 TB/s HBM3, 989 TFLOP/s BF16 and 1,979 FP8 dense, 80 GB, 700 W; ' +
            'idle 71 W, 33 °C, clocks 345/1980 MHz idle/boost, ~1350 MHz at the 700 W cap, mem clock 2619 MHz: recorded H100 traces (tests/fixtures/h100, bench/gpu/results)',
    },
    h200: {
        id: 'h200',
        gpuName: 'NVIDIA H200',
        memBandwidthBytesPerS: 4.8e12,
        bf16FlopsPerS: 989e12,
        fp8FlopsPerS: 1979e12,
        memoryBytes: 141e9,
        tdpW: 700,
        idleW: 80,
        ...SHARED_EFFICIENCY,
        memoryPowerWeight: 0.6,
        thermal: { ambientC: 32.7, ...HOPPER_THERMAL },
        clocks: { idleSmMhz: 345, busySmMhz: 1980, powerCapSmMhz: 1350, memMhz: 3201 },
        reports: { memTemp: true, memUsed: true },
        source: 'NVIDIA H200 data sheet: 4.8 TB/s HBM3e, 141 GB, 700 W, H100 compute; idle 80 W at 37 °C and mem clock 3201 MHz from tests/fixtures/h200; thermal constants as the H100',
    },
};
export function isSimHardwareId(id) {
    return SIM_HARDWARE_IDS.includes(id);
}
/** Every quantization name the sim knows, across vLLM, llama.cpp and transformers spellings. */
export const SIM_QUANTS = {
    fp32: { bytesPerWeight: 4, compute: 'fp32', bpbPenaltyRel: 0 },
    bf16: { bytesPerWeight: 2, compute: 'bf16', bpbPenaltyRel: 0 },
    fp16: { bytesPerWeight: 2, compute: 'bf16', bpbPenaltyRel: 0 },
    f16: { bytesPerWeight: 2, compute: 'bf16', bpbPenaltyRel: 0 },
    fp8: { bytesPerWeight: 1, compute: 'fp8', bpbPenaltyRel: 0.003 },
    int8: { bytesPerWeight: 1, compute: 'fp8', bpbPenaltyRel: 0.003 },
    w8a8: { bytesPerWeight: 1, compute: 'fp8', bpbPenaltyRel: 0.003 },
    q8_0: { bytesPerWeight: 8.5 / 8, compute: 'bf16', bpbPenaltyRel: 0.001 },
    q6_k: { bytesPerWeight: 6.56 / 8, compute: 'bf16', bpbPenaltyRel: 0.005 },
    q5_k_m: { bytesPerWeight: 5.69 / 8, compute: 'bf16', bpbPenaltyRel: 0.012 },
    awq: { bytesPerWeight: 4.25 / 8, compute: 'bf16', bpbPenaltyRel: 0.025 },
    awq_marlin: { bytesPerWeight: 4.25 / 8, compute: 'bf16', bpbPenaltyRel: 0.025 },
    gptq: { bytesPerWeight: 4.25 / 8, compute: 'bf16', bpbPenaltyRel: 0.03 },
    gptq_marlin: { bytesPerWeight: 4.25 / 8, compute: 'bf16', bpbPenaltyRel: 0.03 },
    q4_k_m: { bytesPerWeight: 4.85 / 8, compute: 'bf16', bpbPenaltyRel: 0.03 },
    int4: { bytesPerWeight: 4.25 / 8, compute: 'bf16', bpbPenaltyRel: 0.035 },
    bitsandbytes: { bytesPerWeight: 4.25 / 8, compute: 'bf16', bpbPenaltyRel: 0.035 },
    q4_0: { bytesPerWeight: 4.5 / 8, compute: 'bf16', bpbPenaltyRel: 0.045 },
};
export const SIM_QUANT_NAMES = Object.keys(SIM_QUANTS);
/** KV cache element size: bf16 (vLLM's kv_cache_dtype 'auto' on a bf16/fp16 model). */
export const KV_BYTES_PER_ELEMENT = 2;
/** Share of memoryBytes the engine may fill (vLLM's default gpu_memory_utilization). */
export const MEMORY_UTILIZATION = 0.9;
/** k in the saturating power curve. */
export const POWER_SATURATION_K = 2;
export const SERVER_START_BASE_S = 20;
export const SERVER_START_S_PER_GB = 2;
/** Activity while a server loads its weights (disk → memory, almost no GPU work): an estimate. */
export const LOADING_ACTIVITY = 0.05;
/** Published config.json values (num_hidden_layers, num_key_value_heads, head_dim or hidden/heads). */
const REFERENCE_SHAPES = [
    { family: 'qwen2.5', reference: 'Qwen2.5-0.5B', params: 0.49e9, layers: 24, kvHeads: 2, headDim: 64 },
    { family: 'qwen2.5', reference: 'Qwen2.5-1.5B', params: 1.54e9, layers: 28, kvHeads: 2, headDim: 128 },
    { family: 'qwen2.5', reference: 'Qwen2.5-3B', params: 3.09e9, layers: 36, kvHeads: 2, headDim: 128 },
    { family: 'qwen2.5', reference: 'Qwen2.5-7B', params: 7.61e9, layers: 28, kvHeads: 4, headDim: 128 },
    { family: 'qwen2.5', reference: 'Qwen2.5-14B', params: 14.7e9, layers: 48, kvHeads: 8, headDim: 128 },
    { family: 'qwen2.5', reference: 'Qwen2.5-32B', params: 32.5e9, layers: 64, kvHeads: 8, headDim: 128 },
    { family: 'qwen2.5', reference: 'Qwen2.5-72B', params: 72.7e9, layers: 80, kvHeads: 8, headDim: 128 },
    { family: 'qwen3', reference: 'Qwen3-0.6B', params: 0.6e9, layers: 28, kvHeads: 8, headDim: 128 },
    { family: 'qwen3', reference: 'Qwen3-1.7B', params: 1.7e9, layers: 28, kvHeads: 8, headDim: 128 },
    { family: 'qwen3', reference: 'Qwen3-4B', params: 4.0e9, layers: 36, kvHeads: 8, headDim: 128 },
    { family: 'qwen3', reference: 'Qwen3-8B', params: 8.19e9, layers: 36, kvHeads: 8, headDim: 128 },
    { family: 'qwen3', reference: 'Qwen3-14B', params: 14.8e9, layers: 40, kvHeads: 8, headDim: 128 },
    { family: 'qwen3', reference: 'Qwen3-32B', params: 32.8e9, layers: 64, kvHeads: 8, headDim: 128 },
    { family: 'llama', reference: 'Llama-3.2-1B', params: 1.24e9, layers: 16, kvHeads: 8, headDim: 64 },
    { family: 'llama', reference: 'Llama-3.2-3B', params: 3.21e9, layers: 28, kvHeads: 8, headDim: 128 },
    { family: 'llama', reference: 'Llama-3.1-8B', params: 8.03e9, layers: 32, kvHeads: 8, headDim: 128 },
    { family: 'llama', reference: 'Llama-3.1-70B', params: 70.6e9, layers: 80, kvHeads: 8, headDim: 128 },
];
function familyOf(family) {
    const f = (family ?? '').toLowerCase();
    if (f.startsWith('qwen3'))
        return 'qwen3';
    if (f.startsWith('qwen'))
        return 'qwen2.5';
    if (f.startsWith('llama'))
        return 'llama';
    return null;
}
/** The shape of the reference model nearest in log(params), within `family` when it is a known one. */
export function modelShape(params, family) {
    const fam = familyOf(family);
    const pool = fam ? REFERENCE_SHAPES.filter((r) => r.family === fam) : REFERENCE_SHAPES;
    let best = pool[0];
    for (const r of pool)
        if (Math.abs(Math.log(params / r.params)) < Math.abs(Math.log(params / best.params)))
            best = r;
    return { layers: best.layers, kvHeads: best.kvHeads, headDim: best.headDim, reference: best.reference };
}
function quantSpec(quant) {
    const q = SIM_QUANTS[quant];
    if (!q)
        throw new RangeError(`quant ${JSON.stringify(quant)} is unknown to the sim model; allowed: ${SIM_QUANT_NAMES.join(', ')}`);
    return q;
}
/** Peak FLOP/s the matmuls of `quant` run at (fp32 runs on TF32 tensor cores: half the bf16 rate). */
export function peakFlopsPerS(hw, quant) {
    const q = quantSpec(quant);
    return q.compute === 'fp8' ? hw.fp8FlopsPerS : q.compute === 'fp32' ? hw.bf16FlopsPerS / 2 : hw.bf16FlopsPerS;
}
/** Pw = idle + (TDP − idle) × (1 − e^(−k·x)) / (1 − e^(−k)) for an activity x clamped to [0, 1]. */
export function powerForActivity(hw, activity) {
    const x = Math.min(1, Math.max(0, activity));
    const k = POWER_SATURATION_K;
    return hw.idleW + (hw.tdpW - hw.idleW) * ((1 - Math.exp(-k * x)) / (1 - Math.exp(-k)));
}
/** Weight bytes W = P × bytesPerWeight. */
export function weightBytes(params, quant) {
    return params * quantSpec(quant).bytesPerWeight;
}
export function kvBytesPerToken(shape) {
    return 2 * shape.layers * shape.kvHeads * shape.headDim * KV_BYTES_PER_ELEMENT;
}
/** Simulated server start: 20 s + 2 s per GB (1e9 bytes) of weights. */
export function serverStartS(params, quant) {
    return SERVER_START_BASE_S + SERVER_START_S_PER_GB * (weightBytes(params, quant) / 1e9);
}
/** The whole model for one workload on one board (see the header for the equations). */
export function simulate(hw, w) {
    const shape = modelShape(w.params, w.family);
    const W = weightBytes(w.params, w.quant);
    const kv = kvBytesPerToken(shape);
    const bw = hw.memBandwidthBytesPerS * hw.bandwidthEfficiency;
    const flops = peakFlopsPerS(hw, w.quant) * hw.computeEfficiency;
    const b = w.batch;
    const kvCacheBytes = b * (w.inputLen + w.outputLen) * kv;
    const memoryNeededBytes = W + kvCacheBytes;
    const memoryAvailableBytes = hw.memoryBytes * MEMORY_UTILIZATION;
    const decodeMemoryS = (W + b * (w.inputLen + w.outputLen / 2) * kv) / bw;
    const decodeComputeS = (2 * w.params * b) / flops;
    const decodeBusyS = Math.max(decodeMemoryS, decodeComputeS);
    const decodeStepS = decodeBusyS + hw.stepOverheadS + b * hw.perSequenceOverheadS;
    const prefillComputeS = (2 * w.params * b * w.inputLen) / flops;
    const prefillMemoryS = W / bw;
    const prefillS = Math.max(prefillComputeS, prefillMemoryS);
    const cycleS = prefillS + w.outputLen * decodeStepS;
    const tokPerS = (b * w.outputLen) / cycleS;
    const activity = (memoryS, computeS, phaseS) => (hw.memoryPowerWeight * memoryS + computeS) / phaseS;
    const prefillPowerW = powerForActivity(hw, activity(prefillMemoryS, prefillComputeS, prefillS));
    const decodePowerW = powerForActivity(hw, activity(decodeMemoryS, decodeComputeS, decodeStepS));
    const powerW = (prefillPowerW * prefillS + decodePowerW * w.outputLen * decodeStepS) / cycleS;
    return {
        weightBytes: W,
        kvBytesPerToken: kv,
        kvCacheBytes,
        memoryNeededBytes,
        memoryAvailableBytes,
        oom: memoryNeededBytes > memoryAvailableBytes,
        decodeMemoryS,
        decodeComputeS,
        decodeStepS,
        prefillS,
        cycleS,
        tokPerS,
        regime: decodeMemoryS >= decodeComputeS ? 'memory' : 'compute',
        prefillPowerW,
        decodePowerW,
        powerW,
        utilPct: (100 * (prefillS + w.outputLen * decodeBusyS)) / cycleS,
        jPerToken: (powerW * cycleS) / (b * w.outputLen),
        atPowerCap: powerW >= 0.98 * hw.tdpW,
        serverStartS: serverStartS(w.params, w.quant),
    };
}
/** Chinchilla (Hoffmann et al. 2022, approach 3): L(N) = E + A / N^α, nats per token. */
export const CHINCHILLA = { E: 1.69, A: 406.4, alpha: 0.34 };
/** UTF-8 bytes per token of English text with a 100k+-entry vocabulary: an estimate. */
export const BYTES_PER_TOKEN = 4.0;
/** TOY bits per byte: the Chinchilla loss at `params`, in bits per byte, × (1 + the quant's penalty). */
export function simBpb(params, quant) {
    const natsPerToken = CHINCHILLA.E + CHINCHILLA.A / params ** CHINCHILLA.alpha;
    return (natsPerToken / Math.LN2 / BYTES_PER_TOKEN) * (1 + quantSpec(quant).bpbPenaltyRel);
}
/**
 * Deterministic noise: a standard normal draw that depends only on `key` (FNV-1a hash → mulberry32 →
 * Box–Muller), clipped to ±3. Random access by key, so a segment's noise does not depend on which
 * segments were asked for before it.
 */
export function normalFromKey(key) {
    let h = 0x811c9dc5;
    for (let i = 0; i < key.length; i++) {
        h ^= key.charCodeAt(i);
        h = Math.imul(h, 0x01000193) >>> 0;
    }
    const next = mulberry32(h);
    const u1 = Math.max(next(), 1e-12);
    const u2 = next();
    const z = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    return Math.max(-3, Math.min(3, z));
}
function mulberry32(seed) {
    let a = seed >>> 0;
    return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}
/** A multiplicative factor 1 + σ·z (z from normalFromKey); exactly 1 when σ = 0. */
export function noiseFactor(key, sigma) {
    return sigma === 0 ? 1 : 1 + sigma * normalFromKey(key);
}
//# sourceMappingURL=sim-model.js.map