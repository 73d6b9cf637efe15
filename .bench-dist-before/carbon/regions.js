/** Grid regions with their carbon intensity and source (data/grid-regions.csv). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError, describeValue } from '../errors.js';
import { parseCsvRecords } from '../util/csv.js';
import { dataDir } from '../util/paths.js';
/** DESIGN section 10: the reference study's default grid. */
export const DEFAULT_REGION = 'US-NE-ISNE';
let cache = null;
export function loadRegions(file = join(dataDir(), 'grid-regions.csv')) {
    if (cache && file === join(dataDir(), 'grid-regions.csv'))
        return cache;
    const regions = parseCsvRecords(readFileSync(file, 'utf8')).map((r, i) => {
        const intensity = Number(r.gco2_per_kwh);
        if (!r.id || !Number.isFinite(intensity) || intensity < 0) {
            throw new Error(`${file} row ${i + 2}: bad region ${JSON.stringify(r)}`);
        }
        return {
            id: r.id,
            name: r.name ?? r.id,
            intensityGPerKwh: intensity,
            year: r.year ? Number(r.year) : null,
            basis: r.basis ?? 'unspecified',
            source: r.source ?? '',
        };
    });
    if (file === join(dataDir(), 'grid-regions.csv'))
        cache = regions;
    return regions;
}
export function findRegion(id) {
    const regions = loadRegions();
    const region = regions.find((r) => r.id.toLowerCase() === id.toLowerCase());
    if (!region) {
        throw new InputError(`unknown grid region ${describeValue(id)}; allowed: ${regions.map((r) => r.id).join(', ')} (see \`carbonbench regions\`), or give an intensity in gCO2e/kWh instead`);
    }
    return region;
}
/** `intensity` overrides `region`; neither → the default region. */
export function resolveIntensity(opts) {
    if (opts.intensityGPerKwh !== undefined) {
        const g = opts.intensityGPerKwh;
        if (!Number.isFinite(g) || g < 0 || g > 2000) {
            throw new InputError(`intensity ${describeValue(g)} is out of range; allowed: a number of gCO2e/kWh from 0 to 2000`);
        }
        return { intensityGPerKwh: g, region: null, source: 'user-supplied intensity' };
    }
    const region = findRegion(opts.region ?? DEFAULT_REGION);
    return { intensityGPerKwh: region.intensityGPerKwh, region: region.id, source: `${region.name}: ${region.source}` };
}
//# sourceMappingURL=regions.js.map