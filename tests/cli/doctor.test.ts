import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildFakeNvml } from '../helpers/fake-nvml.js';
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
