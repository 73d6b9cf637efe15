/**
 * One error base class, a subclass per concern (STYLE.md). `exitCode` follows the CLI contract:
 * 1 = runtime failure, 2 = usage or input error.
 */
export interface ErrorDetails {
  /** The command that ran, as an argument array (never a shell string). */
  command?: readonly string[];
  exitCode?: number | null;
  /** Last lines of the program's stderr/stdout, newest last. */
  outputTail?: string;
  durationMs?: number;
  cause?: unknown;
}

export class CarbonbenchError extends Error {
  readonly exitCode: 1 | 2 = 1;
  readonly details: ErrorDetails;

  constructor(message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.details = details;
  }
}

/** Bad CLI flags, bad program.md, a malformed trace: the user can fix it. Exit code 2. */
export class InputError extends CarbonbenchError {
  override readonly exitCode = 2 as const;
}

/** nvidia-smi or NVML failed, went silent, or printed something unexpected. */
export class TelemetryError extends CarbonbenchError {}

/** An energy window that cannot be measured honestly (not covered by samples, counter reset, …). */
export class EnergyWindowError extends CarbonbenchError {}

/** results.db cannot be opened, migrated or written. */
export class StoreError extends CarbonbenchError {}

/** The machine cannot run a real experiment (no GPU, no engine). */
export class EnvironmentError extends CarbonbenchError {}

/** Formats `value` for an error message: `-1` (number), `"abc"` (string). */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return `${JSON.stringify(value)} (string)`;
  if (value === null) return 'null';
  if (Array.isArray(value)) return `${JSON.stringify(value)} (array)`;
  return `${JSON.stringify(value) ?? String(value)} (${typeof value})`;
}

/** An inference engine failed to start, died, hung, or answered wrongly. */
export class EngineError extends CarbonbenchError {}
