import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import {
  embodiedInputsOf,
  recomputeAllRegions,
  recomputeAsRun,
  recomputeCarbon,
  recomputeFor,
  type CalcExperiment,
} from '../../src/analysis/calculator.js';
import { loadRegions } from '../../src/carbon/regions.js';
import { SECONDS_PER_YEAR } from '../../src/carbon/sci.js';
import { InputError } from '../../src/errors.js';
import { openStore, type ExperimentRecord } from '../../src/store/index.js';
import { runCli } from '../helpers/cli.js';
import { ROOT } from '../helpers/paths.js';
import { INTENSITY, TE_KG, WINDOW_S, designedDb, tempDir } from './fixtures.js';

async function experiments(db: string): Promise<ExperimentRecord[]> {
  const store = await openStore(db, { readonly: true });
  try {
    return await store.listExperiments();
  } finally {
    await store.close();
  }
}

const stored = (e: ExperimentRecord) => ({ sciOpUg: e.sciOpUg, sciEmbUg: e.sciEmbUg, sciUg: e.sciUg });
const recomputed = (r: ReturnType<typeof recomputeAsRun>) => ({ sciOpUg: r.sci.sciOpUg, sciEmbUg: r.sci.sciEmbUg, sciUg: r.sci.sciUg });

describe('carbon calculator', () => {
  it('with the run\'s own intensity it gives back the stored numbers, bit for bit', async () => {
    const rows = (await experiments(await designedDb())).filter((e) => e.status === 'ok');
    expect(rows).toHaveLength(10);
    for (const e of rows) {
      const r = recomputeAsRun(e);
      expect(r.embodied.basis).toBe('provenance');
      expect(recomputed(r)).toStrictEqual(stored(e));
      expect(r.sci.embodiedG).toBe(e.embodiedG);
      expect(r.isRunIntensity).toBe(true);
    }
  });

  it('recomputes from the energy the run scored with: the boundary energy (issue 9), not the GPU board figure', async () => {
    const e = (await experiments(await designedDb())).find((x) => x.id === 2)!;
    expect(e).toMatchObject({ boundary: null, energyBoundaryJ: null }); // the fixture's hand-made rows
    const wide = { ...e, boundary: 'gpu+cpu+dram' as const, energyBoundaryJ: e.energyJ! * 1.25 };
    const r = recomputeAsRun(wide);
    expect(r).toMatchObject({ boundary: 'gpu+cpu+dram', energyJ: e.energyJ! * 1.25 });
    expect(r.sci.sciOpUg).toBeCloseTo(e.sciOpUg! * 1.25, 9);
    expect(r.sci.sciEmbUg).toBe(e.sciEmbUg);
    // A row without energy_boundary_j (written by hand, like the fixture's) falls back to energy_j, boundary gpu.
    const old = recomputeAsRun(e);
    expect(old).toMatchObject({ boundary: 'gpu', energyJ: e.energyJ });
  });

  it('another region changes the operational part only, in proportion to its intensity', async () => {
    const e = (await experiments(await designedDb())).find((x) => x.id === 2)!;
    const fr = recomputeFor(e, { region: 'fr' }); // any case
    expect(fr).toMatchObject({ region: 'FR', regionName: 'France', intensityGKwh: 44.2, isRunIntensity: false, energyJ: e.energyJ, tokensOut: 160_000, windowS: WINDOW_S });
    // O = E[kWh] × I, per token, in µg: by hand.
    expect(fr.sci.sciOpUg).toBeCloseTo((((e.energyJ! / 3.6e6) * 44.2) / 160_000) * 1e6, 12);
    expect(fr.sci.sciOpUg).toBeCloseTo((e.sciOpUg! * 44.2) / INTENSITY, 12);
    expect(fr.sci.sciEmbUg).toBe(e.sciEmbUg);
    // M = TE × window / lifetime: 200 kg over 5 years, a 20 s window, one GPU of one.
    expect(fr.sci.embodiedG).toBeCloseTo((TE_KG * 1000 * WINDOW_S) / (5 * SECONDS_PER_YEAR), 15);
    expect(fr.embodied).toMatchObject({ basis: 'provenance', embodiedTotalG: 200_000, lifetimeS: 5 * SECONDS_PER_YEAR, gpusUsed: 1, gpusTotal: 1 });
    const zero = recomputeFor(e, { intensityGPerKwh: 0 });
    expect(zero).toMatchObject({ region: null, intensityGKwh: 0 });
    expect(zero.sci.sciOpUg).toBe(0);
    expect(zero.sci.sciUg).toBe(e.sciEmbUg);
    expect(recomputeFor(e, { intensityGPerKwh: INTENSITY }).isRunIntensity).toBe(true);
  });

  it('every region of data/grid-regions.csv, in file order; the run\'s region reproduces the stored SCI', async () => {
    const e = (await experiments(await designedDb())).find((x) => x.id === 5)!;
    const all = recomputeAllRegions(e);
    const regions = loadRegions();
    expect(all.map((r) => r.region)).toEqual(regions.map((r) => r.id));
    const own = all.find((r) => r.region === 'US-NE-ISNE')!;
    expect(own.isRunIntensity).toBe(true);
    expect(own.sci.sciUg).toBe(e.sciUg);
    for (const r of all) expect(r.sci.sciEmbUg).toBe(e.sciEmbUg);
  });

  it('falls back to the stored embodied_g, then to the hardware profile, and says which', async () => {
    const e = (await experiments(await designedDb())).find((x) => x.id === 2)!;
    const noProvenance: CalcExperiment = { ...e, provenance: null };
    const stored = recomputeAsRun(noProvenance);
    expect(stored.embodied.basis).toBe('stored');
    expect(stored.sci.embodiedG).toBe(e.embodiedG); // passed through unchanged
    expect(stored.sci.sciUg).toBeCloseTo(e.sciUg!, 12);
    const mismatched: CalcExperiment = { ...e, provenance: { embodied_g: 'dgx-spark: x; TE 999 kg over 5 y, 1/1 GPUs' } };
    expect(embodiedInputsOf(mismatched).basis).toBe('stored');
    const profile = embodiedInputsOf({ ...e, embodiedG: null, provenance: null });
    expect(profile).toMatchObject({ basis: 'hardware-profile', embodiedTotalG: 200_000, lifetimeS: 5 * SECONDS_PER_YEAR, gpusUsed: 1, gpusTotal: 1 });
    expect(() => embodiedInputsOf({ ...e, embodiedG: null, provenance: null, hardwareId: 'nope' })).toThrow(/no embodied carbon figure/);
  });

  it('refuses an experiment that did not finish, naming it', async () => {
    const failed = (await experiments(await designedDb())).find((x) => x.id === 9)!;
    expect(() => recomputeAsRun(failed)).toThrow(InputError);
    expect(() => recomputeFor(failed, { region: 'FR' })).toThrow(/experiment 9 cannot be recomputed: its status is failed/);
  });

  it('an unknown region or an out-of-range intensity is an input error listing what is allowed', async () => {
    const e = (await experiments(await designedDb())).find((x) => x.id === 2)!;
    expect(() => recomputeFor(e, { region: 'Atlantis' })).toThrow(/unknown grid region "Atlantis".*allowed: FR, DE/);
    expect(() => recomputeFor(e, { intensityGPerKwh: -1 })).toThrow(/allowed: a number of gCO2e\/kWh from 0 to 2000/);
    expect(recomputeCarbon(e, { intensityGPerKwh: 100, region: null, source: 'test' }).intensitySource).toBe('test');
  });

  it('on a sim sweep written by the real runner: every experiment reproduces its stored SCI exactly', async () => {
    const dir = tempDir('cb-calc-sweep-');
    const db = join(dir, 'results.db');
    const r = await runCli(['run', '--program', join(ROOT, 'tests', 'fixtures', 'programs', 'sim-sweep.md'), '--db', db, '--json'], { cwd: dir });
    expect(r.exitCode, r.stderr).toBe(0);
    const ok = (await experiments(db)).filter((e) => e.status === 'ok');
    expect(ok.length).toBeGreaterThanOrEqual(30);
    for (const e of ok) {
      const again = recomputeAsRun(e);
      expect(again.embodied.basis).toBe('provenance');
      expect(recomputed(again)).toStrictEqual(stored(e));
      expect(recomputeFor(e, { region: e.region! }).sci.sciUg).toBe(e.sciUg);
    }
  });
});
