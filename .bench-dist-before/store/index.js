/**
 * The results store: one interface (types.ts), one implementation per backend, one factory.
 * Callers import from here, never from sqlite.ts, so a PostgreSQL backend slots in behind openStore.
 */
import { openSqliteStore } from './sqlite.js';
import { StoreInputError } from './types.js';
export * from './types.js';
export { LATEST_SCHEMA_VERSION, MIGRATIONS } from './migrations.js';
export { BUSY_TIMEOUT_MS, checkWritable, migrationOnOpen, openSqliteStore, sqliteDataPath } from './sqlite.js';
/**
 * Opens the store at `location`: a file path (SQLite, created and migrated if needed) or, later, a
 * `postgresql://` URL. Async because a PostgreSQL connection will be.
 */
export async function openStore(location, opts = {}) {
    if (/^postgres(ql)?:\/\//i.test(location)) {
        throw new StoreInputError(`--db ${redactUrl(location)}: PostgreSQL results databases are not supported yet; ` +
            `pass a file path such as ./results.db`);
    }
    // Any other URL scheme is a mistake, not a file name: refuse it before SQLite creates "mysql:" files.
    const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(location);
    if (scheme) {
        throw new StoreInputError(`--db ${redactUrl(location)}: unsupported URL scheme "${scheme[1]}"; pass a file path such as ./results.db`);
    }
    return openSqliteStore(location, opts);
}
/** A URL may carry a password: never echo it into logs or error messages. */
function redactUrl(url) {
    return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)([^@/]*)@/i, '$1***@');
}
//# sourceMappingURL=index.js.map