/**
 * One `carbonbench run` per results.db: a lock file beside the database, created exclusively, holding
 * the owner's pid and host. A lock whose process is gone (kill -9, reboot) is stale and taken over.
 */
import { closeSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { hostname } from 'node:os';
import { InputError, StoreError } from '../errors.js';
import { StoreInputError } from '../store/types.js';
function alive(pid) {
    try {
        process.kill(pid, 0);
        return true;
    }
    catch (err) {
        return err.code === 'EPERM';
    }
}
export function acquireRunLock(dbPath) {
    const file = `${dbPath}.lock`;
    for (let attempt = 0; attempt < 2; attempt++) {
        try {
            const fd = openSync(file, 'wx');
            try {
                writeSync(fd, JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString() }));
            }
            catch (err) {
                // Fix (issue 6, tests/faults/disk.test.ts): on a full disk the write failed after the create,
                // leaving an empty lock file behind; remove it before reporting.
                closeSync(fd);
                unlinkQuietly(file);
                throw err;
            }
            closeSync(fd);
            let released = false;
            return {
                file,
                release() {
                    if (released)
                        return;
                    released = true;
                    try {
                        unlinkSync(file);
                    }
                    catch {
                        // already gone
                    }
                },
            };
        }
        catch (err) {
            if (err.code !== 'EEXIST')
                throw lockError(err, dbPath, file);
            let owner = {};
            try {
                owner = JSON.parse(readFileSync(file, 'utf8'));
            }
            catch {
                // unreadable: treat as stale
            }
            const sameHost = owner.host === undefined || owner.host === hostname();
            if (sameHost && owner.pid !== undefined && alive(owner.pid) && owner.pid !== process.pid) {
                throw new InputError(`another carbonbench run (pid ${owner.pid}, since ${owner.since ?? 'unknown'}) is using ${dbPath}; wait for it, stop it (Ctrl-C or kill ${owner.pid}), or use another --db`);
            }
            if (!sameHost) {
                throw new InputError(`${dbPath} is locked by a run on host ${owner.host} (pid ${owner.pid}); if that run is gone, delete ${file}`);
            }
            unlinkSync(file); // stale: its process is gone
        }
    }
    throw new InputError(`could not lock ${dbPath} (${file})`);
}
function unlinkQuietly(file) {
    try {
        unlinkSync(file);
    }
    catch {
        // already gone
    }
}
/**
 * Fix (issue 6, tests/faults/disk.test.ts): the lock is the first thing `carbonbench run` writes, so a
 * --db on a missing directory, a file used as a directory, a read-only or full filesystem failed here
 * with Node's bare "ENOENT: no such file or directory, open '….lock'". Say what is wrong with the
 * database path and what to do, before any experiment starts: a path the user mistyped is an input
 * error (exit 2), a filesystem that refuses writes a runtime failure (exit 1).
 */
function lockError(err, dbPath, file) {
    const code = err.code ?? '';
    const detail = `${code ? `${code}: ` : ''}${err.message.replace(/^[A-Z]+: /, '')}`;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
        const dir = dirname(dbPath);
        let isDir = false;
        try {
            isDir = statSync(dir).isDirectory();
        }
        catch {
            // missing, or a part of it is a file
        }
        if (!isDir)
            return new StoreInputError(`cannot use --db ${dbPath}: ${dir} does not exist or is not a directory (${detail}); create it or pass another --db path`, { cause: err });
        // An existing directory where files cannot be created (/proc, /sys): not the user's typo.
        return new StoreError(`cannot use --db ${dbPath}: files cannot be created in ${dir} (${detail}); pass --db with a path on a writable filesystem`, { cause: err });
    }
    if (code === 'ENOSPC' || code === 'EDQUOT') {
        return new StoreError(`cannot use --db ${dbPath}: the disk holding it is full (${detail}); free space or pass another --db path`, { cause: err });
    }
    if (code === 'EROFS' || code === 'EACCES' || code === 'EPERM') {
        return new StoreError(`cannot use --db ${dbPath}: its directory cannot be written (${detail}; a read-only filesystem or missing permissions); pass --db with a writable path`, { cause: err });
    }
    return new StoreError(`cannot create the run lock ${file} beside --db ${dbPath} (${detail}); pass another --db path`, { cause: err });
}
//# sourceMappingURL=lock.js.map