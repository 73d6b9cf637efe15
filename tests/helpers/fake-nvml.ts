/**
 * Builds tests/fakes/fake-nvml.c into a libnvidia-ml.so.1 and opens it through the real FFI path.
 *
 * The fake reads its FAKE_NVML_* configuration with getenv() at nvmlInit_v2, so process.env must be set
 * before openNvml(). Every configuration gets its own copy of the library (a fresh dlopen, hence fresh
 * C globals): a test that fails without shutting NVML down cannot leak its state into the next one.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMainThread } from 'node:worker_threads';
import { execaSync } from 'execa';
import { openNvml } from '../../src/telemetry/nvml.js';
import type { Nvml } from '../../src/telemetry/types.js';

const testsDir = join(dirname(fileURLToPath(import.meta.url)), '..');
export const FAKE_NVML_SOURCE = join(testsDir, 'fakes', 'fake-nvml.c');
/** The real H100 trace: epoch seconds and the mJ counter read every ~25 ms. */
export const H100_NVML_TRACE = join(testsDir, 'fixtures', 'h200', 'h100-varying-load-nvml.csv');
const TMP_DIR = join(testsDir, '.tmp');
const CC_FLAGS = ['-shared', '-fPIC', '-O2'] as const;

/**
 * Compiles the fake once and returns the path of libnvidia-ml.so.1. The output directory is named after
 * a hash of the source and flags, so a run reuses it until the C file changes; concurrent test workers
 * compile to private names and rename (atomic), so nobody loads a half-written file.
 */
export function buildFakeNvml(): string {
  const hash = createHash('sha256')
    .update(readFileSync(FAKE_NVML_SOURCE))
    .update(CC_FLAGS.join(' '))
    .digest('hex')
    .slice(0, 16);
  const dir = join(TMP_DIR, `fake-nvml-${hash}`);
  const libraryPath = join(dir, 'libnvidia-ml.so.1');
  if (existsSync(libraryPath)) return libraryPath;
  mkdirSync(dir, { recursive: true });
  const partialPath = `${libraryPath}.${process.pid}.partial`;
  execaSync('cc', [...CC_FLAGS, '-o', partialPath, FAKE_NVML_SOURCE]);
  renameSync(partialPath, libraryPath);
  return libraryPath;
}

const copies: string[] = [];

/** A private copy of the fake library (its own dlopen instance), under tests/.tmp/. */
export function fakeNvmlCopy(): string {
  const source = buildFakeNvml();
  const dir = mkdtempSync(join(dirname(source), `copy-${process.pid}-`));
  copies.push(dir);
  const target = join(dir, 'libnvidia-ml.so.1');
  copyFileSync(source, target);
  return target;
}

/** Removes the copies made by this process (a mapped library can be unlinked on Linux). */
export function removeFakeNvmlCopies(): void {
  for (const dir of copies.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export interface FakeNvmlConfig {
  gpus?: number;
  name?: string;
  driver?: string;
  /** nvmlReturn_t that nvmlInit_v2 returns. */
  initError?: number;
  noEnergy?: boolean;
  tracePath?: string;
  powerW?: number;
  baseMj?: bigint;
  resetAfterS?: number;
  /** µs each energy read takes (wall time), like a real driver's. */
  readUs?: number;
}

const ENV_KEYS: Record<keyof FakeNvmlConfig, string> = {
  gpus: 'FAKE_NVML_GPUS',
  name: 'FAKE_NVML_NAME',
  driver: 'FAKE_NVML_DRIVER',
  initError: 'FAKE_NVML_INIT_ERROR',
  noEnergy: 'FAKE_NVML_NO_ENERGY',
  tracePath: 'FAKE_NVML_TRACE',
  powerW: 'FAKE_NVML_POWER_W',
  baseMj: 'FAKE_NVML_BASE_MJ',
  resetAfterS: 'FAKE_NVML_RESET_AFTER_S',
  readUs: 'FAKE_NVML_READ_US',
};

function setFakeNvmlEnv(config: FakeNvmlConfig): void {
  // In a worker thread process.env is a JS copy that getenv() in C never sees: the fake would silently
  // run with defaults. vitest's default pool ("forks") runs each test file in a child process.
  if (!isMainThread) {
    throw new Error('the fake NVML reads the real process environment: run these tests with vitest pool "forks"');
  }
  for (const key of Object.values(ENV_KEYS)) delete process.env[key];
  for (const [field, value] of Object.entries(config)) {
    if (value === undefined) continue;
    const key = ENV_KEYS[field as keyof FakeNvmlConfig];
    process.env[key] = typeof value === 'boolean' ? (value ? '1' : '0') : String(value);
  }
}

export interface OpenedFakeNvml {
  nvml: Nvml;
  libraryPath: string;
  /** Date.now() just before and just after openNvml (which calls nvmlInit_v2, where the replay starts). */
  initBeforeMs: number;
  initAfterMs: number;
}

/** Sets the configuration, opens a private copy of the fake through openNvml, clears the configuration. */
export function openFakeNvml(config: FakeNvmlConfig = {}): OpenedFakeNvml {
  const libraryPath = fakeNvmlCopy();
  setFakeNvmlEnv(config);
  try {
    const initBeforeMs = Date.now();
    const nvml = openNvml({ libraryPath });
    const initAfterMs = Date.now();
    return { nvml, libraryPath, initBeforeMs, initAfterMs };
  } finally {
    setFakeNvmlEnv({});
  }
}

/**
 * Runs `fn` with the fake's configuration in the environment, for code that opens NVML itself (e.g.
 * openRealTelemetry with `nvmlLib: fakeNvmlCopy()`); clears it afterwards.
 */
export async function withFakeNvmlEnv<T>(config: FakeNvmlConfig, fn: () => Promise<T>): Promise<T> {
  setFakeNvmlEnv(config);
  try {
    return await fn();
  } finally {
    setFakeNvmlEnv({});
  }
}

export interface NvmlTrace {
  /** Seconds since the first row. */
  relS: number[];
  energyMj: bigint[];
}

export function loadNvmlTrace(path = H100_NVML_TRACE): NvmlTrace {
  const lines = readFileSync(path, 'utf8').trim().split('\n').slice(1);
  const rows = lines.map((line) => {
    const [t, mj] = line.split(',');
    return { t: Number(t), mj: BigInt(mj ?? '') };
  });
  const t0 = rows[0]!.t;
  return { relS: rows.map((r) => r.t - t0), energyMj: rows.map((r) => r.mj) };
}

/**
 * Test oracle written independently of the C code: the counter of the last row at or before `relS`
 * (step replay). Tests stay far from the end of the 90 s trace, so looping is not modelled.
 */
export function traceCounterAt(trace: NvmlTrace, relS: number): bigint {
  let value = trace.energyMj[0]!;
  for (let i = 0; i < trace.relS.length && trace.relS[i]! <= relS; i++) value = trace.energyMj[i]!;
  return value;
}
