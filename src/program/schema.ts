/**
 * program.md's front matter (DESIGN section 4), validated with zod. Every error names the key, the
 * value and what is allowed. Unknown keys are errors (a typo must not silently fall back to a default).
 */
import { z } from 'zod';
import { INTENSITY_PROVIDERS, WATTTIME_SIGNALS } from '../carbon/providers.js';
import { ENGINE_NAMES } from '../engines/types.js';
import { isPostgresUrl, parsePgUrl } from '../store/pg-url.js';

const ZONE_ALLOWED = 'a provider zone or region id of letters, digits, _ and - such as US-NE-ISNE or CAISO_NORTH';

const positiveInt = (what: string, max: number) =>
  z.number({ error: `allowed: ${what}` }).int({ error: `allowed: ${what}` }).min(1, { error: `allowed: ${what}` }).max(max, { error: `allowed: ${what}` });

const scalar = z.union([z.string(), z.number(), z.boolean()]);

/**
 * Fix (issue 6, tests/faults/bad-input.test.ts): a model id or path reaches an engine's argv (never a
 * shell), but it used to accept anything but NUL and line breaks: `--trust-remote-code` as a model id
 * became an option of `vllm serve` (argument injection), and `$(…)`, `;`, backticks or `../` segments were
 * accepted silently. Model ids (org/name) and ordinary paths need none of them, so they are refused at the
 * boundary, naming the character and what is allowed. Shared with `carbonbench measure --model`.
 */
const MODEL_REF_CHARS_RE = /^[\p{L}\p{N}._\-/+@:=, ]+$/u;
const NVML_HZ_ALLOWED = 'allowed: auto, or an integer number of reads per second from 1 to 100';

export const MODEL_REF_ALLOWED = 'a model id (org/name) or a file path of letters, digits, spaces and . _ - / + @ : = , — not starting with "-", without ".." segments or shell metacharacters';

/** null when `s` is an acceptable model id or path, else what is wrong with it (e.g. `contains "$"`). */
export function modelRefProblem(s: string): string | null {
  if (s.trim() === '') return 'is empty';
  if (s.length > 1024) return `is ${s.length} characters long (at most 1024)`;
  if (!MODEL_REF_CHARS_RE.test(s)) {
    const bad = [...s].find((c) => !MODEL_REF_CHARS_RE.test(c)) ?? '';
    return `contains ${/[\p{Cc}\p{Cf}]/u.test(bad) ? `U+${bad.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}` : JSON.stringify(bad)}`;
  }
  if (s.startsWith('-')) return 'starts with "-" (it would be read as an engine option)';
  if (/(^|\/)\.\.(\/|$)/.test(s)) return 'has a ".." path segment (write the absolute path instead)';
  return null;
}

const modelRef = z.string({ error: `allowed: ${MODEL_REF_ALLOWED}` }).superRefine((s, ctx) => {
  const problem = modelRefProblem(s);
  if (problem !== null) ctx.addIssue({ code: 'custom', message: `${problem}; allowed: ${MODEL_REF_ALLOWED}` });
});

export const modelSchema = z.strictObject({
  id: modelRef,
  params: z.number({ error: 'allowed: a parameter count such as 7.6e9' }).positive({ error: 'allowed: a positive parameter count such as 7.6e9' }).max(1e13, { error: 'allowed: at most 1e13' }).optional(),
  family: z.string().min(1).max(100).optional(),
  variants: z.record(z.string().min(1).max(64), modelRef).optional(),
});

const list = <T extends z.ZodType>(item: T, what: string) => z.array(item, { error: `allowed: a list of ${what}` }).min(1, { error: `allowed: a non-empty list of ${what}` }).max(64, { error: 'allowed: at most 64 values' });

export const spaceSchema = z.strictObject({
  quant: list(z.string().min(1).max(64), 'quantization names (engine-specific)'),
  batch: list(positiveInt('an integer from 1 to 4096', 4096), 'batch sizes'),
  input_len: list(positiveInt('an integer from 1 to 1048576', 1 << 20), 'input lengths in tokens'),
  output_len: list(positiveInt('an integer from 1 to 1048576', 1 << 20), 'output lengths in tokens'),
});

export const STUDY_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
export const STUDY_NAME_ALLOWED = '1 to 100 letters, digits, ".", "_" or "-", starting with a letter or digit';
const studyNameSchema = z.string({ error: `allowed: ${STUDY_NAME_ALLOWED}` }).regex(STUDY_NAME_RE, { error: `allowed: ${STUDY_NAME_ALLOWED}` });
/** Seconds without a heartbeat after which a worker's running trial is failed and re-queued. */
export const DEFAULT_HEARTBEAT_TIMEOUT_S = 60;
const heartbeatTimeoutSchema = z.number({ error: 'allowed: seconds from 1 to 86400' }).min(1, { error: 'allowed: seconds from 1 to 86400' }).max(86_400, { error: 'allowed: seconds from 1 to 86400' });
const STORAGE_ALLOWED =
  'a PostgreSQL URL without password such as postgresql://bench@db.lab:5432/carbonbench (password in PGPASSWORD), or a results.db path';

