/**
 * Engine faults during an unattended `carbonbench run` (issue 6): two sweeps over models of the vLLM
 * stub, each model with its own fault (a wrapper picks the stub's knob by model id):
 *   crash at start (vLLM's out-of-memory messages), crash in the middle of the window, hang with the
 *   socket open, no answer within the start timeout (port never opened), port already taken (another
 *   process holds the port the engine was given: it exits with "address already in use"), and one
 *   healthy model.
 * Required: each faulty experiment is `failed` with the cause in `error`, the run goes on to the next
 * config and completes, and no process of the run survives (the process table is searched for every
 * process that inherited the run's tag, and every engine pid the wrapper recorded is dead).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { alive, cli, pathWith, recordedPids, removeSandboxes, rows, sandbox, survivors, vllmWrapper, writeProgram, type Sandbox } from './helpers.js';
import { FAKE_SMI, fixture } from '../helpers/paths.js';

afterAll(removeSandboxes);

const squatters: number[] = [];
afterAll(() => {
  for (const pid of squatters) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
});

const PORT_TAKEN = (squatterPidFile: string): string => `
port=""; prev=""
for a in "$@"; do [ "$prev" = "--port" ] && port="$a"; prev="$a"; done
env -u CB_FAULT_TAG setsid ${JSON.stringify(process.execPath)} -e 'require("net").createServer(() => {}).listen(+process.argv[1], "127.0.0.1", () => require("fs").writeFileSync(process.argv[2], String(process.pid)))' "$port" ${JSON.stringify(squatterPidFile)} </dev/null >/dev/null 2>&1 &
i=0; while [ ! -s ${JSON.stringify(squatterPidFile)} ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done`;

interface Outcome {
  sb: Sandbox;
  summary: { status: string; experiments: number; ok: number; failed: number };
  byModel: Record<string, { id: number; model: string; status: string; error: string | null }>;
  pids: number[];
}

/** One sweep over `models` (params in order), each model with its wrapper fault. */
async function sweep(name: string, faults: Record<string, string>, extra: Record<string, string> = {}): Promise<Outcome> {
  const sb = sandbox(name);
  const models = Object.keys(faults);
  const { binDir, pidsFile } = vllmWrapper(sb, Object.fromEntries(Object.entries(faults).map(([m, f]) => [m, f.replaceAll('@DIR@', sb.dir)])));
  const program = writeProgram(
    sb,
    `
engine: vllm
models:
${models.map((m, i) => `  - { id: ${m}, params: ${i + 1}.0e8 }`).join('\n')}
space: { quant: [bf16], batch: [2], input_len: [32], output_len: [16] }
budget: { experiments: ${models.length}, experiment_seconds: 10 }
carbon: { intensity: 300 }
safety: { cooldown_max_s: 1 }
seed: 1`,
  );
  const r = await cli(sb, ['run', '--program', program, '--db', sb.db, '--start-timeout-s', '3', '--json'], {
    env: { PATH: pathWith(binDir), CARBONBENCH_NVIDIA_SMI: FAKE_SMI, FAKE_SMI_TRACE: fixture('smi-full-format-sample.csv'), FAKE_SMI_LOOP: '1', CARBONBENCH_NVML_LIB: join(sb.dir, 'none.so'), ...extra },
    timeoutMs: 150_000,
  });
  expect(r.exitCode, r.stderr).toBe(0);
  const byModel = Object.fromEntries(
    rows<{ model: string; status: string; error: string | null; id: number }>(sb.db, 'SELECT id, model, status, error FROM experiments ORDER BY id').map((e) => [e.model, e]),
  );
  expect(Object.keys(byModel).sort()).toEqual([...models].sort());
  // Nothing is left running or queued; the run record says completed.
  expect(rows(sb.db, "SELECT count(*) AS n FROM experiments WHERE status IN ('running', 'queued')")[0]).toEqual({ n: 0 });
  expect(rows(sb.db, 'SELECT status FROM runs')).toEqual([{ status: 'completed' }]);
  return { sb, summary: JSON.parse(r.stdout) as Outcome['summary'], byModel, pids: recordedPids(pidsFile) };
}

function expectFailed(o: Outcome, model: string, cause: RegExp): void {
  expect(o.byModel[model]!.status, model).toBe('failed');
  expect(o.byModel[model]!.error, model).toMatch(cause);
}

/** No process of the run (stubs, their engine-core children, nvidia-smi) is left, nor any engine it started. */
async function expectNothingSurvives(o: Outcome, engines: number): Promise<void> {
  expect(await survivors(o.sb.tag)).toEqual([]);
  expect(o.pids).toHaveLength(engines);
  expect(o.pids.filter(alive)).toEqual([]);
}

// The two sweeps run side by side: each mostly waits (loading, start timeouts, the 10 s window).
describe.concurrent('engine faults in a run (vLLM stub)', () => {
  it('crash at start (out of memory), crash mid-window, then a healthy model: failed with their causes, the run goes on, nothing survives', async () => {
    const o = await sweep('engine-crash', {
      'stub/crash-start': 'export STUB_CRASH_ON_START=1',
      'stub/crash-mid': 'export STUB_DIE_AFTER_S=5',
      'stub/good': '',
    });
    expect(o.summary).toMatchObject({ status: 'completed', experiments: 3, ok: 1, failed: 2 });
    expectFailed(o, 'stub/crash-start', /exited with code 1; last log lines:[\s\S]*out of memory/i);
    expectFailed(o, 'stub/crash-mid', /exited with code 1; last log lines:[\s\S]*Engine core proc EngineCore_0 died unexpectedly/);
    // The crash in the middle of the window really was in the window: the load had started.
    const mid = rows<{ window_start_t_s: number | null; n: number }>(o.sb.db, 'SELECT window_start_t_s, (SELECT count(*) FROM requests WHERE experiment_id = e.id) AS n FROM experiments e WHERE model = ?', 'stub/crash-mid')[0]!;
    expect(mid.window_start_t_s).not.toBeNull();
    expect(mid.n).toBeGreaterThan(0);
    expect(o.byModel['stub/good']).toMatchObject({ status: 'ok', error: null });
    await expectNothingSurvives(o, 3);
  }, 150_000);

  it('hang with the socket open, no answer within the start timeout, port already taken: failed with their causes, the run goes on, nothing survives', async () => {
    const o = await sweep('engine-start', {
      'stub/hang': 'export STUB_HANG=1',
      'stub/no-answer': 'export STUB_NEVER_LISTEN=1',
      // Another program (own session, without the run's tag) grabs the port the engine was given, between
      // carbonbench choosing it and the engine binding it.
      'stub/port-taken': PORT_TAKEN('@DIR@/squatter.pid'),
    });
    try {
      squatters.push(Number(readFileSync(join(o.sb.dir, 'squatter.pid'), 'utf8')));
    } catch {
      // asserted below through the error
    }
    expect(o.summary).toMatchObject({ status: 'completed', experiments: 3, ok: 0, failed: 3 });
    expectFailed(o, 'stub/hang', /did not become ready within 3 s \(http:\/\/127\.0\.0\.1:\d+\/health: The operation was aborted due to timeout\)/);
    expectFailed(o, 'stub/no-answer', /did not become ready within 3 s \(http:\/\/127\.0\.0\.1:\d+\/health: .*(ECONNREFUSED|connect)/);
    expectFailed(o, 'stub/port-taken', /exited with code 1; last log lines:[\s\S]*address already in use/);
    expect(squatters.filter(alive)).toHaveLength(1); // the other program keeps its port: not ours to stop
    await expectNothingSurvives(o, 3);
  }, 150_000);
});
