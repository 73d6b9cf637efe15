/**
 * Shared pieces of the fault-injection suite (tests/faults/): a sandbox per run (its own cwd, HOME and
 * TMPDIR, so everything a run writes lands in one tree), a tag in the environment of every process the
 * run starts (so the process table can be searched for survivors without confusing them with the
 * processes of tests running beside this one), the real CLI as a child process, SQL on results.db, and
 * engine wrappers that give each model of a program its own fault.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, relative } from 'node:path';
import Database from 'better-sqlite3';
import { execa, type ResultPromise } from 'execa';
import { CLI, ROOT } from '../helpers/paths.js';

export const FAKES = join(ROOT, 'tests', 'fakes');
export const CTL_SMI = join(ROOT, 'tests', 'faults', 'fakes', 'ctl-smi.mjs');
export const SIM_PROGRAM = join(ROOT, 'tests', 'fixtures', 'programs', 'sim-sweep.md');
export const TAG_VAR = 'CB_FAULT_TAG';

export interface Sandbox {
  /** cwd of the run: experiments/ and results.db land here. */
  dir: string;
  db: string;
  /** Unique per sandbox; every process the run starts inherits TAG_VAR=tag. */
  tag: string;
  /** Environment for the CLI: HOME and TMPDIR inside the sandbox, the tag. */
  env: Record<string, string>;
}

const sandboxes: string[] = [];

