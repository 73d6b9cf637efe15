import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

import {
  CODECARBON_COLUMNS,
  codeCarbonRecords,
  csvField,
  exportInputFromDb,
  placeOfRegion,
  toCodeCarbonCsv,
  toCsv,
  toImpactYaml,
  toJson,
  type ExportInput,
} from '../../src/analysis/export.js';
import { RESULT_COLUMNS, openResultsReader } from '../../src/analysis/query.js';
import { parseCsv } from '../../src/util/csv.js';
import { INTENSITY, WINDOW_S, designedDb } from './fixtures.js';

async function input(): Promise<ExportInput> {
  const reader = await openResultsReader(await designedDb());
  try {
    return await exportInputFromDb(reader, new Date('2026-02-01T00:00:00Z'));
  } finally {
    await reader.close();
  }
}

const VIEW_COLUMNS = Object.values(RESULT_COLUMNS).map(([c]) => c);

describe('csv and json', () => {
  it('csv: the results view, every status, NULL empty, flags 0/1, simulated rows marked', async () => {
    const rows = parseCsv(toCsv(await input()));
    expect(rows[0]).toEqual(VIEW_COLUMNS);
    expect(rows[0]).toContain('simulated');
    expect(rows).toHaveLength(12); // header + 11 experiments
    const col = (name: string) => rows[0]!.indexOf(name);
    const byId = new Map(rows.slice(1).map((r) => [Number(r[col('id')]), r]));
    expect(byId.get(10)![col('simulated')]).toBe('1');
    expect(byId.get(2)![col('simulated')]).toBe('0');
    expect(byId.get(9)![col('status')]).toBe('failed');
    expect(byId.get(9)![col('sci_ug')]).toBe('');
    expect(byId.get(8)![col('bpb')]).toBe('');
    expect(Number(byId.get(2)![col('sci_ug')])).toBe((await input()).rows.find((r) => r.id === 2)!.sciUg); // full precision
  });

  it('csv fields with commas, quotes or line breaks are quoted (RFC 4180)', () => {
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField(null)).toBe('');
    expect(csvField(true)).toBe('1');
    expect(csvField(0.1)).toBe('0.1');
  });

  it('json: the same columns with null and true/false, plus the runs', async () => {
    const doc = JSON.parse(toJson(await input())) as {
      experiments: Record<string, unknown>[];
      runs: { gpu_names: string[] }[];
      experiments_simulated: number;
      generated_at: string;
    };
    expect(doc.experiments).toHaveLength(11);
    expect(Object.keys(doc.experiments[0]!)).toEqual(VIEW_COLUMNS);
    expect(doc.experiments.find((e) => e.id === 10)!.simulated).toBe(true);
    expect(doc.experiments.find((e) => e.id === 9)!.sci_ug).toBeNull();
    expect(doc.experiments_simulated).toBe(1);
    expect(doc.runs[0]!.gpu_names).toEqual(['NVIDIA GB10']);
    expect(doc.generated_at).toBe('2026-02-01T00:00:00.000Z');
  });
});

describe('codecarbon', () => {
  it("CodeCarbon's emissions.csv columns, one row per finished experiment, units as CodeCarbon's", async () => {
    const inp = await input();
    const rows = parseCsv(toCodeCarbonCsv(inp));
    expect(rows[0]).toEqual([...CODECARBON_COLUMNS]);
    expect(rows).toHaveLength(11); // header + the 10 finished experiments (the failed one has no emissions)
    const recs = codeCarbonRecords(inp);
    const r2 = recs.find((r) => r.run_id === 'experiment-2')!;
    const e2 = inp.rows.find((r) => r.id === 2)!;
    const kwh = e2.energyJ! / 3.6e6;
    expect(r2).toMatchObject({
      timestamp: '2026-01-01T00:02:30Z', // window end
      project_name: 'carbonbench',
      experiment_id: 'run-1',
      duration: WINDOW_S,
      gpu_power: e2.avgPowerW,
      gpu_energy: kwh,
      energy_consumed: kwh,
      country_name: 'United States',
      country_iso_code: 'USA',
      region: 'US-NE-ISNE',
      gpu_count: 1,
      gpu_model: '1 x NVIDIA GB10',
      tracking_mode: 'machine',
      pue: 1,
      cpu_power: null,
      ram_energy: null,
      os: null,
      on_cloud: null,
    });
    expect(r2.emissions).toBeCloseTo((kwh * INTENSITY) / 1000, 18); // kg, operational only
    expect(r2.emissions_rate).toBeCloseTo((kwh * INTENSITY) / 1000 / WINDOW_S, 18);
    expect(recs.find((r) => r.run_id === 'experiment-10')!.project_name).toBe('carbonbench (simulated)');
    // Unknown values are empty fields, not zeros.
    const cpu = rows[0]!.indexOf('cpu_power');
    expect(rows.slice(1).every((r) => r[cpu] === '')).toBe(true);
  });

  it('places grid regions: countries as ISO alpha-3, GCP regions as cloud regions', () => {
    expect(placeOfRegion('FR')).toMatchObject({ countryIso3: 'FRA', countryName: 'France', cloudProvider: null });
    expect(placeOfRegion('US-NE-ISNE')).toMatchObject({ countryIso3: 'USA', countryName: 'United States' });
    expect(placeOfRegion('AU-NSW')).toMatchObject({ countryIso3: 'AUS' });
    expect(placeOfRegion('GCP-europe-west4')).toMatchObject({ cloudProvider: 'gcp', cloudRegion: 'europe-west4', countryIso3: 'NLD' });
    expect(placeOfRegion('EU')).toMatchObject({ countryIso3: null, countryName: null });
    expect(placeOfRegion(null).countryIso3).toBeNull();
  });
});

