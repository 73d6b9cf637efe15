import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { parseNumber, parseTrace } from '../../src/telemetry/smi-parse.js';
import { parseSmiTimestamp } from '../../src/util/time.js';
import { GEN_FIELDS, fixture } from '../helpers/paths.js';

const read = (name: string): string => readFileSync(fixture(name), 'utf8');

describe('nvidia-smi CSV parsing on the recorded files', () => {
  it('smi-full-format-sample.csv: header with units, [N/A] fan speed is null, bitmask exact', () => {
    const t = parseTrace(read('smi-full-format-sample.csv'), { tz: 'UTC', source: 'full' });
    expect(t.hadHeader).toBe(true);
    expect(t.badLines).toEqual([]);
    expect(t.samples).toHaveLength(7);
    const s = t.samples[0]!;
    expect(s).toMatchObject({ gpuIndex: 0, powerW: 80.43, powerInstantW: 81.16, tempC: 37, memTempC: 39, smClockMhz: 345, memClockMhz: 3201, fanPct: null, utilPct: 0, memUsedMib: 0 });
    expect(s.eventReasons).toBe(1n);
    expect(s.tS).toBeCloseTo(Date.UTC(2026, 10, 26, 5, 4, 55, 365) / 1000, 6);
  });

  it('gen-smi-1hz.csv: noheader,nounits with the recorded field list', () => {
    const t = parseTrace(read('gen-smi-1hz.csv'), { fields: GEN_FIELDS.split(','), tz: 'UTC', source: 'gen' });
    expect(t.samples).toHaveLength(64);
    expect(t.samples[0]).toMatchObject({ powerW: 88.1, powerInstantW: 123.36, tempC: 36, smClockMhz: 1980, utilPct: 14, memUsedMib: 1611, eventReasons: 0n });
    // Fields not recorded are missing, not zero.
    expect(t.samples[0]!.fanPct).toBeNull();
    expect(t.samples[0]!.memTempC).toBeNull();
  });

  it('smi-2gpu-1hz.csv: one line per GPU per sample, ignored text columns', () => {
    const fields = 'timestamp,index,name,uuid,power.draw,power.draw.instant,temperature.gpu,clocks.sm,utilization.gpu,memory.used,clocks_event_reasons.active';
    const t = parseTrace(read('smi-2gpu-1hz.csv'), { fields: fields.split(','), tz: 'UTC', source: '2gpu' });
    expect(t.samples.map((s) => s.gpuIndex)).toEqual([0, 1, 0, 1, 0, 1, 0, 1]);
    expect(t.samples[1]).toMatchObject({ powerW: 87.05, tempC: 37, eventReasons: 1n });
  });

  it('smi-throttle-alias.csv: the header answers with clocks_event_reasons names; unknown columns are ignored', () => {
    const t = parseTrace(read('smi-throttle-alias.csv'), { tz: 'UTC', source: 'alias' });
    expect(t.samples).toHaveLength(1);
    expect(t.samples[0]).toMatchObject({ powerW: 128.76, eventReasons: 0n });
  });

  it('bb-smi.csv and h100-varying-load-smi-1hz.csv parse with their field lists', () => {
    expect(parseTrace(read('bb-smi.csv'), { fields: ['timestamp', 'power.draw', 'temperature.gpu'], tz: 'UTC', source: 'bb' }).samples).toHaveLength(6);
    const h100 = parseTrace(read('h100-varying-load-smi-1hz.csv'), { fields: ['timestamp', 'power.draw', 'power.draw.instant'], tz: 'UTC', source: 'h100' });
    expect(h100.badLines).toEqual([]);
    expect(h100.samples).toHaveLength(91);
  });

  it('smi-nounits-once.csv is an nvidia-smi error, not a trace', () => {
    expect(() => parseTrace(read('smi-nounits-once.csv'), { tz: 'UTC', source: 'once' })).toThrow(/nvidia-smi error message/);
  });

  it('smi-2gpu-limits.csv has no timestamp: refused with the reason', () => {
    expect(() => parseTrace(read('smi-2gpu-limits.csv'), { tz: 'UTC', source: 'limits' })).toThrow(/no timestamp/);
  });

  it('a noheader trace without --fields is refused with an example', () => {
    expect(() => parseTrace(read('gen-smi-1hz.csv'), { tz: 'UTC', source: 'gen' })).toThrow(InputError);
    expect(() => parseTrace(read('gen-smi-1hz.csv'), { tz: 'UTC', source: 'gen' })).toThrow(/--fields timestamp,power.draw/);
  });

  it('lines with the wrong column count or garbage are reported with their line numbers', () => {
    const text = read('gen-smi-1hz.csv').split('\n').slice(0, 5);
    text[2] = '2026/11/26 05:08:02.948, 123.90';
    text[3] = 'GPU is lost';
    const t = parseTrace(text.join('\n'), { fields: GEN_FIELDS.split(','), tz: 'UTC', source: 'bad' });
    expect(t.badLines.map((b) => b.line)).toEqual([3, 4]);
    expect(t.samples).toHaveLength(3);
  });
});

