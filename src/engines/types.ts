/**
 * The engine interface (DESIGN section 2): every engine turns a validated config into a running server
 * (or an offline runner), a load generator, and a BPB evaluation. Engines form a registry
 * (src/engines/registry.ts); the experiment protocol (src/runner/experiment.ts) only sees these types.
 */
import type { Logger } from '../log.js';
import type { Clock } from '../runner/clock.js';
import type { LoadGenerator } from '../workload/types.js';

export const ENGINE_NAMES = ['vllm', 'llamacpp', 'transformers', 'sim', 'table'] as const;
export type EngineName = (typeof ENGINE_NAMES)[number];

/** A model as program.md describes it. */
export interface ModelSpec {
  id: string;
  /** Parameter count (total; active for mixture-of-experts where given). */
  params?: number;
  family?: string;
  /** quantization → its own checkpoint (vLLM: a model id or path; llama.cpp: a GGUF path). */
  variants?: Record<string, string>;
}

/** One point of the search space: what one experiment measures. */
export interface ExperimentConfig {
  engine: EngineName;
  model: ModelSpec;
  quant: string;
  batch: number;
  inputLen: number;
  outputLen: number;
  /** Engine-specific server-level options from program.md (e.g. vLLM's gpu_memory_utilization). */
  engineOptions?: Readonly<Record<string, string | number | boolean>>;
}

export interface EngineContext {
  /** experiments/<run>/<id>/: engine.log and other artifacts go here. */
  artifactDir: string;
  log: Logger;
  clock: Clock;
  /** GPUs the engine may use (CUDA_VISIBLE_DEVICES). */
  gpus: readonly number[];
  /** Seconds allowed from launch until ready. */
  startTimeoutS: number;
  /** Aborts start-up and load (SIGINT, thermal abort, budget). */
  signal?: AbortSignal;
  /**
   * How many times this exact config was measured before in this run (from results.db; undefined
   * outside a run). Added for issue 6 (tests/faults/process.test.ts): the sim engine draws its noise per
   * repetition, and counting repetitions per process made a resumed run redraw the first repeat's noise.
   */
  repetition?: number;
}

export interface BpbResult {
  bpb: number;
  /** Σ −log2 p over the scored tokens. */
  bits: number;
  /** UTF-8 bytes of the text whose tokens were scored. */
  bytes: number;
  tokens: number;
  /** How it was computed, stored as provenance (e.g. "vllm prompt_logprobs, 12 chunks of 2048 tokens"). */
  method: string;
}

/** A running server (or offline runner) for one server key. */
export interface EngineServer {
  readonly key: string;
  /** OpenAI-compatible base URL (http://127.0.0.1:PORT) for HTTP engines, null for offline ones. */
  readonly baseUrl: string | null;
  /** The engine process, for the process-table checks; null for in-process engines (sim, table). */
  readonly pid: number | null;
  /** Where the engine's stdout/stderr go. */
  readonly logFile: string | null;
  /** Rejects with an EngineError as soon as the process dies unexpectedly. */
  readonly died: Promise<never>;
  /** A load generator for this config at concurrency = batch. */
  load(config: ExperimentConfig, ctx: EngineContext): LoadGenerator;
  /** Bits per byte on `text` (DESIGN section 6). */
  bpb(config: ExperimentConfig, text: string, ctx: EngineContext): Promise<BpbResult>;
  /** Stops the whole process group (SIGTERM, SIGKILL after a grace period) and checks nothing survived. */
  stop(): Promise<void>;
}

export interface Engine {
  readonly name: EngineName;
  /** True for engines whose numbers are not measurements (sim, table): every row is labelled simulated. */
  readonly simulated: boolean;
  /** Throws InputError naming the key, the value and what is allowed (before any launch). */
  validate(config: ExperimentConfig): void;
  /** Configs with the same key share a running server. */
  serverKey(config: ExperimentConfig): string;
  start(config: ExperimentConfig, ctx: EngineContext): Promise<EngineServer>;
}
