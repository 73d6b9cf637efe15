/**
 * Asynchronous transactions over one database connection, shared by the SQLite and PostgreSQL stores
 * (the contract of Store.transaction in types.ts):
 *
 * - While transaction(fn) awaits, operations of other callers wait for it (the `openTx` gate). Without
 *   the gate an unrelated write issued during an await would silently become part of the transaction
 *   and vanish with its rollback.
 * - Operations issued from inside fn (tracked with AsyncLocalStorage) join the transaction.
 * - transaction() inside fn makes a savepoint (`carbonbench_sp_N`); nested transactions of one level
 *   run one at a time.
 *
 * Each store supplies its statements (TxStatements): SQLite runs them synchronously with
 * `BEGIN IMMEDIATE`, PostgreSQL sends them and awaits the reply.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

import { StoreError } from '../errors.js';

type Awaitable<T> = T | Promise<T>;

/** How one backend runs the statements of a transaction. */
export interface TxStatements {
  /** `BEGIN`, or the backend's variant of it. */
  readonly begin: string;
  /** Throws StoreError when the store cannot take `operation` (it is closed). */
  assertOpen(operation: string): void;
  /** Runs one statement; a driver error becomes a StoreError that names `operation`. */
  exec(operation: string, sql: string): Awaitable<unknown>;
  /** Rolls back the open transaction; never throws (the error that caused it is the one to report). */
  rollback(): Awaitable<void>;
  /** After fn of a nested transaction failed: undoes its work back to savepoint `name` and drops it. */
  rollbackToSavepoint(name: string): Awaitable<void>;
}

interface TxState {
  active: boolean;
  /** A nested transaction (savepoint) of this level is running. */
  nestedBusy: boolean;
}

/** The transactions that the current async context runs inside, one per gate (store). */
const txContext = new AsyncLocalStorage<ReadonlyMap<TxGate, TxState>>();

export class TxGate {
  private readonly statements: TxStatements;
  /** Resolves when the transaction in progress ends; null when none is open. */
  private openTx: Promise<void> | null = null;
  private savepointSeq = 0;

  constructor(statements: TxStatements) {
    this.statements = statements;
  }

  /** Whether a transaction is open. */
  get busy(): boolean {
    return this.openTx !== null;
  }

  /**
   * Runs `op` once no foreign transaction is open (at once from inside this gate's own transaction).
   * The last check and the start of `op` run in the same tick (no await in between), so no transaction
   * can start in the gap: `op` must issue its first statement before any await of its own.
   */
  async run<T>(operation: string, op: () => Awaitable<T>): Promise<T> {
    if (this.ownTransaction() === undefined) {
      while (this.openTx !== null) await this.openTx;
    }
    this.statements.assertOpen(operation);
    return op();
  }

  async transaction<T>(fn: () => Awaitable<T>): Promise<T> {
    const outer = this.ownTransaction();
    if (outer !== undefined) return this.savepoint(outer, fn);

    while (this.openTx !== null) await this.openTx;
    this.statements.assertOpen('transaction');
    let release: () => void = () => undefined;
    this.openTx = new Promise<void>((r) => {
      release = r;
    });
    const state: TxState = { active: true, nestedBusy: false };
    try {
      await this.statements.exec('transaction', this.statements.begin);
      let result: T;
      try {
        result = await this.inside(state, fn);
      } catch (error) {
        state.active = false;
        await this.statements.rollback();
        throw error;
      }
      state.active = false;
      try {
        await this.statements.exec('transaction (commit)', 'COMMIT');
      } catch (error) {
        await this.statements.rollback();
        throw error;
      }
      return result;
    } finally {
      state.active = false;
      this.openTx = null;
      release();
    }
  }

  private async savepoint<T>(outer: TxState, fn: () => Awaitable<T>): Promise<T> {
    if (outer.nestedBusy) {
      throw new StoreError(
        'transaction: a nested transaction is already running at this level; await nested transactions one at a time',
      );
    }
    const name = `carbonbench_sp_${++this.savepointSeq}`;
    outer.nestedBusy = true;
    const inner: TxState = { active: true, nestedBusy: false };
    try {
      await this.statements.exec('transaction (savepoint)', `SAVEPOINT ${name}`);
      let result: T;
      try {
        result = await this.inside(inner, fn);
      } catch (error) {
        inner.active = false;
        await this.statements.rollbackToSavepoint(name);
        throw error;
      }
      inner.active = false;
      await this.statements.exec('transaction (release)', `RELEASE SAVEPOINT ${name}`);
      return result;
    } finally {
      inner.active = false;
      outer.nestedBusy = false;
    }
  }

  /** Runs fn with `state` as this gate's transaction in its async context (other gates' stay visible). */
  private inside<T>(state: TxState, fn: () => Awaitable<T>): Awaitable<T> {
    const states = new Map(txContext.getStore());
    states.set(this, state);
    return txContext.run(states, fn);
  }

  /** The transaction of this gate that the current async context runs inside, if any. */
  private ownTransaction(): TxState | undefined {
    const state = txContext.getStore()?.get(this);
    return state !== undefined && state.active ? state : undefined;
  }
}
