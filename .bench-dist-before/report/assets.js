/**
 * The scripts the report inlines: ECharts and echarts-gl (their minified UMD builds, read from
 * node_modules at report time, so the page needs no network) and the page script (client.ts, compiled
 * by tsc like the rest of src/).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EnvironmentError } from '../errors.js';
const require = createRequire(import.meta.url);
let cached = null;
export function loadAssets() {
    if (cached)
        return cached;
    // echarts' "exports" map does not list dist/*: resolve its CommonJS entry (dist/echarts.js) and take
    // the minified sibling. echarts-gl has no "exports" map, so a deep path resolves directly.
    const echartsMain = resolve('echarts');
    const libraries = [
        library('echarts', join(dirname(echartsMain), 'echarts.min.js')),
        library('echarts-gl', resolve('echarts-gl/dist/echarts-gl.min.js')),
    ];
    cached = { libraries, client: loadClient() };
    return cached;
}
function resolve(specifier) {
    try {
        return require.resolve(specifier);
    }
    catch (err) {
        throw new EnvironmentError(`the report needs the npm package ${specifier.split('/')[0]} (a dependency of carbonbench): run npm install`, { cause: err });
    }
}
function library(name, file) {
    const pkg = JSON.parse(readFileSync(join(packageRoot(file, name), 'package.json'), 'utf8'));
    // A minified file ends with a sourceMappingURL comment in some versions: the map is not inlined, and a
    // viewer's devtools would try to load it from disk.
    const code = readFileSync(file, 'utf8').replace(/\n?\/\/# sourceMappingURL=\S+\s*$/, '\n');
    return { name, version: pkg.version ?? 'unknown', license: pkg.license ?? 'see package', code };
}
function packageRoot(file, name) {
    let dir = dirname(file);
    while (!existsSync(join(dir, 'package.json')) || basename(dir) !== name) {
        const up = dirname(dir);
        if (up === dir)
            throw new EnvironmentError(`cannot find the package.json of ${name} above ${file}`);
        dir = up;
    }
    return dir;
}
/**
 * The compiled page script. From dist/ it sits beside this file. Under vitest this file runs from src/,
 * where only client.ts exists: use the build's copy then (tests run after `npm run build`).
 */
function loadClient() {
    const here = dirname(fileURLToPath(import.meta.url));
    const candidates = [join(here, 'client.js'), join(here, '..', '..', 'dist', 'report', 'client.js')];
    const file = candidates.find((f) => existsSync(f));
    if (!file)
        throw new EnvironmentError(`the report's page script is missing (looked for ${candidates.join(', ')}): run npm run build`);
    return readFileSync(file, 'utf8').replace(/\n?\/\/# sourceMappingURL=\S+\s*$/, '\n');
}
//# sourceMappingURL=assets.js.map