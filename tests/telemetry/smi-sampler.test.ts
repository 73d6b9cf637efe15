/**
 * SmiSampler against the fake nvidia-smi (tests/fakes/nvidia-smi), which replays the real H200/H100
 * recordings in tests/fixtures/h200 through a real child process. Each test gets its own executable:
 * a shell wrapper that sets that test's FAKE_SMI_* knobs and `exec`s the fake, so no test changes
 * process.env for another and the pid the sampler spawned is the fake's pid.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { TelemetryError } from '../../src/errors.js';
import { parseHelpQueryGpu } from '../../src/telemetry/smi-fields.js';
import { SmiSampler, type SmiSamplerOptions } from '../../src/telemetry/smi-sampler.js';
import type { GpuSample } from '../../src/telemetry/types.js';

const FAKE_SMI = fileURLToPath(new URL('../fakes/nvidia-smi', import.meta.url));
const FIXTURES = fileURLToPath(new URL('../fixtures/h200/', import.meta.url));
const KNOBS = [
  'FAKE_SMI_TRACE',
  'FAKE_SMI_TRACE_FIELDS',
  'FAKE_SMI_HELP',
  'FAKE_SMI_L',
  'FAKE_SMI_SPEED',
  'FAKE_SMI_LOOP',
  'FAKE_SMI_EXIT_AFTER',
  'FAKE_SMI_EXIT_CODE',
  'FAKE_SMI_SILENT_AFTER',
  'FAKE_SMI_GARBAGE_AT',
  'FAKE_SMI_NO_GPU',
  'FAKE_SMI_ARGS_LOG',
  'FAKE_SMI_PID_FILE',
] as const;
type Knobs = Partial<Record<(typeof KNOBS)[number], string | number>>;

/** The 2-GPU H100 recording's columns (it has no header). */
const TWO_GPU_FIELDS =
  'timestamp,index,name,uuid,power.draw,power.draw.instant,temperature.gpu,clocks.sm,utilization.gpu,memory.used,clocks_event_reasons.active,module.power.draw.average';
/** 10× real time: one sample every 100 ms. */
const SPEED = 10;

const dirs: string[] = [];
const samplers: SmiSampler[] = [];
const envRestores: (() => void)[] = [];
afterEach(async () => {
  for (const sampler of samplers.splice(0)) await sampler.stop();
  for (const restore of envRestores.splice(0)) restore();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'carbonbench-smi-'));
  dirs.push(dir);
  return dir;
}

const shellQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** A per-test nvidia-smi: exports exactly these knobs (clearing inherited ones) and execs the fake. */
function fakeSmi(knobs: Knobs): string {
  const path = join(tempDir(), 'nvidia-smi');
  const script = [
    '#!/bin/sh',
    `unset ${KNOBS.join(' ')}`,
    ...Object.entries(knobs).map(([k, v]) => `export ${k}=${shellQuote(String(v))}`),
    `exec ${shellQuote(process.execPath)} ${shellQuote(FAKE_SMI)} "$@"`,
  ];
  writeFileSync(path, script.join('\n') + '\n', { mode: 0o755 });
  return path;
}

async function sampler(options: SmiSamplerOptions): Promise<SmiSampler> {
  const s = await SmiSampler.create(options);
  samplers.push(s);
  return s;
}

/** Resolves with the first `n` samples once the sampler has delivered that many. */
function firstSamples(s: SmiSampler, n: number, timeoutMs = 4000): Promise<GpuSample[]> {
  return new Promise((resolve, reject) => {
    let offSample: () => void = () => undefined;
    let offError: () => void = () => undefined;
    const timer = setTimeout(() => {
      finish();
      reject(new Error(`only ${s.collected().length} of ${n} samples within ${timeoutMs} ms`));
    }, timeoutMs);
    const finish = (): void => {
      clearTimeout(timer);
      offSample();
      offError();
    };
    const check = (): void => {
      if (s.collected().length < n) return;
      finish();
      resolve(s.collected().slice(0, n));
    };
    offSample = s.onSample(check);
    offError = s.onError((e) => {
      finish();
      reject(e);
    });
    check();
  });
}

function nextError(s: SmiSampler): Promise<{ error: TelemetryError; atMs: number }> {
  return new Promise((resolve) => {
    const off = s.onError((error) => {
      off();
      resolve({ error, atMs: Date.now() });
    });
  });
}

