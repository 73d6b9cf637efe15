/**
 * Boundary selection (pure): which components were measured → boundary and SCI energy; module power
 * never has CPU or DRAM added; and the per-source records / provenance an experiment stores.
 */
import { describe, expect, it } from 'vitest';
import { BOUNDARIES, selectBoundary } from '../../src/energy/boundary.js';
import type { HostWindowEnergy } from '../../src/energy/host-meter.js';
import { windowBoundary } from '../../src/energy/window-boundary.js';

describe('selectBoundary', () => {
  const gpuJ = 1000;
  it('GPU only → gpu', () => {
    expect(selectBoundary({ gpuJ, moduleJ: null, cpuJ: null, dramJ: null })).toEqual({ boundary: 'gpu', energyJ: 1000, included: ['gpu'], excluded: [] });
  });
  it('+ CPU package → gpu+cpu; + DRAM → gpu+cpu+dram', () => {
    expect(selectBoundary({ gpuJ, moduleJ: null, cpuJ: 400, dramJ: null })).toMatchObject({ boundary: 'gpu+cpu', energyJ: 1400, included: ['gpu', 'cpu'] });
    expect(selectBoundary({ gpuJ, moduleJ: null, cpuJ: 400, dramJ: 60 })).toMatchObject({ boundary: 'gpu+cpu+dram', energyJ: 1460, included: ['gpu', 'cpu', 'dram'] });
  });
  it('DRAM without the CPU widens nothing: gpu, DRAM recorded as excluded', () => {
    const c = selectBoundary({ gpuJ, moduleJ: null, cpuJ: null, dramJ: 60 });
    expect(c).toMatchObject({ boundary: 'gpu', energyJ: 1000 });
    expect(c.excluded).toEqual([{ component: 'dram', why: 'DRAM without the CPU package widens no boundary' }]);
  });
  it('module power: boundary module, energy = module only, CPU and DRAM never added (no double count)', () => {
    const c = selectBoundary({ gpuJ: 900, moduleJ: 1500, cpuJ: 400, dramJ: 60 });
    expect(c).toMatchObject({ boundary: 'module', energyJ: 1500, included: ['module'] });
    expect(c.excluded.map((e) => e.component).sort()).toEqual(['cpu', 'dram', 'gpu']);
  });
  it('mode gpu keeps the GPU board whatever else was measured', () => {
    const c = selectBoundary({ gpuJ, moduleJ: 1500, cpuJ: 400, dramJ: 60 }, 'gpu');
    expect(c).toMatchObject({ boundary: 'gpu', energyJ: 1000 });
    expect(c.excluded).toHaveLength(3);
  });
  it('every boundary it returns is in the stored list', () => {
    const seen = new Set<string>();
    for (const moduleJ of [null, 1]) for (const cpuJ of [null, 1]) for (const dramJ of [null, 1]) seen.add(selectBoundary({ gpuJ: 1, moduleJ, cpuJ, dramJ }).boundary);
    for (const b of seen) expect(BOUNDARIES).toContain(b);
  });
});

function host(over: Partial<HostWindowEnergy> = {}): HostWindowEnergy {
  return {
    fromS: 0,
    toS: 10,
    cpuJ: 400,
    dramJ: 60,
    cpuSource: 'rapl package-0',
    dramSource: 'rapl dram',
    cpuError: null,
    dramError: null,
    sources: [
      { id: 'intel-rapl:0', kind: 'rapl', sensor: 'package-0', component: 'cpu', energyJ: 400, counted: true, note: null },
      { id: 'intel-rapl:0:0', kind: 'rapl', sensor: 'core', component: null, energyJ: 300, counted: false, note: null },
      { id: 'intel-rapl:0:1', kind: 'rapl', sensor: 'dram', component: 'dram', energyJ: 60, counted: true, note: null },
    ],
    ...over,
  };
}

describe('windowBoundary', () => {
  it('RAPL package + dram beside NVML: gpu+cpu+dram, every source recorded, core not in the boundary', () => {
    const b = windowBoundary({ measurement: { energyJ: 2500, moduleJ: null, moduleError: null, host: host() }, gpuSource: 'nvml', gpus: [0], mode: 'auto' });
    expect(b.choice).toMatchObject({ boundary: 'gpu+cpu+dram', energyJ: 2960 });
    expect(b).toMatchObject({ energyCpuJ: 400, energyDramJ: 60, energyModuleJ: null });
    expect(b.components.map((c) => [c.sensor, c.energy_j, c.counted, c.in_boundary])).toEqual([
      ['GPU 0', 2500, true, true],
      ['intel-rapl:0 package-0', 400, true, true],
      ['intel-rapl:0:0 core', 300, false, false],
      ['intel-rapl:0:1 dram', 60, true, true],
    ]);
    expect(b.provenance.boundary).toMatch(/^gpu\+cpu\+dram \(GPU board \+ CPU package \+ DRAM\)/);
    expect(b.provenance.energy_cpu_j).toBe('rapl package-0 over the same window');
    expect(b.provenance.energy_module_j).toMatch(/not measured: the board reports no module power/);
  });

  it('a superchip: module boundary; CPU recorded with its figure but out of the boundary, and provenance says why', () => {
    const b = windowBoundary({ measurement: { energyJ: 800, moduleJ: 1300, moduleError: null, host: host({ dramJ: null, dramSource: null, sources: [host().sources[0]!] }) }, gpuSource: 'nvml', gpus: [0], mode: 'auto' });
    expect(b.choice).toMatchObject({ boundary: 'module', energyJ: 1300 });
    expect(b.energyCpuJ).toBe(400);
    expect(b.components.find((c) => c.component === 'cpu')).toMatchObject({ counted: true, in_boundary: false });
    expect(b.components.find((c) => c.component === 'gpu')).toMatchObject({ in_boundary: false });
    expect(b.components.find((c) => c.component === 'module')).toMatchObject({ energy_j: 1300, in_boundary: true });
    expect(b.provenance.energy_cpu_j).toMatch(/not in the boundary: contained in module power/);
  });

  it('falls back honestly: a CPU zone that failed gives gpu and says why', () => {
    const b = windowBoundary({ measurement: { energyJ: 800, moduleJ: null, moduleError: null, host: host({ cpuJ: null, dramJ: null, cpuError: 'package-1: the readings do not cover the window' }) }, gpuSource: 'nvidia-smi', gpus: [0, 1], mode: 'auto' });
    expect(b.choice.boundary).toBe('gpu');
    expect(b.provenance.energy_cpu_j).toBe('not measured: package-1: the readings do not cover the window');
    expect(b.components[0]).toMatchObject({ sensor: 'GPU 0+1', source: 'nvidia-smi' });
  });

  it('simulated telemetry (no host meter): gpu, and provenance says there was none', () => {
    const b = windowBoundary({ measurement: { energyJ: 800, moduleJ: null, moduleError: null, host: null }, gpuSource: 'sim', gpus: [0], mode: 'auto' });
    expect(b.choice.boundary).toBe('gpu');
    expect(b.components).toHaveLength(1);
    expect(b.provenance.energy_cpu_j).toMatch(/no host energy meter/);
  });
});
