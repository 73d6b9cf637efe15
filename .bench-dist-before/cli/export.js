/** `carbonbench export --format csv|json|codecarbon|impact [--out FILE]`: results for other tools. */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { CarbonbenchError, InputError, describeValue } from '../errors.js';
import { EXPORT_FORMATS, exportAs, exportInputFromDb, hasEmissions } from '../analysis/export.js';
import { openResultsReader } from '../analysis/query.js';
import { printJson } from './output.js';
export function parseExportFormat(text) {
    if (text === undefined)
        throw new InputError(`export needs --format; allowed: ${EXPORT_FORMATS.join(', ')}`);
    const f = text.trim().toLowerCase();
    if (!EXPORT_FORMATS.includes(f)) {
        throw new InputError(`--format ${describeValue(text)} is invalid; allowed: ${EXPORT_FORMATS.join(', ')}`);
    }
    return f;
}
export async function exportCommand(flags, global) {
    const format = parseExportFormat(flags.format);
    // --json promises one JSON document on stdout: a csv or YAML export there would break it.
    if (global.json && flags.out === undefined && format !== 'json') {
        throw new InputError(`--json with --format ${format} needs --out FILE (the ${format} export goes to the file, a JSON summary to stdout)`);
    }
    const reader = await openResultsReader(global.db);
    let text;
    let summary;
    try {
        const input = await exportInputFromDb(reader);
        text = exportAs(format, input);
        const rows = format === 'csv' || format === 'json' ? input.rows : input.rows.filter(hasEmissions);
        summary = { db: reader.location, format, experiments: rows.length, simulated: rows.filter((r) => r.simulated).length };
    }
    finally {
        await reader.close();
    }
    if (flags.out === undefined) {
        process.stdout.write(text);
        return 0;
    }
    const out = resolve(flags.out);
    try {
        writeFileSync(out, text);
    }
    catch (error) {
        throw new CarbonbenchError(`cannot write ${out}: ${error.message}`, { cause: error });
    }
    if (global.json)
        printJson({ ...summary, out });
    else
        process.stderr.write(`wrote ${summary.experiments} experiments (${summary.simulated} simulated, labelled) as ${format} to ${out}\n`);
    return 0;
}
//# sourceMappingURL=export.js.map