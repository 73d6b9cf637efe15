/**
 * What the SQLite and PostgreSQL stores share below the Store interface: converting values to and from
 * their columns (the `*_COLUMNS` maps of types.ts), and building the statements whose text is the same
 * for both backends (`?` placeholders; the PostgreSQL store numbers them). Pure: no connection here.
 */
import { randomUUID } from 'node:crypto';

import { StoreError } from '../errors.js';
import { EXPERIMENT_COLUMNS, type ColumnKind, type ColumnMap, type ExperimentFilter, type ExperimentPatch, type ExperimentRecord, type JsonValue } from './types.js';

export type Row = Record<string, unknown>;

/** A statement and its values, in placeholder order. */
export interface Statement {
  sql: string;
  params: unknown[];
}

/** Tables whose rows get a random `uid` at insert (migration 'runs.uid and experiments.uid'). */
export const UID_TABLES: ReadonlySet<string> = new Set(['runs', 'experiments']);

/**
 * INSERT of one row (the defined fields of `values`) returning its id. Unknown fields are refused; the
 * stable `uid` of runs and experiments (carbonbench merge) is written here, never by callers.
 */
export function insertStatement<T>(table: string, map: ColumnMap<T>, values: Partial<T>): Statement {
  const columns: string[] = [];
  const params: unknown[] = [];
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined) continue;
    if (!(key in map)) throw new StoreError(`insert into ${table}: unknown field \`${key}\``);
    const [column, kind] = map[key as keyof T];
    columns.push(column);
    params.push(toDb(kind, value, `${table}.${column}`));
  }
  if (UID_TABLES.has(table)) {
    columns.push('uid');
    params.push(randomUUID());
  }
  return { sql: `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')}) RETURNING id`, params };
}

/**
 * The UPDATE of an experiment's patch (undefined = leave, null = clear), or null when the patch sets
 * nothing (the caller still checks that the id exists). Identity fields and unknown fields are refused.
 */
export function experimentUpdateStatement(id: number, patch: ExperimentPatch): Statement | null {
  const sets: string[] = [];
  const params: unknown[] = [];
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    if (key === 'id' || key === 'runId' || key === 'createdAt' || !(key in EXPERIMENT_COLUMNS)) {
      throw new StoreError(`updateExperiment: field \`${key}\` cannot be updated (unknown or part of the identity)`);
    }
    const [column, kind] = EXPERIMENT_COLUMNS[key as keyof ExperimentRecord];
    sets.push(`${column} = ?`);
    params.push(toDb(kind, value, `experiments.${column}`));
  }
  return sets.length === 0 ? null : { sql: `UPDATE experiments SET ${sets.join(', ')} WHERE id = ?`, params: [...params, id] };
}

/** The SELECT of listExperiments, ordered by id; null when the filter selects nothing (an empty status list). */
export function experimentListStatement(filter: ExperimentFilter): Statement | null {
  const where: string[] = [];
  const params: unknown[] = [];
  if (filter.runId !== undefined) {
    where.push('run_id = ?');
    params.push(filter.runId);
  }
  if (filter.status !== undefined) {
    const statuses: readonly string[] = typeof filter.status === 'string' ? [filter.status] : filter.status;
    if (statuses.length === 0) return null;
    where.push(`status IN (${statuses.map(() => '?').join(', ')})`);
    params.push(...statuses);
  }
  for (const key of ['engine', 'model', 'phase', 'study'] as const) {
    const value = filter[key];
    if (value !== undefined) {
      where.push(`${key} = ?`);
      params.push(value);
    }
  }
  if (filter.simulated !== undefined) {
    where.push('simulated = ?');
    params.push(filter.simulated ? 1 : 0);
  }
  let sql = `SELECT * FROM experiments${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY id`;
  if (filter.limit !== undefined) {
    if (!Number.isInteger(filter.limit) || filter.limit < 0) {
      throw new StoreError(`listExperiments: expected \`limit\` to be a non-negative integer, got ${filter.limit}`);
    }
    sql += ' LIMIT ?';
    params.push(filter.limit);
  }
  return { sql, params };
}

