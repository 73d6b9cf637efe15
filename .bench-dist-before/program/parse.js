/**
 * program.md: Markdown prose for the human and the agent, with one YAML front-matter block for the
 * machine. parseProgram returns both; every error names the key, the value and what is allowed.
 */
import { createHash } from 'node:crypto';
import { parseDocument } from 'yaml';
import { InputError, describeValue } from '../errors.js';
import { programSchema } from './schema.js';
function valueAt(root, path) {
    let v = root;
    for (const key of path) {
        if (v === null || typeof v !== 'object')
            return undefined;
        v = v[key];
    }
    return v;
}
function pathText(path) {
    return path.reduce((acc, k) => (typeof k === 'number' ? `${acc}[${k}]` : acc ? `${acc}.${String(k)}` : String(k)), '');
}
/** One line per problem: `space.batch[2]: -4 (number) — allowed: an integer from 1 to 4096`. */
export function formatIssues(issues, input, source) {
    const lines = issues.map((issue) => {
        if (issue.code === 'unrecognized_keys') {
            const where = pathText(issue.path);
            return `${where || '(top level)'}: unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')} — check the spelling against DESIGN's program.md keys`;
        }
        if (issue.code === 'invalid_key') {
            // Fix (issue 6, tests/fixtures/bad/engine-option-bad-name.md): zod's own "Invalid key in record" hid
            // which key and what is allowed; the key's schema says it.
            const where = pathText(issue.path.slice(0, -1));
            const inner = issue.issues[0]?.message ?? 'a valid key';
            return `${where || '(top level)'}: key ${describeValue(issue.path[issue.path.length - 1])} — ${inner.startsWith('allowed:') ? inner : `allowed: ${inner}`}`;
        }
        const value = valueAt(input, issue.path);
        const shown = value === undefined ? 'missing' : describeValue(value);
        const message = issue.message.startsWith('allowed:') || issue.message.includes('; allowed:') ? issue.message : `allowed: ${issue.message}`;
        return `${pathText(issue.path) || '(top level)'}: ${shown} — ${message}`;
    });
    return `${source}: invalid front matter:\n  ${lines.join('\n  ')}`;
}
export function parseProgram(text, source = 'program.md') {
    if (text.includes('\uFFFD')) {
        throw new InputError(`${source} is not valid UTF-8 text (found replacement characters); save it as UTF-8`);
    }
    const m = /^\uFEFF?---[ \t]*\r?\n([\s\S]*?)\r?\n---[ \t]*(?:\r?\n|$)/.exec(text);
    if (!m) {
        throw new InputError(`${source} has no YAML front matter: it must start with a line "---", the settings, and a closing "---" (run \`carbonbench init\` for an example)`);
    }
    const doc = parseDocument(m[1], { prettyErrors: true, uniqueKeys: true });
    if (doc.errors.length > 0) {
        const e = doc.errors[0];
        const line = e.linePos?.[0]?.line;
        throw new InputError(`${source}: the front matter is not valid YAML${line !== undefined ? ` (line ${line + 1} of the front matter)` : ''}: ${e.message.split('\n')[0]}`);
    }
    let data;
    try {
        data = doc.toJS();
    }
    catch (err) {
        // Fix (issue 6, tests/fixtures/bad/yaml-alias-bomb.md): the yaml package refuses an alias "billion
        // laughs" here, with a plain Error that ended as exit 1; it is bad input like any other YAML error.
        throw new InputError(`${source}: the front matter is not valid YAML: ${err.message}`);
    }
    if (data === null || typeof data !== 'object' || Array.isArray(data)) {
        throw new InputError(`${source}: the front matter must be a mapping of keys (engine:, models:, space:, …), got ${describeValue(data)}`);
    }
    const result = programSchema.safeParse(data);
    if (!result.success)
        throw new InputError(formatIssues(result.error.issues, data, source));
    return {
        program: result.data,
        prose: text.slice(m[0].length).trim(),
        text,
        sha256: createHash('sha256').update(text).digest('hex'),
    };
}
//# sourceMappingURL=parse.js.map