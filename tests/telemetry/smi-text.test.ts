import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseGpuList, parseQuery, powerReports } from '../../src/telemetry/smi-text.js';
import { fixture } from '../helpers/paths.js';

describe('nvidia-smi -L', () => {
  it('one H200 and two H100s', () => {
    expect(parseGpuList(readFileSync(fixture('smi-L.txt'), 'utf8'))).toEqual([{ index: 0, name: 'NVIDIA H200', uuid: 'GPU-0da11bf5-cd30-0b67-48c7-0c33fa2ed96f' }]);
    const two = parseGpuList(readFileSync(fixture('smi-2gpu-L.txt'), 'utf8'));
    expect(two.map((g) => [g.index, g.name])).toEqual([
      [0, 'NVIDIA H100 80GB HBM3'],
      [1, 'NVIDIA H100 80GB HBM3'],
    ]);
    expect(parseGpuList(readFileSync(fixture('smi-bad-index.txt'), 'utf8'))).toEqual([]);
  });
});

describe('nvidia-smi -q', () => {
  const q = parseQuery(readFileSync(fixture('smi-q.txt'), 'utf8'));

  it('keeps the top-level values and nests sections by indentation', () => {
    expect(q.values['Driver Version']).toBe('580.159.04');
    const gpu = q.sections['GPU 00000000:00:06.0']!;
    expect(gpu.values['Performance State']).toBe('P0');
    expect(gpu.sections['Clocks Event Reasons']!.values['SW Power Cap']).toBe('Not Active');
    // "HW Thermal Slowdown" is indented one level deeper than "HW Slowdown" but is a value, not a section.
    expect(gpu.sections['Clocks Event Reasons']!.values['HW Thermal Slowdown']).toBe('Not Active');
    expect(gpu.sections['Temperature']!.values['GPU Current Temp']).toBe('39 C');
    expect(gpu.sections['Clocks']!.values['SM']).toBe('1980 MHz');
  });

  it('power: 1 s average and instant readings, limits, no module power on an H200', () => {
    expect(powerReports(q)).toEqual([
      { gpu: 'GPU 00000000:00:06.0', averagePowerW: 123.9, instantPowerW: 127.75, powerLimitW: 700, defaultPowerLimitW: 700, modulePowerW: null, memoryPowerW: 44.29 },
    ]);
  });
});
