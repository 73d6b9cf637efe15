/**
 * Issue 9 end to end: `carbonbench measure` on the vLLM stub with a fake sysfs whose RAPL counters a
 * separate process advances in real time (package 40 W, its core sub-zone 25 W, dram 6 W, psys 100 W,
 * a 100 J wrap range: the package counter wraps every 2.5 s). The stored experiment must have CPU and DRAM
 * energy ≈ power × window over the same window as the GPU energy, boundary gpu+cpu+dram, and an SCI
 * that equals the formula on the boundary energy. doctor must list the zones it found.
 */
import { execa, type ResultPromise } from 'execa';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SECONDS_PER_YEAR } from '../../src/carbon/sci.js';
import type { ExperimentRecord } from '../../src/store/types.js';
import { buildFakeNvml } from '../helpers/fake-nvml.js';
import { fakeSysfsRoot, hwmonChip, raplControlType, raplZone } from '../helpers/fake-sysfs.js';
import { runCli } from '../helpers/cli.js';
import { FAKE_SMI, ROOT, fixture } from '../helpers/paths.js';

let nvmlLib: string;
beforeAll(() => {
  nvmlLib = buildFakeNvml();
});

const writers: ResultPromise[] = [];
afterEach(async () => {
  for (const w of writers.splice(0)) {
    w.kill('SIGTERM');
    await w.catch(() => {});
  }
});

const RANGE_UJ = 100_000_000; // 100 J

/** A fake sysfs tree and the writer process advancing it. */
async function raplTree(): Promise<string> {
  const root = fakeSysfsRoot();
  raplControlType(root);
  const pkg = raplZone(root, 'intel-rapl:0', 'package-0', 99_000_000, RANGE_UJ); // wraps 25 ms after start
  const core = raplZone(root, 'intel-rapl:0:0', 'core', 0, RANGE_UJ);
  const dram = raplZone(root, 'intel-rapl:0:1', 'dram', 0, RANGE_UJ);
  const psys = raplZone(root, 'intel-rapl:1', 'psys', 0, RANGE_UJ);
  hwmonChip(root, 'hwmon0', 'mystery', [{ kind: 'power', n: 1, value: 12_000_000, label: 'VIN' }]);
  const writer = execa(process.execPath, [join(ROOT, 'tests', 'fakes', 'rapl-writer.mjs'), `${pkg}=40`, `${core}=25`, `${dram}=6`, `${psys}=100`], { stdin: 'ignore' });
  writers.push(writer);
  await new Promise<void>((resolve, reject) => {
    writer.stdout!.once('data', () => resolve());
    writer.catch(reject);
  });
  return root;
}

function workdir(): { dir: string; db: string; program: string; model: string } {
  const dir = mkdtempSync(join(tmpdir(), 'cb-boundary-'));
  const model = `stub/model-1b-${dir.slice(-6)}`;
  const program = join(dir, 'program.md');
  writeFileSync(program, `---\nengine: vllm\nmodels:\n  - { id: ${model}, params: 1.0e9, family: stub }\nspace: { quant: [bf16], batch: [4], input_len: [64], output_len: [32] }\ncarbon: { intensity: 300 }\nsafety: { abort_temp_c: 85, cooldown_temp_c: 50, cooldown_max_s: 1 }\n---\nTest program.\n`);
  return { dir, db: join(dir, 'results.db'), program, model };
}

function env(dir: string): Record<string, string> {
  return {
    PATH: `${join(ROOT, 'tests', 'fakes')}${delimiter}${process.env.PATH}`,
    CARBONBENCH_NVIDIA_SMI: FAKE_SMI,
    FAKE_SMI_TRACE: fixture('smi-full-format-sample.csv'),
    FAKE_SMI_LOOP: '1',
    CARBONBENCH_NVML_LIB: nvmlLib,
    FAKE_NVML_NAME: 'NVIDIA H200',
    FAKE_NVML_POWER_W: '250',
    HOME: dir,
  };
}

