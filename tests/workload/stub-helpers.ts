/**
 * Starts the stub engines (tests/fakes/vllm, tests/fakes/llama-server) the way the engines launch the
 * real programs: src/engines/process.ts `launch` (own process group, log file) and `waitForHealth`.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, launch, waitForHealth, type EngineProcess } from '../../src/engines/process.js';
import { realClock } from '../../src/runner/clock.js';

export const FAKE_VLLM = fileURLToPath(new URL('../fakes/vllm', import.meta.url));
export const FAKE_LLAMA = fileURLToPath(new URL('../fakes/llama-server', import.meta.url));

export interface StubStats {
  inFlight: number;
  maxInFlight: number;
  completions: number;
  /** Seconds spent at each number of open completion requests, since the last reset. */
  concurrencyS: Record<string, number>;
  prompts: { len: number; head: string }[];
  lastBody: Record<string, unknown> | null;
  pid: number;
  childPid: number | null;
}

export interface Stub {
  kind: 'vllm' | 'llamacpp';
  proc: EngineProcess;
  port: number;
  baseUrl: string;
  logFile: string;
  dir: string;
  stats(): Promise<StubStats>;
  reset(): Promise<void>;
  log(): string;
  stop(): Promise<void>;
}

export interface StubOptions {
  env?: Record<string, string>;
  /** Extra arguments after the standard ones. */
  args?: string[];
  /** Wait for /health (default true). */
  waitReady?: boolean;
  /** llama-server: parallel slots (-np). */
  slots?: number;
  ctx?: number;
}

export const MODEL = 'stub/tiny-model';

export async function startStub(kind: 'vllm' | 'llamacpp', opts: StubOptions = {}): Promise<Stub> {
  const dir = mkdtempSync(join(tmpdir(), `carbonbench-${kind}-`));
  const port = await freePort();
  const logFile = join(dir, 'engine.log');
  let command: string;
  let args: string[];
  if (kind === 'vllm') {
    command = FAKE_VLLM;
    args = ['serve', MODEL, '--host', '127.0.0.1', '--port', String(port), '--max-model-len', String(opts.ctx ?? 4096), ...(opts.args ?? [])];
  } else {
    const gguf = join(dir, 'model-q8_0.gguf');
    writeFileSync(gguf, 'GGUF');
    command = FAKE_LLAMA;
    args = ['-m', gguf, '--host', '127.0.0.1', '--port', String(port), '-ngl', '99', '-np', String(opts.slots ?? 4), '-c', String(opts.ctx ?? 4096 * (opts.slots ?? 4)), ...(opts.args ?? [])];
  }
  const proc = launch({ command, args, logFile, env: { STUB_LOAD_DELAY_S: '0.2', ...opts.env } });
  const baseUrl = `http://127.0.0.1:${port}`;
  const stub: Stub = {
    kind,
    proc,
    port,
    baseUrl,
    logFile,
    dir,
    async stats() {
      const r = await fetch(`${baseUrl}/stub/stats`);
      return (await r.json()) as StubStats;
    },
    async reset() {
      await fetch(`${baseUrl}/stub/reset`, { method: 'POST' });
    },
    log: () => {
      try {
        return readFileSync(logFile, 'utf8');
      } catch {
        return '';
      }
    },
    async stop() {
      await proc.stop(3000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  if (opts.waitReady !== false) {
    try {
      await waitForHealth({ url: `${baseUrl}/health`, proc, timeoutS: 15, clock: realClock, intervalMs: 50 });
    } catch (err) {
      await stub.stop().catch(() => {});
      throw err;
    }
  }
  return stub;
}

/** Whether a pid is alive (zombies count as gone). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` every 20 ms until it holds or `timeoutMs` passes. */
export async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}
