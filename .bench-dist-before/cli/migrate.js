/**
 * `carbonbench migrate`: upgrades a results.db to this build's schema in place (the forward-only
 * migrations of src/store/migrations.ts, all in one transaction). Every writing command does the same
 * on open; this one does only that, so an older database kept for reading (a colleague's results, the
 * GPU evidence in bench/gpu/results) can be upgraded without running anything.
 */
import { existsSync } from 'node:fs';
import { InputError } from '../errors.js';
import { migrationOnOpen, openStore } from '../store/index.js';
import { printJson, printText } from './output.js';
export async function migrateCommand(global) {
    if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(global.db) && !existsSync(global.db)) {
        throw new InputError(`--db ${global.db} does not exist: nothing to migrate (a new results.db is created by carbonbench run)`);
    }
    const store = await openStore(global.db);
    try {
        const version = await store.schemaVersion();
        const from = migrationOnOpen(store)?.fromVersion ?? version;
        if (global.json)
            printJson({ db: store.location, from_version: from, schema_version: version });
        else
            printText(`${store.location}: schema version ${version}${from < version ? ` (migrated from ${from})` : ' (already up to date)'}`);
        return 0;
    }
    finally {
        await store.close();
    }
}
//# sourceMappingURL=migrate.js.map