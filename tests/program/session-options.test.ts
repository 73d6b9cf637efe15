/**
 * What a plain run and a study worker open their telemetry and carbon session with (sessionOptionsOf):
 * every program.md key that shapes a measurement reaches it. Workers used to build their own copy and
 * missed --sysfs-root and the grid-intensity provider (and energy.boundary, passed to each experiment).
 */
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { getEngine } from '../../src/engines/registry.js';
import { parseProgram } from '../../src/program/parse.js';
import { sessionOptionsOf } from '../../src/runner/run.js';

const program = (extra: string): string => `---
engine: sim
models: [{ id: sim/qwen2.5-0.5b, params: 0.49e9 }]
space: { quant: [bf16], batch: [1], input_len: [128], output_len: [128] }
gpus: [0]
${extra}
---
`;

describe('sessionOptionsOf', () => {
  it('carries energy.nvml_hz, the intensity provider, the hardware keys and the CLI flags', async () => {
    const parsed = parseProgram(program(`carbon: { intensity_provider: electricitymaps, zone: DE, hardware: h100-sxm, embodied_kg: 1500, lifetime_years: 5, gpus_total: 8 }
energy: { boundary: gpu, nvml_hz: 2 }
engine_options: { sim_hardware: h100-sxm }`));
    const engine = await getEngine('sim');
    const o = sessionOptionsOf(parsed, { db: '/tmp/x.db', sysfsRoot: '/tmp/sys', nvidiaSmi: '/bin/fake-smi' }, engine, 7);
    expect(o).toMatchObject({
      db: '/tmp/x.db',
      seed: 7,
      nvidiaSmi: '/bin/fake-smi',
      sysfsRoot: '/tmp/sys',
      nvmlHz: 2,
      gpus: [0],
      simHardware: 'h100-sxm',
      programHash: parsed.sha256,
      carbon: { hardware: 'h100-sxm', embodiedKg: 1500, lifetimeYears: 5, gpusTotal: 8, timed: { provider: 'electricitymaps', zone: 'DE' } },
    });
    expect(o.programText).toBe(parsed.text);
    // Defaults: auto rate, static intensity, the program's GPUs unless --gpus.
    const plain = sessionOptionsOf(parseProgram(program('carbon: { region: FR }')), { db: 'r.db', gpus: [1] }, engine, 0);
    expect(plain).toMatchObject({ nvmlHz: 'auto', gpus: [1], carbon: { region: 'FR', timed: { provider: 'static' } } });
  });

  it('energy.nvml_hz refuses anything but auto or an integer from 1 to 100, naming what is allowed', () => {
    for (const bad of ['0', '101', '2.5', 'fast']) {
      expect(() => parseProgram(program(`energy: { nvml_hz: ${bad} }`))).toThrow(InputError);
      expect(() => parseProgram(program(`energy: { nvml_hz: ${bad} }`))).toThrow(/nvml_hz.*allowed: auto, or an integer number of reads per second from 1 to 100/s);
    }
  });
});
