/**
 * Bits per byte through vLLM's `prompt_logprobs` (DESIGN section 6): tokenize the held-out text once
 * (POST /tokenize), cut the ids into chunks that overlap by one token, and score each chunk with a
 * non-streaming /v1/completions (max_tokens 1, prompt_logprobs 0 → the logprob of each actual prompt
 * token). The overlap makes every token except the very first one scored exactly once (each chunk's
 * first token only gives context), so the scored bytes are the text's bytes minus those of token 0
 * (zero when the tokenizer adds a BOS token).
 */
import { EngineError } from '../errors.js';
async function postJson(url, body) {
    const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(600_000),
    });
    const text = await res.text();
    if (res.status !== 200)
        throw new EngineError(`${url} answered HTTP ${res.status}: ${text.slice(0, 300)}`);
    try {
        return JSON.parse(text);
    }
    catch {
        throw new EngineError(`${url} answered with something that is not JSON: ${text.slice(0, 200)}`);
    }
}
export async function scoreBpbWithPromptLogprobs(opts) {
    const { tokens } = await postJson(`${opts.baseUrl}/tokenize`, { model: opts.model, prompt: opts.text });
    if (!Array.isArray(tokens) || tokens.length < 2)
        throw new EngineError(`/tokenize returned ${tokens?.length ?? 0} tokens for the held-out text; need at least 2`);
    // A chunk of L+1 ids scores L tokens; leave room for the one generated token.
    const scoredPerChunk = Math.max(1, opts.maxModelLen - 2);
    let bits = 0;
    let scored = 0;
    let chunks = 0;
    for (let start = 0; start < tokens.length - 1; start += scoredPerChunk) {
        const ids = tokens.slice(start, start + scoredPerChunk + 1);
        const answer = await postJson(`${opts.baseUrl}/v1/completions`, {
            model: opts.model,
            prompt: ids,
            max_tokens: 1,
            temperature: 0,
            prompt_logprobs: 0,
        });
        const logprobs = answer.choices?.[0]?.prompt_logprobs;
        if (!Array.isArray(logprobs) || logprobs.length !== ids.length) {
            throw new EngineError(`prompt_logprobs missing or of the wrong length (${Array.isArray(logprobs) ? logprobs.length : 'none'} for ${ids.length} tokens); does this server support prompt_logprobs?`);
        }
        for (let i = 1; i < ids.length; i++) {
            const entry = logprobs[i];
            const lp = entry?.[String(ids[i])]?.logprob;
            if (typeof lp !== 'number' || !Number.isFinite(lp))
                throw new EngineError(`no finite logprob for prompt token ${start + i} (id ${ids[i]})`);
            bits += -lp / Math.LN2;
            scored++;
        }
        chunks++;
    }
    const { prompt: firstText } = await postJson(`${opts.baseUrl}/detokenize`, { model: opts.model, tokens: [tokens[0]] });
    const bytes = Buffer.byteLength(opts.text, 'utf8') - Buffer.byteLength(firstText ?? '', 'utf8');
    if (bytes <= 0)
        throw new EngineError('the held-out text has no scored bytes');
    return {
        bpb: bits / bytes,
        bits,
        bytes,
        tokens: scored,
        method: `vllm prompt_logprobs: ${scored} tokens in ${chunks} chunk(s) of at most ${scoredPerChunk + 1} ids overlapping by one; bytes = text bytes − first token's bytes`,
    };
}
//# sourceMappingURL=vllm-bpb.js.map