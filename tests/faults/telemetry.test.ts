/**
 * Telemetry faults during `carbonbench run` (issue 6). The real path runs the vLLM stub with a
 * controllable nvidia-smi (tests/faults/fakes/ctl-smi.mjs) whose readings and failures the test switches
 * at chosen moments of an experiment (the moment its load runs, told by the engine's request log):
 *   - a temperature spike to 86 °C: the load stops within one sample, the experiment is aborted_thermal,
 *     the cooldown gate holds the next experiment until the GPU is cool; throttle bits flag the next one;
 *   - [N/A] power, a garbage line, nvidia-smi exiting and going silent once, inside one window: the
 *     sampler restarts, the gaps are recorded, [N/A] is stored as missing (never 0), and the NVML counter
 *     still measures the window;
 *   - nvidia-smi dying for good mid-experiment: the load stops at once, the experiment is interrupted (not
 *     a failure of its config), the run exits 1 saying why, and resumes later;
 *   - nvidia-smi missing: a clear error before anything is measured.
 * The sim engine's simulated telemetry gets the same spike through engine_options (sim_temp_spike_at_s).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFakeNvml } from '../helpers/fake-nvml.js';
import { cli, controllableSmi, pathWith, removeSandboxes, rows, sandbox, startCli, survivors, tryRows, vllmWrapper, waitFor, writeProgram, type Sandbox } from './helpers.js';

afterAll(removeSandboxes);

let nvmlLib: string;
beforeAll(() => {
  nvmlLib = buildFakeNvml();
});

const THROTTLE_SW_THERMAL = '0x0000000000000020';

function vllmProgram(sb: Sandbox, experiments = 2): string {
  return writeProgram(
    sb,
    `
engine: vllm
models: [{ id: stub/m, params: 1.0e9 }]
space: { quant: [bf16], batch: [2], input_len: [32, 16], output_len: [16] }
budget: { experiments: ${experiments}, experiment_seconds: 10 }
carbon: { intensity: 300 }
safety: { abort_temp_c: 85, cooldown_temp_c: 50, cooldown_max_s: 30 }`,
  );
}

/** Resolves once experiment `id` has an engine log with at least `n` completion requests served. */
async function loadRunning(sb: Sandbox, id: number, n = 3, timeoutMs = 60_000): Promise<number> {
  const log = (): string => {
    try {
      return readFileSync(join(sb.dir, 'experiments', '1', String(id), 'engine.log'), 'utf8');
    } catch {
      return '';
    }
  };
  // A reused server keeps logging into the log of the experiment that started it.
  await waitFor(`experiment ${id}'s load`, () => (log().match(/POST \/v1\/completions/g) ?? []).length >= n, timeoutMs, 25);
  return Date.now() / 1000;
}

function status(db: string, id: number): string | undefined {
  return tryRows<{ status: string }>(db, 'SELECT status FROM experiments WHERE id = ?', id)[0]?.status;
}