describe('impact (Impact Framework manifest)', () => {
  it('a manifest with the SCI inputs per experiment; its pipeline gives back the stored SCI', async () => {
    const inp = await input();
    const yaml = toImpactYaml(inp);
    const m = parse(yaml) as {
      name: string;
      description: string;
      initialize: { plugins: Record<string, { method: string; path: string; config: Record<string, unknown> }> };
      tree: { children: Record<string, { children: Record<string, { pipeline: { compute: string[] }; inputs: Record<string, number | string | boolean>[] }> }> };
    };
    expect(m.name).toBe('carbonbench results (results.db)');
    expect(m.initialize.plugins['operational-carbon']).toMatchObject({ method: 'Multiply', path: 'builtin', config: { 'input-parameters': ['energy', 'grid/carbon-intensity'], 'output-parameter': 'carbon-operational' } });
    expect(m.initialize.plugins['sum-carbon']).toMatchObject({ method: 'Sum', config: { 'input-parameters': ['carbon-operational', 'carbon-embodied'], 'output-parameter': 'carbon' } });
    expect(m.initialize.plugins.sci).toMatchObject({ method: 'Sci', config: { 'functional-unit': 'tokens' } });
    const components = Object.values(m.tree.children).flatMap((c) => Object.entries(c.children));
    expect(components).toHaveLength(10);
    expect(components.map(([name]) => name)).toContain('experiment-10 (simulated)');
    expect(m.description).toMatch(/1 experiment\(s\) are SIMULATED/);
    for (const [name, c] of components) {
      expect(c.pipeline.compute).toEqual(['operational-carbon', 'sum-carbon', 'sci']);
      const obs = c.inputs[0]!;
      expect(Object.keys(obs)).toEqual(expect.arrayContaining(['timestamp', 'duration', 'energy', 'grid/carbon-intensity', 'carbon-embodied', 'tokens']));
      const row = inp.rows.find((r) => r.id === obs['carbonbench/experiment-id'])!;
      expect(name.endsWith('(simulated)')).toBe(row.simulated);
      expect(obs['carbonbench/simulated']).toBe(row.simulated);
      // What if-run computes: Multiply, Sum, Sci.
      const carbon = (obs.energy as number) * (obs['grid/carbon-intensity'] as number) + (obs['carbon-embodied'] as number);
      expect((carbon / (obs.tokens as number)) * 1e6).toBeCloseTo(row.sciUg!, 12);
      expect(obs['carbonbench/sci-ug-per-token']).toBe(row.sciUg);
      expect(obs.duration).toBe(WINDOW_S);
    }
    const first = m.tree.children['Qwen/Qwen2.5-0.5B-Instruct']!.children['experiment-2']!.inputs[0]!;
    expect(first.timestamp).toBe('2026-01-01T00:02:10.000Z'); // window start
  });
});

describe('exports and the energy boundary (issue 9)', () => {
  it('CodeCarbon: CPU and RAM energy filled when inside the boundary, energy_consumed and emissions from the boundary energy; Impact: energy = boundary energy', async () => {
    const inp = await input();
    const e2 = inp.rows.find((r) => r.id === 2)!;
    const gpuJ = e2.energyJ!;
    const wide = { ...e2, boundary: 'gpu+cpu+dram' as const, energyCpuJ: 400, energyDramJ: 60, energyBoundaryJ: gpuJ + 460 };
    const rec = codeCarbonRecords({ ...inp, rows: [wide] })[0]!;
    expect(rec).toMatchObject({ gpu_energy: gpuJ / 3.6e6, cpu_energy: 400 / 3.6e6, ram_energy: 60 / 3.6e6, cpu_power: 400 / WINDOW_S, ram_power: 60 / WINDOW_S });
    expect(rec.energy_consumed).toBeCloseTo((gpuJ + 460) / 3.6e6, 15);
    expect(rec.emissions).toBeCloseTo((((gpuJ + 460) / 3.6e6) * INTENSITY) / 1000, 15);
    // Module boundary: the module energy is energy_consumed; CPU (contained in it) is not listed beside it.
    const mod = codeCarbonRecords({ ...inp, rows: [{ ...wide, boundary: 'module' as const, energyModuleJ: gpuJ + 900, energyBoundaryJ: gpuJ + 900 }] })[0]!;
    expect(mod).toMatchObject({ cpu_energy: null, ram_energy: null, gpu_energy: gpuJ / 3.6e6 });
    expect(mod.energy_consumed).toBeCloseTo((gpuJ + 900) / 3.6e6, 15);
    const manifest = parse(toImpactYaml({ ...inp, rows: [wide] })) as { tree: { children: Record<string, { children: Record<string, { inputs: Record<string, unknown>[] }> }> } };
    const model = Object.values(manifest.tree.children)[0]!;
    const obs = Object.values(model.children)[0]!.inputs[0]!;
    expect(obs.energy).toBeCloseTo((gpuJ + 460) / 3.6e6, 15);
    expect(obs['carbonbench/boundary']).toBe('gpu+cpu+dram');
  });
});
