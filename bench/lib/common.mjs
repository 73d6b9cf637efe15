// Helpers shared by the benchmarks in bench/: arguments, the machine they ran on, statistics, output.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** `--name value` / `--name=value` / `--flag` parsing; unknown options are an error (exit 2). */
export function parseArgs(spec, argv = process.argv.slice(2)) {
  const out = {};
  for (const [name, def] of Object.entries(spec)) out[name] = def.default;
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    if (!a.startsWith('--')) usageError(`unexpected argument \`${a}\``, spec);
    let value;
    const eq = a.indexOf('=');
    if (eq >= 0) {
      value = a.slice(eq + 1);
      a = a.slice(0, eq);
    }
    const name = a.slice(2);
    const def = spec[name];
    if (!def) usageError(`unknown option \`${a}\``, spec);
    if (def.type === 'boolean') {
      out[name] = value === undefined ? true : value !== 'false';
      continue;
    }
    if (value === undefined) value = argv[++i];
    if (value === undefined) usageError(`option \`${a}\` needs a value`, spec);
    if (def.type === 'number') {
      const n = Number(value);
      if (!Number.isFinite(n) || n <= 0) usageError(`Expected \`${a}\` to be a positive number, got \`${value}\``, spec);
      out[name] = n;
    } else if (def.type === 'count') {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 0) usageError(`Expected \`${a}\` to be a whole number (0 or more), got \`${value}\``, spec);
      out[name] = n;
    } else if (def.type === 'numbers') {
      const list = value.split(',').map(Number);
      if (list.length === 0 || !list.every((n) => Number.isInteger(n) && n > 0)) usageError(`Expected \`${a}\` to be a comma-separated list of positive integers, got \`${value}\``, spec);
      out[name] = list;
    } else {
      out[name] = value;
    }
  }
  return out;
}

function usageError(message, spec) {
  const options = Object.entries(spec)
    .map(([n, d]) => `  --${n}${d.type === 'boolean' ? '' : ' X'}  ${d.help ?? ''}${d.default !== undefined && d.type !== 'boolean' ? ` (default ${d.default})` : ''}`)
    .join('\n');
  process.stderr.write(`${message}\noptions:\n${options}\n`);
  process.exit(2);
}

/** What the numbers were measured on. */
export function machine() {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model?.trim() ?? 'unknown',
    cores: cpus.length,
    memory_gib: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100),
    date: new Date().toISOString(),
  };
}

export function ensureBuilt() {
  if (!existsSync(join(repoRoot, 'dist', 'workload', 'openai-load.js'))) {
    process.stderr.write('dist/ is missing: run `npm run build` first\n');
    process.exit(1);
  }
}

/** Nearest-rank percentile of an unsorted array (p in [0, 1]); null for an empty one. */
export function percentile(values, p) {
  if (values.length === 0) return null;
  const s = Float64Array.from(values).sort();
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))];
}

export function round(x, digits = 3) {
  if (x === null || x === undefined || !Number.isFinite(x)) return x ?? null;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** CPU seconds (user + system) of a process.cpuUsage() difference. */
export function cpuSeconds(usage) {
  return (usage.user + usage.system) / 1e6;
}

/**
 * CPU seconds (user + system) a process has used so far, from /proc/PID/stat, or one of its threads
 * (`tid`: /proc/PID/task/TID/stat; the main thread's tid is the pid); null if it is gone.
 */
export function procCpuS(pid, tid) {
  try {
    const stat = readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return null;
  }
}

/** Pins a process (all its threads) to one CPU; false when taskset is missing or fails. */
export function pin(pid, cpu) {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Prints the result: one JSON document with --json, else `key: value` lines. */
export function report(result, json, lines) {
  if (json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else process.stdout.write(`${lines.join('\n')}\n`);
}

/** Progress on stderr (never on stdout: --json keeps stdout for the one document). */
export function progress(text) {
  process.stderr.write(`${text}\n`);
}
