import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
/** Full path of an executable found on PATH (or the path itself if it contains a slash), else null. */
export function which(name, pathEnv = process.env.PATH ?? '') {
    const candidates = name.includes('/') || isAbsolute(name) ? [name] : pathEnv.split(delimiter).filter(Boolean).map((dir) => join(dir, name));
    for (const file of candidates) {
        try {
            accessSync(file, constants.X_OK);
            if (statSync(file).isFile())
                return file;
        }
        catch {
            // not here
        }
    }
    return null;
}
//# sourceMappingURL=which.js.map