// The real-engine runs mostly wait (load, windows, cooldown): they run side by side.
describe.concurrent('telemetry faults', () => {
  it('thermal spike (vLLM stub, controllable nvidia-smi) 86 °C: the load stops within one sample, aborted_thermal, the cooldown gate holds the next experiment, throttling flagged', async () => {
    const sb = sandbox('thermal');
    const { binDir } = vllmWrapper(sb, {});
    const cool = { 'temperature.gpu': '40', 'power.draw': '80.00', 'clocks_event_reasons.active': THROTTLE_SW_THERMAL };
    const smi = controllableSmi(sb, { values: cool });
    const run = startCli(sb, ['run', '--program', vllmProgram(sb), '--db', sb.db, '--json'], { env: { PATH: pathWith(binDir), ...smi.env } });

    await loadRunning(sb, 1);
    smi.set({ values: { ...cool, 'temperature.gpu': '86' } });
    await waitFor('experiment 1 aborted', () => status(sb.db, 1) === 'aborted_thermal', 30_000);
    // Hot but under the abort threshold for a few seconds: the gate must wait, then open when cool.
    smi.set({ values: { ...cool, 'temperature.gpu': '70' } });
    await new Promise((r) => setTimeout(r, 3000));
    smi.set({ values: cool });
    const r = await run;
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(JSON.parse(String(r.stdout))).toMatchObject({ status: 'completed', experiments: 2, ok: 1, failed: 1 });

    const [hot, next] = rows<{ id: number; status: string; error: string; max_temp_c: number; cooldown_wait_s: number; start_temp_c: number; throttled: number | null; throttle_reasons: string | null; ended_at: string }>(
      sb.db,
      'SELECT id, status, error, max_temp_c, cooldown_wait_s, start_temp_c, throttled, throttle_reasons, ended_at FROM experiments ORDER BY id',
    );
    expect(hot).toMatchObject({ status: 'aborted_thermal', max_temp_c: 86 });
    expect(hot!.error).toMatch(/GPU 0 reached 86 °C at .* \(abort threshold 85 °C\)/);
    // The load stopped within one sample (1 s) of the first hot sample: no request of the experiment
    // started or was still running after it.
    const spike = rows<{ t_s: number }>(sb.db, 'SELECT min(t_s) AS t_s FROM samples WHERE experiment_id = ? AND temp_c >= 85', hot!.id)[0]!.t_s;
    const last = rows<{ start: number; end: number; n: number }>(sb.db, 'SELECT max(start_t_s) AS start, max(end_t_s) AS "end", count(*) AS n FROM requests WHERE experiment_id = ?', hot!.id)[0]!;
    expect(last.n).toBeGreaterThan(0);
    expect(last.start).toBeLessThanOrEqual(spike + 1);
    expect(last.end).toBeLessThanOrEqual(spike + 1);
    expect(Date.parse(hot!.ended_at) / 1000).toBeLessThanOrEqual(spike + 1);
    // The gate waited through the hot readings and opened cool.
    expect(next).toMatchObject({ status: 'ok', throttled: 1 });
    expect(next!.cooldown_wait_s).toBeGreaterThanOrEqual(2);
    expect(next!.start_temp_c).toBeLessThanOrEqual(50);
    expect(next!.throttle_reasons).toMatch(/swThermalSlowdown/);
    expect(await survivors(sb.tag)).toEqual([]);
  }, 90_000);

  it('nvidia-smi glitches inside one window (vLLM stub, fake NVML): a silence, an exit, a garbage line, [N/A] power: restarts recorded, [N/A] stored as missing, NVML measures the window', async () => {
    const sb = sandbox('glitch');
    const { binDir } = vllmWrapper(sb, {});
    const base = { 'temperature.gpu': '40', 'power.draw': '250.00' };
    const smi = controllableSmi(sb, { values: base });
    const program = vllmProgram(sb, 1);
    const run = startCli(sb, ['run', '--program', program, '--db', sb.db, '--json'], {
      env: { PATH: pathWith(binDir), ...smi.env, CARBONBENCH_NVML_LIB: nvmlLib, FAKE_NVML_NAME: 'NVIDIA H200', FAKE_NVML_POWER_W: '250' },
    });
    // The probe request is the first completion; the window opens about 3 s (the warm-up) after it and
    // lasts at least 10 s. Inside it: a silence (a restart after 3 s), an exit (an immediate restart), a
    // garbage line, then [N/A] power. Each fault waits for the restart before it, so it hits a sampler
    // that already printed (a fresh nvidia-smi may take 15 s for its first sample, decision 10).
    const t0 = await loadRunning(sb, 1, 1);
    const at = (s: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, (t0 + s) * 1000 - Date.now())));
    const started = (n: number): Promise<unknown> => waitFor(`nvidia-smi start ${n}`, () => (readFileSync(smi.pidsFile, 'utf8').trim().split('\n').length >= n), 20_000, 25);
    await at(3.5);
    smi.set({ values: base, mode: 'silent', once: 's' });
    await started(2);
    await new Promise((r) => setTimeout(r, 1200));
    smi.set({ values: base, mode: 'exit', once: 'x' });
    await started(3);
    await new Promise((r) => setTimeout(r, 1200));
    smi.set({ values: base, mode: 'garbage', once: 'g' });
    await new Promise((r) => setTimeout(r, 1200));
    smi.set({ values: { ...base, 'power.draw': '[N/A]' } });
    await new Promise((r) => setTimeout(r, 1500));
    smi.set({ values: base });
    const r = await run;
    expect(r.exitCode, String(r.stderr)).toBe(0);

    const e = rows<{ status: string; energy_source: string; energy_nvml_j: number; energy_smi_j: number | null; window_s: number; provenance: string; window_start_t_s: number; window_end_t_s: number }>(
      sb.db,
      'SELECT status, energy_source, energy_nvml_j, energy_smi_j, window_s, provenance, window_start_t_s, window_end_t_s FROM experiments',
    )[0]!;
    expect(e).toMatchObject({ status: 'ok', energy_source: 'nvml' });
    expect(e.energy_nvml_j / e.window_s).toBeCloseTo(250, 0);
    const provenance = JSON.parse(e.provenance) as Record<string, string>;
    // Both transient failures were recovered by a restart and recorded with the experiment.
    expect(provenance.telemetry_incidents).toMatch(/went silent: no usable sample for 3\.\d s \(limit 3 s\).*nvidia-smi restarted/);
    expect(provenance.telemetry_incidents).toMatch(/exited unexpectedly \(exit code 1\): Unable to determine the device handle.*nvidia-smi restarted/);
    // The silence (over 3 s) makes the nvidia-smi figure unmeasurable: said, not extrapolated.
    expect(e.energy_smi_j).toBeNull();
    expect(provenance.energy_smi_j).toMatch(/gap\(s\) over 3 s without usable power samples/);
    // [N/A] is stored as missing, never as 0 W.
    expect(rows(sb.db, 'SELECT count(*) AS n FROM samples WHERE power_w IS NULL')[0]!.n).toBeGreaterThanOrEqual(1);
    expect(rows(sb.db, 'SELECT count(*) AS n FROM samples WHERE power_w = 0')[0]).toEqual({ n: 0 });
    // Three nvidia-smi processes: the first, and one restart after each failure (the garbage line is
    // skipped, not a failure).
    expect(readFileSync(smi.pidsFile, 'utf8').trim().split('\n')).toHaveLength(3);
    expect(await survivors(sb.tag)).toEqual([]);
  }, 90_000);

  it('nvidia-smi dying for good mid-experiment: the load stops at once, the experiment is interrupted, exit 1 with the reason, and the run resumes', async () => {
    const sb = sandbox('smi-dead');
    const { binDir } = vllmWrapper(sb, {});
    const base = { 'temperature.gpu': '40', 'power.draw': '80.00' };
    const smi = controllableSmi(sb, { values: base });
    const program = vllmProgram(sb);
    const env = { PATH: pathWith(binDir), ...smi.env };
    const run = startCli(sb, ['run', '--program', program, '--db', sb.db, '--json'], { env });
    await loadRunning(sb, 1);
    const diedAt = Date.now() / 1000;
    smi.set({ values: base, mode: 'exit-always' });
    const r = await run;
    expect(r.exitCode).toBe(1);
    expect(String(r.stderr)).toMatch(/telemetry failed; the run cannot measure energy any more: nvidia-smi sampler exited unexpectedly \(exit code 1\): Unable to determine the device handle/);
    const e = rows<{ status: string; error: string; ended_at: string }>(sb.db, 'SELECT status, error, ended_at FROM experiments')[0]!;
    expect(e.status).toBe('interrupted');
    expect(e.error).toMatch(/telemetry failed during the experiment: .*measured again when the run resumes/);
    // No thermal watchdog without samples: the load stopped within seconds, not at the end of the window.
    expect(Date.parse(e.ended_at) / 1000 - diedAt).toBeLessThan(3);
    expect(rows(sb.db, 'SELECT status FROM runs')).toEqual([{ status: 'failed' }]);
    expect(await survivors(sb.tag)).toEqual([]);

    // nvidia-smi works again: the run resumes and measures the interrupted config.
    smi.set({ values: base });
    const resumed = await cli(sb, ['run', '--program', program, '--db', sb.db, '--json', '--max-experiments', '1'], { env });
    expect(resumed.exitCode, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ resumed: true, experiments: 1, ok: 1 });
    expect(rows(sb.db, 'SELECT status FROM experiments ORDER BY id')).toEqual([{ status: 'interrupted' }, { status: 'ok' }]);
  }, 90_000);

  it('nvidia-smi missing: exit 1 naming it and how to fix it, before any experiment', async () => {
    const sb = sandbox('smi-missing');
    const program = vllmProgram(sb);
    const r = await cli(sb, ['run', '--program', program, '--db', sb.db], { env: { PATH: pathWith(), CARBONBENCH_NVIDIA_SMI: join(sb.dir, 'no', 'nvidia-smi') } });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/nvidia-smi.*(not found|ENOENT)/);
    expect(r.stderr).toMatch(/--nvidia-smi|CARBONBENCH_NVIDIA_SMI|install/);
    expect(tryRows(sb.db, 'SELECT id FROM experiments')).toEqual([]);
    expect(await survivors(sb.tag)).toEqual([]);
  });

  it('temperature spike on the sim engine (engine_options sim_temp_spike_at_s): the experiment under the spike is aborted_thermal within one sample, the gate waits it out, the sweep completes', async () => {
    const program = (sb: Sandbox, spike: string): string =>
      writeProgram(
        sb,
        `
engine: sim
models: [{ id: sim/qwen2.5-0.5b, params: 0.49e9, family: qwen2.5 }]
space: { quant: [bf16, fp8], batch: [1, 8], input_len: [128], output_len: [128] }
budget: { experiments: 4, experiment_seconds: 60 }
carbon: { region: US-NE-ISNE }
safety: { abort_temp_c: 85, cooldown_temp_c: 60, cooldown_max_s: 120 }
engine_options: { sim_noise: 0.02${spike} }
seed: 3`,
      );
    // Where the windows fall in virtual time (deterministic): put the spike in the middle of experiment 2.
    const ref = sandbox('sim-spike-ref');
    expect((await cli(ref, ['run', '--program', program(ref, ''), '--db', ref.db])).exitCode).toBe(0);
    const t0 = 1_800_000_000; // the VirtualClock's epoch; the simulated telemetry starts there
    const w = rows<{ a: number; b: number }>(ref.db, 'SELECT window_start_t_s AS a, window_end_t_s AS b FROM experiments WHERE id = 2')[0]!;
    const spikeAtS = Math.round((w.a + w.b) / 2 - t0);

    const sb = sandbox('sim-spike');
    const r = await cli(sb, ['run', '--program', program(sb, `, sim_temp_spike_at_s: ${spikeAtS}, sim_temp_spike_s: 5`), '--db', sb.db, '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: 'completed', experiments: 4 });
    const ex = rows<{ id: number; status: string; error: string | null; ended_at: string; cooldown_wait_s: number; start_temp_c: number; max_temp_c: number }>(
      sb.db,
      'SELECT id, status, error, ended_at, cooldown_wait_s, start_temp_c, max_temp_c FROM experiments ORDER BY id',
    );
    const spike = t0 + spikeAtS;
    expect(ex[1]).toMatchObject({ status: 'aborted_thermal', max_temp_c: 86 });
    expect(ex[1]!.error).toMatch(/reached 86 °C/);
    expect(Date.parse(ex[1]!.ended_at) / 1000).toBeLessThanOrEqual(spike + 1);
    // The next experiment's cooldown gate waited until the 5 s of 86 °C readings were over.
    expect(ex[2]!.cooldown_wait_s).toBeGreaterThanOrEqual(spike + 5 - Date.parse(ex[1]!.ended_at) / 1000 - 1);
    expect(ex[2]!.start_temp_c).toBeLessThanOrEqual(60);
    expect(ex.filter((e) => e.status === 'ok')).toHaveLength(3);
  });
});
