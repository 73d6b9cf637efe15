import { InputError } from '../errors.js';
const OFFSET_RE = /^([+-])(\d{2}):?(\d{2})$/;
/** Validates a --tz value; throws InputError naming what is allowed. */
export function validateTimeZone(tz) {
    if (tz === 'local' || tz === 'UTC' || OFFSET_RE.test(tz))
        return tz;
    try {
        new Intl.DateTimeFormat('en-US', { timeZone: tz });
        return tz;
    }
    catch {
        throw new InputError(`--tz ${JSON.stringify(tz)} is not a time zone; allowed: local, UTC, a fixed offset like +02:00, or an IANA name like Europe/Paris`);
    }
}
/** The zone `local` resolves to, for messages ("assuming timestamps are in Europe/Paris"). */
export function describeTimeZone(tz) {
    if (tz !== 'local')
        return tz;
    return Intl.DateTimeFormat().resolvedOptions().timeZone ?? 'the system zone';
}
/** Offset of `tz` from UTC in milliseconds at the UTC instant `utcMs`. */
function offsetMs(tz, utcMs) {
    if (tz === 'UTC')
        return 0;
    const fixed = OFFSET_RE.exec(tz);
    if (fixed) {
        const sign = fixed[1] === '-' ? -1 : 1;
        return sign * (Number(fixed[2]) * 60 + Number(fixed[3])) * 60_000;
    }
    if (tz === 'local')
        return -new Date(utcMs).getTimezoneOffset() * 60_000;
    const parts = new Intl.DateTimeFormat('en-US', {
        timeZone: tz,
        hourCycle: 'h23',
        year: 'numeric',
        month: '2-digit',
        day: '2-digit',
        hour: '2-digit',
        minute: '2-digit',
        second: '2-digit',
    }).formatToParts(new Date(utcMs));
    const get = (type) => Number(parts.find((p) => p.type === type)?.value);
    const asUtc = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
    return asUtc - Math.floor(utcMs / 1000) * 1000;
}
/** Epoch milliseconds of a wall-clock time in `tz`. */
export function wallTimeToEpochMs(fields, tz) {
    const naive = Date.UTC(fields.year, fields.month - 1, fields.day, fields.hour, fields.minute, fields.second, fields.ms);
    // Two passes settle the offset across a DST change.
    let guess = naive - offsetMs(tz, naive);
    guess = naive - offsetMs(tz, guess);
    return guess;
}
const SMI_TS_RE = /^(\d{4})\/(\d{2})\/(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/;
/** Parses nvidia-smi's `timestamp` field ("2026/11/26 05:08:00.942") into epoch seconds, or null. */
export function parseSmiTimestamp(text, tz) {
    const m = SMI_TS_RE.exec(text.trim());
    if (!m)
        return null;
    const frac = m[7] ?? '0';
    const ms = Number(frac.padEnd(3, '0').slice(0, 3)) + Number(`0.${frac.slice(3) || '0'}`);
    const epochMs = wallTimeToEpochMs({
        year: Number(m[1]),
        month: Number(m[2]),
        day: Number(m[3]),
        hour: Number(m[4]),
        minute: Number(m[5]),
        second: Number(m[6]),
        ms,
    }, tz);
    return epochMs / 1000;
}
/**
 * Parses a user's --from/--to: epoch seconds (`1795669684.74`), an ISO-8601 instant with zone
 * (`2026-11-26T05:08:04Z`), or a wall time without zone (ISO `2026-11-26T05:08:04` or nvidia-smi's
 * `2026/11/26 05:08:04`), which is read in `tz` like the trace itself.
 */
export function parseInstant(text, tz, flag) {
    const s = text.trim();
    if (/^\d+(\.\d+)?$/.test(s))
        return Number(s);
    const smi = parseSmiTimestamp(s, tz);
    if (smi !== null)
        return smi;
    const iso = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?(Z|[+-]\d{2}:?\d{2})?$/.exec(s);
    if (iso) {
        const frac = iso[7] ?? '0';
        const fields = {
            year: Number(iso[1]),
            month: Number(iso[2]),
            day: Number(iso[3]),
            hour: Number(iso[4]),
            minute: Number(iso[5]),
            second: Number(iso[6] ?? '0'),
            ms: Number(`0.${frac}`) * 1000,
        };
        const zone = iso[8] === undefined ? tz : iso[8] === 'Z' ? 'UTC' : iso[8];
        return wallTimeToEpochMs(fields, zone) / 1000;
    }
    throw new InputError(`${flag} ${JSON.stringify(text)} is not a time; allowed: epoch seconds (1795669684.74), ISO-8601 (2026-11-26T05:08:04Z, or without zone = --tz), or nvidia-smi's format (2026/11/26 05:08:04.123)`);
}
/** ISO-8601 UTC text of epoch seconds, millisecond precision. */
export function isoFromEpochS(tS) {
    return new Date(Math.round(tS * 1000)).toISOString();
}
//# sourceMappingURL=time.js.map