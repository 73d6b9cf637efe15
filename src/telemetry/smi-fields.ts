/**
 * The nvidia-smi `--query-gpu` fields carbonbench samples, their aliases across driver versions, and
 * the parsing of `nvidia-smi --help-query-gpu` to learn which names this driver accepts.
 */
import type { GpuSample } from './types.js';

/** Key of a GpuSample that a query field fills (timestamp and index are handled separately). */
export type SampleKey = Exclude<keyof GpuSample, 'tS' | 'gpuIndex'>;

export interface SmiField {
  /** Canonical (current-driver) name. */
  name: string;
  /** Other names for the same field, newest first (older drivers know only these). */
  aliases: readonly string[];
  /** The sample key it fills; 'tS'/'gpuIndex' for timestamp/index. */
  key: SampleKey | 'tS' | 'gpuIndex';
  /** A sampler cannot run without it. */
  required: boolean;
}

/** DESIGN section 5: the fields sampled at 1 Hz during every experiment, in query order. */
export const SAMPLER_FIELDS: readonly SmiField[] = [
  { name: 'timestamp', aliases: [], key: 'tS', required: true },
  { name: 'index', aliases: [], key: 'gpuIndex', required: true },
  { name: 'power.draw', aliases: [], key: 'powerW', required: true },
  { name: 'power.draw.instant', aliases: ['gpu.power.draw.instant'], key: 'powerInstantW', required: false },
  { name: 'temperature.gpu', aliases: [], key: 'tempC', required: true },
  { name: 'temperature.memory', aliases: [], key: 'memTempC', required: false },
  { name: 'clocks.sm', aliases: ['clocks.current.sm'], key: 'smClockMhz', required: false },
  { name: 'clocks.mem', aliases: ['clocks.current.memory'], key: 'memClockMhz', required: false },
  { name: 'fan.speed', aliases: [], key: 'fanPct', required: false },
  { name: 'utilization.gpu', aliases: [], key: 'utilPct', required: false },
  { name: 'memory.used', aliases: [], key: 'memUsedMib', required: false },
  {
    name: 'clocks_event_reasons.active',
    aliases: ['clocks_throttle_reasons.active'],
    key: 'eventReasons',
    required: false,
  },
  // Issue 9: the module boundary of superchips; [N/A] (null) on discrete boards such as H100/H200.
  { name: 'module.power.draw.average', aliases: [], key: 'modulePowerW', required: false },
];

/** Every known name (canonical and alias) → its field. Trace headers may use either. */
const BY_NAME = new Map<string, SmiField>();
for (const field of SAMPLER_FIELDS) {
  BY_NAME.set(field.name, field);
  for (const alias of field.aliases) BY_NAME.set(alias, field);
}
// Fields that appear in recorded traces under other spellings (full-format header, -q names).
BY_NAME.set('clocks.current.sm', SAMPLER_FIELDS.find((f) => f.key === 'smClockMhz')!);
BY_NAME.set('clocks.current.memory', SAMPLER_FIELDS.find((f) => f.key === 'memClockMhz')!);
BY_NAME.set('gpu.power.draw.instant', SAMPLER_FIELDS.find((f) => f.key === 'powerInstantW')!);

/** The sampler field a query or header name stands for, or undefined for fields we do not sample. */
export function fieldByName(name: string): SmiField | undefined {
  return BY_NAME.get(name.trim());
}

/**
 * Parses `nvidia-smi --help-query-gpu` output: lines like `"clocks.current.sm" or "clocks.sm"`.
 * Returns every accepted name.
 */
export function parseHelpQueryGpu(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split(/\r?\n/)) {
    // Field lines start with a quoted name; description lines that quote values ("0: Default") do not
    // match the field-name charset because of the colon and space.
    const m = /^"([A-Za-z0-9_.]+)"(?:\s+or\s+"([A-Za-z0-9_.]+)")*\s*$/.exec(line.trim());
    if (!m) continue;
    for (const quoted of line.matchAll(/"([A-Za-z0-9_.]+)"/g)) names.add(quoted[1]!);
  }
  return names;
}

export interface ResolvedQuery {
  /** Names to pass to --query-gpu, in order; output columns follow this order. */
  queryNames: string[];
  /** Sample key for each column, same order. */
  keys: SmiField['key'][];
  /** Fields this driver does not know: their values stay null in every sample. */
  unsupported: string[];
}

/**
 * Picks, for each sampler field, the first name the driver accepts (canonical before aliases).
 * A required field the driver does not know is an error for the caller to report.
 */
export function resolveQuery(accepted: ReadonlySet<string>, fields: readonly SmiField[] = SAMPLER_FIELDS): ResolvedQuery & {
  missingRequired: string[];
} {
  const queryNames: string[] = [];
  const keys: SmiField['key'][] = [];
  const unsupported: string[] = [];
  const missingRequired: string[] = [];
  for (const field of fields) {
    const name = [field.name, ...field.aliases].find((n) => accepted.has(n));
    if (name === undefined) {
      (field.required ? missingRequired : unsupported).push(field.name);
      continue;
    }
    queryNames.push(name);
    keys.push(field.key);
  }
  return { queryNames, keys, unsupported, missingRequired };
}

/** clocks_event_reasons bits (nvml.h nvmlClocksEventReason*). */
export const EVENT_REASON_BITS = {
  gpuIdle: 0x1n,
  applicationsClocksSetting: 0x2n,
  swPowerCap: 0x4n,
  hwSlowdown: 0x8n,
  syncBoost: 0x10n,
  swThermalSlowdown: 0x20n,
  hwThermalSlowdown: 0x40n,
  hwPowerBrakeSlowdown: 0x80n,
  displayClockSetting: 0x100n,
} as const;

export type EventReason = keyof typeof EVENT_REASON_BITS;

/** Reasons that mean the GPU was slowed by heat or power during a measurement. */
export const THROTTLE_REASONS: readonly EventReason[] = [
  'swThermalSlowdown',
  'hwThermalSlowdown',
  'hwSlowdown',
  'swPowerCap',
  'hwPowerBrakeSlowdown',
];

/** Decodes a clocks_event_reasons.active bitmask into reason names. */
export function decodeEventReasons(mask: bigint): EventReason[] {
  return (Object.keys(EVENT_REASON_BITS) as EventReason[]).filter((r) => (mask & EVENT_REASON_BITS[r]) !== 0n);
}

/** The throttle reasons present in a bitmask (subset of THROTTLE_REASONS). */
export function throttleReasons(mask: bigint): EventReason[] {
  return decodeEventReasons(mask).filter((r) => THROTTLE_REASONS.includes(r));
}
