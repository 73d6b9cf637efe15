/**
 * program.md: Markdown prose for the human and the agent, with one YAML front-matter block for the
 * machine. parseProgram returns both; every error names the key, the value and what is allowed.
 */
import { redactPgUrl } from '../store/pg-url.js';
import { createHash } from 'node:crypto';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { InputError, describeValue } from '../errors.js';
import { programSchema, type Program } from './schema.js';

export interface ParsedProgram {
  program: Program;
  /** The research brief: everything after the front matter. */
  prose: string;
  text: string;
  sha256: string;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = root;
  for (const key of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v;
}

function pathText(path: readonly PropertyKey[]): string {
  return path.reduce<string>((acc, k) => (typeof k === 'number' ? `${acc}[${k}]` : acc ? `${acc}.${String(k)}` : String(k)), '');
}

/** One line per problem: `space.batch[2]: -4 (number) — allowed: an integer from 1 to 4096`. */
export function formatIssues(issues: readonly z.core.$ZodIssue[], input: unknown, source: string): string {
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
    // A URL's password never reaches a message (storage:, or any URL-valued key).
    const shown = value === undefined ? 'missing' : describeValue(typeof value === 'string' ? redactPgUrl(value) : value);
    const message = issue.message.startsWith('allowed:') || issue.message.includes('; allowed:') ? issue.message : `allowed: ${issue.message}`;
    return `${pathText(issue.path) || '(top level)'}: ${shown} — ${message}`;
  });
  return `${source}: invalid front matter:\n  ${lines.join('\n  ')}`;
}

export function parseProgram(text: string, source = 'program.md'): ParsedProgram {
  if (text.includes('\uFFFD')) {
    throw new InputError(`${source} is not valid UTF-8 text (found replacement characters); save it as UTF-8`);
  }
  const m = /^\uFEFF?---[ \t]*\r?\n([\s\S]*?)\r?\n---[ \t]*(?:\r?\n|$)/.exec(text);
  if (!m) {
    throw new InputError(`${source} has no YAML front matter: it must start with a line "---", the settings, and a closing "---" (run \`carbonbench init\` for an example)`);
  }
  const doc = parseDocument(m[1]!, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const line = e.linePos?.[0]?.line;
    throw new InputError(`${source}: the front matter is not valid YAML${line !== undefined ? ` (line ${line + 1} of the front matter)` : ''}: ${e.message.split('\n')[0]}`);
  }
  let data: unknown;
  try {
    data = doc.toJS();
  } catch (err) {
    // Fix (issue 6, tests/fixtures/bad/yaml-alias-bomb.md): the yaml package refuses an alias "billion
    // laughs" here, with a plain Error that ended as exit 1; it is bad input like any other YAML error.
    throw new InputError(`${source}: the front matter is not valid YAML: ${(err as Error).message}`);
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new InputError(`${source}: the front matter must be a mapping of keys (engine:, models:, space:, …), got ${describeValue(data)}`);
  }
  const result = programSchema.safeParse(data);
  if (!result.success) throw new InputError(formatIssues(result.error.issues, data, source));
  return {
    program: result.data,
    prose: text.slice(m[0].length).trim(),
    text,
    sha256: createHash('sha256').update(text).digest('hex'),
  };
}
