/**
 * PostgreSQL for tests: the cluster that tests/helpers/postgres-global.ts (vitest globalSetup) started,
 * and one database per test file.
 *
 *   const pgdb = usePgDatabase();            // at the top of a test file: beforeAll/afterAll hooks
 *   describe.skipIf(!pgAvailable())(…)       // skipped (loudly, by the global setup) when there is no server
 *   openStore(pgdb.url)                       // password-less URL; PGPASSWORD is set in this worker
 */
import { randomBytes } from 'node:crypto';

import pg from 'pg';
import { afterAll, beforeAll, inject } from 'vitest';

export type PgCluster =
  | { available: true; host: string; port: number; user: string; password: string }
  | { available: false; reason: string };

declare module 'vitest' {
  export interface ProvidedContext {
    postgres: PgCluster;
  }
}

export function pgCluster(): PgCluster {
  return inject('postgres');
}

export function pgAvailable(): boolean {
  return pgCluster().available;
}

export interface PgTestDatabase {
  /** `postgresql://postgres@127.0.0.1:<port>/<db>`: no password (the worker's PGPASSWORD holds it). */
  url: string;
  /** The same with the password in it, for the tests of redaction. */
  urlWithPassword: string;
  password: string;
  /** A URL of another fresh database on the same server (created now, dropped after the file). */
  another(): Promise<string>;
}

async function admin<T>(cluster: Extract<PgCluster, { available: true }>, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ host: cluster.host, port: cluster.port, user: cluster.user, password: cluster.password, database: 'postgres' });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Creates a uniquely named database for this test file before its tests and drops it after them. */
export function usePgDatabase(): PgTestDatabase {
  const created: string[] = [];
  const state: PgTestDatabase = { url: '', urlWithPassword: '', password: '', another: async () => '' };
  const create = async (): Promise<string> => {
    const cluster = pgCluster();
    if (!cluster.available) throw new Error(cluster.reason);
    const name = `cb_test_${randomBytes(6).toString('hex')}`;
    await admin(cluster, (c) => c.query(`CREATE DATABASE ${name}`));
    created.push(name);
    return `postgresql://${cluster.user}@${cluster.host}:${cluster.port}/${name}`;
  };
  beforeAll(async () => {
    const cluster = pgCluster();
    if (!cluster.available) return;
    process.env.PGPASSWORD = cluster.password;
    state.url = await create();
    state.password = cluster.password;
    state.urlWithPassword = state.url.replace(`${cluster.user}@`, `${cluster.user}:${cluster.password}@`);
    state.another = create;
  });
  afterAll(async () => {
    const cluster = pgCluster();
    if (!cluster.available) return;
    await admin(cluster, async (c) => {
      for (const name of created.splice(0)) await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    });
  });
  return state;
}
