import { execa } from 'execa';
import { CLI, ROOT } from './paths.js';

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI (bin/carbonbench.js → dist/) as a real child process. */
export async function runCli(args: readonly string[], opts: { env?: Record<string, string | undefined>; cwd?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  const r = await execa(process.execPath, [CLI, ...args], {
    cwd: opts.cwd ?? ROOT,
    env: opts.env,
    reject: false,
    timeout: opts.timeoutMs ?? 60_000,
    stdin: 'ignore',
  });
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}