describe('values and timestamps', () => {
  it('missing markers are null, numbers keep units stripped, garbage throws', () => {
    for (const m of ['[N/A]', 'N/A', '[Not Supported]', 'Not Supported', ' [N/A] ']) expect(parseNumber(m)).toBeNull();
    expect(parseNumber('80.43 W')).toBe(80.43);
    expect(parseNumber('0')).toBe(0);
    expect(() => parseNumber('eighty')).toThrow();
  });

  it('timestamps are read in the given zone', () => {
    const utc = parseSmiTimestamp('2026/11/26 05:08:00.942', 'UTC')!;
    expect(utc).toBeCloseTo(Date.UTC(2026, 10, 26, 5, 8, 0, 942) / 1000, 6);
    expect(parseSmiTimestamp('2026/11/26 05:08:00.942', '+02:00')).toBeCloseTo(utc - 7200, 6);
    // Paris is UTC+1 in November.
    expect(parseSmiTimestamp('2026/11/26 05:08:00.942', 'Europe/Paris')).toBeCloseTo(utc - 3600, 6);
    expect(parseSmiTimestamp('26.11.2026 05:08', 'UTC')).toBeNull();
  });
});

describe('recorded by carbonbench on an H100 (tests/fixtures/h100)', () => {
  it("the sampler's own query output parses: every field, [N/A] fan, idle bitmask", async () => {
    const { SAMPLER_FIELDS } = await import('../../src/telemetry/smi-fields.js');
    const text = readFileSync(new URL('../fixtures/h100/smi-sampler-query-nounits.csv', import.meta.url), 'utf8');
    // Recorded before issue 9 added module.power.draw.average (the last field): the fields of that query.
    const recorded = SAMPLER_FIELDS.filter((f) => f.name !== 'module.power.draw.average');
    expect(recorded).toHaveLength(SAMPLER_FIELDS.length - 1);
    const t = parseTrace(text, { fields: recorded.map((f) => f.name), tz: 'UTC', source: 'h100' });
    expect(t.badLines).toEqual([]);
    expect(t.samples).toHaveLength(4);
    expect(t.samples[0]).toMatchObject({ gpuIndex: 0, powerW: 71.2, powerInstantW: 71.66, tempC: 33, memTempC: 36, smClockMhz: 345, memClockMhz: 2619, fanPct: null, utilPct: 0, memUsedMib: 0, eventReasons: 1n });
    expect(t.samples[1]!.tS - t.samples[0]!.tS).toBeCloseTo(1.006, 3);
  });

  it('TZ=UTC makes nvidia-smi print UTC (the Tokyo line is 9 h ahead of the UTC one)', () => {
    const [utc, , tokyo] = readFileSync(new URL('../fixtures/h100/smi-tz-check.txt', import.meta.url), 'utf8').split('\n');
    const a = parseSmiTimestamp(utc!, 'UTC')!;
    const b = parseSmiTimestamp(tokyo!, 'UTC')!;
    expect(b - a).toBeCloseTo(9 * 3600, 0);
  });
});
