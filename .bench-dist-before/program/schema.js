/**
 * program.md's front matter (DESIGN section 4), validated with zod. Every error names the key, the
 * value and what is allowed. Unknown keys are errors (a typo must not silently fall back to a default).
 */
import { z } from 'zod';
import { ENGINE_NAMES } from '../engines/types.js';
const positiveInt = (what, max) => z.number({ error: `allowed: ${what}` }).int({ error: `allowed: ${what}` }).min(1, { error: `allowed: ${what}` }).max(max, { error: `allowed: ${what}` });
const scalar = z.union([z.string(), z.number(), z.boolean()]);
/**
 * Fix (issue 6, tests/faults/bad-input.test.ts): a model id or path reaches an engine's argv (never a
 * shell), but it used to accept anything but NUL and line breaks: `--trust-remote-code` as a model id
 * became an option of `vllm serve` (argument injection), and `$(…)`, `;`, backticks or `../` segments were
 * accepted silently. Model ids (org/name) and ordinary paths need none of them, so they are refused at the
 * boundary, naming the character and what is allowed. Shared with `carbonbench measure --model`.
 */
const MODEL_REF_CHARS_RE = /^[\p{L}\p{N}._\-/+@:=, ]+$/u;
export const MODEL_REF_ALLOWED = 'a model id (org/name) or a file path of letters, digits, spaces and . _ - / + @ : = , — not starting with "-", without ".." segments or shell metacharacters';
/** null when `s` is an acceptable model id or path, else what is wrong with it (e.g. `contains "$"`). */
export function modelRefProblem(s) {
    if (s.trim() === '')
        return 'is empty';
    if (s.length > 1024)
        return `is ${s.length} characters long (at most 1024)`;
    if (!MODEL_REF_CHARS_RE.test(s)) {
        const bad = [...s].find((c) => !MODEL_REF_CHARS_RE.test(c)) ?? '';
        return `contains ${/[\p{Cc}\p{Cf}]/u.test(bad) ? `U+${bad.codePointAt(0).toString(16).toUpperCase().padStart(4, '0')}` : JSON.stringify(bad)}`;
    }
    if (s.startsWith('-'))
        return 'starts with "-" (it would be read as an engine option)';
    if (/(^|\/)\.\.(\/|$)/.test(s))
        return 'has a ".." path segment (write the absolute path instead)';
    return null;
}
const modelRef = z.string({ error: `allowed: ${MODEL_REF_ALLOWED}` }).superRefine((s, ctx) => {
    const problem = modelRefProblem(s);
    if (problem !== null)
        ctx.addIssue({ code: 'custom', message: `${problem}; allowed: ${MODEL_REF_ALLOWED}` });
});
export const modelSchema = z.strictObject({
    id: modelRef,
    params: z.number({ error: 'allowed: a parameter count such as 7.6e9' }).positive({ error: 'allowed: a positive parameter count such as 7.6e9' }).max(1e13, { error: 'allowed: at most 1e13' }).optional(),
    family: z.string().min(1).max(100).optional(),
    variants: z.record(z.string().min(1).max(64), modelRef).optional(),
});
const list = (item, what) => z.array(item, { error: `allowed: a list of ${what}` }).min(1, { error: `allowed: a non-empty list of ${what}` }).max(64, { error: 'allowed: at most 64 values' });
export const spaceSchema = z.strictObject({
    quant: list(z.string().min(1).max(64), 'quantization names (engine-specific)'),
    batch: list(positiveInt('an integer from 1 to 4096', 4096), 'batch sizes'),
    input_len: list(positiveInt('an integer from 1 to 1048576', 1 << 20), 'input lengths in tokens'),
    output_len: list(positiveInt('an integer from 1 to 1048576', 1 << 20), 'output lengths in tokens'),
});
export const programSchema = z.strictObject({
    engine: z.enum(ENGINE_NAMES, { error: `allowed: ${ENGINE_NAMES.join(', ')}` }),
    models: z.array(modelSchema, { error: 'allowed: a list of models ({ id, params, family, variants })' }).min(1, { error: 'allowed: at least one model' }).max(100),
    space: spaceSchema,
    objective: z
        .strictObject({
        minimize: z.enum(['sci'], { error: 'allowed: sci' }).default('sci'),
        constraint: z.string().max(200).optional(),
        front: z.boolean().optional(),
    })
        .default({ minimize: 'sci' }),
    budget: z
        .strictObject({
        experiments: positiveInt('an integer from 1 to 100000', 100_000).default(120),
        hours: z.number({ error: 'allowed: a number of hours above 0, at most 720' }).positive({ error: 'allowed: a number of hours above 0, at most 720' }).max(720, { error: 'allowed: a number of hours above 0, at most 720' }).default(8),
        experiment_seconds: positiveInt('an integer number of seconds from 10 to 86400', 86_400).min(10, { error: 'allowed: an integer number of seconds from 10 to 86400' }).default(300),
    })
        .default({ experiments: 120, hours: 8, experiment_seconds: 300 }),
    carbon: z
        .strictObject({
        region: z.string().min(1).max(64).optional(),
        intensity: z.number({ error: 'allowed: gCO2e/kWh from 0 to 2000' }).min(0, { error: 'allowed: gCO2e/kWh from 0 to 2000' }).max(2000, { error: 'allowed: gCO2e/kWh from 0 to 2000' }).optional(),
        hardware: z.string().min(1).max(64).optional(),
        embodied_kg: z.number({ error: 'allowed: kgCO2e >= 0' }).min(0, { error: 'allowed: kgCO2e >= 0' }).max(1e7).optional(),
        lifetime_years: z.number({ error: 'allowed: years above 0, at most 30' }).positive({ error: 'allowed: years above 0, at most 30' }).max(30, { error: 'allowed: years above 0, at most 30' }).optional(),
        gpus_total: positiveInt('an integer from 1 to 1024', 1024).optional(),
    })
        .default({}),
    safety: z
        .strictObject({
        abort_temp_c: z.number({ error: 'allowed: °C from 40 to 110' }).min(40, { error: 'allowed: °C from 40 to 110' }).max(110, { error: 'allowed: °C from 40 to 110' }).default(85),
        cooldown_temp_c: z.number({ error: 'allowed: °C from 20 to 100' }).min(20, { error: 'allowed: °C from 20 to 100' }).max(100, { error: 'allowed: °C from 20 to 100' }).default(50),
        cooldown_max_s: z.number({ error: 'allowed: seconds from 0 to 3600' }).min(0, { error: 'allowed: seconds from 0 to 3600' }).max(3600, { error: 'allowed: seconds from 0 to 3600' }).default(300),
    })
        .default({ abort_temp_c: 85, cooldown_temp_c: 50, cooldown_max_s: 300 })
        .refine((s) => s.cooldown_temp_c < s.abort_temp_c, { error: 'allowed: cooldown_temp_c below abort_temp_c' }),
    agent: z
        .strictObject({
        model: z.string().min(1).max(200),
        base_url_env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, { error: 'allowed: the NAME of an environment variable (A-Z, 0-9, _)' }).default('OPENAI_BASE_URL'),
        api_key_env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, { error: 'allowed: the NAME of an environment variable (A-Z, 0-9, _)' }).default('OPENAI_API_KEY'),
        // Added for issue 6 (tests/faults/agent.test.ts): the per-request timeout was fixed at 60 s; a slow
        // local model needs more, a test of a slow endpoint less.
        timeout_s: z.number({ error: 'allowed: seconds from 1 to 600' }).min(1, { error: 'allowed: seconds from 1 to 600' }).max(600, { error: 'allowed: seconds from 1 to 600' }).optional(),
    })
        .optional(),
    /** Search tuning (optional): experiments without improvement that end a phase, and phase shares. */
    search: z
        .strictObject({
        patience: positiveInt('an integer from 1 to 1000', 1000).optional(),
        grid_share: z.number({ error: 'allowed: a fraction from 0 to 1' }).min(0, { error: 'allowed: a fraction from 0 to 1' }).max(1, { error: 'allowed: a fraction from 0 to 1' }).optional(),
        random_share: z.number({ error: 'allowed: a fraction from 0 to 1' }).min(0, { error: 'allowed: a fraction from 0 to 1' }).max(1, { error: 'allowed: a fraction from 0 to 1' }).optional(),
    })
        .refine((s) => (s.grid_share ?? 0.35) + (s.random_share ?? 0.25) <= 1, { error: 'allowed: grid_share + random_share at most 1' })
        .default({}),
    /** Server-level engine options (DESIGN section 5.2 "server-level flags"), passed to the engine. */
    engine_options: z.record(z.string().regex(/^[a-z_][a-z0-9_]*$/, { error: 'allowed: snake_case option names' }), scalar).default({}),
    /** GPU indices to use and measure; all when omitted. */
    // Messages added for issue 6 (tests/fixtures/bad/gpus-negative.md, seed-string.md): zod's defaults
    // ("Too small: expected number to be >=0") did not say what is allowed.
    gpus: z.array(z.number({ error: 'allowed: a GPU index from 0 to 255' }).int({ error: 'allowed: a GPU index from 0 to 255' }).min(0, { error: 'allowed: a GPU index from 0 to 255' }).max(255, { error: 'allowed: a GPU index from 0 to 255' }), { error: 'allowed: a list of GPU indices such as [0] or [0, 1]' }).min(1, { error: 'allowed: a non-empty list of GPU indices such as [0]' }).optional(),
    seed: z.number({ error: 'allowed: an integer from 0 to 2147483647' }).int({ error: 'allowed: an integer from 0 to 2147483647' }).min(0, { error: 'allowed: an integer from 0 to 2147483647' }).max(2 ** 31 - 1, { error: 'allowed: an integer from 0 to 2147483647' }).optional(),
});
//# sourceMappingURL=schema.js.map