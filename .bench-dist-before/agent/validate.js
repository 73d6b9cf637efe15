/**
 * Validation of the agent's answer at the boundary (STYLE: validate at the boundary, name the key, the
 * value and what is allowed). The answer is untrusted text from a remote model.
 *
 * - Every config field must be a member of the space, compared exactly: strings as-is (no trimming,
 *   case folding, Unicode normalization or path resolution), numbers as JSON numbers (`"32"` is not 32).
 *   A value such as `"x; rm -rf /"` or `"../../etc/passwd"` is therefore simply "not in the space".
 * - The config must not be already observed (measured or failed) or queued.
 * - The rationale must be a string; it is cleaned (control and bidirectional-override characters removed,
 *   lone surrogates replaced) and cut to MAX_RATIONALE_CHARS.
 *
 * How the caller must treat what comes out of here:
 * - `point` holds only values copied from the space (program.md), never agent text, so it is as safe as
 *   the program itself (engines still pass it as argv arrays, never through a shell).
 * - `rationale` (and a rejection `reason`, which quotes agent text) is untrusted data: store it in
 *   results.db only as a bound SQL parameter (`?` / named parameters), never concatenated into SQL text;
 *   never use it in a shell command, an argv, a file or directory name, or an environment variable; the
 *   report must HTML-escape it. Logging it through pino is fine (JSON-escaped).
 */
import { z } from 'zod';
import { describeValue } from '../errors.js';
import { pointKey } from '../search/types.js';
import { formatPoint } from './prompt.js';
export const MAX_RATIONALE_CHARS = 2_000;
/** Answers longer than this are rejected before parsing (a sane answer is a few hundred characters). */
export const MAX_ANSWER_CHARS = 64 * 1024;
// C0/C1 control characters; line breaks and tabs are replaced by a space first.
const CONTROL_RE = /[\u0000-\u001F\u007F-\u009F]/g;
// Zero-width and bidirectional formatting characters ("Trojan Source"): invisible, can reorder text in a
// terminal or the report.
const FORMAT_RE = /[\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u2069\uFEFF]/g;
const LONE_SURROGATE_RE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
/** Untrusted text → one clean line of at most `maxChars` UTF-16 code units (never splitting a pair). */
export function sanitizeText(text, maxChars) {
    let s = text
        .replace(/[\r\n\t\v\f]+/g, ' ')
        .replace(CONTROL_RE, '')
        .replace(FORMAT_RE, '')
        .replace(LONE_SURROGATE_RE, '\uFFFD')
        .trim();
    if (s.length > maxChars) {
        let cut = maxChars - 1;
        // Do not end on the high half of a surrogate pair.
        const code = s.charCodeAt(cut - 1);
        if (code >= 0xd800 && code <= 0xdbff)
            cut -= 1;
        s = `${s.slice(0, cut)}…`;
    }
    return s;
}
export function sanitizeRationale(text) {
    return sanitizeText(text, MAX_RATIONALE_CHARS);
}
/** A value quoted in a rejection reason: cleaned and short (the reason is stored and logged). */
function shown(value) {
    return sanitizeText(describeValue(value), 120);
}
function allowedList(values) {
    const max = 12;
    const head = values.slice(0, max).map((v) => (typeof v === 'string' ? JSON.stringify(v) : String(v)));
    return values.length > max ? `${head.join(', ')}, … (${values.length} values)` : head.join(', ');
}
/**
 * The JSON object in an answer: the whole text, else the first ```json (or plain ```) fenced block that
 * parses, else the span from the first `{` to the last `}` (models often add a sentence around the
 * object; the strict validation that follows makes the lenient extraction harmless).
 */
