/**
 * Hardware profiles (data/hardware.csv): embodied carbon and lifetime, matched from the GPU name that
 * nvidia-smi or NVML reports. The last row (`generic`, regex `.*`) is the fallback; a result that uses
 * it is flagged.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError, describeValue } from '../errors.js';
import { parseCsvRecords } from '../util/csv.js';
import { dataDir } from '../util/paths.js';
export const FALLBACK_PROFILE_ID = 'generic';
export function loadHardwareProfiles(file = join(dataDir(), 'hardware.csv')) {
    return parseCsvRecords(readFileSync(file, 'utf8')).map((r, i) => {
        const embodiedKg = Number(r.embodied_kgco2e);
        const lifetimeYears = Number(r.lifetime_years);
        if (!r.id || !r.nvidia_smi_name_regex || !(embodiedKg >= 0) || !(lifetimeYears > 0)) {
            throw new Error(`${file} row ${i + 2}: bad hardware profile ${JSON.stringify(r)}`);
        }
        return {
            id: r.id,
            nameRegex: r.nvidia_smi_name_regex,
            name: r.name ?? r.id,
            embodiedKg,
            lifetimeYears,
            tdpW: r.tdp_w ? Number(r.tdp_w) : null,
            source: r.source ?? '',
        };
    });
}
/**
 * Picks the profile for `gpuName` (first regex that matches, case-insensitive), applies overrides.
 * TE defaults to the per-unit embodied figure × gpusTotal, so that SCI's `gpus_used / gpus_total`
 * share charges each experiment for the GPUs it used.
 */
export function chooseHardware(gpuName, gpusDetected, overrides = {}) {
    const profiles = loadHardwareProfiles();
    let profile;
    let matchedBy;
    if (overrides.hardware !== undefined) {
        profile = profiles.find((p) => p.id === overrides.hardware);
        if (!profile) {
            throw new InputError(`carbon.hardware ${describeValue(overrides.hardware)} is not a known profile; allowed: ${profiles.map((p) => p.id).join(', ')}`);
        }
        matchedBy = `carbon.hardware = ${profile.id}`;
    }
    else {
        profile = profiles.find((p) => gpuName !== null && new RegExp(p.nameRegex, 'i').test(gpuName));
        profile ??= profiles.find((p) => p.id === FALLBACK_PROFILE_ID);
        matchedBy = gpuName === null ? 'no GPU name: fallback profile' : `GPU name ${JSON.stringify(gpuName)} ~ /${profile.nameRegex}/`;
    }
    const gpusTotal = overrides.gpusTotal ?? Math.max(1, gpusDetected);
    if (!Number.isInteger(gpusTotal) || gpusTotal < 1) {
        throw new InputError(`carbon.gpus_total ${describeValue(gpusTotal)} is invalid; allowed: an integer >= 1`);
    }
    const lifetimeYears = overrides.lifetimeYears ?? profile.lifetimeYears;
    if (!(lifetimeYears > 0 && lifetimeYears <= 30)) {
        throw new InputError(`carbon.lifetime_years ${describeValue(lifetimeYears)} is out of range; allowed: a number of years above 0 and at most 30`);
    }
    const embodiedTotalKg = overrides.embodiedKg ?? profile.embodiedKg * gpusTotal;
    if (!(embodiedTotalKg >= 0)) {
        throw new InputError(`carbon.embodied_kg ${describeValue(embodiedTotalKg)} is invalid; allowed: a number of kgCO2e >= 0`);
    }
    return {
        profile,
        fallback: overrides.hardware === undefined && profile.id === FALLBACK_PROFILE_ID,
        matchedBy,
        embodiedTotalKg,
        lifetimeYears,
        gpusTotal,
    };
}
//# sourceMappingURL=hardware.js.map