/** The argv of every `--query-gpu` run the fake saw (the --help-query-gpu probe is logged too). */
function queryRuns(argsLog: string): string[][] {
  return readFileSync(argsLog, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as string[])
    .filter((argv) => argv.some((a) => a.startsWith('--query-gpu')));
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}

/** See smi-fields.test.ts: the H200 help text as a pre-R530 driver without power.draw.instant prints it. */
function oldDriverHelp(text: string): string {
  return text
    .split('\n')
    .filter((line) => !line.includes('power.draw.instant') && !line.includes('clocks_event_reasons_counters'))
    .map((line) => line.replace(/^"clocks_event_reasons\.([a-z_]+)" or "clocks_throttle_reasons\.\1"/, '"clocks_throttle_reasons.$1"'))
    .join('\n');
}

const ALL_FIELDS =
  'timestamp,index,power.draw,power.draw.instant,temperature.gpu,temperature.memory,clocks.sm,clocks.mem,fan.speed,utilization.gpu,memory.used,clocks_event_reasons.active,module.power.draw.average';

describe('SmiSampler command line', () => {
  it('passes --query-gpu with every field, --format=csv,noheader,nounits and -lms 1000, and no -i by default', async () => {
    const argsLog = join(tempDir(), 'args.jsonl');
    const exe = fakeSmi({ FAKE_SMI_SPEED: SPEED, FAKE_SMI_LOOP: 1, FAKE_SMI_ARGS_LOG: argsLog });
    const s = await sampler({ executable: exe });
    await s.start();
    const runs = queryRuns(argsLog);
    expect(runs).toEqual([[`--query-gpu=${ALL_FIELDS}`, '--format=csv,noheader,nounits', '-lms', '1000']]);
    expect(s.command).toEqual([exe, ...runs[0]!]);
    // create() probed the driver's field list first.
    expect(readFileSync(argsLog, 'utf8').split('\n')[0]).toBe(JSON.stringify(['--help-query-gpu']));
  });

  it('adds -i with the GPU list when gpus are given', async () => {
    const argsLog = join(tempDir(), 'args.jsonl');
    const exe = fakeSmi({
      FAKE_SMI_SPEED: SPEED,
      FAKE_SMI_LOOP: 1,
      FAKE_SMI_ARGS_LOG: argsLog,
      FAKE_SMI_TRACE: join(FIXTURES, 'smi-2gpu-1hz.csv'),
      FAKE_SMI_TRACE_FIELDS: TWO_GPU_FIELDS,
    });
    const s = await sampler({ executable: exe, gpus: [0, 1] });
    await s.start();
    expect(queryRuns(argsLog)).toEqual([[`--query-gpu=${ALL_FIELDS}`, '--format=csv,noheader,nounits', '-lms', '1000', '-i', '0,1']]);
  });
});

