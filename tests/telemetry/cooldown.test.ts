/**
 * Cooldown gate and idle baseline on the real sampler: the fake nvidia-smi replays a cooling trace
 * (70 → 40 °C, power falling to the ~80 W idle level of the H200 recordings).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { TelemetryError } from '../../src/errors.js';
import { cooldownGate, measureIdleBaseline } from '../../src/telemetry/cooldown.js';
import { SmiSampler } from '../../src/telemetry/smi-sampler.js';
import type { SampleSource } from '../../src/telemetry/source.js';
import type { GpuSample } from '../../src/telemetry/types.js';

const FAKE_SMI = fileURLToPath(new URL('../fakes/nvidia-smi', import.meta.url));
const FIXTURES = fileURLToPath(new URL('../fixtures/h200/', import.meta.url));
const KNOBS = 'FAKE_SMI_TRACE FAKE_SMI_TRACE_FIELDS FAKE_SMI_HELP FAKE_SMI_L FAKE_SMI_SPEED FAKE_SMI_LOOP FAKE_SMI_EXIT_AFTER FAKE_SMI_EXIT_CODE FAKE_SMI_SILENT_AFTER FAKE_SMI_GARBAGE_AT FAKE_SMI_NO_GPU FAKE_SMI_ARGS_LOG FAKE_SMI_PID_FILE';

const dirs: string[] = [];
const samplers: SmiSampler[] = [];
afterEach(async () => {
  for (const s of samplers.splice(0)) await s.stop();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'carbonbench-cooldown-'));
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

/**
 * A 1 Hz noheader trace in gen-smi-1hz.csv's layout (timestamp, power.draw, power.draw.instant,
 * temperature.gpu, clocks.sm, utilization.gpu, memory.used, clocks_event_reasons.active).
 */
function trace(rows: readonly { tempC: number; powerW: number | '[N/A]' }[]): string {
  const t0 = Date.UTC(2026, 10, 26, 5, 10, 0);
  const lines = rows.map(({ tempC, powerW }, i) => {
    const d = new Date(t0 + i * 1000);
    const stamp = `2026/11/26 05:${String(d.getUTCMinutes()).padStart(2, '0')}:${String(d.getUTCSeconds()).padStart(2, '0')}.000`;
    const p = typeof powerW === 'number' ? powerW.toFixed(2) : powerW;
    return `${stamp}, ${p}, ${p}, ${tempC}, 345, 0, 0, 0x0000000000000001`;
  });
  const path = join(tempDir(), 'trace.csv');
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
}

async function sampler(knobs: Record<string, string | number>): Promise<SmiSampler> {
  const s = await SmiSampler.create({ executable: fakeSmi({ FAKE_SMI_SPEED: 10, ...knobs }) });
  samplers.push(s);
  return s;
}

