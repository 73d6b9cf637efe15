/**
 * A sampler allowed to restart survives a stalled or crashed nvidia-smi: the incident is reported, a new
 * nvidia-smi is started, samples continue after a gap; past the allowed restarts the failure is final.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SmiSampler } from '../../src/telemetry/smi-sampler.js';
import { FAKE_SMI } from '../helpers/paths.js';

afterEach(() => {
  delete process.env.FAKE_SMI_SILENT_AFTER;
  delete process.env.FAKE_SMI_EXIT_AFTER;
  delete process.env.FAKE_SMI_SPEED;
});

describe('SmiSampler restarts', () => {
  it('restarts after silence, keeps sampling, and fails for good once the restarts are used up', async () => {
    process.env.FAKE_SMI_SILENT_AFTER = '3';
    process.env.FAKE_SMI_SPEED = '5';
    const sampler = await SmiSampler.create({ executable: FAKE_SMI, silenceTimeoutS: 1, maxRestarts: 1, restartWindowS: 600 });
    const incidents: string[] = [];
    sampler.onIncident((e) => incidents.push(e.message));
    const failed = new Promise<Error>((resolve) => sampler.onError(resolve));
    await sampler.start();
    const err = await failed;
    expect(incidents).toHaveLength(1);
    expect(incidents[0]).toMatch(/went silent/);
    expect(sampler.incidents).toHaveLength(1);
    // 3 samples before the stall, 3 more from the restarted nvidia-smi.
    expect(sampler.collected()).toHaveLength(6);
    expect(err.message).toMatch(/went silent/);
    expect(sampler.failure).toBe(err);
    await sampler.stop();
  }, 20_000);

  it('restarts after nvidia-smi exits mid-run', async () => {
    process.env.FAKE_SMI_EXIT_AFTER = '2';
    process.env.FAKE_SMI_SPEED = '5';
    const sampler = await SmiSampler.create({ executable: FAKE_SMI, maxRestarts: 2 });
    const incidents: string[] = [];
    sampler.onIncident((e) => incidents.push(e.message));
    const failed = new Promise<Error>((resolve) => sampler.onError(resolve));
    await sampler.start();
    const err = await failed;
    expect(incidents).toHaveLength(2);
    expect(incidents[0]).toMatch(/exited unexpectedly \(exit code 1\).*Unknown Error/);
    expect(sampler.collected()).toHaveLength(6);
    expect(err.message).toMatch(/exited unexpectedly/);
    await sampler.stop();
  }, 20_000);
});