describe('energy boundary end to end', () => {
  it('measure with --sysfs-root: CPU 40 W and DRAM 6 W over the window, boundary gpu+cpu+dram, SCI on the boundary energy', async () => {
    const root = await raplTree();
    const { dir, db, program, model } = workdir();
    const r = await runCli(['measure', '--engine', 'vllm', '--model', model, '--program', program, '--batch', '4', '--input-len', '64', '--output-len', '32', '--sysfs-root', root, '--db', db, '--json'], { env: env(dir), cwd: dir, timeoutMs: 120_000 });
    expect(r.exitCode, r.stderr + r.stdout).toBe(0);
    const row = JSON.parse(r.stdout) as ExperimentRecord;
    expect(row).toMatchObject({ status: 'ok', energySource: 'nvml', boundary: 'gpu+cpu+dram', energyModuleJ: null });
    const windowS = row.windowS!;
    expect(windowS).toBeGreaterThanOrEqual(10); // ≥ 4 package wraps
    // Same window as the GPU figure (fake NVML: 250 W) and the tokens.
    expect(row.energyJ! / windowS).toBeCloseTo(250, 0);
    expect(row.energyCpuJ! / windowS).toBeCloseTo(40, 0); // within ±0.5 W: core (25 W) and psys (100 W) not added
    expect(row.energyDramJ! / windowS).toBeCloseTo(6, 0);
    expect(Math.abs(row.energyCpuJ! / windowS - 40)).toBeLessThan(0.4); // 1%
    expect(row.energyBoundaryJ).toBeCloseTo(row.energyJ! + row.energyCpuJ! + row.energyDramJ!, 6);
    // SCI by hand from the boundary energy (H200 profile: 164 kg over 5 years, one GPU).
    const embodiedG = 164_000 * (windowS / (5 * SECONDS_PER_YEAR));
    expect(row.embodiedG).toBeCloseTo(embodiedG, 9);
    const sciOpUg = ((row.energyBoundaryJ! / 3.6e6) * 300 * 1e6) / row.tokensOut!;
    expect(row.sciOpUg).toBeCloseTo(sciOpUg, 6);
    expect(row.sciUg).toBeCloseTo(sciOpUg + (embodiedG * 1e6) / row.tokensOut!, 6);
    // Every source is recorded; only package, dram and the GPU are in the boundary.
    const comps = Object.fromEntries(row.energyComponents!.map((c) => [c.sensor, c]));
    expect(Object.keys(comps).sort()).toEqual(['GPU 0', 'hwmon0/power1 mystery VIN', 'intel-rapl:0 package-0', 'intel-rapl:0:0 core', 'intel-rapl:0:1 dram', 'intel-rapl:1 psys']);
    expect(comps['intel-rapl:0 package-0']).toMatchObject({ component: 'cpu', counted: true, in_boundary: true });
    expect(comps['intel-rapl:0:0 core']).toMatchObject({ component: null, counted: false, in_boundary: false });
    expect(comps['intel-rapl:0:0 core']!.energy_j! / windowS).toBeCloseTo(25, 0);
    expect(comps['intel-rapl:1 psys']).toMatchObject({ counted: false, in_boundary: false });
    expect(comps['hwmon0/power1 mystery VIN']).toMatchObject({ component: null, in_boundary: false });
    expect(comps['hwmon0/power1 mystery VIN']!.energy_j! / windowS).toBeCloseTo(12, 3);
    expect(row.provenance!.boundary).toMatch(/^gpu\+cpu\+dram/);
    expect(row.provenance!.energy_cpu_j).toBe('rapl package-0 over the same window');
    // The results view has them too.
    const sqlite = new Database(db, { readonly: true });
    const view = sqlite.prepare('SELECT boundary, energy_boundary_j, energy_cpu_j, energy_dram_j, sci_ug FROM results WHERE id = ?').get(row.id);
    sqlite.close();
    expect(view).toEqual({ boundary: 'gpu+cpu+dram', energy_boundary_j: row.energyBoundaryJ, energy_cpu_j: row.energyCpuJ, energy_dram_j: row.energyDramJ, sci_ug: row.sciUg });
  }, 150_000);

  it('program.md energy.boundary: gpu keeps the GPU board for SCI and still records the CPU', async () => {
    const root = await raplTree();
    const { dir, db, program, model } = workdir();
    writeFileSync(program, `---\nengine: vllm\nmodels:\n  - { id: ${model}, params: 1.0e9 }\nspace: { quant: [bf16], batch: [4], input_len: [64], output_len: [32] }\ncarbon: { intensity: 300 }\nenergy: { boundary: gpu }\nsafety: { abort_temp_c: 85, cooldown_temp_c: 50, cooldown_max_s: 1 }\n---\n`);
    const r = await runCli(['measure', '--engine', 'vllm', '--model', model, '--program', program, '--batch', '4', '--input-len', '64', '--output-len', '32', '--db', db, '--json'], { env: { ...env(dir), CARBONBENCH_SYSFS_ROOT: root }, cwd: dir, timeoutMs: 120_000 });
    expect(r.exitCode, r.stderr + r.stdout).toBe(0);
    const row = JSON.parse(r.stdout) as ExperimentRecord;
    expect(row).toMatchObject({ status: 'ok', boundary: 'gpu' });
    expect(row.energyBoundaryJ).toBe(row.energyJ);
    expect(row.energyCpuJ! / row.windowS!).toBeCloseTo(40, 0);
    expect(row.sciOpUg).toBeCloseTo(((row.energyJ! / 3.6e6) * 300 * 1e6) / row.tokensOut!, 6);
    expect(row.provenance!.boundary).toMatch(/mode gpu.*left out: cpu \(energy boundary set to gpu\), dram/);
  }, 150_000);

  it('a superchip reporting module power: boundary module, E = module energy, CPU recorded but not added', async () => {
    const root = await raplTree();
    const { dir, db, program, model } = workdir();
    // A GB10-like trace: power.draw 200 W, module.power.draw.average 330 W, one row a second.
    const trace = join(dir, 'module-trace.csv');
    const rows = Array.from({ length: 30 }, (_, i) => `2026/11/26 05:00:${String(i).padStart(2, '0')}.000, 0, 200.00 W, 201.00 W, 40, 90 %, 1000 MiB, 0x0000000000000000, 330.00 W`);
    writeFileSync(trace, `timestamp, index, power.draw [W], power.draw.instant [W], temperature.gpu, utilization.gpu [%], memory.used [MiB], clocks_event_reasons.active, module.power.draw.average [W]\n${rows.join('\n')}\n`);
    const r = await runCli(['measure', '--engine', 'vllm', '--model', model, '--program', program, '--batch', '4', '--input-len', '64', '--output-len', '32', '--sysfs-root', root, '--db', db, '--json'], { env: { ...env(dir), FAKE_SMI_TRACE: trace }, cwd: dir, timeoutMs: 120_000 });
    expect(r.exitCode, r.stderr + r.stdout).toBe(0);
    const row = JSON.parse(r.stdout) as ExperimentRecord;
    expect(row).toMatchObject({ status: 'ok', boundary: 'module' });
    const windowS = row.windowS!;
    expect(row.energyModuleJ! / windowS).toBeCloseTo(330, 3);
    expect(row.energyBoundaryJ).toBe(row.energyModuleJ);
    expect(row.energyCpuJ! / windowS).toBeCloseTo(40, 0); // measured, recorded …
    const comps = row.energyComponents!;
    expect(comps.find((c) => c.component === 'cpu')).toMatchObject({ counted: true, in_boundary: false }); // … not added
    expect(comps.find((c) => c.component === 'gpu')).toMatchObject({ in_boundary: false });
    expect(comps.find((c) => c.component === 'module')).toMatchObject({ in_boundary: true });
    expect(row.provenance!.energy_cpu_j).toMatch(/not in the boundary: contained in module power/);
    expect(row.sciOpUg).toBeCloseTo(((row.energyModuleJ! / 3.6e6) * 300 * 1e6) / row.tokensOut!, 6);
  }, 150_000);

  it('a --sysfs-root that is not a directory is refused before anything starts (exit 2), by measure and doctor', async () => {
    const { dir, db, program, model } = workdir();
    const r = await runCli(['measure', '--engine', 'vllm', '--model', model, '--program', program, '--batch', '4', '--input-len', '64', '--output-len', '32', '--sysfs-root', join(dir, 'typo'), '--db', db], { env: env(dir), cwd: dir });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/--sysfs-root ".*typo" is not a directory; allowed: a sysfs tree such as \/sys/);
    const d = await runCli(['doctor', '--sysfs-root', join(dir, 'typo'), '--db', db], { env: env(dir), cwd: dir });
    expect(d.exitCode).toBe(2);
    expect(d.stderr).toMatch(/is not a directory/);
  });

  it('an invalid energy.boundary in program.md is refused with what is allowed (exit 2)', async () => {
    const { dir, db, program, model } = workdir();
    writeFileSync(program, `---\nengine: vllm\nmodels:\n  - { id: ${model} }\nspace: { quant: [bf16], batch: [4], input_len: [64], output_len: [32] }\nenergy: { boundary: system }\n---\n`);
    const r = await runCli(['measure', '--engine', 'vllm', '--model', model, '--program', program, '--batch', '4', '--input-len', '64', '--output-len', '32', '--db', db], { env: env(dir), cwd: dir });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/energy\.boundary.*allowed: auto \(the widest boundary measured\) or gpu/);
  });
});
