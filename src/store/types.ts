/**
 * The results store behind one interface (DESIGN.md section 8).
 *
 * Why every method returns a Promise although better-sqlite3 is synchronous: the interface must admit a
 * PostgreSQL implementation later (scale-out, DESIGN.md section 8) without rewriting its callers, and
 * every PostgreSQL driver for Node is asynchronous. The SQLite implementation resolves at once; the
 * cost is one microtask per call, nothing next to an experiment that lasts minutes.
 *
 * Row types use camelCase with the unit in the name (`energyJ`, `windowS`); the database columns use
 * snake_case with the same unit (`energy_j`, `window_s`). The `*_COLUMNS` maps at the end of this file
 * are the single place where the two are paired, so a SQL implementation never spells a column twice.
 */
import { StoreError } from '../errors.js';
import type { GpuSample } from '../telemetry/types.js';

// ---------------------------------------------------------------------------------------------------
// JSON

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

// ---------------------------------------------------------------------------------------------------
// Enumerations. The SQL CHECK constraints in migrations.ts spell the same lists literally: a released
// migration must never change, so it cannot be generated from these constants. tests/store checks that
// both agree.

/** Outcome of one experiment (DESIGN.md sections 5 and 8). */
export const EXPERIMENT_STATUSES = [
  'queued',
  'running',
  'ok',
  'failed',
  'aborted_thermal',
  'interrupted',
  'rejected',
] as const;
export type ExperimentStatus = (typeof EXPERIMENT_STATUSES)[number];

/**
 * State of one `carbonbench run`. `running` is also what a crashed run is left in: the next
 * `carbonbench run` on the same db finds it and resumes it (DESIGN.md section 1).
 */
