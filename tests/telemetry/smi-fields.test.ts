/**
 * smi-fields: which --query-gpu names this driver accepts (the real H200 `--help-query-gpu` recording),
 * how the sampler's fields resolve on a current and on an old driver, and clocks_event_reasons bits.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  EVENT_REASON_BITS,
  SAMPLER_FIELDS,
  decodeEventReasons,
  fieldByName,
  parseHelpQueryGpu,
  resolveQuery,
  throttleReasons,
} from '../../src/telemetry/smi-fields.js';

const HELP_PATH = fileURLToPath(new URL('../fixtures/h200/help-query-gpu.txt', import.meta.url));
const HELP = readFileSync(HELP_PATH, 'utf8');

/**
 * The same help text as a driver from before the clocks_throttle → clocks_event rename (R530) and
 * without power.draw.instant would print it: the rename's `"new" or "old"` lines keep only the old name,
 * the counters section (new) and the instant-power line disappear.
 */
function oldDriverHelp(text: string): string {
  return text
    .split('\n')
    .filter((line) => !line.includes('power.draw.instant') && !line.includes('clocks_event_reasons_counters'))
    .map((line) => line.replace(/^"clocks_event_reasons\.([a-z_]+)" or "clocks_throttle_reasons\.\1"/, '"clocks_throttle_reasons.$1"'))
    .join('\n');
}

describe('parseHelpQueryGpu on the real H200 --help-query-gpu', () => {
  const names = parseHelpQueryGpu(HELP);

  it('lists the fields the sampler needs, canonical names and aliases alike', () => {
    for (const name of [
      'timestamp',
      'index',
      'power.draw',
      'power.draw.instant',
      'gpu.power.draw.instant',
      'temperature.gpu',
      'temperature.memory',
      'clocks.sm',
      'clocks.current.sm',
      'clocks.mem',
      'fan.speed',
      'utilization.gpu',
      'memory.used',
      'clocks_event_reasons.active',
      'clocks_throttle_reasons.active',
      'clocks_event_reasons.sw_thermal_slowdown',
      'clocks_throttle_reasons.sw_thermal_slowdown',
      'clocks_event_reasons_counters.sw_power_cap',
    ]) {
      expect(names.has(name), name).toBe(true);
    }
    // 214 field lines in the recording, 41 of them with a second name.
    expect(names.size).toBe(255);
  });

  it('takes no description text for a field name', () => {
    // Quoted strings inside descriptions, and the `"0: Default" means …` lines that start with a quote.
    for (const notAField of ['--query-gpu', 'YYYY/MM/DD HH:MM:SS.msec', 'domain:bus:device.function', 'Enabled', 'Disabled', 'N/A', 'Not Active', '0: Default', '1: Exclusive_Thread', 'All On', 'HMM']) {
      expect(names.has(notAField), notAField).toBe(false);
    }
    for (const name of names) expect(name).toMatch(/^[a-z][A-Za-z0-9_.]*$/);
  });

  it('skips description lines that start with a quoted word (older drivers print `"Default" means …`)', () => {
    const text = [
      '"compute_mode"',
      'The compute mode flag indicates whether individual or multiple compute applications may run on the GPU.',
      '"Default" means multiple contexts are allowed per device.',
      '"Exclusive_Process" means only one context is allowed per device, usable from multiple threads at a time.',
      '"Prohibited" or "Exclusive_Thread" are other values.',
      '"pstate" or "performance_state"  ',
    ].join('\n');
    expect([...parseHelpQueryGpu(text)].sort()).toEqual(['compute_mode', 'performance_state', 'pstate']);
  });

  it('reads CRLF output the same way', () => {
    expect(parseHelpQueryGpu(HELP.replace(/\n/g, '\r\n'))).toEqual(names);
  });

  it('finds nothing in text that is not a help listing', () => {
    expect(parseHelpQueryGpu('Field "power.draw" is not a valid field to query.\n').size).toBe(0);
    expect(parseHelpQueryGpu('').size).toBe(0);
  });
});

