/**
 * Seeded prompts of an exact token length (DESIGN section 5.4). Pure and deterministic for a seed.
 *
 * The server tokenizes one long seeded text once (its /tokenize endpoint); every prompt is then a list
 * of token ids, so its length is exactly `inputLen` whatever the tokenizer does with text:
 *
 *   prompt(u) = digits(u) ++ window(u)
 *
 * - digits(u): the prompt number u written in base D, least significant digit first, each digit one of
 *   the D distinct token ids of the pool. Two prompts share their first token only when u ≡ u' (mod D),
 *   their first k tokens only when u ≡ u' (mod D^k): prompts never share a prefix block, so a prefix
 *   cache (vLLM's automatic prefix caching, llama-server's slot cache) never hits.
 * - window(u): inputLen − prefixLen consecutive pool tokens from a seeded offset (wrapping around the
 *   pool), so the body is ordinary text in the model's own tokens rather than noise.
 */
/** mulberry32: a small, fast, well-distributed 32-bit PRNG; returns floats in [0, 1). */
export function mulberry32(seed) {
    let a = seed >>> 0;
    return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}
/** A 32-bit mix of two integers (for per-prompt offsets that do not depend on call order). */
export function hash32(a, b) {
    let h = (Math.imul(a >>> 0, 0x9e3779b1) ^ Math.imul((b >>> 0) + 0x7f4a7c15, 0x85ebca6b)) >>> 0;
    h ^= h >>> 16;
    h = Math.imul(h, 0x7feb352d) >>> 0;
    h ^= h >>> 15;
    h = Math.imul(h, 0x846ca68b) >>> 0;
    h ^= h >>> 16;
    return h >>> 0;
}
// Common English words: the seeded text reads like (odd) prose, so a real tokenizer gives ordinary
// word-level tokens (about 1.2-1.4 per word) instead of byte fallbacks.
const WORDS = ('the of and to in is was that for on as with by he at from his an were are which this be or had not ' +
    'first one their its new after but who they has her she been two when there all during into school time ' +
    'may years more most only over city some world would where later up such used many can state about ' +
    'national out known university united then made other between through three several own well part since ' +
    'also under both while these area people american until work film team each before became second county ' +
    'high family number them early life however john being war three following any called age season same ' +
    'against north south east west day because through year music river government history public group long ' +
    'general born served series four did home last member around took both through played major south large ' +
    'based within company name five small place power water light energy carbon token model engine measure ' +
    'window sample signal garden morning quiet market winter summer letter voice story simple center field').split(' ');
/**
 * `words` words of seeded text with occasional punctuation and paragraph breaks. Deterministic for
 * (seed, words).
 */
export function seededText(seed, words) {
    const rnd = mulberry32(hash32(seed, 0x5eed));
    const parts = [];
    let sentence = 0;
    for (let i = 0; i < words; i++) {
        let w = WORDS[Math.floor(rnd() * WORDS.length)];
        if (sentence === 0)
            w = w.charAt(0).toUpperCase() + w.slice(1);
        sentence++;
        if (sentence >= 6 && rnd() < 0.18) {
            w += rnd() < 0.85 ? '.' : rnd() < 0.5 ? '?' : '!';
            sentence = 0;
            if (rnd() < 0.1)
                w += '\n\n';
        }
        else if (rnd() < 0.06) {
            w += ',';
        }
        parts.push(w);
    }
    return parts.join(' ').replace(/\n\n /g, '\n\n');
}
/** How many words of seeded text to tokenize for prompts of `inputLen` tokens. */
export function textWordsFor(inputLen) {
    // ≥ 1 token per word for every real tokenizer, so the pool is at least as long as one prompt (and
    // windows start at many different offsets); capped because the pool only needs to be varied.
    return Math.min(60_000, Math.max(1024, Math.ceil(inputLen * 1.25)));
}
/** Prompts whose numbers differ in the first `prefixLen` tokens never share a prefix (see above). */
const DISTINCT_PROMPTS = 1e9;
export function createPromptBuilder(pool, inputLen, seed) {
    if (!Number.isInteger(inputLen) || inputLen < 1)
        throw new RangeError(`Expected \`inputLen\` to be a positive integer, got ${inputLen}`);
    if (pool.length === 0)
        throw new RangeError('Expected a non-empty token pool');
    const alphabetIds = [...new Set(pool)].sort((a, b) => a - b);
    const d = alphabetIds.length;
    let digitsNeeded = 1;
    if (d > 1)
        while (d ** digitsNeeded < DISTINCT_PROMPTS)
            digitsNeeded++;
    else
        digitsNeeded = inputLen; // a one-token alphabet cannot make prompts unique; all prompts are equal
    const prefixLen = Math.min(inputLen, digitsNeeded);
    const bodyLen = inputLen - prefixLen;
    const n = pool.length;
    const seedMix = hash32(seed, 0xb0d1);
    return {
        inputLen,
        prefixLen,
        alphabet: d,
        prompt(u) {
            if (!Number.isInteger(u) || u < 0)
                throw new RangeError(`Expected a prompt number ≥ 0, got ${u}`);
            const out = new Array(inputLen);
            let rest = u;
            for (let k = 0; k < prefixLen; k++) {
                out[k] = alphabetIds[d > 1 ? rest % d : 0];
                rest = d > 1 ? Math.floor(rest / d) : 0;
            }
            const offset = hash32(seedMix, u) % n;
            for (let k = 0; k < bodyLen; k++)
                out[prefixLen + k] = pool[(offset + k) % n];
            return out;
        },
    };
}
//# sourceMappingURL=prompts.js.map