/**
 * What inference tooling this machine has: engine executables on PATH and the Python side
 * (torch + transformers for the transformers engine, optuna for the bayesian phase).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { which } from '../util/which.js';
export const ENGINE_EXECUTABLES = ['vllm', 'llama-server', 'llama-batched-bench', 'llama-perplexity'];
export function probeEngines() {
    return Object.fromEntries(ENGINE_EXECUTABLES.map((name) => [name, which(name)]));
}
/** The carbonbench installation (where scripts/setup.sh made .venv), whatever the working directory. */
export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url)).replace(/\/$/, '');
/**
 * The Python interpreter carbonbench uses: $CARBONBENCH_PYTHON, else the project's .venv (made by the
 * README's set-up), else python3 on PATH.
 */
export function resolvePython(root = PROJECT_ROOT) {
    if (process.env.CARBONBENCH_PYTHON)
        return process.env.CARBONBENCH_PYTHON;
    const venv = `${root}/.venv/bin/python`;
    if (existsSync(venv))
        return venv;
    return 'python3';
}
const torchPythonCache = new Map();
/**
 * The interpreter for the transformers engine: $CARBONBENCH_PYTHON if set; else the first of the
 * project's .venv and python3 on PATH that imports torch and transformers. On a GPU box the CUDA torch is
 * usually the system's python3 while .venv holds only Optuna; on a laptop set up with `setup.sh --test`,
 * .venv holds a CPU torch. Checked once per process, asynchronously: importing torch takes seconds, and
 * a synchronous probe would stall the event loop — and with it the telemetry sampler (seen on an H200).
 * Falls back to resolvePython().
 */
export function resolveTorchPython(root = PROJECT_ROOT) {
    if (process.env.CARBONBENCH_PYTHON)
        return Promise.resolve(process.env.CARBONBENCH_PYTHON);
    let cached = torchPythonCache.get(root);
    if (!cached) {
        cached = (async () => {
            const candidates = [`${root}/.venv/bin/python`, 'python3'].filter((p) => p === 'python3' || existsSync(p));
            for (const python of candidates) {
                try {
                    await execa(python, ['-c', 'import torch, transformers'], { timeout: 120_000, stdin: 'ignore' });
                    return python;
                }
                catch {
                    // no torch here: try the next
                }
            }
            return resolvePython(root);
        })();
        torchPythonCache.set(root, cached);
    }
    return cached;
}
/** Imports each module in one python3 process (argument array; module names are constants). */
export async function probePython(modules, python = resolvePython()) {
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
        const parsed = JSON.parse(stdout.trim().split('\n').pop() ?? '{}');
        return { python, version: parsed.python, modules: parsed.modules, error: null };
    }
    catch (err) {
        const e = err;
        return {
            python,
            version: null,
            modules: Object.fromEntries(modules.map((m) => [m, null])),
            error: e.code === 'ENOENT' ? `${python} not found` : (e.shortMessage ?? e.message).slice(0, 300),
        };
    }
}
//# sourceMappingURL=probe.js.map