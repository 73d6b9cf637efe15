/** `carbonbench report [--out DIR]`: writes the self-contained HTML report (DESIGN section 9). */
import { relative } from 'node:path';
import { InputError } from '../errors.js';
import { writeReport } from '../report/index.js';
import { printJson, printText, warn } from './output.js';
export const DEFAULT_REPORT_DIR = './report';
export async function reportCommand(flags, global) {
    const out = flags.out ?? DEFAULT_REPORT_DIR;
    if (out.trim() === '')
        throw new InputError('--out "" (string) is invalid; allowed: a directory path, e.g. ./report');
    const written = await writeReport(global.db, out);
    if (global.json) {
        printJson({ path: written.path, bytes: written.bytes, experiments: written.experiments });
        return 0;
    }
    if (written.experiments === 0)
        warn(`${global.db} has no finished experiment with an SCI yet: the report is mostly empty`);
    const shown = relative(process.cwd(), written.path) || written.path;
    printText(`report: ${shown} (${(written.bytes / 1e6).toFixed(1)} MB, ${written.experiments} experiments)\nopen it in a browser; it needs no network`);
    return 0;
}
//# sourceMappingURL=report.js.map