function untilSamples(s: SmiSampler, n: number, timeoutMs = 4000): Promise<GpuSample[]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${s.collected().length} of ${n} samples`)), timeoutMs);
    const off = s.onSample(() => {
      if (s.collected().length >= n) {
        clearTimeout(timer);
        off();
        resolve(s.collected().slice(0, n));
      }
    });
  });
}

/** The cooling trace: the first row meeting both conditions (≤ 50 °C and ≤ 88 W) is row 8. */
const COOLING = [
  { tempC: 70, powerW: 310 },
  { tempC: 66, powerW: 260 },
  { tempC: 62, powerW: 84 }, // power at idle, still hot
  { tempC: 58, powerW: 200 },
  { tempC: 54, powerW: 150 },
  { tempC: 50, powerW: 120 }, // at the temperature target, power not idle
  { tempC: 48, powerW: 88.5 }, // just above idle + 10 % (88 W)
  { tempC: 47, powerW: '[N/A]' as const }, // power unknown: not proven idle
  { tempC: 46, powerW: 87.5 }, // ← the gate opens here
  { tempC: 44, powerW: 82 },
  { tempC: 42, powerW: 80 },
  { tempC: 40, powerW: 80 },
];

describe('measureIdleBaseline', () => {
  it('is the median power per GPU of the idle samples the sampler delivered (2-GPU H100 recording)', async () => {
    const s = await sampler({
      FAKE_SMI_TRACE: join(FIXTURES, 'smi-2gpu-1hz.csv'),
      FAKE_SMI_TRACE_FIELDS: 'timestamp,index,name,uuid,power.draw,power.draw.instant,temperature.gpu,clocks.sm,utilization.gpu,memory.used,clocks_event_reasons.active',
    });
    await s.start();
    const samples = await untilSamples(s, 8);
    // GPU 0: 100.23 (the first, still-settling sample), 74.50, 74.23, 74.19 → median (74.23 + 74.50) / 2.
    // GPU 1: 87.05, 72.63, 72.47, 72.37 → (72.47 + 72.63) / 2.
    const baseline = measureIdleBaseline(samples);
    expect([...baseline.keys()].sort()).toEqual([0, 1]);
    expect(baseline.get(0)).toBeCloseTo(74.365, 9);
    expect(baseline.get(1)).toBeCloseTo(72.55, 9);
  });

  it('takes the middle value of an odd count, ignores null power, and has no entry for a GPU with no power at all', () => {
    const sample = (gpuIndex: number, powerW: number | null): GpuSample => ({
      tS: 0,
      gpuIndex,
      powerW,
      powerInstantW: null,
      tempC: 40,
      memTempC: null,
      smClockMhz: null,
      memClockMhz: null,
      fanPct: null,
      utilPct: null,
      memUsedMib: null,
      eventReasons: null,
    });
    const baseline = measureIdleBaseline([
      sample(0, 90),
      sample(0, null),
      sample(0, 1000), // a stray spike
      sample(0, 80),
      sample(1, null),
      sample(2, 100),
      sample(2, 9), // numeric, not lexicographic, order
      sample(2, 70),
      sample(2, null),
    ]);
    // GPU 0: [80, 90, 1000] → 90 (counting null as 0 would give 85).
    expect(baseline.get(0)).toBe(90);
    expect(baseline.has(1)).toBe(false);
    // GPU 2: [9, 70, 100] → 70.
    expect(baseline.get(2)).toBe(70);
    expect(measureIdleBaseline([]).size).toBe(0);
  });
});

describe('cooldownGate on the real sampler', () => {
  it('opens at the first sample that is both at/below the temperature and within 10 % of idle power', async () => {
    // Idle baseline from an idle trace with one spike: median 80 W, so the power limit is 88 W.
    const idle = await sampler({ FAKE_SMI_TRACE: trace([80, 79, 250, 81, 80].map((powerW) => ({ tempC: 35, powerW }))) });
    await idle.start();
    const idlePowerW = measureIdleBaseline(await untilSamples(idle, 5));
    expect(idlePowerW).toEqual(new Map([[0, 80]]));
    await idle.stop();

    const s = await sampler({ FAKE_SMI_TRACE: trace(COOLING) });
    const delivered: GpuSample[] = [];
    s.onSample((x) => delivered.push(x));
    let deliveredWhenOpen = -1;
    const gate = cooldownGate(s, { cooldownTempC: 50, idlePowerW, maxS: 10, gpus: [0] }).then((r) => {
      deliveredWhenOpen = delivered.length;
      return r;
    });
    await s.start();
    const result = await gate;

    expect(result).toMatchObject({ reachedTarget: true, reason: 'cool', startTempC: 46 });
    expect(result.startTempC).toBeLessThanOrEqual(50);
    // It opened on row 8 (46 °C was the latest sample when it opened), not on an earlier row.
    // (≥ 9 rather than 9: a loaded machine may read two lines in one chunk, delivered in one tick.)
    expect(deliveredWhenOpen).toBeGreaterThanOrEqual(9);
    expect(delivered[8]).toMatchObject({ tempC: 46, powerW: 87.5 });
    expect(delivered[7]!.powerW).toBeNull();
    // 8 intervals of 100 ms (10× speed) after the first sample, plus process start.
    expect(result.waitedS).toBeGreaterThan(0.7);
    expect(result.waitedS).toBeLessThan(3);
  });

  it('times out with reachedTarget false when the GPU stays hot', async () => {
    const s = await sampler({ FAKE_SMI_TRACE: trace([70, 69, 70, 71].map((tempC) => ({ tempC, powerW: 85 }))), FAKE_SMI_LOOP: 1 });
    await s.start();
    const result = await cooldownGate(s, { cooldownTempC: 50, idlePowerW: new Map([[0, 80]]), maxS: 0.5, gpus: [0] });
    expect(result.reachedTarget).toBe(false);
    expect(result.reason).toBe('timeout');
    expect(result.waitedS).toBeGreaterThanOrEqual(0.49); // timers may fire a millisecond early
    expect(result.waitedS).toBeLessThan(1.5);
    expect([69, 70, 71]).toContain(result.startTempC);
  });

  it('opens, without reaching the target, when the sampler fails', async () => {
    const s = await sampler({ FAKE_SMI_TRACE: trace([{ tempC: 70, powerW: 300 }, { tempC: 69, powerW: 300 }]), FAKE_SMI_LOOP: 1, FAKE_SMI_EXIT_AFTER: 3 });
    await s.start();
    const result = await cooldownGate(s, { cooldownTempC: 50, idlePowerW: new Map([[0, 80]]), maxS: 10, gpus: [0] });
    expect(result.reachedTarget).toBe(false);
    expect(result.reason).toMatch(/^telemetry error: nvidia-smi sampler exited unexpectedly \(exit code 1\)/);
    expect(result.waitedS).toBeLessThan(2);
  });
});

describe('cooldownGate on an in-memory source', () => {
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

  it('waits for every listed GPU; a GPU without a baseline is judged on temperature only', async () => {
    const src = source();
    let settled = false;
    const gate = cooldownGate(src, { cooldownTempC: 50, idlePowerW: new Map([[0, 80]]), maxS: 5, gpus: [0, 1] });
    void gate.then(() => (settled = true));
    const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 0));

    src.emit({ gpuIndex: 0, tempC: 45, powerW: 81 });
    await tick();
    expect(settled).toBe(false); // GPU 1 not seen yet
    src.emit({ gpuIndex: 1, tempC: 55, powerW: 500 });
    await tick();
    expect(settled).toBe(false); // GPU 1 too hot
    src.emit({ gpuIndex: 0, tempC: 45, powerW: 120 });
    src.emit({ gpuIndex: 1, tempC: 49, powerW: 500 });
    await tick();
    expect(settled).toBe(false); // GPU 1 cool now, but GPU 0's latest sample is above idle power
    src.emit({ gpuIndex: 0, tempC: 47, powerW: 85 });
    const result = await gate;
    // GPU 1 has no baseline: 500 W does not hold it back. Start temperature is the hottest GPU's.
    expect(result).toMatchObject({ reachedTarget: true, reason: 'cool', startTempC: 49 });
  });

  it('returns at once, without reaching the target, on a source that has already failed', async () => {
    const failed = { ...source(), failure: new TelemetryError('nvidia-smi sampler went silent') };
    const started = Date.now();
    const result = await cooldownGate(failed, { cooldownTempC: 50, idlePowerW: new Map(), maxS: 30, gpus: [0] });
    expect(result).toMatchObject({ reachedTarget: false, reason: 'telemetry error: nvidia-smi sampler went silent' });
    expect(Date.now() - started).toBeLessThan(1000);
  });
});