const MAX_U64 = (1n << 64n) - 1n;

/** TypeScript value → database value (the same for SQLite and PostgreSQL). Throws StoreError naming the column for values SQLite would mangle. */
export function toDb(kind: ColumnKind, value: unknown, column: string): string | number | null {
  if (value === null || value === undefined) return null;
  switch (kind) {
    case 'text':
      if (typeof value !== 'string') break;
      return value;
    case 'int':
    case 'real':
      if (typeof value !== 'number') break;
      // SQLite stores NaN as NULL without a word (PostgreSQL would store NaN); a missing figure must be null on purpose.
      if (!Number.isFinite(value)) throw new StoreError(`${column}: expected a finite number, got ${value}`);
      if (kind === 'int' && !Number.isInteger(value)) throw new StoreError(`${column}: expected an integer, got ${value}`);
      return value;
    case 'bool':
      if (typeof value !== 'boolean') break;
      return value ? 1 : 0;
    case 'json':
      return canonicalJson(value, column);
    case 'hex64':
      if (typeof value !== 'bigint') break;
      if (value < 0n || value > MAX_U64) {
        throw new StoreError(`${column}: expected an unsigned 64-bit bitmask, got ${value}`);
      }
      return `0x${value.toString(16).padStart(16, '0')}`;
  }
  throw new StoreError(`${column}: expected ${kind}, got ${typeof value} ${String(value)}`);
}

function fromDb(kind: ColumnKind, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  switch (kind) {
    case 'bool':
      return value === 1;
    case 'json':
      return JSON.parse(String(value)) as JsonValue;
    case 'hex64':
      return BigInt(String(value));
    default:
      return value;
  }
}

export function fromRow<T>(map: ColumnMap<T>, row: Row): T {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(map) as (keyof T & string)[]) {
    const [column, kind] = map[key];
    out[key] = fromDb(kind, row[column]);
  }
  // Every key of T is filled from the complete column map, with the value kind that the map declares.
  return out as T;
}

/**
 * fromRow for rows read as arrays of values (a raw-mode SELECT of the columns of `keys`, in that order),
 * converting each array in place: no object is made per row, which at 100,000 rows is a large part of
 * the read (the report). Returns the converter of one row; the column kinds are looked up once.
 */
export function convertValues<T>(map: ColumnMap<T>, keys: readonly (keyof T & string)[]): (values: unknown[]) => unknown[] {
  const columns = keys.map((k) => map[k]);
  return (values) => {
    for (let i = 0; i < columns.length; i++) {
      const [column, kind] = columns[i]!;
      try {
        values[i] = fromDb(kind, values[i]);
      } catch (error) {
        throw new StoreError(`column ${column} holds a value that is not valid ${kind}: ${(error as Error).message}`, { cause: error });
      }
    }
    return values;
  };
}

/**
 * JSON with object keys sorted at every level, so the same config always gives the same text (SQL
 * equality finds duplicates). Non-finite numbers are refused instead of becoming `null`.
 */
function canonicalJson(value: unknown, column: string): string {
  const normalize = (v: unknown): unknown => {
    if (typeof v === 'number' && !Number.isFinite(v)) {
      throw new StoreError(`${column}: JSON cannot hold ${v}`);
    }
    if (typeof v === 'bigint') throw new StoreError(`${column}: JSON cannot hold a bigint (${v}); store it as a string`);
    if (Array.isArray(v)) return v.map(normalize);
    if (v !== null && typeof v === 'object') {
      const sorted: Record<string, unknown> = {};
      for (const key of Object.keys(v).sort()) sorted[key] = normalize((v as Record<string, unknown>)[key]);
      return sorted;
    }
    return v;
  };
  return JSON.stringify(normalize(value));
}

