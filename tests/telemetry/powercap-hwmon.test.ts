/**
 * RAPL (powercap) and hwmon discovery on fake sysfs trees: what is counted as cpu / dram, what is recorded
 * only (core/uncore are parts of the package, psys overlaps it, mmio duplicates it, unknown hwmon rails),
 * and why a source is unreadable.
 */
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { classifyHwmon, discoverHwmon } from '../../src/telemetry/hwmon.js';
import { counterDeltaUj, discoverPowercap } from '../../src/telemetry/powercap.js';
import { resolveSysfsRoot, unreadableReason } from '../../src/telemetry/sysfs.js';
import { fakeSysfsRoot, hwmonChip, raplControlType, raplZone } from '../helpers/fake-sysfs.js';

function serverTree(): string {
  const root = fakeSysfsRoot();
  raplControlType(root);
  raplZone(root, 'intel-rapl:0', 'package-0', 1000);
  raplZone(root, 'intel-rapl:0:0', 'core', 500);
  raplZone(root, 'intel-rapl:0:1', 'uncore', 200);
  raplZone(root, 'intel-rapl:0:2', 'dram', 300);
  raplZone(root, 'intel-rapl:1', 'package-1', 7000);
  raplZone(root, 'intel-rapl:1:0', 'dram', 400);
  raplZone(root, 'intel-rapl:2', 'psys', 9000);
  raplZone(root, 'intel-rapl-mmio:0', 'package-0', 1000);
  return root;
}

describe('discoverPowercap', () => {
  it('counts package-N as cpu and dram as dram; core, uncore, psys and mmio are recorded only, with the reason', () => {
    const { zones, reason } = discoverPowercap(serverTree());
    expect(reason).toBeNull();
    const byId = Object.fromEntries(zones.map((z) => [z.id, z]));
    expect(Object.keys(byId)).toEqual(['intel-rapl-mmio:0', 'intel-rapl:0', 'intel-rapl:0:0', 'intel-rapl:0:1', 'intel-rapl:0:2', 'intel-rapl:1', 'intel-rapl:1:0', 'intel-rapl:2']);
    expect(zones.filter((z) => z.component === 'cpu').map((z) => z.id)).toEqual(['intel-rapl:0', 'intel-rapl:1']);
    expect(zones.filter((z) => z.component === 'dram').map((z) => z.id)).toEqual(['intel-rapl:0:2', 'intel-rapl:1:0']);
    expect(byId['intel-rapl:0:0']).toMatchObject({ kind: 'core', parent: 'intel-rapl:0', component: null, readable: true });
    expect(byId['intel-rapl:0:0']!.reason).toMatch(/part of package intel-rapl:0.*never added/);
    expect(byId['intel-rapl:0:1']!.reason).toMatch(/uncore is part of package/);
    expect(byId['intel-rapl:2']).toMatchObject({ kind: 'psys', component: null });
    expect(byId['intel-rapl:2']!.reason).toMatch(/psys.*never added/);
    expect(byId['intel-rapl-mmio:0']).toMatchObject({ component: null });
    expect(byId['intel-rapl-mmio:0']!.reason).toMatch(/not an intel-rapl zone/);
    expect(byId['intel-rapl:0']).toMatchObject({ name: 'package-0', readable: true, reason: null, maxEnergyRangeUj: 262_143_328_850 });
  });

  it('an absent powercap directory (a container) is no zones and a reason naming the directory', () => {
    const root = fakeSysfsRoot();
    const r = discoverPowercap(root);
    expect(r.zones).toEqual([]);
    expect(r.reason).toContain(join(root, 'class', 'powercap'));
    expect(r.reason).toMatch(/container/);
  });

  it('a counter that is not an integer, or a zone without max_energy_range_uj, is unreadable with the reason (never 0)', () => {
    const root = fakeSysfsRoot();
    raplZone(root, 'intel-rapl:0', 'package-0', 'garbage');
    raplZone(root, 'intel-rapl:1', 'package-1', 5, null);
    const [z0, z1] = discoverPowercap(root).zones;
    expect(z0).toMatchObject({ readable: false, component: 'cpu' });
    expect(z0!.reason).toMatch(/energy_uj holds "garbage", not a non-negative integer/);
    expect(z1).toMatchObject({ readable: false, maxEnergyRangeUj: null });
    expect(z1!.reason).toMatch(/max_energy_range_uj.*cannot be unwrapped/);
  });

  it('a zone whose energy_uj is a directory (read fails with EISDIR) is unreadable, not zero', () => {
    const root = fakeSysfsRoot();
    const dir = raplZone(root, 'intel-rapl:0', 'package-0', 1);
    const file = join(dir, 'energy_uj');
    chmodSync(file, 0o644);
    // Replace the file by a directory.
    rmSync(file);
    mkdirSync(file);
    const [z] = discoverPowercap(root).zones;
    expect(z).toMatchObject({ readable: false });
    expect(z!.reason).toMatch(/EISDIR|cannot read/);
  });
});

