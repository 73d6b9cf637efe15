/**
 * nvidia-smi refusing the query itself (tests/fixtures/h200/smi-bad-field.txt): a field that the help
 * text listed but the query rejects must fail the sampler with nvidia-smi's own words.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TelemetryError } from '../../src/errors.js';
import { parseHelpQueryGpu } from '../../src/telemetry/smi-fields.js';
import { SmiSampler } from '../../src/telemetry/smi-sampler.js';
import { FAKE_SMI, fixture } from '../helpers/paths.js';

afterEach(() => {
  delete process.env.FAKE_SMI_HELP;
});

describe('nvidia-smi rejects the query', () => {
  it('fails start() with the "is not a valid field" message', async () => {
    const help = readFileSync(fixture('help-query-gpu.txt'), 'utf8');
    // The driver the fake plays does not know temperature.memory, but carbonbench was told it does.
    const dir = mkdtempSync(join(tmpdir(), 'cb-smi-'));
    writeFileSync(join(dir, 'help.txt'), help.replace('"temperature.memory"', '"temperature.memory.removed"'));
    process.env.FAKE_SMI_HELP = join(dir, 'help.txt');
    const sampler = await SmiSampler.create({ executable: FAKE_SMI, accepted: parseHelpQueryGpu(help) });
    const err = await sampler.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TelemetryError);
    expect((err as Error).message).toBe('nvidia-smi reported: Field "temperature.memory" is not a valid field to query.');
    await sampler.stop();
  });
});
