/**
 * `carbonbench measure` end to end, as a user runs it: the real CLI process, stub engines on PATH
 * speaking real HTTP, the fake nvidia-smi replaying a recorded trace, the fake libnvidia-ml through
 * the real FFI path. Checks that the stored figures agree with each other and with the formulas.
 */
import { execSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import { SECONDS_PER_YEAR } from '../../src/carbon/sci.js';
import { buildFakeNvml } from '../helpers/fake-nvml.js';
import { runCli } from '../helpers/cli.js';
import { FAKE_SMI, ROOT, fixture } from '../helpers/paths.js';

interface Row {
  id: number;
  status: string;
  error: string | null;
  simulated: boolean;
  windowS: number;
  tokensOut: number;
  tokS: number;
  requests: number;
  energyJ: number;
  energySource: string;
  energyNvmlJ: number | null;
  energySmiJ: number | null;
  avgPowerW: number;
  intensityGKwh: number;
  embodiedG: number;
  sciOpUg: number;
  sciEmbUg: number;
  sciUg: number;
  energyCiRel: number | null;
  bpb: number | null;
  phase: string;
  hardwareId: string;
  hardwareFallback: boolean;
  provenance: Record<string, string> | null;
}

let nvmlLib: string;
beforeAll(() => {
  nvmlLib = buildFakeNvml();
});

/** A working directory with a program whose model id is unique to this test (`model`). */
function workdir(): { dir: string; db: string; program: string; model: string } {
  const dir = mkdtempSync(join(tmpdir(), 'cb-measure-'));
  const model = `stub/model-1b-${dir.slice(-6)}`;
  const program = join(dir, 'program.md');
  writeFileSync(
    program,
    `---\nengine: vllm\nmodels:\n  - { id: ${model}, params: 1.0e9, family: stub, variants: { q8_0: ${join(dir, 'model-q8_0.gguf')} } }\nspace: { quant: [bf16], batch: [4], input_len: [64], output_len: [32] }\ncarbon: { intensity: 300 }\nsafety: { abort_temp_c: 85, cooldown_temp_c: 50, cooldown_max_s: 1 }\n---\nTest program.\n`,
  );
  writeFileSync(join(dir, 'model-q8_0.gguf'), 'GGUF stub model');
  return { dir, db: join(dir, 'results.db'), program, model };
}

function env(dir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: `${join(ROOT, 'tests', 'fakes')}${delimiter}${process.env.PATH}`,
    CARBONBENCH_NVIDIA_SMI: FAKE_SMI,
    FAKE_SMI_TRACE: fixture('smi-full-format-sample.csv'), // names the GPU: NVIDIA H200
    FAKE_SMI_LOOP: '1',
    CARBONBENCH_NVML_LIB: nvmlLib,
    FAKE_NVML_NAME: 'NVIDIA H200',
    FAKE_NVML_POWER_W: '250',
    HOME: dir,
    // The GPU boundary: this machine's own RAPL (if readable) must not change the figures checked here.
    CARBONBENCH_SYSFS_ROOT: join(dir, 'no-sysfs'),
    ...extra,
  };
}

/** SCI by hand from the stored inputs (DESIGN section 6). */
function expectFormulas(row: Row, embodiedTotalG: number, lifetimeYears: number): void {
  expect(row.tokS).toBeCloseTo(row.tokensOut / row.windowS, 6);
  expect(row.avgPowerW).toBeCloseTo(row.energyJ / row.windowS, 6);
  expect(row.embodiedG).toBeCloseTo(embodiedTotalG * (row.windowS / (lifetimeYears * SECONDS_PER_YEAR)), 9);
  expect(row.sciOpUg).toBeCloseTo(((row.energyJ / 3.6e6) * row.intensityGKwh * 1e6) / row.tokensOut, 6);
  expect(row.sciEmbUg).toBeCloseTo((row.embodiedG * 1e6) / row.tokensOut, 6);
  expect(row.sciUg).toBeCloseTo(row.sciOpUg + row.sciEmbUg, 9);
}

/**
 * Stub engine processes still alive that belong to this test (their arguments name this test's files or
 * model): test files run in parallel, so other tests' stubs are not this test's leftovers.
 */
