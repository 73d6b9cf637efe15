/**
 * Telemetry shapes shared by every source (nvidia-smi, NVML, replay, null).
 * Units live in the names. `null` always means "missing" ([N/A], [Not Supported]), never zero.
 */
export {};
//# sourceMappingURL=types.js.map