/** Removes this file's sandboxes (call from afterAll); CB_FAULT_KEEP=1 keeps them for a post-mortem. */
export function removeSandboxes(): void {
  if (process.env.CB_FAULT_KEEP) return;
  for (const dir of sandboxes.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export function sandbox(name: string): Sandbox {
  const dir = mkdtempSync(join(tmpdir(), `cb-fault-${name}-`));
  sandboxes.push(dir);
  const tag = `${name}-${process.pid}-${randomBytes(6).toString('hex')}`;
  mkdirSync(join(dir, 'tmp'));
  return { dir, db: join(dir, 'results.db'), tag, env: { HOME: dir, TMPDIR: join(dir, 'tmp'), [TAG_VAR]: tag, CARBONBENCH_LOG_LEVEL: 'info' } };
}

export function writeExecutable(path: string, text: string): string {
  writeFileSync(path, text);
  chmodSync(path, 0o755);
  return path;
}

export interface CliOutcome {
  exitCode: number;
  stdout: string;
  stderr: string;
  signal: string | null;
}

/** Runs the built CLI in the sandbox and waits for it. */
export async function cli(sb: Sandbox, args: readonly string[], opts: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<CliOutcome> {
  const r = await startCli(sb, args, opts);
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr), signal: r.signal ?? null };
}

/** Starts the built CLI in the sandbox (not awaited). */
export function startCli(sb: Sandbox, args: readonly string[], opts: { env?: Record<string, string>; timeoutMs?: number } = {}): ResultPromise<{ reject: false }> {
  return execa(process.execPath, [CLI, ...args], {
    cwd: sb.dir,
    env: { ...sb.env, ...opts.env },
    reject: false,
    timeout: opts.timeoutMs ?? 120_000,
    stdin: 'ignore',
  }) as unknown as ResultPromise<{ reject: false }>;
}

/** PATH with tests/fakes (and optionally another directory) first. */
export function pathWith(...dirs: string[]): string {
  return [...dirs, FAKES, process.env.PATH ?? ''].join(delimiter);
}

export function rows<T = Record<string, unknown>>(db: string, sql: string, ...params: unknown[]): T[] {
  const d = new Database(db, { readonly: true, fileMustExist: true });
  try {
    return d.prepare(sql).all(...params) as T[];
  } finally {
    d.close();
  }
}

/** Like rows(), but [] while the database or its tables do not exist yet. */
export function tryRows<T = Record<string, unknown>>(db: string, sql: string, ...params: unknown[]): T[] {
  try {
    return rows<T>(db, sql, ...params);
  } catch {
    return [];
  }
}

export async function waitFor<T>(what: string, probe: () => T | null | undefined | false, timeoutMs = 60_000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export interface LiveProcess {
  pid: number;
  cmdline: string;
}

/** Live (non-zombie) processes whose environment carries TAG_VAR=tag: the processes of one run. */
export function tagged(tag: string): LiveProcess[] {
  const needle = Buffer.from(`${TAG_VAR}=${tag}\0`);
  const out: LiveProcess[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      const environ = readFileSync(`/proc/${entry}/environ`);
      if (!environ.includes(needle)) continue;
      out.push({ pid: Number(entry), cmdline: readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ').trim() });
    } catch {
      // gone while we looked, or not ours to read
    }
  }
  return out;
}

/** The run's processes that are still alive a moment after it ended ([] is the only good answer). */
export async function survivors(tag: string, graceMs = 2000): Promise<LiveProcess[]> {
  const deadline = Date.now() + graceMs;
  let left = tagged(tag);
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    left = tagged(tag);
  }
  return left;
}

/** Whether `pid` is a live process (zombies count as dead). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

/** Every file under `dir` with its size, relative paths sorted (for before/after comparisons). */
export function listTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = statSync(p);
      if (st.isDirectory()) {
        out.push(`${relative(dir, p)}/`);
        walk(p);
      } else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

/** Every regular file under `dir` (absolute paths). */
export function filesUnder(dir: string): string[] {
  return listTree(dir)
    .filter((p) => !p.endsWith('/'))
    .map((p) => join(dir, p));
}

/** A program.md with this front matter (YAML text) and prose. */
export function writeProgram(sb: Sandbox, frontMatter: string, prose = 'Fault-injection test program.', name = 'program.md'): string {
  const file = join(sb.dir, name);
  writeFileSync(file, `---\n${frontMatter.trim()}\n---\n${prose}\n`);
  return file;
}

/**
 * A `vllm` executable for this sandbox: the stub (tests/fakes/vllm) with stub knobs chosen by the model
 * (`vllm serve MODEL …`): `faults` maps a model id to shell lines run before the stub starts (exports of
 * STUB_* knobs, or anything else). Every start appends its pid (the stub keeps it: exec) to `pids`.
 */
export function vllmWrapper(sb: Sandbox, faults: Record<string, string>, extraEnv = ''): { binDir: string; pidsFile: string } {
  const binDir = join(sb.dir, 'bin');
  mkdirSync(binDir, { recursive: true });
  const pidsFile = join(sb.dir, 'engine-pids');
  const cases = Object.entries(faults)
    .map(([model, lines]) => `  ${JSON.stringify(model)})\n${lines.trim().split('\n').map((l) => `    ${l}`).join('\n')}\n    ;;`)
    .join('\n');
  writeExecutable(
    join(binDir, 'vllm'),
    `#!/bin/sh
# Generated by tests/faults/helpers.ts: the vLLM stub with a fault chosen by the model.
echo $$ >> ${JSON.stringify(pidsFile)}
${extraEnv}
case "$2" in
${cases}
esac
exec ${JSON.stringify(join(FAKES, 'vllm'))} "$@"
`,
  );
  return { binDir, pidsFile };
}

/** The pids a wrapper recorded. */
export function recordedPids(file: string): number[] {
  try {
    return readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '').map(Number);
  } catch {
    return [];
  }
}

/** State of the controllable nvidia-smi (tests/faults/fakes/ctl-smi.mjs). */
export interface SmiState {
  values?: Record<string, string>;
  mode?: 'normal' | 'garbage' | 'silent' | 'exit' | 'exit-always';
  once?: string;
}

/** An `nvidia-smi` for this sandbox driven by a state file the test rewrites while the run goes on. */
export function controllableSmi(sb: Sandbox, initial: SmiState = {}): { exe: string; set: (s: SmiState) => void; pidsFile: string; env: Record<string, string> } {
  const stateFile = join(sb.dir, 'smi-state.json');
  const pidsFile = join(sb.dir, 'smi-pids');
  const set = (s: SmiState): void => {
    const partial = `${stateFile}.partial`;
    writeFileSync(partial, JSON.stringify(s));
    renameSync(partial, stateFile); // atomic: the fake never reads a half-written state
  };
  set(initial);
  const exe = writeExecutable(join(sb.dir, 'nvidia-smi'), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(CTL_SMI)} "$@"\n`);
  return {
    exe,
    set,
    pidsFile,
    env: {
      CARBONBENCH_NVIDIA_SMI: exe,
      CTL_SMI_STATE: stateFile,
      CTL_SMI_PIDS: pidsFile,
      // one-shot queries are answered by the recorded H200
      FAKE_SMI_TRACE: join(ROOT, 'tests', 'fixtures', 'h200', 'smi-full-format-sample.csv'),
      // no NVML unless a test asks for the fake one: energy from the nvidia-smi trapezoid
      CARBONBENCH_NVML_LIB: join(sb.dir, 'no-libnvidia-ml.so.1'),
    },
  };
}
