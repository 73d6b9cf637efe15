/**
 * Decision 41 for llama.cpp's offline mode, end to end: under the real runExperiment, with the fake
 * nvidia-smi and the fake libnvidia-ml pricing a read like an H100 (4 ms, so `nvml_hz: auto` polls at
 * 1 Hz), the NVML counter is read at every llama-batched-bench run's end inside the window, not
 * interpolated between 1 Hz background reads.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { llamacppEngine } from '../../src/engines/llamacpp.js';
import type { ExperimentConfig } from '../../src/engines/types.js';
import { DEFAULT_PROTOCOL, runExperiment } from '../../src/runner/experiment.js';
import { ServerPool } from '../../src/runner/server-pool.js';
import { openSession, type Session } from '../../src/runner/setup.js';
import { fakeNvmlCopy, removeFakeNvmlCopies, withFakeNvmlEnv } from '../helpers/fake-nvml.js';
import { FAKE_SMI, ROOT, fixture } from '../helpers/paths.js';

const FAKE_BENCH = join(ROOT, 'tests', 'fakes', 'llama-batched-bench');
const ENV_KEYS = ['FAKE_SMI_TRACE', 'FAKE_SMI_LOOP', 'CARBONBENCH_NVML_LIB'] as const;

let session: Session | null = null;
const dirs: string[] = [];
afterEach(async () => {
  await session?.close('completed');
  session = null;
  for (const key of ENV_KEYS) delete process.env[key];
});
afterAll(() => {
  removeFakeNvmlCopies();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('llama.cpp offline mode in an experiment: boundary reads', () => {
  it('reads the NVML counter at the end of every run in the window', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cb-offline-boundary-'));
    dirs.push(dir);
    const gguf = join(dir, 'm-q8_0.gguf');
    writeFileSync(gguf, 'GGUF');
    // Each run: 50 ms model load + one 250 ms row (the fake's knobs), one segment.
    const bench = join(dir, 'llama-batched-bench');
    writeFileSync(bench, `#!/bin/sh\nexport FAKE_LLAMA_ROW_S=0.25 FAKE_LLAMA_LOAD_S=0.05\nexec '${FAKE_BENCH}' "$@"\n`);
    chmodSync(bench, 0o755);
    mkdirSync(join(dir, 'no-sysfs'));
    process.env.FAKE_SMI_TRACE = fixture('smi-full-format-sample.csv');
    process.env.FAKE_SMI_LOOP = '1';
    process.env.CARBONBENCH_NVML_LIB = fakeNvmlCopy();
    session = await withFakeNvmlEnv({ name: 'NVIDIA H200', powerW: 250, readUs: 4000 }, () =>
      openSession({ db: join(dir, 'results.db'), engine: llamacppEngine, programText: 'offline boundary test', nvidiaSmi: FAKE_SMI, sysfsRoot: join(dir, 'no-sysfs'), carbon: { intensity: 300 }, experimentsDir: join(dir, 'experiments'), idleBaselineS: 1 }),
    );
    expect(session.telemetry.energySource).toBe('nvml');
    expect(session.telemetry.nvmlPolling?.rateHz).toBe(1);
    // Every counter read the runner asks for, with its time.
    const meter = session.telemetry.meter;
    const markEdge = meter.markEdge.bind(meter);
    const edgesS: number[] = [];
    meter.markEdge = () => {
      edgesS.push(Date.now() / 1000);
      return markEdge();
    };
    const config: ExperimentConfig = { engine: 'llamacpp', model: { id: gguf }, quant: 'q8_0', batch: 2, inputLen: 32, outputLen: 16, engineOptions: { mode: 'batched', llama_batched_bench: bench } };
    const pool = new ServerPool();
    const r = await runExperiment(
      { config, phase: 'manual' },
      {
        store: session.store,
        telemetry: session.telemetry,
        pool,
        engine: llamacppEngine,
        clock: session.clock,
        log: session.log,
        runId: session.runId,
        runDir: session.runDir,
        protocol: { ...DEFAULT_PROTOCOL, warmupS: 0.5, minWindowS: 3, experimentSeconds: 6, cooldownTempC: 100, cooldownMaxS: 1 },
        carbon: session.carbon,
        idlePowerW: session.idlePowerW,
        bpbText: null,
      },
    );
    await pool.release();
    expect(r.status).toBe('ok');
    expect(r.energySource).toBe('nvml');
    // The runs of the window, from the stored requests (batch 2: two records per run, same start and end).
    const requests = await session.store.listRequests(r.id);
    const runs = [...new Map(requests.filter((q) => q.inWindow).map((q) => [q.startTS, q.endTS])).entries()].map(([startS, endS]) => ({ startS, endS }));
    expect(runs.length).toBeGreaterThanOrEqual(5);
    // The run before the window ends in the millisecond its first run starts: not in the window (decision 43).
    expect(runs.length).toBe(r.energySamples);
    expect(r.requests).toBe(runs.length * 2);
    expect(runs[0]!.startS).toBe(r.windowStartTS);
    expect(runs.at(-1)!.endS).toBe(r.windowEndTS);
    for (const run of runs) {
      // A read in the tick the run's end was stamped (Date.now() has whole ms; a loaded machine, some ms).
      const endS = run.endS!;
      const read = edgesS.find((tS) => tS >= endS - 0.002 && tS - endS < 0.05);
      expect(read, `run ending at ${run.endS}`).toBeDefined();
    }
    // The J/token CI is over those runs, with the energy of each from the counter (250 W constant).
    expect(r.energyCiRel).not.toBeNull();
    expect(r.avgPowerW!).toBeCloseTo(250, 0);
  }, 60_000);
});
