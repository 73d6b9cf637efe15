/**
 * Software Carbon Intensity (Green Software Foundation, ISO/IEC 21031:2024), DESIGN section 6:
 *   SCI = (E × I + M) per R, with R = one generated token.
 *   O = E[kWh] × I[gCO2e/kWh];  M = TE × (window_s / lifetime_s) × (gpus_used / gpus_total).
 * A pure function: every input and output carries its unit in its name.
 */
import { InputError } from '../errors.js';
export const J_PER_KWH = 3_600_000;
export const SECONDS_PER_YEAR = 365.25 * 24 * 3600;
export function computeSci(input) {
    const { energyJ, tokensOut, intensityGPerKwh, embodiedTotalG, lifetimeS, windowS, gpusUsed, gpusTotal } = input;
    const checks = [
        [Number.isFinite(energyJ) && energyJ >= 0, `energyJ must be a finite number >= 0, got ${energyJ}`],
        [Number.isInteger(tokensOut) && tokensOut > 0, `tokensOut must be a positive integer (SCI is per token), got ${tokensOut}`],
        [Number.isFinite(intensityGPerKwh) && intensityGPerKwh >= 0, `intensityGPerKwh must be >= 0, got ${intensityGPerKwh}`],
        [Number.isFinite(embodiedTotalG) && embodiedTotalG >= 0, `embodiedTotalG must be >= 0, got ${embodiedTotalG}`],
        [lifetimeS > 0, `lifetimeS must be > 0, got ${lifetimeS}`],
        [windowS > 0, `windowS must be > 0, got ${windowS}`],
        [gpusTotal >= 1 && gpusUsed >= 1 && gpusUsed <= gpusTotal, `need 1 <= gpusUsed (${gpusUsed}) <= gpusTotal (${gpusTotal})`],
    ];
    for (const [ok, message] of checks)
        if (!ok)
            throw new InputError(`SCI: ${message}`);
    const energyKwh = energyJ / J_PER_KWH;
    const operationalG = energyKwh * intensityGPerKwh;
    const embodiedG = embodiedTotalG * (windowS / lifetimeS) * (gpusUsed / gpusTotal);
    const totalG = operationalG + embodiedG;
    return {
        energyKwh,
        jPerToken: energyJ / tokensOut,
        operationalG,
        embodiedG,
        totalG,
        sciOpUg: (operationalG / tokensOut) * 1e6,
        sciEmbUg: (embodiedG / tokensOut) * 1e6,
        sciUg: (totalG / tokensOut) * 1e6,
    };
}
//# sourceMappingURL=sci.js.map