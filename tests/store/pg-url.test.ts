import { describe, expect, it } from 'vitest';

import { InputError } from '../../src/errors.js';
import { isPostgresUrl, parsePgUrl, redactPgUrl, redactSecretsIn, redactUrlPasswordsIn, toSqlAlchemyUrl } from '../../src/store/pg-url.js';

describe('redactPgUrl', () => {
  it('replaces the password and keeps user, host, port and database', () => {
    expect(redactPgUrl('postgresql://bench:s3cr%40t@db.lab:5433/carbon')).toBe('postgresql://bench:***@db.lab:5433/carbon');
    expect(redactPgUrl('postgres://bench@db.lab/carbon')).toBe('postgres://bench@db.lab/carbon');
    expect(redactPgUrl('postgresql://db.lab/carbon?sslmode=require&password=hunter2')).toBe('postgresql://db.lab/carbon?sslmode=require&password=***');
    expect(redactPgUrl('postgresql+psycopg2://u:p@h/d')).toBe('postgresql+psycopg2://u:***@h/d');
    expect(redactPgUrl('./results.db')).toBe('./results.db');
  });

  it('redactUrlPasswordsIn scrubs URLs inside free text (log lines)', () => {
    expect(redactUrlPasswordsIn('{"msg":"open postgresql://bench:hunter2@db.lab:5432/c and postgres://u:p%40ss@h/d?password=x2"}')).toBe(
      '{"msg":"open postgresql://bench:***@db.lab:5432/c and postgres://u:***@h/d?password=***"}',
    );
    expect(redactUrlPasswordsIn('see https://example.com/a:b and 12:30 at host@x')).toBe('see https://example.com/a:b and 12:30 at host@x');
  });

  it('redactSecretsIn scrubs a password that a driver message quotes', () => {
    const url = 'postgresql://bench:hunter2@db.lab/carbon';
    expect(redactSecretsIn(`connect to ${url} failed: bad password hunter2`, url)).toBe(
      'connect to postgresql://bench:***@db.lab/carbon failed: bad password ***',
    );
  });
});

describe('parsePgUrl', () => {
  it('reads the parts; a socket directory may come as ?host=', () => {
    expect(isPostgresUrl('PostgreSQL://x/y')).toBe(true);
    expect(isPostgresUrl('./postgresql.db')).toBe(false);
    expect(parsePgUrl('postgresql://bench@db.lab:5433/carbon?sslmode=require', '--db')).toEqual({
      user: 'bench', password: null, host: 'db.lab', port: 5433, database: 'carbon', params: [['sslmode', 'require']],
    });
    expect(parsePgUrl('postgresql:///carbon?host=/var/run/postgresql', '--db')).toMatchObject({ host: '/var/run/postgresql', database: 'carbon', user: null });
  });

  it('names the key and what is allowed, without the password', () => {
    const cases = ['postgresql://u:pw1@h:0/db', 'postgresql://u:pw1@h/a/b', 'mysql://u:pw1@h/db'];
    for (const url of cases) {
      let caught: unknown;
      try {
        parsePgUrl(url, 'storage (program.md)');
      } catch (error) {
        caught = error;
      }
      expect(caught, url).toBeInstanceOf(InputError);
      expect((caught as Error).message).toMatch(/^storage \(program\.md\) /);
      expect((caught as Error).message).toMatch(/allowed/);
      expect((caught as Error).message).not.toContain('pw1');
    }
  });
});

describe('toSqlAlchemyUrl (Optuna RDBStorage)', () => {
  it('keeps what the URL says and takes the rest from the libpq environment', () => {
    expect(toSqlAlchemyUrl('postgresql://bench:pw@db.lab:5433/carbon', {})).toBe('postgresql+psycopg2://bench:pw@db.lab:5433/carbon');
    expect(toSqlAlchemyUrl('postgresql://bench@db.lab/carbon', { PGPASSWORD: 'p@ss/wd' })).toBe('postgresql+psycopg2://bench:p%40ss%2Fwd@db.lab/carbon');
    expect(toSqlAlchemyUrl('postgres:///carbon', { PGUSER: 'ops', PGHOST: 'db2', PGPORT: '6000', PGPASSWORD: 'x' })).toBe('postgresql+psycopg2://ops:x@db2:6000/carbon');
    expect(toSqlAlchemyUrl('postgresql:///carbon?host=/run/pg&sslmode=disable', { PGUSER: 'bench' })).toBe(
      'postgresql+psycopg2://bench@/carbon?host=%2Frun%2Fpg&sslmode=disable',
    );
    // The URL's own password wins over the environment.
    expect(toSqlAlchemyUrl('postgresql://bench:mine@h/d', { PGPASSWORD: 'env' })).toBe('postgresql+psycopg2://bench:mine@h/d');
  });
});