/** null when `text` is an acceptable `storage:` value, else what is wrong with it. */
function storageProblem(text: string): string | null {
  if (text.trim() === '') return 'empty';
  if (isPostgresUrl(text)) {
    let parts;
    try {
      parts = parsePgUrl(text, 'storage');
    } catch (error) {
      return (error as Error).message.replace(/^storage /, '').split('; allowed:')[0]!;
    }
    if (parts.password !== null) {
      return 'contains a password, and program.md is stored in results.db: remove it from the URL and set PGPASSWORD (or ~/.pgpass) instead';
    }
    return null;
  }
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text);
  if (scheme) return `unsupported URL scheme "${scheme[1]}"`;
  return null;
}

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
      // Issue 9 part 2: time-resolved grid intensity (keys from the environment, never here).
      intensity_provider: z.enum(INTENSITY_PROVIDERS, { error: `allowed: ${INTENSITY_PROVIDERS.join(', ')}` }).optional(),
      zone: z.string({ error: `allowed: ${ZONE_ALLOWED}` }).regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, { error: `allowed: ${ZONE_ALLOWED}` }).optional(),
      signal: z.enum(WATTTIME_SIGNALS, { error: `allowed: ${WATTTIME_SIGNALS.join(', ')} (WattTime only)` }).optional(),
    })
    .superRefine((c, ctx) => {
      const provider = c.intensity_provider ?? 'static';
      if (provider === 'watttime' && c.zone === undefined) {
        ctx.addIssue({ code: 'custom', path: ['zone'], message: 'allowed: a WattTime region such as CAISO_NORTH (required when intensity_provider is watttime)' });
      }
      if (provider === 'electricitymaps' && c.zone === undefined && c.region === undefined && c.intensity !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['zone'], message: 'allowed: an Electricity Maps zone such as US-NE-ISNE (required when intensity is given instead of region; otherwise the zone defaults to region)' });
      }
      if (c.signal !== undefined && provider !== 'watttime') {
        ctx.addIssue({ code: 'custom', path: ['signal'], message: `allowed: only with intensity_provider: watttime (got intensity_provider ${provider})` });
      }
      if (c.zone !== undefined && provider === 'static') {
        ctx.addIssue({ code: 'custom', path: ['zone'], message: 'allowed: only with intensity_provider electricitymaps or watttime (the static figure comes from region or intensity)' });
      }
    })
    .default({}),
  // Issue 9: which energy SCI uses. auto = the widest boundary measured (GPU, + CPU package, + DRAM, or a
  // superchip's module); gpu = GPU board only (comparable with results measured before).
  energy: z
    .strictObject({
      boundary: z.enum(['auto', 'gpu'], { error: 'allowed: auto (the widest boundary measured) or gpu (GPU board only)' }).default('auto'),
      // Issue 7: background reads of NVML's energy counter per second. auto = 10 Hz where a read is cheap,
      // fewer (down to 1 Hz, phase-locked to the window's 1 s segments) where a read costs milliseconds
      // of CPU, to keep the harness under 1% of a core (decision 41).
      nvml_hz: z
        .union([z.literal('auto'), z.number().int({ error: NVML_HZ_ALLOWED }).min(1, { error: NVML_HZ_ALLOWED }).max(100, { error: NVML_HZ_ALLOWED })], { error: NVML_HZ_ALLOWED })
        .default('auto'),
    })
    .default({ boundary: 'auto', nvml_hz: 'auto' }),
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
  /**
   * Issue 10: a shared study that several `carbonbench run` workers (one per host) join; a name, or
   * { name, heartbeat_timeout_s }. Also `run --study NAME`.
   */
  study: z
    .union([studyNameSchema, z.strictObject({ name: studyNameSchema, heartbeat_timeout_s: heartbeatTimeoutSchema.optional() })], {
      error: `allowed: a study name (${STUDY_NAME_ALLOWED}) or { name, heartbeat_timeout_s }`,
    })
    .optional(),
  /**
   * Where results go (issue 10): a PostgreSQL URL shared by several hosts, or a results.db path. No
   * password: program.md is stored in results.db (runs.program_text); the password comes from PGPASSWORD.
   */
  storage: z.string({ error: `allowed: ${STORAGE_ALLOWED}` }).superRefine((s, ctx) => {
    const problem = storageProblem(s);
    if (problem !== null) ctx.addIssue({ code: 'custom', message: `${problem}; allowed: ${STORAGE_ALLOWED}` });
  }).optional(),
  seed: z.number({ error: 'allowed: an integer from 0 to 2147483647' }).int({ error: 'allowed: an integer from 0 to 2147483647' }).min(0, { error: 'allowed: an integer from 0 to 2147483647' }).max(2 ** 31 - 1, { error: 'allowed: an integer from 0 to 2147483647' }).optional(),
});

export type Program = z.infer<typeof programSchema>;
export type ProgramModel = z.infer<typeof modelSchema>;
