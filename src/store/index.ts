/**
 * The results store: one interface (types.ts), one implementation per backend, one factory.
 * Callers import from here, never from sqlite.ts or postgres.ts: openStore picks the backend from the
 * location (a file path → SQLite, a `postgresql://` URL → PostgreSQL).
 */
import { isPostgresUrl, parsePgUrl, redactPgUrl } from './pg-url.js';
import { openPgStore } from './postgres.js';
import { openSqliteStore, type SqliteStoreOptions } from './sqlite.js';
import { StoreInputError, type Store } from './types.js';

export * from './types.js';
export { LATEST_SCHEMA_VERSION, MIGRATIONS, type Migration } from './migrations.js';
export { BUSY_TIMEOUT_MS, checkWritable, openSqliteStore, type SqliteStoreOptions } from './sqlite.js';
export { openPgStore, type PgStoreOptions } from './postgres.js';
export { isPostgresUrl, parsePgUrl, redactPgUrl, toSqlAlchemyUrl } from './pg-url.js';

export type OpenStoreOptions = SqliteStoreOptions;

/**
 * Opens the store at `location`: a file path (SQLite) or a `postgresql://` / `postgres://` URL
 * (PostgreSQL; the password may come from PGPASSWORD). Created and migrated if needed, unless readonly.
 */
export async function openStore(location: string, opts: OpenStoreOptions = {}): Promise<Store> {
  if (isPostgresUrl(location)) {
    try {
      parsePgUrl(location, '--db');
    } catch (error) {
      throw new StoreInputError((error as Error).message);
    }
    return openPgStore(location, opts);
  }
  // Any other URL scheme is a mistake, not a file name: refuse it before SQLite creates "mysql:" files.
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(location);
  if (scheme) {
    throw new StoreInputError(
      `--db ${redactPgUrl(location)}: unsupported URL scheme "${scheme[1]}"; allowed: a file path such as ./results.db ` +
        `or a PostgreSQL URL such as postgresql://user@host:5432/carbonbench`,
    );
  }
  return openSqliteStore(location, opts);
}
