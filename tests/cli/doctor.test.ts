import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildFakeNvml } from '../helpers/fake-nvml.js';
import { fakeSysfsRoot, hwmonChip, raplControlType, raplZone } from '../helpers/fake-sysfs.js';
import { runCli } from '../helpers/cli.js';
import { FAKE_SMI, fixture } from '../helpers/paths.js';

interface DoctorDoc {
  ok: boolean;
  gpus: { index: number; name: string }[];
  energy_source: string | null;
  nvml: { available: boolean; reason: string | null; driver_version?: string };
  hardware: { id: string; fallback: boolean };
  fields: { query: string[]; unsupported: string[] } | null;
  db: { writable: boolean };
  boundary: string | null;
  checks: { check: string; status: string; detail: string }[];
}

interface HostEnergyDoc {
  sysfs_root: string;
  components: string[];
  powercap: { reason: string | null; zones: { id: string; name: string | null; component: string | null; readable: boolean; reason: string | null }[] };
  hwmon: { reason: string | null; sensors: { id: string; chip: string | null; label: string | null; component: string | null; readable: boolean }[] };
}

let nvmlLib: string;
beforeAll(() => {
  nvmlLib = buildFakeNvml();
});

function env(extra: Record<string, string> = {}): Record<string, string> {
  return {
    CARBONBENCH_NVIDIA_SMI: FAKE_SMI,
    FAKE_SMI_TRACE: fixture('smi-full-format-sample.csv'),
    CARBONBENCH_NVML_LIB: nvmlLib,
    FAKE_NVML_NAME: 'NVIDIA H200',
    CARBONBENCH_SYSFS_ROOT: '/nonexistent-sysfs', // hermetic: the GPU boundary whatever this host's RAPL
    ...extra,
  };
}

describe('carbonbench doctor', () => {
  it('on a (fake) H200 with NVML: ready, energy from the counter, H200 profile', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cb-doctor-'));
    const r = await runCli(['doctor', '--json', '--db', join(dir, 'results.db')], { env: env() });
    const doc = JSON.parse(r.stdout) as DoctorDoc;
    expect(r.exitCode, r.stderr).toBe(0);
    expect(doc.ok).toBe(true);
    expect(doc.gpus).toEqual([expect.objectContaining({ index: 0, name: 'NVIDIA H200' })]);
    expect(doc.energy_source).toBe('nvml');
    expect(doc.nvml).toMatchObject({ available: true, driver_version: '580.159.04' });
    expect(doc.hardware).toMatchObject({ id: 'h200', fallback: false });
    expect(doc.fields?.query).toContain('clocks_event_reasons.active');
    expect(doc.db.writable).toBe(true);
    expect(doc.checks.map((c) => c.check)).toEqual(expect.arrayContaining(['gpu', 'fields', 'power', 'energy', 'hardware', 'engines', 'disk', 'database']));
    expect(doc.boundary).toBe('gpu');
    expect(doc.checks.find((c) => c.check === 'power')?.detail).toMatch(/GPU board power \(1 s average and instantaneous\); power limit 700 W; boundary = GPU board/);
  });

  it('without NVML: still ready, energy from the nvidia-smi trapezoid, and says why', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cb-doctor-'));
    const r = await runCli(['doctor', '--json', '--db', join(dir, 'results.db'), '--nvml-lib', '/nonexistent/libnvidia-ml.so.1'], { env: env() });
    const doc = JSON.parse(r.stdout) as DoctorDoc;
    expect(r.exitCode).toBe(0);
    expect(doc.energy_source).toBe('nvidia-smi');
    expect(doc.nvml.available).toBe(false);
    expect(doc.nvml.reason).toMatch(/\/nonexistent\/libnvidia-ml\.so\.1/);
    expect(doc.checks.find((c) => c.check === 'energy')?.status).toBe('warn');
  });

  it('on a machine without a GPU: exit 1, says so, and --json still prints the document', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cb-doctor-'));
    const r = await runCli(['doctor', '--json', '--db', join(dir, 'results.db')], { env: env({ FAKE_SMI_NO_GPU: '1', FAKE_NVML_INIT_ERROR: '9' }) });
    expect(r.exitCode).toBe(1);
    const doc = JSON.parse(r.stdout) as DoctorDoc;
    expect(doc.ok).toBe(false);
    expect(doc.gpus).toEqual([]);
    const gpu = doc.checks.find((c) => c.check === 'gpu')!;
    expect(gpu.status).toBe('fail');
    expect(gpu.detail).toMatch(/no GPU usable.*couldn't communicate with the NVIDIA driver/);
    expect(doc.nvml.reason).toMatch(/Driver Not Loaded|DRIVER_NOT_LOADED/i);
  });

  it('without nvidia-smi at all: exit 1 with how to fix it (human output)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cb-doctor-'));
    const r = await runCli(['doctor', '--db', join(dir, 'results.db')], { env: { CARBONBENCH_NVIDIA_SMI: '/nonexistent/nvidia-smi', CARBONBENCH_NVML_LIB: '/nonexistent/lib.so' } });
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(/gpu\s+FAIL\s+no GPU usable: \/nonexistent\/nvidia-smi not found: install the NVIDIA driver/);
    expect(r.stdout).toMatch(/not ready for a real run/);
  });

  it('an unwritable database path fails the check', async () => {
    const r = await runCli(['doctor', '--json', '--db', '/sys/results.db'], { env: env() });
    expect(r.exitCode).toBe(1);
    const doc = JSON.parse(r.stdout) as DoctorDoc;
    expect(doc.db.writable).toBe(false);
    expect(doc.checks.find((c) => c.check === 'database')?.status).toBe('fail');
  });
});

