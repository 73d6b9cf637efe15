/** `carbonbench init [DIR]`: a commented program.md and .gitignore entries for results. */
import { appendFileSync, copyFileSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError } from '../errors.js';
import { printJson, printText } from './output.js';
const EXAMPLE = fileURLToPath(new URL('../../program.md', import.meta.url));
const IGNORED = ['results.db', 'results.db-wal', 'results.db-shm', 'experiments/'];
export async function initCommand(dir, flags, global) {
    // Fix (issue 6, tests/fixtures/bad/init-into-a-file.md): a DIR that is a file failed with Node's bare
    // "EEXIST: file already exists, mkdir" (exit 1).
    if (existsSync(dir) && !statSync(dir).isDirectory())
        throw new InputError(`${dir} exists and is not a directory; allowed: a directory (created if missing) to write program.md into`);
    mkdirSync(dir, { recursive: true });
    const target = join(dir, 'program.md');
    if (existsSync(target) && !flags.force) {
        throw new InputError(`${target} already exists; edit it, or pass --force to replace it with the example`);
    }
    copyFileSync(EXAMPLE, target);
    const gitignore = join(dir, '.gitignore');
    const present = existsSync(gitignore) ? readFileSync(gitignore, 'utf8').split(/\r?\n/).map((l) => l.trim()) : [];
    const missing = IGNORED.filter((entry) => !present.includes(entry));
    if (missing.length > 0) {
        const prefix = present.length > 0 && !readFileSync(gitignore, 'utf8').endsWith('\n') ? '\n' : '';
        appendFileSync(gitignore, `${prefix}# carbonbench results\n${missing.join('\n')}\n`);
    }
    if (global.json)
        printJson({ program: target, gitignore, added_to_gitignore: missing });
    else
        printText(`wrote ${target}\n${missing.length > 0 ? `added ${missing.join(', ')} to ${gitignore}` : `${gitignore} already ignores the results`}\nnext: edit ${target}, then run carbonbench doctor and carbonbench run`);
    return 0;
}
//# sourceMappingURL=init.js.map