/**
 * Runs the Python unittest of scripts/transformers_runner.py (scripts/test_transformers_runner.py) with the
 * project's interpreter, so that `npm test` covers the Python side too. Its torch-dependent tests skip
 * loudly without torch, unless CARBONBENCH_REQUIRE_TORCH=1 (CI), which is passed through.
 */
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { expect, it } from 'vitest';
import { resolvePython } from '../../src/engines/probe.js';
import { ROOT } from '../helpers/paths.js';

it('scripts/test_transformers_runner.py passes', { timeout: 300_000 }, async () => {
  const python = resolvePython(resolve(ROOT));
  const run = await execa(python, [join(ROOT, 'scripts', 'test_transformers_runner.py')], { cwd: ROOT, reject: false, all: true, stdin: 'ignore', timeout: 280_000 });
  const summary = (run.all ?? '').split('\n').filter((l) => /^(Ran \d+ tests|OK|FAILED)|SKIPPING/.test(l)).join('\n');
  if (run.exitCode !== 0) console.error(run.all);
  else console.log(`${python} scripts/test_transformers_runner.py:\n${summary}`);
  expect(run.exitCode, `${python} scripts/test_transformers_runner.py failed:\n${(run.all ?? '').slice(-6000)}`).toBe(0);
});