describe('SmiSampler samples', () => {
  it('streams the values of the recorded trace, one sample per line, about 1 per interval', async () => {
    const exe = fakeSmi({ FAKE_SMI_SPEED: SPEED });
    const s = await sampler({ executable: exe });
    await s.start();
    const samples = await firstSamples(s, 4);
    // gen-smi-1hz.csv: timestamp, power.draw, power.draw.instant, temperature.gpu, clocks.sm, utilization.gpu, memory.used, reasons
    expect(samples.map((x) => x.powerW)).toEqual([88.1, 122.71, 123.9, 122.74]);
    expect(samples[0]).toMatchObject({
      gpuIndex: 0,
      powerW: 88.1,
      powerInstantW: 123.36,
      tempC: 36,
      smClockMhz: 1980,
      utilPct: 14,
      memUsedMib: 1611,
      eventReasons: 0n,
      // Fields the recording does not have come back as [N/A]: missing, not zero.
      memTempC: null,
      memClockMhz: null,
      fanPct: null,
    });
    expect(samples[1]).toMatchObject({ powerInstantW: 122.39, tempC: 37, utilPct: 0, memUsedMib: 1721 });
    expect(s.failure).toBeNull();
    expect(s.badLineCount).toBe(0);
  });

  it('turns [N/A] into null, never 0 (fan.speed on the H200, from the --format=csv recording)', async () => {
    const exe = fakeSmi({ FAKE_SMI_SPEED: SPEED, FAKE_SMI_LOOP: 1, FAKE_SMI_TRACE: join(FIXTURES, 'smi-full-format-sample.csv') });
    const s = await sampler({ executable: exe });
    await s.start();
    const samples = await firstSamples(s, 3);
    for (const x of samples) {
      expect(x.fanPct).toBeNull();
      expect(x.eventReasons).toBe(0x1n);
    }
    expect(samples[0]).toMatchObject({ powerW: 80.43, powerInstantW: 81.16, tempC: 37, memTempC: 39, smClockMhz: 345, memClockMhz: 3201, utilPct: 0, memUsedMib: 0 });
    expect(samples[1]).toMatchObject({ powerW: 80.36, powerInstantW: 80.13, memTempC: 38 });
  });

  it('on an old driver queries clocks_throttle_reasons.active and still fills eventReasons', async () => {
    const dir = tempDir();
    const help = join(dir, 'help-query-gpu-old.txt');
    writeFileSync(help, oldDriverHelp(readFileSync(join(FIXTURES, 'help-query-gpu.txt'), 'utf8')));
    expect(parseHelpQueryGpu(readFileSync(help, 'utf8')).has('clocks_event_reasons.active')).toBe(false);
    const argsLog = join(dir, 'args.jsonl');
    const exe = fakeSmi({
      FAKE_SMI_SPEED: SPEED,
      FAKE_SMI_LOOP: 1,
      FAKE_SMI_HELP: help,
      FAKE_SMI_ARGS_LOG: argsLog,
      // Has power.draw.instant and clocks_event_reasons.active = 0x1 in every row.
      FAKE_SMI_TRACE: join(FIXTURES, 'smi-full-format-sample.csv'),
    });
    const s = await sampler({ executable: exe });
    expect(s.query.unsupported).toEqual(['power.draw.instant']);
    await s.start();
    const [argv] = queryRuns(argsLog);
    const fields = argv![0]!.replace('--query-gpu=', '').split(',');
    expect(fields).toContain('clocks_throttle_reasons.active');
    expect(fields).not.toContain('clocks_event_reasons.active');
    expect(fields).not.toContain('power.draw.instant');
    const samples = await firstSamples(s, 2);
    for (const x of samples) {
      expect(x.eventReasons).toBe(0x1n);
      expect(x.powerInstantW).toBeNull();
      expect(x.powerW).not.toBeNull();
    }
    expect(samples[0]!.powerW).toBe(80.43);
  });

  it('rejects create() when the driver does not know a required field', async () => {
    const help = join(tempDir(), 'help.txt');
    writeFileSync(
      help,
      readFileSync(join(FIXTURES, 'help-query-gpu.txt'), 'utf8')
        .split('\n')
        .filter((l) => !l.startsWith('"power.draw"'))
        .join('\n'),
    );
    const exe = fakeSmi({ FAKE_SMI_HELP: help });
    const err = await SmiSampler.create({ executable: exe }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TelemetryError);
    expect((err as Error).message).toMatch(/required field\(s\) power\.draw;/);
  });

  it('samples both GPUs of the 2-GPU recording, and only GPU 1 with gpus: [1]', async () => {
    const knobs: Knobs = {
      FAKE_SMI_SPEED: SPEED,
      FAKE_SMI_LOOP: 1,
      FAKE_SMI_TRACE: join(FIXTURES, 'smi-2gpu-1hz.csv'),
      FAKE_SMI_TRACE_FIELDS: TWO_GPU_FIELDS,
    };
    const both = await sampler({ executable: fakeSmi(knobs) });
    await both.start();
    const all = await firstSamples(both, 6);
    expect(all.map((x) => x.gpuIndex)).toEqual([0, 1, 0, 1, 0, 1]);
    expect(both.collected({ gpuIndex: 0 }).slice(0, 3).map((x) => x.powerW)).toEqual([100.23, 74.5, 74.23]);
    expect(both.collected({ gpuIndex: 1 }).slice(0, 3).map((x) => x.powerW)).toEqual([87.05, 72.63, 72.47]);
    expect(all[0]).toMatchObject({ tempC: 41, smClockMhz: 420, powerInstantW: 74.46, eventReasons: 0x1n, memTempC: null });
    expect(all[1]).toMatchObject({ tempC: 37, smClockMhz: 435, powerInstantW: 73.11 });
    // One sample per GPU per interval: the two lines of one interval are a few ms apart.
    expect(Math.abs(all[1]!.tS - all[0]!.tS)).toBeLessThan(0.05);
    expect(all[2]!.tS - all[0]!.tS).toBeGreaterThan(0.05);

    const argsLog = join(tempDir(), 'args.jsonl');
    const one = await sampler({ executable: fakeSmi({ ...knobs, FAKE_SMI_ARGS_LOG: argsLog }), gpus: [1] });
    await one.start();
    const only1 = await firstSamples(one, 4);
    expect(only1.map((x) => x.gpuIndex)).toEqual([1, 1, 1, 1]);
    expect(only1.map((x) => x.powerW)).toEqual([87.05, 72.63, 72.47, 72.37]);
    expect(queryRuns(argsLog)[0]!.slice(-2)).toEqual(['-i', '1']);
  });

  it('gives epoch-second timestamps close to now, even when this process runs in another time zone', async () => {
    // nvidia-smi prints local wall time without a zone; the sampler must run it with TZ=UTC.
    const saved = process.env.TZ;
    process.env.TZ = 'Asia/Kolkata';
    envRestores.push(() => {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    });
    const s = await sampler({ executable: fakeSmi({ FAKE_SMI_SPEED: SPEED }) });
    const lagsS: number[] = [];
    s.onSample((x) => lagsS.push(Date.now() / 1000 - x.tS));
    await s.start();
    const samples = await firstSamples(s, 4);
    expect(lagsS.length).toBeGreaterThanOrEqual(4);
    for (const lag of lagsS) expect(Math.abs(lag)).toBeLessThan(2);
    for (let i = 1; i < samples.length; i++) {
      const gapS = samples[i]!.tS - samples[i - 1]!.tS;
      expect(gapS).toBeGreaterThan(0.05);
      expect(gapS).toBeLessThan(0.5);
    }
  });
});

