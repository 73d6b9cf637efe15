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
];
/**
 * State of one `carbonbench run`. `running` is also what a crashed run is left in: the next
 * `carbonbench run` on the same db finds it and resumes it (DESIGN.md section 1).
 */
export const RUN_STATUSES = ['running', 'completed', 'interrupted', 'failed'];
/** Where a telemetry sample came from. `replay`: a recorded nvidia-smi trace played back (tests, `energy`). */
export const SAMPLE_SOURCES = ['nvidia-smi', 'nvml', 'sim', 'replay'];
/**
 * How `energy_j` was obtained (DESIGN.md section 6): `nvml` = total-energy counter delta over the window,
 * `nvidia-smi` = trapezoid of power.draw samples, `sim` = the sim engine's model, `table` = looked up in a
 * tabular benchmark (section 7).
 */
export const ENERGY_SOURCES = ['nvml', 'nvidia-smi', 'sim', 'table'];
// ---------------------------------------------------------------------------------------------------
// Errors
/**
 * A store error the user fixes by changing the input: a bad --db path, a file that is not a carbonbench
 * database, a schema newer than this tool, an unsupported URL. Exit code 2 per the CLI contract; it is
 * still a StoreError, so `instanceof StoreError` catches both. (Defined here because src/errors.ts is
 * shared; it may move there.)
 */
export class StoreInputError extends StoreError {
    exitCode = 2;
}
export const RUN_COLUMNS = {
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
};
export const EXPERIMENT_COLUMNS = {
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
    simulated: ['simulated', 'bool'],
    provenance: ['provenance', 'json'],
};
export const SAMPLE_COLUMNS = {
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
export const REQUEST_COLUMNS = {
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
export const BPB_CACHE_COLUMNS = {
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
export const NOTE_COLUMNS = {
    id: ['id', 'int'],
    runId: ['run_id', 'int'],
    experimentId: ['experiment_id', 'int'],
    kind: ['kind', 'text'],
    text: ['text', 'text'],
    createdAt: ['created_at', 'text'],
};
//# sourceMappingURL=types.js.map