/**
 * Precision of J/token over a window (DESIGN section 5.4): the window is cut into segments (fixed bins
 * for HTTP load, one per batch call offline), each with its energy E_i and tokens T_i. J/token is the
 * ratio estimator R = ΣE / ΣT; its variance by the delta method is
 *   Var(R) ≈ m / (m − 1) · Σ (E_i − R·T_i)² / (ΣT)²,
 * and the 95% interval is R ± t(0.975, m − 1) · √Var(R). Segments without tokens still count (their
 * energy is real). Fewer than 3 segments give no interval (Infinity).
 */
/** Two-sided 95% Student-t quantiles t(0.975, df) for df = 1…30; beyond, the normal 1.96 is within 2%. */
const T_975 = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093,
    2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];
export function tQuantile975(df) {
    if (df < 1)
        return Infinity;
    return df <= 30 ? T_975[df - 1] : df <= 60 ? 2.0 : 1.96;
}
export function ratioConfidence(segments) {
    const m = segments.length;
    const sumE = segments.reduce((s, x) => s + x.energyJ, 0);
    const sumT = segments.reduce((s, x) => s + x.tokens, 0);
    if (sumT <= 0)
        return { jPerToken: Infinity, ciRel: Infinity, segments: m };
    const r = sumE / sumT;
    if (m < 3)
        return { jPerToken: r, ciRel: Infinity, segments: m };
    const ss = segments.reduce((s, x) => s + (x.energyJ - r * x.tokens) ** 2, 0);
    const variance = ((m / (m - 1)) * ss) / sumT ** 2;
    const halfWidth = tQuantile975(m - 1) * Math.sqrt(variance);
    return { jPerToken: r, ciRel: r > 0 ? halfWidth / r : Infinity, segments: m };
}
//# sourceMappingURL=uncertainty.js.map