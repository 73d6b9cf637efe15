/**
 * Parsing of nvidia-smi CSV output, both `--format=csv,noheader,nounits` (what the sampler reads) and
 * `--format=csv` with a header and units (what users often record). Missing values (`[N/A]`,
 * `[Not Supported]`, …) become null, never 0.
 */
import { InputError, TelemetryError } from '../errors.js';
import { parseSmiTimestamp, type TimeZoneSpec } from '../util/time.js';
import { fieldByName, type SmiField } from './smi-fields.js';
import type { GpuSample } from './types.js';

/** Values nvidia-smi prints for "no value". Bracketed and bare spellings both occur. */
const MISSING = new Set(['[N/A]', 'N/A', '[Not Supported]', 'Not Supported', '[Unknown Error]', '[GPU requires reset]', '[Insufficient Permissions]', '']);

/** Unit suffixes of `--format=csv` with units. */
const UNIT_SUFFIX_RE = /\s*(W|MHz|%|MiB|C)$/;

export function isMissing(text: string): boolean {
  return MISSING.has(text.trim());
}

/** A numeric field: null when missing; throws on text that is neither a number nor a missing marker. */
export function parseNumber(text: string): number | null {
  const t = text.trim();
  if (isMissing(t)) return null;
  const bare = t.replace(UNIT_SUFFIX_RE, '');
  if (!/^-?\d+(\.\d+)?$/.test(bare)) throw new Error(`not a number: ${JSON.stringify(text)}`);
  return Number(bare);
}

/** A hex bitmask such as `0x0000000000000001`; null when missing. */
export function parseBitmask(text: string): bigint | null {
  const t = text.trim();
  if (isMissing(t)) return null;
  if (!/^0x[0-9a-fA-F]+$/.test(t)) throw new Error(`not a bitmask: ${JSON.stringify(text)}`);
  return BigInt(t);
}

export type ColumnKey = SmiField['key'] | null;

function emptySample(tS: number, gpuIndex: number): GpuSample {
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
export function parseSampleLine(line: string, keys: readonly ColumnKey[], tz: TimeZoneSpec): GpuSample {
  const cols = line.split(',');
  if (cols.length !== keys.length) {
    throw new Error(`expected ${keys.length} comma-separated values, got ${cols.length}`);
  }
  let tS: number | null = null;
  let gpuIndex = 0;
  const sample = emptySample(0, 0);
  keys.forEach((key, i) => {
    const text = cols[i]!;
    if (key === null) return;
    if (key === 'tS') {
      tS = parseSmiTimestamp(text, tz);
      if (tS === null) throw new Error(`bad timestamp ${JSON.stringify(text.trim())}`);
    } else if (key === 'gpuIndex') {
      const idx = parseNumber(text);
      if (idx === null || !Number.isInteger(idx)) throw new Error(`bad GPU index ${JSON.stringify(text.trim())}`);
      gpuIndex = idx;
    } else if (key === 'eventReasons') {
      sample.eventReasons = parseBitmask(text);
    } else {
      sample[key] = parseNumber(text);
    }
  });
  if (tS === null) throw new Error('line has no timestamp column');
  sample.tS = tS;
  sample.gpuIndex = gpuIndex;
  return sample;
}

/** Column keys of a header line (`timestamp, power.draw [W], …`); unknown fields map to null. */
export function keysFromHeader(header: string): { keys: ColumnKey[]; names: string[] } {
  const names = header.split(',').map((h) => h.replace(/\[[^\]]*\]/, '').trim());
  return { names, keys: names.map((n) => keyForName(n)) };
}

function keyForName(name: string): ColumnKey {
  if (name === 'timestamp') return 'tS';
  if (name === 'index') return 'gpuIndex';
  return fieldByName(name)?.key ?? null;
}

/** Column keys for a `noheader` trace from the user's --fields list. */
export function keysFromFieldList(fields: readonly string[]): ColumnKey[] {
  return fields.map((f) => keyForName(f));
}

export interface ParsedTrace {
  samples: GpuSample[];
  /** Field names of the columns, as given by the header or --fields. */
  fields: string[];
  hadHeader: boolean;
  /** Lines that could not be parsed, with the reason. The energy command refuses a trace with any. */
  badLines: { line: number; reason: string }[];
}

/**
 * Parses a recorded trace in either format. A first line starting with `timestamp` (or any field name
 * followed by a `[unit]`) is a header; otherwise `fields` must name the columns in order.
 */
export function parseTrace(text: string, opts: { fields?: readonly string[]; tz: TimeZoneSpec; source: string }): ParsedTrace {
  const lines = text.split(/\r?\n/);
  let first = 0;
  while (first < lines.length && lines[first]!.trim() === '') first++;
  if (first >= lines.length) throw new InputError(`${opts.source}: the trace is empty`);
  const firstLine = lines[first]!;
  if (/^ERROR:|is not a valid field|is not recognized/.test(firstLine)) {
    throw new InputError(`${opts.source}: this is an nvidia-smi error message, not a trace: ${firstLine.trim().slice(0, 200)}`);
  }
  const hadHeader = /^\s*[a-z_.]+(\s*\[[^\]]*\])?\s*(,|$)/.test(firstLine) && !/^\s*\d/.test(firstLine);
  let keys: ColumnKey[];
  let fields: string[];
  if (hadHeader) {
    ({ keys, names: fields } = keysFromHeader(firstLine));
    first++;
  } else if (opts.fields && opts.fields.length > 0) {
    fields = [...opts.fields];
    keys = keysFromFieldList(fields);
  } else {
    throw new InputError(
      `${opts.source} has no header line (it was recorded with --format=csv,noheader); pass --fields with the --query-gpu fields in recording order, e.g. --fields timestamp,power.draw,power.draw.instant`,
    );
  }
  if (!keys.includes('tS')) {
    throw new InputError(`${opts.source}: the columns (${fields.join(', ')}) include no timestamp; record with --query-gpu=timestamp,power.draw,…`);
  }
  if (!keys.includes('powerW')) {
    throw new InputError(`${opts.source}: the columns (${fields.join(', ')}) include no power.draw; energy needs it`);
  }
  const samples: GpuSample[] = [];
  const badLines: ParsedTrace['badLines'] = [];
  for (let i = first; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    try {
      samples.push(parseSampleLine(line, keys, opts.tz));
    } catch (err) {
      badLines.push({ line: i + 1, reason: (err as Error).message });
    }
  }
  return { samples, fields, hadHeader, badLines };
}

/** Wraps a line-level parse failure of the live sampler. */
export function sampleLineError(line: string, err: unknown): TelemetryError {
  return new TelemetryError(`nvidia-smi printed a line carbonbench cannot parse (${(err as Error).message}): ${JSON.stringify(line.slice(0, 200))}`, { cause: err });
}