describe('SmiSampler failures', () => {
  it('fails with the exit code and the stderr line when nvidia-smi exits', async () => {
    const exe = fakeSmi({ FAKE_SMI_SPEED: SPEED, FAKE_SMI_EXIT_AFTER: 2, FAKE_SMI_EXIT_CODE: 3 });
    const s = await sampler({ executable: exe });
    const failed = nextError(s);
    await s.start();
    const { error } = await failed;
    expect(error).toBeInstanceOf(TelemetryError);
    expect(error.message).toContain('exit code 3');
    expect(error.message).toContain('Unable to determine the device handle for GPU0000:00:00.0: Unknown Error');
    expect(error.details.exitCode).toBe(3);
    expect(error.details.command).toEqual(s.command);
    expect(s.failure).toBe(error);
    expect(s.collected()).toHaveLength(2);
  });

  it('rejects start() when nvidia-smi exits before the first sample', async () => {
    const s = await sampler({ executable: fakeSmi({ FAKE_SMI_SPEED: SPEED, FAKE_SMI_EXIT_AFTER: 0 }) });
    const err = await s.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TelemetryError);
    expect((err as Error).message).toMatch(/exit code 1.*Unable to determine the device handle/);
  });

  it('fails with "went silent" 3 to 4.5 s after the last sample when nvidia-smi stops printing', async () => {
    const pidFile = join(tempDir(), 'pid');
    const exe = fakeSmi({ FAKE_SMI_SPEED: SPEED, FAKE_SMI_SILENT_AFTER: 2, FAKE_SMI_PID_FILE: pidFile });
    const s = await sampler({ executable: exe });
    let lastSampleMs = 0;
    s.onSample(() => (lastSampleMs = Date.now()));
    const failed = nextError(s);
    await s.start();
    const { error, atMs } = await failed;
    expect(s.collected()).toHaveLength(2);
    expect(error.message).toMatch(/went silent: no usable sample for 3\.\d s \(limit 3 s\)/);
    const silentS = (atMs - lastSampleMs) / 1000;
    expect(silentS).toBeGreaterThanOrEqual(3);
    expect(silentS).toBeLessThan(4.5);
    // The silent process is killed, not left behind.
    const pid = Number(readFileSync(pidFile, 'utf8'));
    await s.stop();
    expect(isAlive(pid)).toBe(false);
  }, 10_000);

  it('skips and counts a garbage line and keeps sampling', async () => {
    const s = await sampler({ executable: fakeSmi({ FAKE_SMI_SPEED: SPEED, FAKE_SMI_GARBAGE_AT: 2 }) });
    await s.start();
    const samples = await firstSamples(s, 4);
    // Trace row 2 (123.90 W) was replaced by the garbage line; rows 3 and 4 still arrive.
    expect(samples.map((x) => x.powerW)).toEqual([88.1, 122.71, 122.74, 123.6]);
    expect(s.badLineCount).toBe(1);
    expect(s.lastBadLine).toBeInstanceOf(TelemetryError);
    expect(s.lastBadLine!.message).toContain('garbage: GPU is lost');
    expect(s.failure).toBeNull();
  });

  it('rejects start() with "No devices were found" for a GPU index the machine does not have', async () => {
    const oneGpu = await sampler({ executable: fakeSmi({ FAKE_SMI_SPEED: SPEED }), gpus: [7] });
    const err = await oneGpu.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TelemetryError);
    expect((err as Error).message).toMatch(/No devices were found/);
    expect(oneGpu.collected()).toEqual([]);

    const twoGpu = await sampler({
      executable: fakeSmi({ FAKE_SMI_SPEED: SPEED, FAKE_SMI_TRACE: join(FIXTURES, 'smi-2gpu-1hz.csv'), FAKE_SMI_TRACE_FIELDS: TWO_GPU_FIELDS }),
      gpus: [7],
    });
    await expect(twoGpu.start()).rejects.toThrow(/No devices were found/);
  });

  it('says how to fix a missing executable', async () => {
    const missing = join(tempDir(), 'no-such-nvidia-smi');
    const err = await SmiSampler.create({ executable: missing }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TelemetryError);
    expect((err as Error).message).toContain(`${missing} not found`);
    expect((err as Error).message).toContain('--nvidia-smi PATH');
    expect((err as Error).message).toContain('CARBONBENCH_NVIDIA_SMI');

    // Also when the field probe is skipped (accepted given) and the spawn itself fails.
    const accepted = parseHelpQueryGpu(readFileSync(join(FIXTURES, 'help-query-gpu.txt'), 'utf8'));
    const s = await sampler({ executable: missing, accepted });
    const startErr = await s.start().catch((e: unknown) => e);
    expect(startErr).toBeInstanceOf(TelemetryError);
    expect((startErr as Error).message).toContain(`${missing} not found`);
    expect((startErr as Error).message).toContain('--nvidia-smi PATH');

    // A file that exists but cannot be executed.
    const notExecutable = join(tempDir(), 'nvidia-smi');
    writeFileSync(notExecutable, '#!/bin/sh\n', { mode: 0o644 });
    const s2 = await sampler({ executable: notExecutable, accepted });
    await expect(s2.start()).rejects.toThrow(/could not be started \(EACCES\).*--nvidia-smi PATH/);
  });

  it('reports a machine without a working driver with what nvidia-smi printed', async () => {
    const err = await SmiSampler.create({ executable: fakeSmi({ FAKE_SMI_NO_GPU: 1 }) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TelemetryError);
    expect((err as Error).message).toMatch(/exit code 9: NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver/);
  });
});

describe('SmiSampler.stop', () => {
  it('leaves no child process and reports no failure', async () => {
    const pidFile = join(tempDir(), 'pid');
    const s = await sampler({ executable: fakeSmi({ FAKE_SMI_SPEED: SPEED, FAKE_SMI_LOOP: 1, FAKE_SMI_PID_FILE: pidFile }) });
    const errors: TelemetryError[] = [];
    s.onError((e) => errors.push(e));
    await s.start();
    await firstSamples(s, 2);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    expect(pid).toBeGreaterThan(0);
    expect(isAlive(pid)).toBe(true);
    const stopStartedMs = Date.now();
    await s.stop();
    expect(isAlive(pid)).toBe(false);
    // SIGTERM ends nvidia-smi at once; the 2 s SIGKILL fallback is not what stopped it.
    expect(Date.now() - stopStartedMs).toBeLessThan(1000);
    // Nothing after stop() is a failure: not the exit, not the silence that follows.
    await new Promise((r) => setTimeout(r, 300));
    expect(errors).toEqual([]);
    expect(s.failure).toBeNull();
    const count = s.collected().length;
    await new Promise((r) => setTimeout(r, 250));
    expect(s.collected()).toHaveLength(count);
  });
});
