import { paretoObservations } from './pareto.js';
export const DEFAULT_MAX_TABLE_ROWS = 30;
export const DEFAULT_MAX_PROSE_CHARS = 20_000;
export function toAnswerConfig(p) {
    return { model: p.model, quant: p.quant, batch: p.batch, input_len: p.inputLen, output_len: p.outputLen };
}
/** One point as the agent would write it: `{"model":"…","quant":"bf16","batch":8,"input_len":512,"output_len":128}`. */
export function formatPoint(p) {
    return JSON.stringify(toAnswerConfig(p));
}
/** 4 significant digits, no trailing zeros; `—` when missing. */
function num(x, digits = 4) {
    if (x === null || !Number.isFinite(x))
        return '—';
    return String(Number(x.toPrecision(digits)));
}
/** Table cells must not break the row: `|` and line breaks are escaped (model ids come from program.md). */
function cell(s) {
    return s.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/[\r\n]+/g, ' ');
}
const TABLE_HEADER = '| model | quant | batch | in (tokens) | out (tokens) | SCI (µgCO2e/token) | BPB (bits/byte) | tok/s | status |\n' +
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |';
function row(o) {
    const p = o.point;
    return `| ${cell(p.model)} | ${cell(p.quant)} | ${p.batch} | ${p.inputLen} | ${p.outputLen} | ${num(o.sciUg)} | ${num(o.bpb)} | ${num(o.tokS)} | ${o.status} |`;
}
/** Best first: measured by SCI ascending (missing SCI last), then failed ones, most recent first. */
export function rankObservations(history) {
    const ok = history.filter((o) => o.status === 'ok');
    const failed = history.filter((o) => o.status !== 'ok').reverse();
    const sci = (o) => (o.sciUg !== null && Number.isFinite(o.sciUg) ? o.sciUg : Number.POSITIVE_INFINITY);
    // Array.prototype.sort is stable: ties keep the order in which they were measured.
    ok.sort((a, b) => sci(a) - sci(b));
    return [...ok, ...failed];
}
/** The compact results table (Markdown), best first, at most `maxRows` rows plus a count of the rest. */
export function formatResultsTable(history, maxRows = DEFAULT_MAX_TABLE_ROWS) {
    if (history.length === 0)
        return '(no experiments yet)';
    const ranked = rankObservations(history);
    const shown = ranked.slice(0, Math.max(0, maxRows));
    const lines = [TABLE_HEADER, ...shown.map(row)];
    const hidden = ranked.length - shown.length;
    if (hidden > 0)
        lines.push(`(${hidden} more not shown: worse SCI or failed; they count as already measured)`);
    return lines.join('\n');
}
export function formatParetoSet(history) {
    const front = paretoObservations(history);
    if (front.length === 0)
        return '(none yet)';
    return [TABLE_HEADER, ...rankObservations(front).map(row)].join('\n');
}
export function formatSpace(space) {
    const size = space.models.length * space.quant.length * space.batch.length * space.inputLen.length * space.outputLen.length;
    return [
        `model: ${JSON.stringify(space.models)}`,
        `quant: ${JSON.stringify(space.quant)}`,
        `batch (concurrent requests): ${JSON.stringify(space.batch)}`,
        `input_len (tokens): ${JSON.stringify(space.inputLen)}`,
        `output_len (tokens): ${JSON.stringify(space.outputLen)}`,
        `(${size} configurations in all)`,
    ].join('\n');
}
export function formatCandidates(candidates) {
    if (candidates.length === 0)
        return '(none)';
    return candidates.map((p, i) => `${i + 1}. ${formatPoint(p)}`).join('\n');
}
const SYSTEM_PROMPT = [
    'You are the planner of carbonbench, an autonomous benchmark that measures the carbon cost per generated token',
    '(SCI, in µgCO2e/token, following the Software Carbon Intensity specification) of LLM inference configurations',
    "on the user's GPU. Each step you choose the ONE configuration to measure next.",
    '',
    'Rules:',
    '- You only choose a configuration. You cannot run commands; anything other than the JSON answer is ignored.',
    '- Every value must be copied exactly from the search space (same spelling, numbers as numbers).',
    '- Never choose a configuration that is already in the results (measured or failed) or that is queued.',
    "- The strategy's candidates are good defaults; choose another point of the space when the research brief",
    '  or the results give a reason to.',
    '- Lower SCI is better; BPB (bits per byte on held-out text) measures quality, lower is better; tok/s is throughput.',
    '',
    'Answer with one JSON object and nothing else:',
    '{"config": {"model": "...", "quant": "...", "batch": 1, "input_len": 128, "output_len": 128}, "rationale": "one or two sentences", "notebook": "optional: an observation for the run notebook, or empty"}',
].join('\n');
/** The messages for one step: a fixed system prompt and one user message with the run's state. */
export function buildMessages(ctx, opts = {}) {
    const maxProse = opts.maxProseChars ?? DEFAULT_MAX_PROSE_CHARS;
    const proseRaw = ctx.prose.trim();
    const prose = proseRaw.length === 0
        ? '(the program has no prose)'
        : proseRaw.length > maxProse
            ? `${proseRaw.slice(0, maxProse)}\n[… brief cut at ${maxProse} characters]`
            : proseRaw;
    const measured = ctx.history.filter((o) => o.status === 'ok').length;
    const failed = ctx.history.length - measured;
    const sections = [
        '## Research brief (program.md, written by the user)',
        prose,
        '## Objective',
        ctx.objective ?? 'minimize sci',
        '## Search space',
        formatSpace(ctx.space),
        '## Phase',
        `${ctx.phase}` +
            (ctx.budget ? ` — experiment ${ctx.budget.experimentsDone + 1} of a budget of ${ctx.budget.experimentsTotal}` : '') +
            ` — ${measured} measured, ${failed} failed so far`,
        '## Results so far (best first)',
        formatResultsTable(ctx.history, opts.maxTableRows),
        '## Pareto set (SCI min, BPB min, tok/s max)',
        formatParetoSet(ctx.history),
    ];
    if (ctx.pending && ctx.pending.length > 0) {
        sections.push('## Queued (do not choose these)', ctx.pending.map((p) => `- ${formatPoint(p)}`).join('\n'));
    }
    sections.push(`## Candidates from the ${ctx.phase} strategy (numbered, best first)`, formatCandidates(ctx.candidates), '## Your answer', 'Reply with the JSON object only: {"config": {model, quant, batch, input_len, output_len}, "rationale": "..."}');
    return [
        { role: 'system', content: SYSTEM_PROMPT },
        { role: 'user', content: sections.join('\n\n') },
    ];
}
//# sourceMappingURL=prompt.js.map