/**
 * HostEnergyMeter on fake sysfs trees with a controlled clock: counters advanced by the test at known
 * power, read by the real sysfs readers. Wraps, sub-zones, sockets, hwmon power and energy, resets.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HostEnergyMeter, discoverHost } from '../../src/energy/host-meter.js';
import { fakeSysfsRoot, hwmonChip, raplZone, setSensor, setZoneEnergy } from '../helpers/fake-sysfs.js';

/** A meter over `root` whose clock is `t.now`. */
function meterAt(root: string): { meter: HostEnergyMeter; t: { now: number } } {
  const t = { now: 1_000 };
  return { meter: new HostEnergyMeter(discoverHost(root), { now: () => t.now }), t };
}

describe('HostEnergyMeter: RAPL', () => {
  it('40 W package and 6 W dram over a 10 s window, package wrapping twice: cpu 400 J, dram 60 J; core never added', () => {
    const root = fakeSysfsRoot();
    const MAX = 150_000_000; // 150 J range: wraps every 3.75 s at 40 W
    const pkg = raplZone(root, 'intel-rapl:0', 'package-0', 140_000_000, MAX);
    const core = raplZone(root, 'intel-rapl:0:0', 'core', 0, MAX);
    const dram = raplZone(root, 'intel-rapl:0:1', 'dram', 0, MAX);
    const { meter, t } = meterAt(root);
    expect(meter.components()).toEqual(['cpu', 'dram']);
    let pkgUj = 140_000_000;
    let coreUj = 0;
    let dramUj = 0;
    const step = (dtS: number): void => {
      t.now += dtS;
      pkgUj += 40e6 * dtS;
      coreUj += 30e6 * dtS;
      dramUj += 6e6 * dtS;
      setZoneEnergy(pkg, pkgUj % MAX);
      setZoneEnergy(core, coreUj % MAX);
      setZoneEnergy(dram, dramUj % MAX);
      meter.poll();
    };
    meter.poll();
    const fromS = t.now;
    for (let i = 0; i < 40; i++) step(0.25); // 10 s at 4 Hz
    const w = meter.measure(fromS, t.now);
    expect(w.cpuJ).toBeCloseTo(400, 6);
    expect(w.dramJ).toBeCloseTo(60, 6);
    expect(w.cpuSource).toBe('rapl package-0');
    expect(w.dramSource).toBe('rapl dram');
    const coreRow = w.sources.find((s) => s.sensor === 'core')!;
    // The core sub-zone is measured (300 J) and recorded, but not counted: it is part of the package.
    expect(coreRow.energyJ).toBeCloseTo(300, 6);
    expect(coreRow.counted).toBe(false);
    expect(coreRow.component).toBeNull();
  });

  it('window edges between readings are interpolated linearly; an edge outside the readings gives no figure', () => {
    const root = fakeSysfsRoot();
    const pkg = raplZone(root, 'intel-rapl:0', 'package-0', 0);
    const { meter, t } = meterAt(root);
    meter.poll();
    for (let i = 1; i <= 4; i++) {
      t.now += 1;
      setZoneEnergy(pkg, i * 50e6); // 50 W
      meter.poll();
    }
    expect(meter.measure(1_000.5, 1_003.25).cpuJ).toBeCloseTo(50 * 2.75, 6);
    const late = meter.measure(1_001, 1_010);
    expect(late.cpuJ).toBeNull();
    expect(late.cpuError).toMatch(/package-0: the readings do not cover the window/);
  });

  it('two sockets add up; if one socket has no figure the CPU has none (never half a CPU)', () => {
    const root = fakeSysfsRoot();
    const p0 = raplZone(root, 'intel-rapl:0', 'package-0', 0);
    const p1 = raplZone(root, 'intel-rapl:1', 'package-1', 0);
    const { meter, t } = meterAt(root);
    meter.poll();
    t.now += 2;
    setZoneEnergy(p0, 100e6);
    setZoneEnergy(p1, 60e6);
    meter.poll();
    expect(meter.measure(1_000, 1_002).cpuJ).toBeCloseTo(160, 6);
    expect(meter.measure(1_000, 1_002).cpuSource).toBe('rapl package-0 + package-1');
    // package-1 becomes unreadable: later windows have no CPU figure, with the read error as the reason.
    rmSync(join(p1, 'energy_uj'));
    t.now += 2;
    setZoneEnergy(p0, 200e6);
    meter.poll();
    const w = meter.measure(1_002, 1_004);
    expect(w.cpuJ).toBeNull();
    expect(w.cpuError).toMatch(/package-1: the readings do not cover the window \(last read error: missing: .*energy_uj\)/);
    expect(w.sources.find((s) => s.sensor === 'package-0')!.energyJ).toBeCloseTo(100, 6);
  });

  it('refuses a poll rate below 1 Hz (a counter could wrap twice unseen)', () => {
    expect(() => new HostEnergyMeter(discoverHost(fakeSysfsRoot()), { pollHz: 0.5 })).toThrow(/at least 1 Hz/);
  });
});

