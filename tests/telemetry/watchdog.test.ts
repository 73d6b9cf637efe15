/**
 * The thermal watchdog on the real sampler: the fake nvidia-smi replays gen-smi-1hz.csv (H200) with one
 * row made hot, and the abort must come with that very sample, before the next one is delivered.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { TelemetryError } from '../../src/errors.js';
import { SmiSampler } from '../../src/telemetry/smi-sampler.js';
import type { SampleSource } from '../../src/telemetry/source.js';
import type { GpuSample } from '../../src/telemetry/types.js';
import { DEFAULT_ABORT_TEMP_C, ThermalAbort, watchTemperature } from '../../src/telemetry/watchdog.js';

const FAKE_SMI = fileURLToPath(new URL('../fakes/nvidia-smi', import.meta.url));
const FIXTURES = fileURLToPath(new URL('../fixtures/h200/', import.meta.url));
const KNOBS = 'FAKE_SMI_TRACE FAKE_SMI_TRACE_FIELDS FAKE_SMI_HELP FAKE_SMI_L FAKE_SMI_SPEED FAKE_SMI_LOOP FAKE_SMI_EXIT_AFTER FAKE_SMI_EXIT_CODE FAKE_SMI_SILENT_AFTER FAKE_SMI_GARBAGE_AT FAKE_SMI_NO_GPU FAKE_SMI_ARGS_LOG FAKE_SMI_PID_FILE';
/** gen-smi-1hz.csv columns: timestamp, power.draw, power.draw.instant, temperature.gpu, … */
const TEMP_COL = 3;

const dirs: string[] = [];
const samplers: SmiSampler[] = [];
afterEach(async () => {
  for (const s of samplers.splice(0)) await s.stop();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'carbonbench-watchdog-'));
  dirs.push(dir);
  return dir;
}

const shellQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** A per-test nvidia-smi (shell wrapper that sets only these FAKE_SMI_* knobs and execs the fake). */
function fakeSmi(knobs: Record<string, string | number>): string {
  const path = join(tempDir(), 'nvidia-smi');
  const script = [
    '#!/bin/sh',
    `unset ${KNOBS}`,
    ...Object.entries(knobs).map(([k, v]) => `export ${k}=${shellQuote(String(v))}`),
    `exec ${shellQuote(process.execPath)} ${shellQuote(FAKE_SMI)} "$@"`,
  ];
  writeFileSync(path, script.join('\n') + '\n', { mode: 0o755 });
  return path;
}

