/**
 * Parsing of nvidia-smi CSV output, both `--format=csv,noheader,nounits` (what the sampler reads) and
 * `--format=csv` with a header and units (what users often record). Missing values (`[N/A]`,
 * `[Not Supported]`, …) become null, never 0.
 */
import { InputError, TelemetryError } from '../errors.js';
import { parseSmiTimestamp } from '../util/time.js';
import { fieldByName } from './smi-fields.js';
/** Values nvidia-smi prints for "no value". Bracketed and bare spellings both occur. */
const MISSING = new Set(['[N/A]', 'N/A', '[Not Supported]', 'Not Supported', '[Unknown Error]', '[GPU requires reset]', '[Insufficient Permissions]', '']);
/** Unit suffixes of `--format=csv` with units. */
const UNIT_SUFFIX_RE = /\s*(W|MHz|%|MiB|C)$/;
export function isMissing(text) {
    return MISSING.has(text.trim());
}
/** A numeric field: null when missing; throws on text that is neither a number nor a missing marker. */
export function parseNumber(text) {
    const t = text.trim();
    if (isMissing(t))
        return null;
    const bare = t.replace(UNIT_SUFFIX_RE, '');
    if (!/^-?\d+(\.\d+)?$/.test(bare))
        throw new Error(`not a number: ${JSON.stringify(text)}`);
    return Number(bare);
}
/** A hex bitmask such as `0x0000000000000001`; null when missing. */
export function parseBitmask(text) {
    const t = text.trim();
    if (isMissing(t))
        return null;
    if (!/^0x[0-9a-fA-F]+$/.test(t))
        throw new Error(`not a bitmask: ${JSON.stringify(text)}`);
    return BigInt(t);
}
function emptySample(tS, gpuIndex) {
    return {
        tS,
        gpuIndex,
        powerW: null,
        powerInstantW: null,
        tempC: null,
        memTempC: null,
        smClockMhz: null,
        memClockMhz: null,
        fanPct: null,
        utilPct: null,
        memUsedMib: null,
        eventReasons: null,
    };
}
/**
 * Parses one CSV data line whose columns are `keys` (null = a column we ignore). Throws a plain Error
 * describing the problem; callers wrap it with context (line number, file).
 */
export function parseSampleLine(line, keys, tz) {
    const cols = line.split(',');
    if (cols.length !== keys.length) {
        throw new Error(`expected ${keys.length} comma-separated values, got ${cols.length}`);
    }
    let tS = null;
    let gpuIndex = 0;
    const sample = emptySample(0, 0);
    keys.forEach((key, i) => {
        const text = cols[i];
        if (key === null)
            return;
        if (key === 'tS') {
            tS = parseSmiTimestamp(text, tz);
            if (tS === null)
                throw new Error(`bad timestamp ${JSON.stringify(text.trim())}`);
        }
        else if (key === 'gpuIndex') {
            const idx = parseNumber(text);
            if (idx === null || !Number.isInteger(idx))
                throw new Error(`bad GPU index ${JSON.stringify(text.trim())}`);
            gpuIndex = idx;
        }
        else if (key === 'eventReasons') {
            sample.eventReasons = parseBitmask(text);
        }
        else {
            sample[key] = parseNumber(text);
        }
    });
    if (tS === null)
        throw new Error('line has no timestamp column');
    sample.tS = tS;
    sample.gpuIndex = gpuIndex;
    return sample;
}
/** Column keys of a header line (`timestamp, power.draw [W], …`); unknown fields map to null. */
export function keysFromHeader(header) {
    const names = header.split(',').map((h) => h.replace(/\[[^\]]*\]/, '').trim());
    return { names, keys: names.map((n) => keyForName(n)) };
}
function keyForName(name) {
    if (name === 'timestamp')
        return 'tS';
    if (name === 'index')
        return 'gpuIndex';
    return fieldByName(name)?.key ?? null;
}
/** Column keys for a `noheader` trace from the user's --fields list. */
export function keysFromFieldList(fields) {
    return fields.map((f) => keyForName(f));
}
/**
 * Parses a recorded trace in either format. A first line starting with `timestamp` (or any field name
 * followed by a `[unit]`) is a header; otherwise `fields` must name the columns in order.
 */
export function parseTrace(text, opts) {
    const lines = text.split(/\r?\n/);
    let first = 0;
    while (first < lines.length && lines[first].trim() === '')
        first++;
    if (first >= lines.length)
        throw new InputError(`${opts.source}: the trace is empty`);
    const firstLine = lines[first];
    if (/^ERROR:|is not a valid field|is not recognized/.test(firstLine)) {
        throw new InputError(`${opts.source}: this is an nvidia-smi error message, not a trace: ${firstLine.trim().slice(0, 200)}`);
    }
    const hadHeader = /^\s*[a-z_.]+(\s*\[[^\]]*\])?\s*(,|$)/.test(firstLine) && !/^\s*\d/.test(firstLine);
    let keys;
    let fields;
    if (hadHeader) {
        ({ keys, names: fields } = keysFromHeader(firstLine));
        first++;
    }
    else if (opts.fields && opts.fields.length > 0) {
        fields = [...opts.fields];
        keys = keysFromFieldList(fields);
    }
    else {
        throw new InputError(`${opts.source} has no header line (it was recorded with --format=csv,noheader); pass --fields with the --query-gpu fields in recording order, e.g. --fields timestamp,power.draw,power.draw.instant`);
    }
    if (!keys.includes('tS')) {
        throw new InputError(`${opts.source}: the columns (${fields.join(', ')}) include no timestamp; record with --query-gpu=timestamp,power.draw,…`);
    }
    if (!keys.includes('powerW')) {
        throw new InputError(`${opts.source}: the columns (${fields.join(', ')}) include no power.draw; energy needs it`);
    }
    const samples = [];
    const badLines = [];
    for (let i = first; i < lines.length; i++) {
        const line = lines[i];
        if (line.trim() === '')
            continue;
        try {
            samples.push(parseSampleLine(line, keys, opts.tz));
        }
        catch (err) {
            badLines.push({ line: i + 1, reason: err.message });
        }
    }
    return { samples, fields, hadHeader, badLines };
}
/** Wraps a line-level parse failure of the live sampler. */
export function sampleLineError(line, err) {
    return new TelemetryError(`nvidia-smi printed a line carbonbench cannot parse (${err.message}): ${JSON.stringify(line.slice(0, 200))}`, { cause: err });
}
//# sourceMappingURL=smi-parse.js.map