/**
 * vitest globalSetup: one throwaway PostgreSQL cluster for the whole test run (issue 10).
 *
 * initdb into a temp directory, then `postgres` listening on 127.0.0.1 at a free port with its own
 * unix-socket directory (the data directory), fsync off (throwaway data). As root (CI containers) the
 * server runs as the `postgres` OS user, because initdb and postgres refuse root. The superuser
 * `postgres` has a random password and TCP logins need it (scram-sha-256), so tests exercise the real
 * password path. Test files create their own database (tests/helpers/postgres.ts). Teardown stops the
 * server and deletes the directory.
 *
 * Missing binaries: the PostgreSQL tests are skipped with a warning, except when CI=true, where the run
 * fails (scripts/setup.sh --test installs Debian's `postgresql`).
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { execa, type ResultPromise } from 'execa';
import pg from 'pg';
import type { TestProject } from 'vitest/node';

import type { PgCluster } from './postgres.js';

/** The newest /usr/lib/postgresql/<major>/bin holding initdb and postgres, or $CARBONBENCH_PG_BIN. */
function findBinDir(): string | null {
  const explicit = process.env.CARBONBENCH_PG_BIN;
  if (explicit !== undefined && explicit !== '') return existsSync(join(explicit, 'initdb')) ? explicit : null;
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return null;
  const majors = readdirSync(base).filter((d) => /^\d+$/.test(d)).sort((a, b) => Number(b) - Number(a));
  for (const major of majors) {
    const bin = join(base, major, 'bin');
    if (existsSync(join(bin, 'initdb')) && existsSync(join(bin, 'postgres'))) return bin;
  }
  return null;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Runs a PostgreSQL binary as the `postgres` OS user when we are root (argument arrays only). */
function asServerUser(bin: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
}

async function osUserIds(name: string): Promise<{ uid: number; gid: number }> {
  const uid = Number((await execa('id', ['-u', name])).stdout.trim());
  const gid = Number((await execa('id', ['-g', name])).stdout.trim());
  return { uid, gid };
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const bin = findBinDir();
  if (bin === null) {
    const reason = 'PostgreSQL server binaries not found (/usr/lib/postgresql/<major>/bin; apt-get install postgresql)';
    if (process.env.CI === 'true') throw new Error(`${reason}: required when CI=true (scripts/setup.sh --test installs them)`);
    console.warn(`PostgreSQL tests skipped: ${reason}; they fail instead when CI=true`);
    project.provide('postgres', { available: false, reason });
    return async () => undefined;
  }

  const dir = mkdtempSync(join(tmpdir(), 'cb-pg-'));
  const dataDir = join(dir, 'data');
  const password = randomBytes(12).toString('hex');
  const pwfile = join(dir, 'pwfile');
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  if (process.getuid?.() === 0) {
    const { uid, gid } = await osUserIds('postgres');
    chownSync(dir, uid, gid);
    chownSync(pwfile, uid, gid);
  }
  chmodSync(dir, 0o700);

  let server: ResultPromise | null = null;
  const stop = async (): Promise<void> => {
    if (server !== null) {
      const [cmd, args] = asServerUser(join(bin, 'pg_ctl'), ['stop', '-D', dataDir, '-m', 'immediate', '-w']);
      await execa(cmd, args, { reject: false, timeout: 20_000 });
      server.kill('SIGKILL');
      await server.catch(() => undefined);
      server = null;
    }
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    const [initCmd, initArgs] = asServerUser(join(bin, 'initdb'), [
      '-D', dataDir, '-U', 'postgres', `--pwfile=${pwfile}`,
      '--auth-local=trust', '--auth-host=scram-sha-256', '-E', 'UTF8', '--locale=C', '--no-sync',
    ]);
    await execa(initCmd, initArgs, { timeout: 60_000 });
    const port = await freePort();
    const [cmd, args] = asServerUser(join(bin, 'postgres'), [
      '-D', dataDir, '-c', 'listen_addresses=127.0.0.1', '-c', `port=${port}`, '-c', `unix_socket_directories=${dir}`,
      '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=200',
    ]);
    server = execa(cmd, args, { reject: false, stdio: ['ignore', 'ignore', 'pipe'], all: false });
    let stderr = '';
    server.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const cluster = { available: true as const, host: '127.0.0.1', port, user: 'postgres', password };
    const deadline = Date.now() + 30_000;
    for (;;) {
      const client = new pg.Client({ host: cluster.host, port, user: 'postgres', password, database: 'postgres' });
      client.on('error', () => undefined);
      try {
        await client.connect();
        await client.end();
        break;
      } catch (error) {
        await client.end().catch(() => undefined);
        if (server.exitCode !== null || Date.now() > deadline) {
          throw new Error(`the test PostgreSQL server did not start: ${(error as Error).message}\n${stderr.slice(-2000)}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    project.provide('postgres', cluster satisfies PgCluster);
  } catch (error) {
    await stop();
    throw error;
  }
  return stop;
}
