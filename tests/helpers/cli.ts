import { execa } from 'execa';
import { CLI, ROOT } from './paths.js';

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI (bin/carbonbench.js → dist/) as a real child process. */
export async function runCli(args: readonly string[], opts: { env?: Record<string, string | undefined>; cwd?: string; timeoutMs?: number; uid?: number; gid?: number } = {}): Promise<CliResult> {
  const r = await execa(process.execPath, [CLI, ...args], {
    cwd: opts.cwd ?? ROOT,
    env: opts.env,
    reject: false,
    timeout: opts.timeoutMs ?? 60_000,
    stdin: 'ignore',
    // Run as another user (root-run tests that need an unprivileged reader, e.g. of a 0400 file).
    ...(opts.uid !== undefined ? { uid: opts.uid } : {}),
    ...(opts.gid !== undefined ? { gid: opts.gid } : {}),
  });
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}