describe('counterDeltaUj', () => {
  it('differences a counter and corrects one wrap at max_energy_range_uj', () => {
    expect(counterDeltaUj(100, 350, 1000)).toBe(250);
    expect(counterDeltaUj(900, 150, 1000)).toBe(250); // 900 → 1000 ≡ 0 → 150
    expect(counterDeltaUj(5, 5, 1000)).toBe(0);
  });
});

describe('discoverHwmon', () => {
  it('classifies by chip and label: amd_energy sockets are cpu, cores are parts; a CPU/DRAM label counts; unknown rails are recorded only', () => {
    const root = fakeSysfsRoot();
    hwmonChip(root, 'hwmon0', 'amd_energy', [
      { kind: 'energy', n: 1, value: 10, label: 'Ecore000' },
      { kind: 'energy', n: 2, value: 20, label: 'Esocket0' },
    ]);
    hwmonChip(root, 'hwmon1', 'spark_pwr', [
      { kind: 'power', n: 1, value: 25_000_000, label: 'CPU' },
      { kind: 'power', n: 2, value: 5_000_000, label: 'DRAM' },
      { kind: 'power', n: 3, value: 40_000_000, label: 'SYS_IN' },
      { kind: 'power', n: 4, value: 'N/A' },
    ]);
    writeFileSync(join(root, 'class', 'hwmon', 'hwmon1', 'temp1_input'), '45000\n');
    const { sensors, reason } = discoverHwmon(root);
    expect(reason).toBeNull();
    expect(sensors.map((s) => [s.id, s.kind, s.component, s.readable])).toEqual([
      ['hwmon0/energy1', 'energy', null, true],
      ['hwmon0/energy2', 'energy', 'cpu', true],
      ['hwmon1/power1', 'power', 'cpu', true],
      ['hwmon1/power2', 'power', 'dram', true],
      ['hwmon1/power3', 'power', null, true],
      ['hwmon1/power4', 'power', null, false],
    ]);
    expect(sensors[0]!.reason).toMatch(/part of its socket/);
    expect(sensors[4]!.reason).toMatch(/meaning unknown.*"SYS_IN".*never added/);
    expect(sensors[5]!.reason).toMatch(/not a non-negative integer/);
  });

  it('no hwmon directory: no sensors and the reason', () => {
    const r = discoverHwmon(fakeSysfsRoot());
    expect(r.sensors).toEqual([]);
    expect(r.reason).toMatch(/hwmon/);
  });

  it('a label it does not know is never counted, whatever the chip', () => {
    expect(classifyHwmon('nvme', null).component).toBeNull();
    expect(classifyHwmon('ina3221', 'VDD_GPU_SOC').component).toBeNull();
    expect(classifyHwmon('ina3221', 'CPU').component).toBe('cpu');
  });
});

describe('sysfs helpers', () => {
  it('the root is the flag (a directory), else $CARBONBENCH_SYSFS_ROOT, else /sys', () => {
    const saved = process.env.CARBONBENCH_SYSFS_ROOT;
    try {
      delete process.env.CARBONBENCH_SYSFS_ROOT;
      expect(resolveSysfsRoot()).toBe('/sys');
      process.env.CARBONBENCH_SYSFS_ROOT = '/tmp/x';
      expect(resolveSysfsRoot()).toBe('/tmp/x');
      const dir = fakeSysfsRoot();
      expect(resolveSysfsRoot(dir)).toBe(dir);
      // A flag naming no directory is a typo, refused (exit 2), not "no RAPL here".
      expect(() => resolveSysfsRoot('/nonexistent/sys')).toThrow(/--sysfs-root "\/nonexistent\/sys" is not a directory; allowed: a sysfs tree/);
    } finally {
      if (saved === undefined) delete process.env.CARBONBENCH_SYSFS_ROOT;
      else process.env.CARBONBENCH_SYSFS_ROOT = saved;
    }
  });

  it('names permission errors as such', () => {
    const err = Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
    expect(unreadableReason(err, '/sys/class/powercap/intel-rapl:0/energy_uj')).toBe('permission denied (EACCES) reading /sys/class/powercap/intel-rapl:0/energy_uj');
  });
});
