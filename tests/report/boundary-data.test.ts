/**
 * The report's data for the energy boundary (issue 9): the calculator's E is the energy the run scored
 * with (energy_boundary_j), each experiment carries its boundary, and the methodology counts them.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { assembleReportData } from '../../src/report/data.js';
import { openSqliteStore } from '../../src/store/index.js';

describe('report data: energy boundary', () => {
  it('E is the boundary energy, the boundary is per experiment, and rows without one are gpu', async () => {
    const store = openSqliteStore(join(mkdtempSync(join(tmpdir(), 'cb-report-')), 'r.db'));
    try {
      const runId = await store.createRun({ programText: 'p', programHash: 'h'.repeat(64), toolVersion: '0.1.0' });
      const base = { runId, engine: 'vllm', model: 'org/m-7b', config: {}, status: 'ok' as const, params: 7e9, quant: 'bf16', batch: 8, inputLen: 128, outputLen: 128, tokensOut: 1000, windowS: 10, tokS: 100, sciUg: 5, sciOpUg: 4, sciEmbUg: 1, intensityGKwh: 210, embodiedG: 0.001, gpusUsed: 1, hardwareId: 'h200' };
      const wide = await store.insertExperiment({ ...base, energyJ: 2500, boundary: 'gpu+cpu+dram', energyBoundaryJ: 2960, energyCpuJ: 400, energyDramJ: 60 });
      const old = await store.insertExperiment({ ...base, energyJ: 2000 });
      const data = assembleReportData(await store.listRuns(), await store.listExperiments(), { generatedAt: '2026-11-26T00:00:00.000Z' });
      const r = (id: number): number => data.exp.id.indexOf(id);
      expect(data.exp.energyJ[r(wide)]).toBe(2960);
      expect(data.exp.energyJ[r(old)]).toBe(2000);
      expect(data.dict.boundary[data.exp.boundary[r(wide)]!]).toBe('gpu+cpu+dram');
      expect(data.dict.boundary[data.exp.boundary[r(old)]!]).toBe('gpu');
      expect(data.boundaries.sort((a, b) => a.boundary.localeCompare(b.boundary))).toEqual([
        { boundary: 'gpu', experiments: 1, simulated: 0 },
        { boundary: 'gpu+cpu+dram', experiments: 1, simulated: 0 },
      ]);
    } finally {
      await store.close();
    }
  });
});