describe('resolveQuery', () => {
  it('resolves every sampler field on the current driver, by its canonical name, in order', () => {
    const resolved = resolveQuery(parseHelpQueryGpu(HELP));
    expect(resolved.queryNames).toEqual([
      'timestamp',
      'index',
      'power.draw',
      'power.draw.instant',
      'temperature.gpu',
      'temperature.memory',
      'clocks.sm',
      'clocks.mem',
      'fan.speed',
      'utilization.gpu',
      'memory.used',
      'clocks_event_reasons.active',
      'module.power.draw.average', // issue 9: superchip module power ([N/A] on the H200 that wrote HELP)
    ]);
    expect(resolved.queryNames).toEqual(SAMPLER_FIELDS.map((f) => f.name));
    expect(resolved.keys).toEqual([
      'tS',
      'gpuIndex',
      'powerW',
      'powerInstantW',
      'tempC',
      'memTempC',
      'smClockMhz',
      'memClockMhz',
      'fanPct',
      'utilPct',
      'memUsedMib',
      'eventReasons',
      'modulePowerW',
    ]);
    expect(resolved.unsupported).toEqual([]);
    expect(resolved.missingRequired).toEqual([]);
  });

  it('on an old driver queries clocks_throttle_reasons.active and reports power.draw.instant unsupported', () => {
    const accepted = parseHelpQueryGpu(oldDriverHelp(HELP));
    // The transformation did what it says.
    expect(accepted.has('clocks_event_reasons.active')).toBe(false);
    expect(accepted.has('clocks_throttle_reasons.active')).toBe(true);
    expect(accepted.has('power.draw.instant')).toBe(false);
    expect(accepted.has('gpu.power.draw.instant')).toBe(false);
    expect(accepted.has('power.draw')).toBe(true);

    const resolved = resolveQuery(accepted);
    expect(resolved.queryNames).toContain('clocks_throttle_reasons.active');
    expect(resolved.queryNames).not.toContain('clocks_event_reasons.active');
    expect(resolved.queryNames).not.toContain('power.draw.instant');
    expect(resolved.keys[resolved.queryNames.indexOf('clocks_throttle_reasons.active')]).toBe('eventReasons');
    expect(resolved.keys).not.toContain('powerInstantW');
    expect(resolved.keys).toHaveLength(resolved.queryNames.length);
    expect(resolved.unsupported).toEqual(['power.draw.instant']);
    expect(resolved.missingRequired).toEqual([]);
  });

  it('prefers an alias only when the canonical name is unknown', () => {
    const resolved = resolveQuery(new Set(['timestamp', 'index', 'power.draw', 'temperature.gpu', 'clocks.current.sm', 'gpu.power.draw.instant']));
    expect(resolved.queryNames).toEqual(['timestamp', 'index', 'power.draw', 'gpu.power.draw.instant', 'temperature.gpu', 'clocks.current.sm']);
    expect(resolved.keys).toEqual(['tS', 'gpuIndex', 'powerW', 'powerInstantW', 'tempC', 'smClockMhz']);
  });

  it('reports a missing required field instead of dropping it', () => {
    const accepted = parseHelpQueryGpu(HELP);
    accepted.delete('power.draw');
    accepted.delete('temperature.gpu');
    const resolved = resolveQuery(accepted);
    expect(resolved.missingRequired).toEqual(['power.draw', 'temperature.gpu']);
    expect(resolved.queryNames).not.toContain('power.draw');
    // Optional fields that are missing are "unsupported", not "missing required".
    expect(resolved.unsupported).toEqual([]);
  });
});

describe('fieldByName', () => {
  it('maps header spellings of old and new drivers to the same sample key', () => {
    expect(fieldByName('clocks_throttle_reasons.active')?.key).toBe('eventReasons');
    expect(fieldByName(' clocks_event_reasons.active ')?.key).toBe('eventReasons');
    expect(fieldByName('clocks.current.sm')?.key).toBe('smClockMhz');
    expect(fieldByName('gpu.power.draw.instant')?.key).toBe('powerInstantW');
    expect(fieldByName('power.draw.average')).toBeUndefined();
  });
});

describe('clocks_event_reasons bits', () => {
  it('0x1 is GPU idle, which is not throttling', () => {
    expect(decodeEventReasons(0x1n)).toEqual(['gpuIdle']);
    expect(throttleReasons(0x1n)).toEqual([]);
  });

  it('0x20 is software thermal slowdown', () => {
    expect(decodeEventReasons(0x20n)).toEqual(['swThermalSlowdown']);
    expect(throttleReasons(0x20n)).toEqual(['swThermalSlowdown']);
  });

  it('0x44 is software power cap plus hardware thermal slowdown', () => {
    expect(decodeEventReasons(0x44n)).toEqual(['swPowerCap', 'hwThermalSlowdown']);
    expect(throttleReasons(0x44n)).toEqual(['swPowerCap', 'hwThermalSlowdown']);
  });

  it('0x80 is hardware power brake', () => {
    expect(decodeEventReasons(0x80n)).toEqual(['hwPowerBrakeSlowdown']);
    expect(throttleReasons(0x80n)).toEqual(['hwPowerBrakeSlowdown']);
  });

  it('0x0 is nothing; clock settings and sync boost are not throttling; unknown high bits are ignored', () => {
    expect(decodeEventReasons(0x0n)).toEqual([]);
    expect(decodeEventReasons(0x1n | 0x8n)).toEqual(['gpuIdle', 'hwSlowdown']);
    expect(throttleReasons(0x8n)).toEqual(['hwSlowdown']);
    expect(decodeEventReasons(0x2n | 0x10n | 0x100n)).toEqual(['applicationsClocksSetting', 'syncBoost', 'displayClockSetting']);
    expect(throttleReasons(0x2n | 0x10n | 0x100n)).toEqual([]);
    expect(decodeEventReasons(0x1000n)).toEqual([]);
  });

  it('uses the nvml.h values', () => {
    expect(EVENT_REASON_BITS).toEqual({
      gpuIdle: 0x1n,
      applicationsClocksSetting: 0x2n,
      swPowerCap: 0x4n,
      hwSlowdown: 0x8n,
      syncBoost: 0x10n,
      swThermalSlowdown: 0x20n,
      hwThermalSlowdown: 0x40n,
      hwPowerBrakeSlowdown: 0x80n,
      displayClockSetting: 0x100n,
    });
  });
});