describe('carbonbench doctor: host energy (issue 9)', () => {
  it('lists every powercap zone and hwmon sensor with readable and the reason, and the boundary that follows', async () => {
    const root = fakeSysfsRoot();
    raplControlType(root);
    raplZone(root, 'intel-rapl:0', 'package-0', 1000);
    raplZone(root, 'intel-rapl:0:0', 'core', 10);
    raplZone(root, 'intel-rapl:0:1', 'dram', 20);
    raplZone(root, 'intel-rapl:1', 'psys', 30, null);
    hwmonChip(root, 'hwmon0', 'mystery', [{ kind: 'power', n: 1, value: 5_000_000, label: 'VIN' }]);
    const dir = mkdtempSync(join(tmpdir(), 'cb-doctor-'));
    const r = await runCli(['doctor', '--json', '--sysfs-root', root, '--db', join(dir, 'results.db')], { env: env() });
    const doc = JSON.parse(r.stdout) as DoctorDoc & { host_energy: HostEnergyDoc };
    expect(r.exitCode, r.stderr).toBe(0);
    expect(doc.boundary).toBe('gpu+cpu+dram');
    expect(doc.host_energy.sysfs_root).toBe(root);
    expect(doc.host_energy.components).toEqual(['cpu', 'dram']);
    expect(doc.host_energy.powercap.zones.map((z) => [z.id, z.name, z.component, z.readable])).toEqual([
      ['intel-rapl:0', 'package-0', 'cpu', true],
      ['intel-rapl:0:0', 'core', null, true],
      ['intel-rapl:0:1', 'dram', 'dram', true],
      ['intel-rapl:1', 'psys', null, false],
    ]);
    expect(doc.host_energy.powercap.zones[3]!.reason).toMatch(/max_energy_range_uj/);
    expect(doc.host_energy.hwmon.sensors).toEqual([expect.objectContaining({ id: 'hwmon0/power1', chip: 'mystery', label: 'VIN', component: null, readable: true })]);
    const check = doc.checks.find((c) => c.check === 'host-energy')!;
    expect(check.status).toBe('ok');
    expect(check.detail).toMatch(/^CPU package and DRAM energy is measured/);
    expect(doc.checks.find((c) => c.check === 'boundary')?.detail).toBe('gpu+cpu+dram: GPU board + CPU package + DRAM');
  });

  it('energy_uj readable by root only (the PLATYPUS fix), doctor run unprivileged: readable false, EACCES, and the hint; boundary gpu', async () => {
    const root = fakeSysfsRoot();
    const pkg = raplZone(root, 'intel-rapl:0', 'package-0', 1000);
    const asRoot = process.getuid?.() === 0;
    // Like the kernel since 2020: energy_uj is 0400 root. Run as root, the test drops to nobody to read
    // it; run unprivileged, it makes the file unreadable to itself.
    chmodSync(join(pkg, 'energy_uj'), asRoot ? 0o400 : 0o000);
    const r = await runCli(['doctor', '--json', '--sysfs-root', root, '--db', join(root, 'results.db')], { env: env(), ...(asRoot ? { uid: 65534, gid: 65534 } : {}) });
    const doc = JSON.parse(r.stdout) as DoctorDoc & { host_energy: HostEnergyDoc };
    expect(doc.host_energy.powercap.zones).toEqual([expect.objectContaining({ id: 'intel-rapl:0', name: 'package-0', readable: false })]);
    expect(doc.host_energy.powercap.zones[0]!.reason).toBe(`permission denied (EACCES) reading ${join(pkg, 'energy_uj')}`);
    expect(doc.boundary).toBe('gpu');
    const check = doc.checks.find((c) => c.check === 'host-energy')!;
    expect(check.status).toBe('warn');
    expect(check.detail).toMatch(/no CPU energy: the boundary falls back to the GPU.*unreadable: intel-rapl:0 \(package-0\): permission denied.*PLATYPUS fix \(CVE-2020-8694\)/);
  });

  it('no powercap and no hwmon (a container): warns with both reasons', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cb-doctor-'));
    const r = await runCli(['doctor', '--json', '--db', join(dir, 'results.db')], { env: env({ CARBONBENCH_SYSFS_ROOT: join(dir, 'empty-sys') }) });
    const doc = JSON.parse(r.stdout) as DoctorDoc & { host_energy: HostEnergyDoc };
    expect(doc.host_energy.powercap.zones).toEqual([]);
    expect(doc.host_energy.powercap.reason).toMatch(/missing: .*empty-sys\/class\/powercap.*container/);
    expect(doc.host_energy.hwmon.reason).toMatch(/missing: .*empty-sys\/class\/hwmon/);
    expect(doc.checks.find((c) => c.check === 'host-energy')?.status).toBe('warn');
  });
});
