import { DEFAULT_REGION, loadRegions } from '../carbon/regions.js';
import { formatTable, printJson, printText } from './output.js';
export async function regionsCommand(global) {
    const regions = loadRegions();
    if (global.json) {
        printJson({
            default: DEFAULT_REGION,
            regions: regions.map((r) => ({
                id: r.id,
                name: r.name,
                intensity_g_kwh: r.intensityGPerKwh,
                year: r.year,
                basis: r.basis,
                source: r.source,
            })),
        });
        return 0;
    }
    printText(formatTable(['id', 'name', 'gCO2e/kWh', 'year', 'basis', 'source'], regions.map((r) => [r.id === DEFAULT_REGION ? `${r.id} *` : r.id, r.name, r.intensityGPerKwh, r.year, r.basis, r.source])));
    printText(`\n* default region. Override with carbon.region / carbon.intensity in program.md or --region / --intensity.`);
    return 0;
}
//# sourceMappingURL=regions.js.map