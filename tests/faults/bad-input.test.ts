/**
 * The bad-input corpus (issue 6): tests/fixtures/bad/ holds one file per case and manifest.json says,
 * for each, the command line, the exit code (2: usage or input error) and a pattern of the message (which
 * must name the problem and what is allowed). Every case runs the real CLI in a sandbox of its own (cwd,
 * HOME and TMPDIR inside it) and must:
 *   - exit with the expected code and print the message on stderr, without a stack trace;
 *   - write nothing at all: the sandbox's file tree is the same before and after (no results.db, no lock,
 *     no experiments/);
 *   - never reach a shell: the cases carry `$(touch /tmp/PWNED_carbonbench_x)`, backticks, `;`, `|`, `&&`
 *     in model ids, paths and flags, and that file must never appear.
 */
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/paths.js';
import { cli, listTree, type Sandbox } from './helpers.js';

interface BadCase {
  case: string;
  file: string;
  args: string[];
  exit: number;
  message: string;
  /** Where the message is printed (default stderr; doctor prints its report on stdout). */
  stream?: 'stdout' | 'stderr';
}

const BAD = join(ROOT, 'tests', 'fixtures', 'bad');
const manifest = JSON.parse(readFileSync(join(BAD, 'manifest.json'), 'utf8')) as { cases: BadCase[] };
const PWNED = '/tmp/PWNED_carbonbench_x';

beforeAll(() => rmSync(PWNED, { force: true }));
afterAll(() => expect(existsSync(PWNED), 'a shell ran a command from the corpus').toBe(false));

function caseSandbox(c: BadCase): Sandbox & { caseFile: string } {
  const dir = mkdtempSync(join(tmpdir(), `cb-bad-${c.case}-`));
  // The case file is copied in, so a command that wrote beside it would show in the listing too.
  const caseFile = join(dir, c.file);
  copyFileSync(join(BAD, c.file), caseFile);
  return { dir, db: join(dir, 'results.db'), tag: c.case, env: { HOME: dir, TMPDIR: dir }, caseFile };
}

describe('bad-input corpus (tests/fixtures/bad)', () => {
  it('has at least 40 cases, each with its file', () => {
    expect(manifest.cases.length).toBeGreaterThanOrEqual(40);
    for (const c of manifest.cases) expect(existsSync(join(BAD, c.file)), c.file).toBe(true);
    expect(new Set(manifest.cases.map((c) => c.case)).size).toBe(manifest.cases.length);
  });

  // Four at a time: each case is a short-lived CLI process.
  it.concurrent.each(manifest.cases.map((c) => [c.case, c] as const))('%s', async (_name, c) => {
    const sb = caseSandbox(c);
    const args = c.args.map((a) => a.replaceAll('{case}', sb.caseFile).replaceAll('{dir}', sb.dir).replaceAll('{db}', sb.db));
    const before = listTree(sb.dir);
    const r = await cli(sb, args, { timeoutMs: 30_000 });
    expect(r.exitCode, `${c.case}: ${r.stderr}`).toBe(c.exit);
    expect(c.stream === 'stdout' ? r.stdout : r.stderr, c.case).toMatch(new RegExp(c.message));
    expect(r.stderr, `${c.case}: a message, not a stack trace`).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
    expect(listTree(sb.dir), `${c.case} wrote files`).toEqual(before);
    expect(existsSync(PWNED), `${c.case} reached a shell`).toBe(false);
    rmSync(sb.dir, { recursive: true, force: true });
  });
});
