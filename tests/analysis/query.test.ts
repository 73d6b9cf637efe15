import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { allRows, isSelected, openResultsReader, selectRows, type Selection } from '../../src/analysis/query.js';
import { StoreError } from '../../src/errors.js';
import { openStore } from '../../src/store/index.js';
import { DESIGNED, designedDb, experimentOf, tempDir } from './fixtures.js';

describe('results reader', () => {
  it('the SQL selection and the in-memory one agree on every row', async () => {
    const reader = await openResultsReader(await designedDb());
    try {
      const all = await allRows(reader);
      expect(all).toHaveLength(DESIGNED.length);
      for (const sel of [{}, { includeSimulated: true }, { includeManual: true }, { includeSimulated: true, includeManual: true }] as Selection[]) {
        expect((await selectRows(reader, sel)).map((r) => r.id)).toEqual(all.filter((r) => isSelected(r, sel)).map((r) => r.id));
      }
      expect((await selectRows(reader, {})).map((r) => r.id)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    } finally {
      await reader.close();
    }
  });

  it('maps the results view: units in names, flags as booleans, NULL as null', async () => {
    const reader = await openResultsReader(await designedDb());
    try {
      const rows = await allRows(reader);
      expect(rows.find((r) => r.id === 10)).toMatchObject({ simulated: true, engine: 'sim', hardwareFallback: false, runStatus: 'completed', host: 'spark' });
      expect(rows.find((r) => r.id === 9)).toMatchObject({ status: 'failed', sciUg: null, energyJ: null, jPerToken: null, error: 'engine died while loading' });
      const r2 = rows.find((r) => r.id === 2)!;
      expect(r2.jPerToken).toBeCloseTo(r2.energyJ! / r2.tokensOut!, 15);
    } finally {
      await reader.close();
    }
  });

  it('one snapshot per reader while a run writes; nothing is written; closed readers refuse queries', async () => {
    const db = await designedDb();
    const reader = await openResultsReader(db);
    const writer = await openStore(db);
    try {
      expect(await allRows(reader)).toHaveLength(11);
      await writer.insertExperiment(experimentOf(1, { ...DESIGNED[1]!, id: 12 }));
      expect(await allRows(reader)).toHaveLength(11); // same snapshot
    } finally {
      await writer.close();
      await reader.close();
    }
    await expect(allRows(reader)).rejects.toThrow(StoreError);
    const again = await openResultsReader(db);
    try {
      expect(await allRows(again)).toHaveLength(12);
    } finally {
      await again.close();
    }
  });

  it('a missing file or a foreign database: the Store\'s input errors (exit code 2)', async () => {
    await expect(openResultsReader(join(tempDir(), 'none.db'))).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/does not exist/) });
  });
});
