/**
 * The transaction machinery both stores share (src/store/tx-gate.ts): which statements it issues in
 * which order, and the refusals that the store tests do not reach.
 */
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { StoreError } from '../../src/errors.js';
import { openSqliteStore } from '../../src/store/index.js';
import { TxGate, type TxStatements } from '../../src/store/tx-gate.js';
import { newExperiment, newRun, tempDir, track } from './helpers.js';

/** Statements that record what the gate asks for; `failOn` makes that statement throw. */
function recording(failOn: string | null = null): { statements: TxStatements; log: string[] } {
  const log: string[] = [];
  const statements: TxStatements = {
    begin: 'BEGIN',
    assertOpen: () => undefined,
    exec: (operation, sql) => {
      log.push(sql);
      if (sql === failOn) throw new StoreError(`${operation}: ${sql} failed`);
    },
    rollback: () => {
      log.push('rollback');
    },
    rollbackToSavepoint: (name) => {
      log.push(`rollback to ${name}`);
    },
  };
  return { statements, log };
}

describe('TxGate', () => {
  it('nests transactions as numbered savepoints, released on success and rolled back on failure', async () => {
    const { statements, log } = recording();
    const gate = new TxGate(statements);
    const result = await gate.transaction(async () => {
      expect(await gate.transaction(() => 'inner')).toBe('inner');
      await expect(gate.transaction(() => Promise.reject(new Error('inner failure')))).rejects.toThrow('inner failure');
      return 'outer';
    });
    expect(result).toBe('outer');
    expect(log).toEqual([
      'BEGIN',
      'SAVEPOINT carbonbench_sp_1',
      'RELEASE SAVEPOINT carbonbench_sp_1',
      'SAVEPOINT carbonbench_sp_2',
      'rollback to carbonbench_sp_2',
      'COMMIT',
    ]);
    expect(gate.busy).toBe(false);
  });

  it('a failed COMMIT rolls back, rejects with its error and opens the gate again', async () => {
    const { statements, log } = recording('COMMIT');
    const gate = new TxGate(statements);
    await expect(gate.transaction(() => 1)).rejects.toThrow('transaction (commit): COMMIT failed');
    expect(log).toEqual(['BEGIN', 'COMMIT', 'rollback']);
    expect(gate.busy).toBe(false);
    expect(await gate.run('after', () => 'ran')).toBe('ran');
  });

  it('gates of two stores keep their own transactions: work for the outer store inside the inner one joins it', async () => {
    const a = new TxGate(recording().statements);
    const b = new TxGate(recording().statements);
    const seen = await a.transaction(() => b.transaction(() => a.run('read', () => 'joined a')));
    expect(seen).toBe('joined a');
  });
});

describe('nested transactions of a real store', () => {
  it('refuses a second nested transaction at one level while the first runs; the first still commits', async () => {
    const store = track(openSqliteStore(join(tempDir(), 'results.db')));
    const runId = await store.createRun(newRun());
    await store.transaction(async (tx) => {
      let finishFirst: () => void = () => undefined;
      const firstMayFinish = new Promise<void>((r) => {
        finishFirst = r;
      });
      const first = tx.transaction(async (inner) => {
        await inner.insertExperiment(newExperiment(runId, { model: 'first' }));
        await firstMayFinish;
      });
      await expect(tx.transaction(() => undefined)).rejects.toThrow(
        'transaction: a nested transaction is already running at this level; await nested transactions one at a time',
      );
      finishFirst();
      await first;
    });
    expect((await store.listExperiments()).map((e) => e.model)).toEqual(['first']);
  });
});