export const RUN_STATUSES = ['running', 'completed', 'interrupted', 'failed'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** Where a telemetry sample came from. `replay`: a recorded nvidia-smi trace played back (tests, `energy`). */
export const SAMPLE_SOURCES = ['nvidia-smi', 'nvml', 'sim', 'replay'] as const;
export type SampleSource = (typeof SAMPLE_SOURCES)[number];

/**
 * How `energy_j` was obtained (DESIGN.md section 6): `nvml` = total-energy counter delta over the window,
 * `nvidia-smi` = trapezoid of power.draw samples, `sim` = the sim engine's model, `table` = looked up in a
 * tabular benchmark (section 7).
 */
export const ENERGY_SOURCES = ['nvml', 'nvidia-smi', 'sim', 'table'] as const;
export type EnergySource = (typeof ENERGY_SOURCES)[number];

/** Whose grid intensity an experiment used (issue 9 part 2); same list as src/carbon/providers.ts. */
export const INTENSITY_PROVIDERS = ['static', 'electricitymaps', 'watttime'] as const;
export type IntensityProvider = (typeof INTENSITY_PROVIDERS)[number];
/** What the SCI energy covers (src/energy/boundary.ts); the same list as the CHECK in migration 4. */
export { BOUNDARIES, type Boundary } from '../energy/boundary.js';
import type { Boundary } from '../energy/boundary.js';

/**
 * One energy source read over an experiment's window (`experiments.energy_components`, JSON): a RAPL zone,
 * an hwmon sensor, or a GPU figure. `counted`: added into its component's figure; `inBoundary`: that
 * component is part of the boundary SCI used. Keys are snake_case: the JSON is read in SQL.
 */
export interface EnergyComponentRecord {
  component: 'gpu' | 'cpu' | 'dram' | 'module' | null;
  /** `nvml`, `nvidia-smi`, `rapl`, `hwmon-energy`, `hwmon-power`. */
  source: string;
  /** Zone or sensor: `intel-rapl:0 package-0`, `hwmon2/power1 …`, `GPU 0+1`. */
  sensor: string;
  energy_j: number | null;
  counted: boolean;
  in_boundary: boolean;
  /** Why it has no figure or is not counted. */
  note: string | null;
}

// ---------------------------------------------------------------------------------------------------
// Rows

/** One `carbonbench run` (table `runs`). Timestamps are ISO-8601 UTC strings (`2025-01-31T22:04:05.123Z`). */
export interface RunRecord {
  id: number;
  /** program.md as read at the start of the run, front matter and prose. */
  programText: string;
  /** sha256 hex of programText: a resumed run must still be running the same program. */
  programHash: string;
  /** Hardware profile id (data/hardware.csv) the run scores with. */
  hardware: string | null;
  host: string | null;
  /** carbonbench version that ran it. */
  toolVersion: string;
  seed: number | null;
  status: RunStatus;
  startedAt: string;
  /** null while running (or after a crash). */
  endedAt: string | null;
  /** GPU names as nvidia-smi/NVML report them, one per GPU index. */
  gpuNames: string[] | null;
  driverVersion: string | null;
  /** The agent's endpoint is on this machine (it may share the GPU under test); null = no agent. */
  agentEndpointLocal: boolean | null;
  /** The shared study this run is a worker of (`run --study`), or null for a plain run. */
  study: string | null;
}

/** What createRun needs; the rest defaults (status `running`, startedAt now, others NULL). */
export interface NewRun {
  programText: string;
  programHash: string;
  toolVersion: string;
  hardware?: string | null;
  host?: string | null;
  seed?: number | null;
  status?: RunStatus;
  startedAt?: string;
  gpuNames?: string[] | null;
  driverVersion?: string | null;
  agentEndpointLocal?: boolean | null;
  study?: string | null;
}

/**
 * One experiment (table `experiments`): a config, its outcome and its metrics. Everything except the
 * identity and the config is null until measured; null means "not measured / not applicable", never 0.
 */
export interface ExperimentRecord {
  id: number;
  runId: number;
  /** When the row was inserted (queued); ISO-8601 UTC. */
  createdAt: string;

  // config
  engine: string;
  /** Model id as in program.md (HF repo id, GGUF path, …). */
  model: string;
  /** Parameter count (e.g. 7.6e9), from program.md. */
  params: number | null;
  quant: string | null;
  /** Concurrency of the closed-loop load. */
  batch: number | null;
  /** Prompt length in tokens. */
  inputLen: number | null;
  /** Generated tokens per request. */
  outputLen: number | null;
  /** The full validated config, stored as canonical JSON (sorted keys) so equal configs compare equal in SQL. */
  config: JsonObject;
  /** grid | random | bayesian | manual | … (free text: phases may grow without a migration). */
  phase: string | null;
  /** Why this config was chosen (agent answer or strategy). */
  rationale: string | null;
  /** Model, quant and server-level flags: equal keys reuse the running server (DESIGN.md section 5.2). */
  serverKey: string | null;

  // outcome
  status: ExperimentStatus;
  error: string | null;
  startedAt: string | null;
  endedAt: string | null;
  /** Time spent in the cooldown gate before the experiment. */
  cooldownWaitS: number | null;
  /** GPU temperature when the gate opened. */
  startTempC: number | null;

  // measurement window
  /** Window edges, epoch seconds on the same clock as samples.t_s: the samples inside them gave the energy. */
  windowStartTS: number | null;
  windowEndTS: number | null;
  windowS: number | null;
  /** Requests completed inside the window. */
  requests: number | null;
  /** Output tokens generated inside the window (server usage data). */
  tokensOut: number | null;
  tokS: number | null;
  ttftP50Ms: number | null;
  ttftP90Ms: number | null;
  ttftP99Ms: number | null;
  itlP50Ms: number | null;
  itlP90Ms: number | null;
  itlP99Ms: number | null;
  e2eP50Ms: number | null;
  e2eP90Ms: number | null;
  e2eP99Ms: number | null;

  // energy
  /** The energy figure that the scores use (see energySource). */
  energyJ: number | null;
  energySource: EnergySource | null;
  /** NVML counter delta over the window, when the counter exists. */
  energyNvmlJ: number | null;
  /** Trapezoid of nvidia-smi power.draw over the window, when samples cover it. */
  energySmiJ: number | null;
  /** Relative half-width of the 95% CI of J/token (0.03 = ±3%). */
  energyCiRel: number | null;
  /** Number of samples (or per-batch measurements) behind energyCiRel. */
  energySamples: number | null;
  avgPowerW: number | null;
  peakPowerW: number | null;
  maxTempC: number | null;
  /** Thermal or power slowdown bits were set during the window. */
  throttled: boolean | null;
  /** Comma-separated names of the slowdown reasons seen in the window (e.g. `sw_thermal_slowdown`). */
  throttleReasons: string | null;
  /** What energyBoundaryJ covers; null until measured. Rows measured before issue 9 are `gpu`. */
  boundary: Boundary | null;
  /** The energy SCI used: the sum of the components inside the boundary (= energyJ for `gpu`). */
  energyBoundaryJ: number | null;
  /** CPU package energy over the same window (RAPL package zones, or a known hwmon CPU sensor). */
  energyCpuJ: number | null;
  /** DRAM energy over the same window (RAPL dram zones). */
  energyDramJ: number | null;
  /** Superchip module energy over the same window (nvidia-smi module.power.draw.average). */
  energyModuleJ: number | null;
  /** Every source read over the window, counted or not (see EnergyComponentRecord). */
  energyComponents: EnergyComponentRecord[] | null;

  // quality and carbon
  bpb: number | null;
  region: string | null;
  intensityGKwh: number | null;
  /** Embodied carbon attributed to this experiment's window (M in SCI), gCO2e. */
  embodiedG: number | null;
  /** Hardware profile id used for embodied carbon. */
  hardwareId: string | null;
  /** The hardware profile was a fallback match (GPU name not found exactly). */
  hardwareFallback: boolean | null;
  gpusUsed: number | null;
  sciOpUg: number | null;
  sciEmbUg: number | null;
  sciUg: number | null;

  // grid intensity over time (issue 9 part 2); null on rows written before it
  /** Whose figure intensityGKwh is: `static` (the table or a given figure) or the online provider. */
  intensityProvider: IntensityProvider | null;
  /** The provider's zone or region id (`US-NE-ISNE`, `CAISO_NORTH`); null for static. */
  intensityZone: string | null;
  /** `lifecycle` (Electricity Maps), `co2_moer` / `co2_aoer` (WattTime); null for static. */
  intensitySignal: string | null;
  /** ISO-8601 UTC start of the provider's data point that SCI used. */
  intensityAt: string | null;
  /** The figure is not a measured value for the window's hour: provider estimate, data lag, or static fallback. */
  intensityEstimated: boolean | null;
  /** A provider was configured but failed: intensityGKwh is the static figure (provenance says why). */
  intensityFallback: boolean | null;
  /** The static figure (grid-regions.csv or the given intensity), for comparison. */
  intensityStaticGKwh: number | null;
  /** SCI under intensityStaticGKwh, µgCO2e/token (equals sciUg when the static figure was used). */
  sciStaticUg: number | null;
  /** Host label of the worker that ran it (`run --host-label`, default the hostname); null on rows written before the study-workers migration. */
  host: string | null;
  /** Shared study (`run --study`) the experiment belongs to; null for a plain run. */
  study: string | null;
  /** The Optuna trial that claimed this config in the study; null for a plain run. */
  trialNumber: number | null;

  /** Produced by the sim or table engine: not a real measurement. */
  simulated: boolean;
  /** Where each figure came from, keyed by column name: `{ "energy_j": "nvml counter, gpu 0", … }`. */
  provenance: JsonObject | null;
}

/** Fields that updateExperiment may change: everything except the identity. */
export type ExperimentPatch = Partial<Omit<ExperimentRecord, 'id' | 'runId' | 'createdAt'>>;

/** What insertExperiment needs. status defaults to `queued`, simulated to false. */
export type NewExperiment = ExperimentPatch &
  Pick<ExperimentRecord, 'runId' | 'engine' | 'model' | 'config'>;

/** A telemetry sample as stored: the telemetry shape plus where it came from. */
export interface StoredSample extends GpuSample {
  source: SampleSource;
}

/** One request of the load generator (table `requests`). Times are epoch seconds. */
export interface RequestRecord {
  /** Order of issue within the experiment, from 0; unique per experiment. */
  seq: number;
  /** Completed inside the measurement window (false: warm-up or after the window). */
  inWindow: boolean;
  startTS: number;
  endTS: number | null;
  success: boolean;
  error: string | null;
  inputTokens: number | null;
  outputTokens: number | null;
  ttftMs: number | null;
  itlMeanMs: number | null;
  itlMaxMs: number | null;
  e2eMs: number | null;
}

/** One BPB figure: depends on (engine, model, quant, text) only (DESIGN.md section 6). */
export interface BpbCacheEntry {
  /** Caller-built key over engine, model, quant and the text hash. */
  key: string;
  engine: string;
  model: string;
  quant: string | null;
  /** sha256 hex of the held-out text. */
  textSha256: string;
  bpb: number;
  /** UTF-8 bytes of the text that was scored. */
  scoredBytes: number;
  scoredTokens: number | null;
  /** How it was computed (`vllm prompt_logprobs`, `llama-perplexity`, `transformers`). */
  method: string | null;
  createdAt: string;
}
export type NewBpbCacheEntry = Omit<BpbCacheEntry, 'createdAt' | 'scoredTokens' | 'method'> &
  Partial<Pick<BpbCacheEntry, 'createdAt' | 'scoredTokens' | 'method'>>;

/** One provider data point (table `intensity_cache`): the responses a report or resume reuses offline. */
export interface IntensityCacheEntry {
  provider: Exclude<IntensityProvider, 'static'>;
  zone: string;
  signal: string;
  /** Start of the period, epoch seconds (integer). */
  pointTS: number;
  /** The same, ISO-8601 UTC. */
  pointTime: string;
  periodS: number;
  gKwh: number;
  estimated: boolean;
  estimationMethod: string | null;
  fetchedAt: string;
}
export type NewIntensityCacheEntry = Omit<IntensityCacheEntry, 'pointTime' | 'fetchedAt'> & Partial<Pick<IntensityCacheEntry, 'fetchedAt'>>;

/**
 * An entry of the run's notebook (table `notes`). Conventional kinds: `agent` (the agent's notebook),
 * `phase_switch` (which phase, and why), `agent_fallback`, `resume`, `warning`. Free text on purpose:
 * new kinds need no migration.
 */
export interface NoteRecord {
  id: number;
  runId: number;
  experimentId: number | null;
  kind: string;
  text: string;
  createdAt: string;
}

export interface ExperimentFilter {
  runId?: number;
  status?: ExperimentStatus | readonly ExperimentStatus[];
  engine?: string;
  model?: string;
  phase?: string;
  /** Experiments of a shared study (`run --study`), every host's. */
  study?: string;
  simulated?: boolean;
  /** At most this many rows, oldest first (by id). */
  limit?: number;
}

export interface MigrationResult {
  fromVersion: number;
  toVersion: number;
  /** Versions applied by this call, in order; empty when the db was up to date. */
  applied: number[];
}

// ---------------------------------------------------------------------------------------------------
// The interface

export interface Store {
  /** Path or URL, for messages. */
  readonly location: string;
  readonly readonly: boolean;

  /** Applies pending migrations (the opener already did); returns what it did. Refuses a newer schema. */
  migrate(): Promise<MigrationResult>;
  /** Highest applied migration version; 0 for an empty db. */
  schemaVersion(): Promise<number>;

  createRun(run: NewRun): Promise<number>;
  /** Sets the status; ended_at becomes now for a final status and NULL for `running` (resume). */
  updateRunStatus(id: number, status: RunStatus): Promise<void>;
  getRun(id: number): Promise<RunRecord | null>;
  /** All runs, oldest first. */
  listRuns(): Promise<RunRecord[]>;

  insertExperiment(row: NewExperiment): Promise<number>;
  /** Sets the given fields (undefined = leave, null = clear). Unknown id → StoreError. */
  updateExperiment(id: number, patch: ExperimentPatch): Promise<void>;
  getExperiment(id: number): Promise<ExperimentRecord | null>;
  listExperiments(filter?: ExperimentFilter): Promise<ExperimentRecord[]>;

  /** Bulk insert in one transaction with one prepared statement; returns the number of rows. */
  insertSamples(experimentId: number, samples: readonly GpuSample[], source: SampleSource): Promise<number>;
  /** Samples of one experiment ordered by time, then GPU index. */
  listSamples(experimentId: number): Promise<StoredSample[]>;
  /** Bulk insert in one transaction; returns the number of rows. */
  insertRequests(experimentId: number, rows: readonly RequestRecord[]): Promise<number>;
  /** Requests of one experiment ordered by seq. */
  listRequests(experimentId: number): Promise<RequestRecord[]>;

  addNote(runId: number, kind: string, text: string, experimentId?: number | null): Promise<number>;
  /** Notes of one run, oldest first. */
  listNotes(runId: number): Promise<NoteRecord[]>;

  getBpbCache(key: string): Promise<BpbCacheEntry | null>;
  /** Inserts or replaces the entry with that key. */
  putBpbCache(entry: NewBpbCacheEntry): Promise<void>;

  /** Inserts provider data points, replacing those with the same (provider, zone, signal, pointTS); returns the count. */
  putIntensityPoints(points: readonly NewIntensityCacheEntry[]): Promise<number>;
  /** Cached points of one provider series with fromS <= pointTS <= toS, oldest first. */
  listIntensityPoints(key: { provider: IntensityCacheEntry['provider']; zone: string; signal: string }, fromS: number, toS: number): Promise<IntensityCacheEntry[]>;

  /**
   * Runs fn in one transaction: all of its writes commit together, or none do if it throws (or its
   * promise rejects). Use `tx` (or this store: calls from inside fn join the transaction) for the writes.
   * Calls from outside fn wait until it ends, so nobody sees half of it. A nested call makes a
   * savepoint; await nested transactions one at a time.
   */
  transaction<T>(fn: (tx: Store) => Promise<T> | T): Promise<T>;
  /** Closes the connection; idempotent. Refused while a transaction is open. */
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------------
// Errors

/**
 * A store error the user fixes by changing the input: a bad --db path, a file that is not a carbonbench
 * database, a schema newer than this tool, an unsupported URL. Exit code 2 per the CLI contract; it is
 * still a StoreError, so `instanceof StoreError` catches both. (Defined here because src/errors.ts is
 * shared; it may move there.)
 */
export class StoreInputError extends StoreError {
  override readonly exitCode = 2 as const;
}

// ---------------------------------------------------------------------------------------------------
// Column maps: row field → [column, kind]. Shared by any SQL implementation.

/**
 * How a value is stored. `bool`: INTEGER 0/1. `json`: TEXT. `hex64`: a 64-bit unsigned bitmask as TEXT
 * `0x` + 16 hex digits, so nothing is lost to float64 and `SELECT` shows it readably. `int`/`real`: the
 * value must be a finite number (SQLite would store NaN as NULL silently), and `int` an integer.
 */
export type ColumnKind = 'text' | 'int' | 'real' | 'bool' | 'json' | 'hex64';
export type ColumnMap<T> = { readonly [K in keyof T]-?: readonly [column: string, kind: ColumnKind] };

export const RUN_COLUMNS: ColumnMap<RunRecord> = {
  id: ['id', 'int'],
  programText: ['program_text', 'text'],
  programHash: ['program_hash', 'text'],
  hardware: ['hardware', 'text'],
  host: ['host', 'text'],
  toolVersion: ['tool_version', 'text'],
  seed: ['seed', 'int'],
  status: ['status', 'text'],
  startedAt: ['started_at', 'text'],
  endedAt: ['ended_at', 'text'],
  gpuNames: ['gpu_names', 'json'],
  driverVersion: ['driver_version', 'text'],
  agentEndpointLocal: ['agent_endpoint_local', 'bool'],
  study: ['study', 'text'],
};

export const EXPERIMENT_COLUMNS: ColumnMap<ExperimentRecord> = {
  id: ['id', 'int'],
  runId: ['run_id', 'int'],
  createdAt: ['created_at', 'text'],
  engine: ['engine', 'text'],
  model: ['model', 'text'],
  params: ['params', 'real'],
  quant: ['quant', 'text'],
  batch: ['batch', 'int'],
  inputLen: ['input_len', 'int'],
  outputLen: ['output_len', 'int'],
  config: ['config_json', 'json'],
  phase: ['phase', 'text'],
  rationale: ['rationale', 'text'],
  serverKey: ['server_key', 'text'],
  status: ['status', 'text'],
  error: ['error', 'text'],
  startedAt: ['started_at', 'text'],
  endedAt: ['ended_at', 'text'],
  cooldownWaitS: ['cooldown_wait_s', 'real'],
  startTempC: ['start_temp_c', 'real'],
  windowStartTS: ['window_start_t_s', 'real'],
  windowEndTS: ['window_end_t_s', 'real'],
  windowS: ['window_s', 'real'],
  requests: ['requests', 'int'],
  tokensOut: ['tokens_out', 'int'],
  tokS: ['tok_s', 'real'],
  ttftP50Ms: ['ttft_p50_ms', 'real'],
  ttftP90Ms: ['ttft_p90_ms', 'real'],
  ttftP99Ms: ['ttft_p99_ms', 'real'],
  itlP50Ms: ['itl_p50_ms', 'real'],
  itlP90Ms: ['itl_p90_ms', 'real'],
  itlP99Ms: ['itl_p99_ms', 'real'],
  e2eP50Ms: ['e2e_p50_ms', 'real'],
  e2eP90Ms: ['e2e_p90_ms', 'real'],
  e2eP99Ms: ['e2e_p99_ms', 'real'],
  energyJ: ['energy_j', 'real'],
  energySource: ['energy_source', 'text'],
  energyNvmlJ: ['energy_nvml_j', 'real'],
  energySmiJ: ['energy_smi_j', 'real'],
  energyCiRel: ['energy_ci_rel', 'real'],
  energySamples: ['energy_samples', 'int'],
  avgPowerW: ['avg_power_w', 'real'],
  peakPowerW: ['peak_power_w', 'real'],
  maxTempC: ['max_temp_c', 'real'],
  throttled: ['throttled', 'bool'],
  throttleReasons: ['throttle_reasons', 'text'],
  boundary: ['boundary', 'text'],
  energyBoundaryJ: ['energy_boundary_j', 'real'],
  energyCpuJ: ['energy_cpu_j', 'real'],
  energyDramJ: ['energy_dram_j', 'real'],
  energyModuleJ: ['energy_module_j', 'real'],
  energyComponents: ['energy_components', 'json'],
  bpb: ['bpb', 'real'],
  region: ['region', 'text'],
  intensityGKwh: ['intensity_g_kwh', 'real'],
  embodiedG: ['embodied_g', 'real'],
  hardwareId: ['hardware_id', 'text'],
  hardwareFallback: ['hardware_fallback', 'bool'],
  gpusUsed: ['gpus_used', 'int'],
  sciOpUg: ['sci_op_ug', 'real'],
  sciEmbUg: ['sci_emb_ug', 'real'],
  sciUg: ['sci_ug', 'real'],
  intensityProvider: ['intensity_provider', 'text'],
  intensityZone: ['intensity_zone', 'text'],
  intensitySignal: ['intensity_signal', 'text'],
  intensityAt: ['intensity_at', 'text'],
  intensityEstimated: ['intensity_estimated', 'bool'],
  intensityFallback: ['intensity_fallback', 'bool'],
  intensityStaticGKwh: ['intensity_static_g_kwh', 'real'],
  sciStaticUg: ['sci_static_ug', 'real'],
  host: ['host', 'text'],
  study: ['study', 'text'],
  trialNumber: ['trial_number', 'int'],
  simulated: ['simulated', 'bool'],
  provenance: ['provenance', 'json'],
};

/** modulePowerW is not kept per sample: its window integral is experiments.energy_module_j (and telemetry.csv has it). */
export const SAMPLE_COLUMNS: ColumnMap<Omit<StoredSample, 'modulePowerW'>> = {
  source: ['source', 'text'],
  tS: ['t_s', 'real'],
  gpuIndex: ['gpu_index', 'int'],
  powerW: ['power_w', 'real'],
  powerInstantW: ['power_instant_w', 'real'],
  tempC: ['temp_c', 'real'],
  memTempC: ['mem_temp_c', 'real'],
  smClockMhz: ['sm_clock_mhz', 'real'],
  memClockMhz: ['mem_clock_mhz', 'real'],
  fanPct: ['fan_pct', 'real'],
  utilPct: ['util_pct', 'real'],
  memUsedMib: ['mem_used_mib', 'real'],
  eventReasons: ['event_reasons', 'hex64'],
};

export const REQUEST_COLUMNS: ColumnMap<RequestRecord> = {
  seq: ['seq', 'int'],
  inWindow: ['in_window', 'bool'],
  startTS: ['start_t_s', 'real'],
  endTS: ['end_t_s', 'real'],
  success: ['success', 'bool'],
  error: ['error', 'text'],
  inputTokens: ['input_tokens', 'int'],
  outputTokens: ['output_tokens', 'int'],
  ttftMs: ['ttft_ms', 'real'],
  itlMeanMs: ['itl_mean_ms', 'real'],
  itlMaxMs: ['itl_max_ms', 'real'],
  e2eMs: ['e2e_ms', 'real'],
};

export const BPB_CACHE_COLUMNS: ColumnMap<BpbCacheEntry> = {
  key: ['cache_key', 'text'],
  engine: ['engine', 'text'],
  model: ['model', 'text'],
  quant: ['quant', 'text'],
  textSha256: ['text_sha256', 'text'],
  bpb: ['bpb', 'real'],
  scoredBytes: ['scored_bytes', 'int'],
  scoredTokens: ['scored_tokens', 'int'],
  method: ['method', 'text'],
  createdAt: ['created_at', 'text'],
};

export const NOTE_COLUMNS: ColumnMap<NoteRecord> = {
  id: ['id', 'int'],
  runId: ['run_id', 'int'],
  experimentId: ['experiment_id', 'int'],
  kind: ['kind', 'text'],
  text: ['text', 'text'],
  createdAt: ['created_at', 'text'],
};

export const INTENSITY_CACHE_COLUMNS: ColumnMap<IntensityCacheEntry> = {
  provider: ['provider', 'text'],
  zone: ['zone', 'text'],
  signal: ['signal', 'text'],
  pointTS: ['point_t_s', 'int'],
  pointTime: ['point_time', 'text'],
  periodS: ['period_s', 'int'],
  gKwh: ['g_kwh', 'real'],
  estimated: ['estimated', 'bool'],
  estimationMethod: ['estimation_method', 'text'],
  fetchedAt: ['fetched_at', 'text'],
};
