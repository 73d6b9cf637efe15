/** DESIGN section 5: the fields sampled at 1 Hz during every experiment, in query order. */
export const SAMPLER_FIELDS = [
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
];
/** Every known name (canonical and alias) → its field. Trace headers may use either. */
const BY_NAME = new Map();
for (const field of SAMPLER_FIELDS) {
    BY_NAME.set(field.name, field);
    for (const alias of field.aliases)
        BY_NAME.set(alias, field);
}
// Fields that appear in recorded traces under other spellings (full-format header, -q names).
BY_NAME.set('clocks.current.sm', SAMPLER_FIELDS.find((f) => f.key === 'smClockMhz'));
BY_NAME.set('clocks.current.memory', SAMPLER_FIELDS.find((f) => f.key === 'memClockMhz'));
BY_NAME.set('gpu.power.draw.instant', SAMPLER_FIELDS.find((f) => f.key === 'powerInstantW'));
/** The sampler field a query or header name stands for, or undefined for fields we do not sample. */
export function fieldByName(name) {
    return BY_NAME.get(name.trim());
}
/**
 * Parses `nvidia-smi --help-query-gpu` output: lines like `"clocks.current.sm" or "clocks.sm"`.
 * Returns every accepted name.
 */
export function parseHelpQueryGpu(text) {
    const names = new Set();
    for (const line of text.split(/\r?\n/)) {
        // Field lines start with a quoted name; description lines that quote values ("0: Default") do not
        // match the field-name charset because of the colon and space.
        const m = /^"([A-Za-z0-9_.]+)"(?:\s+or\s+"([A-Za-z0-9_.]+)")*\s*$/.exec(line.trim());
        if (!m)
            continue;
        for (const quoted of line.matchAll(/"([A-Za-z0-9_.]+)"/g))
            names.add(quoted[1]);
    }
    return names;
}
/**
 * Picks, for each sampler field, the first name the driver accepts (canonical before aliases).
 * A required field the driver does not know is an error for the caller to report.
 */
export function resolveQuery(accepted, fields = SAMPLER_FIELDS) {
    const queryNames = [];
    const keys = [];
    const unsupported = [];
    const missingRequired = [];
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
};
/** Reasons that mean the GPU was slowed by heat or power during a measurement. */
export const THROTTLE_REASONS = [
    'swThermalSlowdown',
    'hwThermalSlowdown',
    'hwSlowdown',
    'swPowerCap',
    'hwPowerBrakeSlowdown',
];
/** Decodes a clocks_event_reasons.active bitmask into reason names. */
export function decodeEventReasons(mask) {
    return Object.keys(EVENT_REASON_BITS).filter((r) => (mask & EVENT_REASON_BITS[r]) !== 0n);
}
/** The throttle reasons present in a bitmask (subset of THROTTLE_REASONS). */
export function throttleReasons(mask) {
    return decodeEventReasons(mask).filter((r) => THROTTLE_REASONS.includes(r));
}
//# sourceMappingURL=smi-fields.js.map