export function extractJson(text) {
    if (text.length > MAX_ANSWER_CHARS)
        return { ok: false, reason: `the answer is ${text.length} characters long; at most ${MAX_ANSWER_CHARS} are read` };
    const attempts = [text.trim()];
    for (const m of text.matchAll(/```[ \t]*(?:json|JSON)?[ \t]*\r?\n?([\s\S]*?)```/g))
        attempts.push(m[1].trim());
    const first = text.indexOf('{');
    const last = text.lastIndexOf('}');
    if (first >= 0 && last > first)
        attempts.push(text.slice(first, last + 1));
    for (const a of attempts) {
        if (a === '')
            continue;
        try {
            return { ok: true, value: JSON.parse(a) };
        }
        catch {
            // try the next form
        }
    }
    const head = sanitizeText(text, 80);
    return {
        ok: false,
        reason: text.trim() === '' ? 'the answer is empty' : `the answer is not JSON (expected {"config": {…}, "rationale": "…"}); it began: ${JSON.stringify(head)}`,
    };
}
/** A field that must be one of `allowed`, compared with === (strings as-is, numbers as numbers). */
function member(key, allowed, kind) {
    return z.unknown().transform((v, ctx) => {
        if (v === undefined) {
            ctx.addIssue({ code: 'custom', message: `config.${key} is missing; allowed: ${allowedList(allowed)}` });
            return z.NEVER;
        }
        if (typeof v !== kind) {
            ctx.addIssue({ code: 'custom', message: `config.${key} ${shown(v)} must be a ${kind}; allowed: ${allowedList(allowed)}` });
            return z.NEVER;
        }
        if (!allowed.includes(v)) {
            ctx.addIssue({ code: 'custom', message: `config.${key} ${shown(v)} is not in the space; allowed: ${allowedList(allowed)}` });
            return z.NEVER;
        }
        return v;
    });
}
const CONFIG_KEYS = ['model', 'quant', 'batch', 'input_len', 'output_len'];
/** The zod schema of an answer for one space. Unknown top-level keys are ignored; unknown config keys are not. */
export function answerSchema(space) {
    return z.object({
        // Strict: an extra key (say "engine_options") means the model believes it set something that would
        // silently not happen; reject rather than measure a config it did not ask for.
        config: z.strictObject({
            model: member('model', space.models, 'string'),
            quant: member('quant', space.quant, 'string'),
            batch: member('batch', space.batch, 'number'),
            input_len: member('input_len', space.inputLen, 'number'),
            output_len: member('output_len', space.outputLen, 'number'),
        }, { error: (iss) => (iss.code === 'unrecognized_keys' ? undefined : `config must be an object with the keys ${CONFIG_KEYS.join(', ')}, got ${shown(iss.input)}`) }),
        rationale: z.unknown().transform((v, ctx) => {
            if (typeof v !== 'string') {
                ctx.addIssue({ code: 'custom', message: v === undefined ? 'rationale is missing; allowed: a string' : `rationale ${shown(v)} must be a string` });
                return z.NEVER;
            }
            return sanitizeRationale(v);
        }),
        // Optional: a line for the run's notebook (DESIGN section 7: "the agent may append to notes").
        // Untrusted text like the rationale: cleaned, cut, stored only as a bound SQL parameter.
        notebook: z.unknown().optional().transform((v) => (typeof v === 'string' && v.trim() !== '' ? sanitizeRationale(v) : null)),
    }, { error: (iss) => `the answer must be a JSON object {"config": {…}, "rationale": "…"}, got ${shown(iss.input)}` });
}
function formatIssue(issue) {
    if (issue.code === 'unrecognized_keys') {
        const where = issue.path.length > 0 ? issue.path.map(String).join('.') : 'the answer';
        return `${where} has unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(sanitizeText(k, 40))).join(', ')}; allowed: ${CONFIG_KEYS.join(', ')}`;
    }
    return issue.message;
}
/**
 * Validates one answer (the model's message content) against the space and what is already taken
 * (observed or queued points). Never throws.
 */
export function validateAnswer(text, space, taken) {
    const json = extractJson(text);
    if (!json.ok)
        return json;
    const parsed = answerSchema(space).safeParse(json.value);
    if (!parsed.success)
        return { ok: false, reason: parsed.error.issues.map(formatIssue).join('; ') };
    const c = parsed.data.config;
    const point = { model: c.model, quant: c.quant, batch: c.batch, inputLen: c.input_len, outputLen: c.output_len };
    const key = pointKey(point);
    if (taken.some((p) => pointKey(p) === key)) {
        return { ok: false, reason: `config ${formatPoint(point)} was already measured or is queued; a new configuration is required` };
    }
    return { ok: true, point, rationale: parsed.data.rationale, notebook: parsed.data.notebook ?? null };
}
/**
 * The JSON schema for the chat-completions `response_format` (structured output): the same space as
 * enums, so an endpoint that enforces it can only produce in-space values. Validation still runs.
 */
export function answerJsonSchema(space) {
    return {
        type: 'object',
        additionalProperties: false,
        required: ['config', 'rationale'],
        properties: {
            config: {
                type: 'object',
                additionalProperties: false,
                required: [...CONFIG_KEYS],
                properties: {
                    model: { type: 'string', enum: [...space.models] },
                    quant: { type: 'string', enum: [...space.quant] },
                    batch: { type: 'integer', enum: [...space.batch] },
                    input_len: { type: 'integer', enum: [...space.inputLen] },
                    output_len: { type: 'integer', enum: [...space.outputLen] },
                },
            },
            rationale: { type: 'string', description: 'Why this configuration, in one or two sentences.' },
            notebook: { type: 'string', description: 'Optional: an observation worth keeping in the run notebook (empty string for none).' },
        },
    };
}
//# sourceMappingURL=validate.js.map