/**
 * The analysis reader over PostgreSQL: one snapshot per reader, `?` placeholders, numbers as numbers,
 * the covering-index check through the catalog, and the same answers as the SQLite reader.
 */
import pg from 'pg';
import { describe, expect, it } from 'vitest';

import { excludedCounts, hasCoveringIndex, openResultsReader, selectBpbGroups, selectGroupBests, selectRows, selectTop } from '../../src/analysis/query.js';
import { StoreError } from '../../src/errors.js';
import { mergeDatabases } from '../../src/store/merge.js';
import { pgAvailable, usePgDatabase } from '../helpers/postgres.js';
import { designedDb } from './fixtures.js';

const pgdb = usePgDatabase();

describe.skipIf(!pgAvailable())('openResultsReader on PostgreSQL', () => {
  it('answers like the SQLite reader on the same rows, with and without the covering index', async () => {
    const file = await designedDb();
    const url = await pgdb.another();
    await mergeDatabases([file], url);
    const lite = await openResultsReader(file);
    const first = await openResultsReader(url);
    try {
      expect(first.dialect).toBe('postgres');
      expect(first.location).toBe(url);
      const ask = async (r: typeof lite): Promise<unknown> => ({
        top: await selectTop(r, { includeSimulated: true }, 7),
        rows: await selectRows(r, {}),
        groups: (await selectBpbGroups(r, { includeSimulated: true })).sort((a, b) => (a.bpb ?? -1) - (b.bpb ?? -1)),
        bests: (await selectGroupBests(r, {}, 'quant', { medians: true })).sort((a, b) => String(a.key).localeCompare(String(b.key))),
        excluded: await excludedCounts(r),
        covering: await hasCoveringIndex(r),
      });
      expect(await ask(first)).toEqual(await ask(lite));
      const [counted] = await first.rows('SELECT COUNT(*) AS n, SUM(tokens_out) AS t FROM experiments WHERE status = ? AND id > ?', ['ok', 0]);
      expect(typeof counted!.n).toBe('number');
      expect(typeof counted!.t).toBe('number');
    } finally {
      await lite.close();
      await first.close();
    }
    // The catalog lookup sees an index of the documented shape.
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query('CREATE INDEX experiments_scored ON experiments (status, sci_ug, simulated, phase, bpb, tok_s, model, quant, engine, batch)');
    await admin.end();
    const second = await openResultsReader(url);
    try {
      expect(await hasCoveringIndex(second)).toBe(true);
    } finally {
      await second.close();
    }
  });

  it('one snapshot per reader: rows committed after it opened are not seen; it never writes', async () => {
    const url = await pgdb.another();
    await mergeDatabases([await designedDb()], url);
    const reader = await openResultsReader(url);
    try {
      const before = await reader.rows('SELECT COUNT(*) AS n FROM experiments WHERE status = ?', ['ok']);
      expect(before[0]!.n).toBeGreaterThan(0);
      const writer = new pg.Client({ connectionString: url });
      await writer.connect();
      await writer.query("UPDATE experiments SET status = 'failed'");
      await writer.end();
      // The writer committed: every row is failed now, but this reader still sees its snapshot.
      expect(await reader.rows('SELECT COUNT(*) AS n FROM experiments WHERE status = ?', ['ok'])).toEqual(before);
      const write = await reader.rows("UPDATE experiments SET model = 'x'").catch((e: unknown) => e);
      expect(write).toBeInstanceOf(StoreError);
      expect((write as Error).message).toMatch(/read-only transaction/);
    } finally {
      await reader.close();
    }
    await expect(reader.rows('SELECT 1')).rejects.toThrow(/after close/);
  });
});
