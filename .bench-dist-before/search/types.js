/**
 * Search (DESIGN section 7): strategies propose points of the space; the phase pipeline moves
 * grid → random → bayesian as each phase converges or spends its budget. Everything here is independent
 * of how a point is measured, so the same pipeline drives `carbonbench run` (real or simulated
 * experiments) and `carbonbench search-bench` (table lookups).
 */
export function pointKey(p) {
    return JSON.stringify([p.model, p.quant, p.batch, p.inputLen, p.outputLen]);
}
//# sourceMappingURL=types.js.map