/** The first `n` rows of gen-smi-1hz.csv with temperature.gpu replaced where `temps` says so. */
function traceWithTemps(n: number, temps: (row: number, recorded: string) => string): string {
  const rows = readFileSync(join(FIXTURES, 'gen-smi-1hz.csv'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .slice(0, n)
    .map((line, i) => {
      const cols = line.split(', ');
      cols[TEMP_COL] = temps(i, cols[TEMP_COL]!);
      return cols.join(', ');
    });
  const path = join(tempDir(), 'trace.csv');
  writeFileSync(path, rows.join('\n') + '\n');
  return path;
}

async function startedSampler(trace: string): Promise<SmiSampler> {
  const s = await SmiSampler.create({ executable: fakeSmi({ FAKE_SMI_TRACE: trace, FAKE_SMI_SPEED: 10 }) });
  samplers.push(s);
  return s;
}

function untilSamples(s: SmiSampler, n: number, timeoutMs = 4000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${s.collected().length} of ${n} samples`)), timeoutMs);
    const off = s.onSample(() => {
      if (s.collected().length >= n) {
        clearTimeout(timer);
        off();
        resolve();
      }
    });
  });
}

type Event = { kind: 'sample'; sample: GpuSample; abortedAtDelivery: boolean } | { kind: 'abort'; maxTempC: number | null };

describe('watchTemperature on the real sampler', () => {
  it('aborts with the first sample >= 85 °C, before any later sample is delivered', async () => {
    // Rows 0-5 as recorded (36-37 °C), row 6 at 86 °C, row 7 at 88 °C, then recorded values again.
    const trace = traceWithTemps(12, (row, t) => (row === 6 ? '86' : row === 7 ? '88' : t));
    const s = await startedSampler(trace);
    const events: Event[] = [];
    const watchdog = watchTemperature(s, 85);
    // Registered after the watchdog: sees whether the signal was already aborted when a sample arrived.
    s.onSample((sample) => events.push({ kind: 'sample', sample, abortedAtDelivery: watchdog.signal.aborted }));
    watchdog.signal.addEventListener('abort', () => events.push({ kind: 'abort', maxTempC: watchdog.maxTempC() }));

    await s.start();
    await untilSamples(s, 10);
    watchdog.stop();

    const abortAt = events.findIndex((e) => e.kind === 'abort');
    expect(abortAt).toBeGreaterThan(0);
    expect(events.filter((e) => e.kind === 'abort')).toHaveLength(1);
    const before = events.slice(0, abortAt).map((e) => (e.kind === 'sample' ? e.sample.tempC : null));
    // Only samples up to the hot one were delivered before the abort: rows 0-5 … and none after.
    // (The watchdog listens first, so the abort fires inside the hot sample's delivery.)
    expect(before).toEqual([36, 37, 37, 37, 37, 37]);
    const hot = events[abortAt + 1];
    expect(hot).toMatchObject({ kind: 'sample', abortedAtDelivery: true });
    expect(hot?.kind === 'sample' && hot.sample.tempC).toBe(86);
    // The samples before the hot one did not see an aborted signal.
    expect(events.slice(0, abortAt).every((e) => e.kind === 'sample' && !e.abortedAtDelivery)).toBe(true);
    // The trace went on (88 °C next): the abort did not wait for it.
    expect(events.slice(abortAt + 2).map((e) => (e.kind === 'sample' ? e.sample.tempC : 'abort'))).toEqual(expect.arrayContaining([88]));

    const reason: unknown = watchdog.signal.reason;
    expect(reason).toBeInstanceOf(ThermalAbort);
    const abort = reason as ThermalAbort;
    expect(abort.sample.tempC).toBe(86);
    expect(abort.sample).toBe(s.collected()[6]);
    expect(abort.abortTempC).toBe(85);
    expect(abort.message).toMatch(/GPU 0 reached 86 °C at \d{4}-\d{2}-\d{2}T.*\(abort threshold 85 °C\)/);
    expect(events[abortAt]).toEqual({ kind: 'abort', maxTempC: 86 });
    // The watchdog kept tracking the maximum after the abort, until stop().
    expect(watchdog.maxTempC()).toBe(88);
  });

  it('never aborts on a trace that peaks at 84 °C', async () => {
    const trace = traceWithTemps(10, (row) => String(80 + (row % 5))); // 80 … 84
    const s = await startedSampler(trace);
    const watchdog = watchTemperature(s, DEFAULT_ABORT_TEMP_C);
    await s.start();
    await untilSamples(s, 10);
    expect(s.collected().map((x) => x.tempC)).toEqual([80, 81, 82, 83, 84, 80, 81, 82, 83, 84]);
    expect(watchdog.signal.aborted).toBe(false);
    expect(watchdog.maxTempC()).toBe(84);
    watchdog.stop();
  });

  it('treats exactly the threshold as too hot', async () => {
    const trace = traceWithTemps(6, (row, t) => (row === 3 ? '85' : t));
    const s = await startedSampler(trace);
    const watchdog = watchTemperature(s);
    await s.start();
    await untilSamples(s, 5);
    expect(watchdog.signal.aborted).toBe(true);
    expect((watchdog.signal.reason as ThermalAbort).sample).toBe(s.collected()[3]);
    watchdog.stop();
  });
});

describe('watchTemperature on an in-memory source', () => {
  function source(): SampleSource & { emit(s: Partial<GpuSample>): void } {
    const listeners = new Set<(s: GpuSample) => void>();
    return {
      onSample(fn) {
        listeners.add(fn);
        return () => listeners.delete(fn);
      },
      onError(_fn: (e: TelemetryError) => void) {
        return () => true;
      },
      emit(partial) {
        const s: GpuSample = { tS: 0, gpuIndex: 0, powerW: null, powerInstantW: null, tempC: null, memTempC: null, smClockMhz: null, memClockMhz: null, fanPct: null, utilPct: null, memUsedMib: null, eventReasons: null, ...partial };
        for (const fn of listeners) fn(s);
      },
    };
  }

  it('ignores missing temperatures, watches every GPU, keeps the first abort reason, and stops listening on stop()', () => {
    const src = source();
    const watchdog = watchTemperature(src, 85);
    expect(watchdog.maxTempC()).toBeNull();
    src.emit({ tempC: null });
    expect(watchdog.maxTempC()).toBeNull();
    src.emit({ gpuIndex: 0, tempC: 60 });
    src.emit({ gpuIndex: 1, tempC: 90 });
    expect(watchdog.signal.aborted).toBe(true);
    expect((watchdog.signal.reason as ThermalAbort).sample.gpuIndex).toBe(1);
    src.emit({ gpuIndex: 0, tempC: 95 });
    expect((watchdog.signal.reason as ThermalAbort).sample.tempC).toBe(90);
    expect(watchdog.maxTempC()).toBe(95);
    watchdog.stop();
    src.emit({ tempC: 99 });
    expect(watchdog.maxTempC()).toBe(95);

    const second = watchTemperature(src, 85);
    second.stop();
    src.emit({ tempC: 99 });
    expect(second.signal.aborted).toBe(false);
  });
});