function liveStubs(marker: string): string {
  const out = execSync('ps -eo pid,args', { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((l) => /fakes\/(vllm|llama-server)/.test(l) && l.includes(marker))
    .join('\n');
}

describe('carbonbench measure', () => {
  it('--engine sim: a simulated experiment, labelled simulated, with consistent figures', async () => {
    const { dir, db } = workdir();
    const r = await runCli(['measure', '--engine', 'sim', '--model', 'sim/8b', '--params', '8e9', '--batch', '16', '--input-len', '512', '--output-len', '256', '--intensity', '210', '--db', db, '--json'], { env: env(dir), cwd: dir });
    expect(r.exitCode, r.stderr + r.stdout).toBe(0);
    const row = JSON.parse(r.stdout) as Row;
    expect(row).toMatchObject({ status: 'ok', simulated: true, energySource: 'sim', phase: 'manual', intensityGKwh: 210 });
    expect(row.windowS).toBeGreaterThanOrEqual(10);
    expect(row.tokensOut).toBeGreaterThan(0);
    expect(row.energyCiRel).not.toBeNull();
    expectFormulas(row, 200_000, 5); // sim telemetry reports a DGX Spark (GB10): 200 kg over 5 years
    const sqlite = new Database(db, { readonly: true });
    const view = sqlite.prepare('SELECT status, simulated, j_per_token, energy_j, tokens_out FROM results WHERE id = ?').get(row.id) as Record<string, number | string>;
    expect(view).toMatchObject({ status: 'ok', simulated: 1 });
    expect(view.j_per_token).toBeCloseTo(row.energyJ / row.tokensOut, 9);
    sqlite.close();
  });

  it('--engine vllm against the stub: NVML energy, both figures stored, formulas hold, BPB computed, no process left', async () => {
    const { dir, db, program, model } = workdir();
    const r = await runCli(['measure', '--engine', 'vllm', '--model', model, '--program', program, '--batch', '4', '--input-len', '64', '--output-len', '32', '--db', db, '--json'], { env: env(dir), cwd: dir, timeoutMs: 120_000 });
    expect(r.exitCode, r.stderr + r.stdout).toBe(0);
    const row = JSON.parse(r.stdout) as Row;
    expect(row).toMatchObject({ status: 'ok', simulated: false, energySource: 'nvml', intensityGKwh: 300 });
    expect(row.windowS).toBeGreaterThanOrEqual(10);
    expect(row.requests).toBeGreaterThanOrEqual(12);
    // The fake NVML draws a constant 250 W: the counter delta is 250 W × window.
    expect(row.energyNvmlJ! / row.windowS).toBeCloseTo(250, 0);
    expect(row.energyJ).toBe(row.energyNvmlJ);
    expect(row.energySmiJ).toBeGreaterThan(0);
    expect(row.tokensOut).toBeGreaterThan(0);
    expect(row.tokensOut % 1).toBe(0);
    expect(row.bpb).toBeGreaterThan(0);
    expect(row).toMatchObject({ hardwareId: 'h200', hardwareFallback: false });
    expectFormulas(row, 164_000, 5); // H200 profile: 164 kg per GPU, one GPU
    // Latencies say how their times were taken (reader threads from 4 CPUs, else the main thread).
    expect(row.provenance?.ttft_p50_ms).toMatch(/^request sent and token arrival times stamped at the socket (by \d reader thread\(s\)|on the main thread)/);
    expect(row.provenance?.itl_p99_ms).toBe(row.provenance?.ttft_p50_ms);
    expect(liveStubs(dir.slice(-6))).toBe('');
  }, 150_000);

  it('--engine llamacpp against the stub: GGUF from the program, energy and tokens agree with the formulas, BPB from llama-perplexity', async () => {
    const { dir, db, program, model } = workdir();
    const r = await runCli(['measure', '--engine', 'llamacpp', '--model', model, '--quant', 'q8_0', '--program', program, '--batch', '4', '--input-len', '64', '--output-len', '32', '--db', db, '--json'], { env: env(dir), cwd: dir, timeoutMs: 120_000 });
    expect(r.exitCode, r.stderr + r.stdout).toBe(0);
    const row = JSON.parse(r.stdout) as Row;
    expect(row).toMatchObject({ status: 'ok', simulated: false, energySource: 'nvml', hardwareId: 'h200' });
    expect(row.windowS).toBeGreaterThanOrEqual(10);
    expect(row.energyNvmlJ! / row.windowS).toBeCloseTo(250, 0);
    expect(row.tokensOut).toBeGreaterThan(0);
    expect(row.bpb).toBeGreaterThan(0);
    expectFormulas(row, 164_000, 5);
    expect(liveStubs(dir.slice(-6))).toBe('');
  }, 150_000);

  it('a vLLM that crashes while loading fails the experiment with its last log lines and leaves no process', async () => {
    const { dir, db, program, model } = workdir();
    const r = await runCli(['measure', '--engine', 'vllm', '--model', model, '--program', program, '--batch', '2', '--input-len', '32', '--output-len', '16', '--db', db, '--json'], { env: env(dir, { STUB_CRASH_ON_START: '1' }), cwd: dir, timeoutMs: 120_000 });
    expect(r.exitCode).toBe(1);
    const row = JSON.parse(r.stdout) as Row;
    expect(row.status).toBe('failed');
    expect(row.error).toMatch(/exited with code 1; last log lines:[\s\S]*out of memory/i);
    expect(liveStubs(dir.slice(-6))).toBe('');
  }, 150_000);

  it('a vLLM that hangs with its socket open fails at the start timeout and is killed', async () => {
    const { dir, db, program, model } = workdir();
    const r = await runCli(['measure', '--engine', 'vllm', '--model', model, '--program', program, '--batch', '2', '--input-len', '32', '--output-len', '16', '--start-timeout-s', '4', '--db', db, '--json'], { env: env(dir, { STUB_HANG: '1' }), cwd: dir, timeoutMs: 120_000 });
    expect(r.exitCode).toBe(1);
    const row = JSON.parse(r.stdout) as Row;
    expect(row.status).toBe('failed');
    expect(row.error).toMatch(/did not become ready within 4 s/);
    expect(liveStubs(dir.slice(-6))).toBe('');
  }, 150_000);

  it('an unknown quantization is refused before anything starts (exit 2)', async () => {
    const { dir, db } = workdir();
    const r = await runCli(['measure', '--engine', 'vllm', '--model', 'x', '--quant', 'q3_k', '--batch', '1', '--input-len', '8', '--output-len', '8', '--db', db], { env: env(dir), cwd: dir });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/quant "q3_k" \(string\) is not supported by the vllm engine; allowed: bf16, fp16, fp32, fp8, awq/);
  });
});
