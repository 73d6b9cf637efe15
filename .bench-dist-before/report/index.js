/**
 * The static HTML report (DESIGN section 9): one self-contained index.html with the data, ECharts,
 * echarts-gl and the page script inlined. Planning is pure (collect the data, render the page); writing
 * the file is the only side effect, in writeReport.
 */
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { InputError } from '../errors.js';
import { openStore } from '../store/index.js';
import { loadAssets } from './assets.js';
import { collectReportData } from './data.js';
import { renderHtml } from './html.js';
export { collectReportData, assembleReportData } from './data.js';
export { escapeHtml, jsonForScript, scriptForInline } from './html.js';
export async function buildReport(store, opts = {}) {
    const assets = loadAssets();
    const data = await collectReportData(store, {
        ...opts,
        libraries: assets.libraries.map(({ name, version, license }) => ({ name, version, license })),
    });
    const html = renderHtml(data, assets);
    return { html, bytes: Buffer.byteLength(html, 'utf8'), experiments: data.meta.experimentsScored };
}
/** Reads `dbPath` (read-only) and writes `<outDir>/index.html`, creating outDir. */
export async function writeReport(dbPath, outDir, opts = {}) {
    if (!existsSync(dbPath))
        throw new InputError(`--db ${dbPath} does not exist: no results yet (start with carbonbench run)`);
    const store = await openStore(dbPath, { readonly: true });
    let built;
    try {
        built = await buildReport(store, opts);
    }
    finally {
        await store.close();
    }
    const dir = resolve(outDir);
    try {
        mkdirSync(dir, { recursive: true });
    }
    catch (err) {
        throw new InputError(`--out ${outDir}: cannot create the directory (${err.message})`, { cause: err });
    }
    const path = join(dir, 'index.html');
    // Write beside it and rename: a browser that has the old report open never reads half a file.
    const tmp = `${path}.tmp-${process.pid}`;
    try {
        writeFileSync(tmp, built.html, 'utf8');
        renameSync(tmp, path);
    }
    catch (err) {
        rmSync(tmp, { force: true });
        throw err;
    }
    return { path, bytes: built.bytes, experiments: built.experiments };
}
//# sourceMappingURL=index.js.map