describe('HostEnergyMeter: hwmon', () => {
  it('integrates power sensors (µW) with the trapezoid and differences energy counters (µJ)', () => {
    const root = fakeSysfsRoot();
    const chip = hwmonChip(root, 'hwmon0', 'board_pwr', [
      { kind: 'power', n: 1, value: 20_000_000, label: 'CPU' },
      { kind: 'power', n: 2, value: 9_000_000, label: 'VIN_SYS' },
    ]);
    const amd = hwmonChip(root, 'hwmon1', 'amd_energy', [{ kind: 'energy', n: 1, value: 0, label: 'Esocket0' }]);
    const { meter, t } = meterAt(root);
    meter.poll();
    // CPU power ramps 20 → 30 W over 2 s: trapezoid = 50 J. amd_energy counter: 44 J.
    t.now += 1;
    setSensor(chip, 'power', 1, 25_000_000);
    setSensor(amd, 'energy', 1, 22_000_000);
    meter.poll();
    t.now += 1;
    setSensor(chip, 'power', 1, 30_000_000);
    setSensor(amd, 'energy', 1, 44_000_000);
    meter.poll();
    const w = meter.measure(1_000, 1_002);
    const byId = Object.fromEntries(w.sources.map((s) => [s.id, s]));
    expect(byId['hwmon0/power1']!.energyJ).toBeCloseTo(50, 6);
    expect(byId['hwmon1/energy1']!.energyJ).toBeCloseTo(44, 6);
    // An energy counter beats a power sensor for the same component; the other is recorded, not added.
    expect(w.cpuJ).toBeCloseTo(44, 6);
    expect(w.cpuSource).toBe('hwmon-energy amd_energy Esocket0');
    expect(byId['hwmon0/power1']).toMatchObject({ counted: false, note: 'not added: cpu is measured by hwmon-energy' });
    // The unknown rail has its energy (18 J) but counts toward nothing.
    expect(byId['hwmon0/power2']).toMatchObject({ component: null, counted: false });
    expect(byId['hwmon0/power2']!.energyJ).toBeCloseTo(18, 6);
  });

  it('a window inside a long series takes only its own readings (binary search, slice)', () => {
    const root = fakeSysfsRoot();
    const chip = hwmonChip(root, 'hwmon0', 'board_pwr', [{ kind: 'power', n: 1, value: 10_000_000, label: 'CPU' }]);
    const amd = hwmonChip(root, 'hwmon1', 'other', [{ kind: 'energy', n: 1, value: 0, label: 'DRAM' }]);
    const { meter, t } = meterAt(root);
    meter.poll();
    for (let i = 1; i <= 2_000; i++) {
      t.now += 0.25;
      // Power alternates 10 W / 30 W every reading; DRAM counter at 5 W.
      setSensor(chip, 'power', 1, i % 2 === 0 ? 10_000_000 : 30_000_000);
      setSensor(amd, 'energy', 1, Math.round(i * 0.25 * 5e6));
      meter.poll();
    }
    // 100 s in the middle, edges on readings: trapezoid of a 10/30 W zigzag = 20 W mean.
    const w = meter.measure(1_000 + 200, 1_000 + 300);
    expect(w.cpuJ).toBeCloseTo(2000, 6);
    expect(w.dramJ).toBeCloseTo(500, 6);
  });

  it('RAPL beats hwmon for the CPU', () => {
    const root = fakeSysfsRoot();
    const pkg = raplZone(root, 'intel-rapl:0', 'package-0', 0);
    hwmonChip(root, 'hwmon0', 'x', [{ kind: 'power', n: 1, value: 1_000_000, label: 'CPU' }]);
    const { meter, t } = meterAt(root);
    meter.poll();
    t.now += 1;
    setZoneEnergy(pkg, 35e6);
    meter.poll();
    const w = meter.measure(1_000, 1_001);
    expect(w.cpuJ).toBeCloseTo(35, 6);
    expect(w.sources.find((s) => s.kind === 'hwmon-power')!.note).toBe('not added: cpu is measured by rapl');
  });

  it('an hwmon energy counter that goes down was reset: no figure for a window across it', () => {
    const root = fakeSysfsRoot();
    const amd = hwmonChip(root, 'hwmon0', 'amd_energy', [{ kind: 'energy', n: 1, value: 500_000_000, label: 'Esocket0' }]);
    const { meter, t } = meterAt(root);
    meter.poll();
    t.now += 1;
    setSensor(amd, 'energy', 1, 530_000_000);
    meter.poll();
    t.now += 1;
    setSensor(amd, 'energy', 1, 1_000);
    meter.poll();
    t.now += 1;
    setSensor(amd, 'energy', 1, 31_000_000);
    meter.poll();
    expect(meter.measure(1_000, 1_001).cpuJ).toBeCloseTo(30, 6);
    const across = meter.measure(1_000, 1_003);
    expect(across.cpuJ).toBeNull();
    expect(across.cpuError).toMatch(/reset inside the window/);
    expect(meter.measure(1_002, 1_003).cpuJ).toBeCloseTo(30.999, 6);
  });

  it('nothing readable: no sources, no components, null figures without errors', () => {
    const { meter } = meterAt(fakeSysfsRoot());
    expect(meter.sourceCount).toBe(0);
    meter.poll();
    const w = meter.measure(1_000, 1_010);
    expect(w).toMatchObject({ cpuJ: null, dramJ: null, cpuError: null, dramError: null, sources: [] });
  });
});
