/** program.md's carbon keys for a time-resolved grid intensity (issue 9 part 2). */
import { describe, expect, it } from 'vitest';
import { parseProgram } from '../../src/program/parse.js';
import { timedIntensityOf } from '../../src/runner/run.js';

const program = (carbon: string): string => `---
engine: sim
models: [{ id: sim/qwen2.5-0.5b, params: 0.49e9 }]
space: { quant: [bf16], batch: [1], input_len: [128], output_len: [128] }
carbon: ${carbon}
---
`;

describe('carbon.intensity_provider, zone, signal', () => {
  it('default: static, as before', () => {
    expect(timedIntensityOf(parseProgram(program('{ region: FR }')).program.carbon)).toEqual({ provider: 'static' });
  });

  it('electricitymaps: zone optional (the provider asks for carbon.region); watttime: zone and signal', () => {
    expect(timedIntensityOf(parseProgram(program('{ region: FR, intensity_provider: electricitymaps }')).program.carbon)).toEqual({ provider: 'electricitymaps' });
    expect(timedIntensityOf(parseProgram(program('{ intensity_provider: electricitymaps, zone: DE }')).program.carbon)).toEqual({ provider: 'electricitymaps', zone: 'DE' });
    expect(timedIntensityOf(parseProgram(program('{ region: US-CAL-CISO, intensity_provider: watttime, zone: CAISO_NORTH, signal: co2_aoer }')).program.carbon)).toEqual({ provider: 'watttime', zone: 'CAISO_NORTH', signal: 'co2_aoer' });
  });

  it.each([
    ['{ intensity_provider: Electricity-Maps }', /carbon\.intensity_provider: "Electricity-Maps" \(string\) — allowed: static, electricitymaps, watttime/],
    ['{ intensity_provider: watttime, signal: co2_moer }', /carbon\.zone: missing — allowed: a WattTime region such as CAISO_NORTH \(required when intensity_provider is watttime\)/],
    ['{ intensity_provider: watttime, zone: CAISO_NORTH, signal: health_damage }', /carbon\.signal: "health_damage" \(string\) — allowed: co2_moer, co2_aoer \(WattTime only\)/],
    ['{ intensity: 300, intensity_provider: electricitymaps }', /carbon\.zone: missing — allowed: an Electricity Maps zone such as US-NE-ISNE \(required when intensity is given instead of region/],
    ['{ region: FR, zone: FR }', /carbon\.zone: "FR" \(string\) — allowed: only with intensity_provider electricitymaps or watttime/],
    ['{ intensity_provider: electricitymaps, zone: "a b" }', /carbon\.zone: "a b" \(string\) — allowed: a provider zone or region id/],
  ])('%s is refused, naming key, value and what is allowed', (carbon, message) => {
    expect(() => parseProgram(program(carbon))).toThrow(message);
  });
});
