/**
 * What inference tooling this machine has: engine executables on PATH and the Python side
 * (torch + transformers for the transformers engine, optuna for the bayesian phase).
 */
import { existsSync } from 'node:fs';
import { execa } from 'execa';
import { which } from '../util/which.js';

export const ENGINE_EXECUTABLES = ['vllm', 'llama-server', 'llama-batched-bench', 'llama-perplexity'] as const;

export function probeEngines(): Record<(typeof ENGINE_EXECUTABLES)[number], string | null> {
  return Object.fromEntries(ENGINE_EXECUTABLES.map((name) => [name, which(name)])) as Record<(typeof ENGINE_EXECUTABLES)[number], string | null>;
}

/**
 * The Python interpreter carbonbench uses: $CARBONBENCH_PYTHON, else the project's .venv (made by the
 * README's set-up), else python3 on PATH.
 */
export function resolvePython(cwd = process.cwd()): string {
  if (process.env.CARBONBENCH_PYTHON) return process.env.CARBONBENCH_PYTHON;
  const venv = `${cwd}/.venv/bin/python`;
  if (existsSync(venv)) return venv;
  return 'python3';
}

export interface PythonProbe {
  python: string;
  version: string | null;
  /** module → version, or null when it does not import. */
  modules: Record<string, string | null>;
  error: string | null;
}

/** Imports each module in one python3 process (argument array; module names are constants). */
export async function probePython(modules: readonly string[], python = resolvePython()): Promise<PythonProbe> {
  const script = [
    'import importlib, json, sys',
    'out = {"python": sys.version.split()[0], "modules": {}}',
    'for name in sys.argv[1:]:',
    '    try:',
    '        m = importlib.import_module(name)',
    '        out["modules"][name] = str(getattr(m, "__version__", "unknown"))',
    '    except Exception:',
    '        out["modules"][name] = None',
    'print(json.dumps(out))',
  ].join('\n');
  try {
    const { stdout } = await execa(python, ['-c', script, ...modules], { timeout: 60_000, stdin: 'ignore' });
    const parsed = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as { python: string; modules: Record<string, string | null> };
    return { python, version: parsed.python, modules: parsed.modules, error: null };
  } catch (err) {
    const e = err as { code?: string; shortMessage?: string; message: string };
    return {
      python,
      version: null,
      modules: Object.fromEntries(modules.map((m) => [m, null])),
      error: e.code === 'ENOENT' ? `${python} not found` : (e.shortMessage ?? e.message).slice(0, 300),
    };
  }
}
