export class CarbonbenchError extends Error {
    exitCode = 1;
    details;
    constructor(message, details = {}) {
        super(message, details.cause === undefined ? undefined : { cause: details.cause });
        this.name = new.target.name;
        this.details = details;
    }
}
/** Bad CLI flags, bad program.md, a malformed trace: the user can fix it. Exit code 2. */
export class InputError extends CarbonbenchError {
    exitCode = 2;
}
/** nvidia-smi or NVML failed, went silent, or printed something unexpected. */
export class TelemetryError extends CarbonbenchError {
}
/** An energy window that cannot be measured honestly (not covered by samples, counter reset, …). */
export class EnergyWindowError extends CarbonbenchError {
}
/** results.db cannot be opened, migrated or written. */
export class StoreError extends CarbonbenchError {
}
/** The machine cannot run a real experiment (no GPU, no engine). */
export class EnvironmentError extends CarbonbenchError {
}
/** Formats `value` for an error message: `-1` (number), `"abc"` (string). */
export function describeValue(value) {
    if (typeof value === 'string')
        return `${JSON.stringify(value)} (string)`;
    if (value === null)
        return 'null';
    if (Array.isArray(value))
        return `${JSON.stringify(value)} (array)`;
    return `${JSON.stringify(value) ?? String(value)} (${typeof value})`;
}
/** An inference engine failed to start, died, hung, or answered wrongly. */
export class EngineError extends CarbonbenchError {
}
//# sourceMappingURL=errors.js.map