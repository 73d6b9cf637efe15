/** Parsing and validation of CLI flag values; messages name the flag, the value and what is allowed. */
import { InputError, describeValue } from '../errors.js';
export function intFlag(flag, text, min, max) {
    if (text === undefined)
        return undefined;
    const n = Number(text);
    if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
        throw new InputError(`${flag} ${describeValue(text)} is invalid; allowed: an integer from ${min} to ${max}`);
    }
    return n;
}
export function numberFlag(flag, text, min, max, what = 'a number') {
    if (text === undefined)
        return undefined;
    const n = Number(text);
    if (text.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
        throw new InputError(`${flag} ${describeValue(text)} is invalid; allowed: ${what} from ${min} to ${max}`);
    }
    return n;
}
export function gpuListFlag(flag, text) {
    if (text === undefined)
        return undefined;
    const parts = text.split(',').map((s) => s.trim());
    if (parts.some((p) => !/^\d{1,3}$/.test(p)))
        throw new InputError(`${flag} ${describeValue(text)} is invalid; allowed: comma-separated GPU indices such as 0 or 0,1`);
    return parts.map(Number);
}
/** `key=value` engine options; numbers and booleans are typed. */
export function engineOptionFlags(values) {
    const out = {};
    for (const v of values ?? []) {
        const m = /^([a-z_][a-z0-9_]*)=(.*)$/.exec(v);
        if (!m)
            throw new InputError(`--engine-option ${describeValue(v)} is invalid; allowed: key=value with a snake_case key, e.g. gpu_memory_utilization=0.8`);
        const raw = m[2];
        out[m[1]] = raw === 'true' ? true : raw === 'false' ? false : raw !== '' && Number.isFinite(Number(raw)) ? Number(raw) : raw;
    }
    return out;
}
//# sourceMappingURL=flags.js.map