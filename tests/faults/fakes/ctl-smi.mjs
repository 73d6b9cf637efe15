#!/usr/bin/env node
// A controllable nvidia-smi for the fault-injection suite. Every invocation without a sampling loop
// (--help-query-gpu, -L, a one-shot --query-gpu) is handed to the recorded-output fake
// (tests/fakes/nvidia-smi) unchanged. A sampling loop (`--query-gpu=… --format=csv,noheader,nounits
// -lms N`) prints one line per GPU every N ms from a state file that the test rewrites while the run
// goes on, so a fault lands at a chosen moment of an experiment (the recorded traces cannot know when
// the load starts).
//
// CTL_SMI_STATE: JSON re-read at every tick:
//   { "values": { "temperature.gpu": "86", "power.draw": "[N/A]", … },   // field → printed text
//     "mode": "normal" | "garbage" | "silent" | "exit" | "exit-always",
//     "once": "token" }   // with once: the mode applies one time (a marker file remembers it), then normal
//   garbage: one unparseable line instead of a sample; silent: stop printing (keep running);
//   exit: print an nvidia-smi error on stderr and exit 1; exit-always: the same at every start.
// CTL_SMI_PIDS: append this process's pid (a loop invocation) to this file.
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const option = (long, short) => {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i].startsWith(`${long}=`)) return argv[i].slice(long.length + 1);
    if (argv[i] === long || (short && argv[i] === short)) return argv[i + 1];
  }
  return undefined;
};
const query = option('--query-gpu');
const loopMs = option('--loop-ms', '-lms') ?? (option('--loop', '-l') !== undefined ? String(Number(option('--loop', '-l')) * 1000) : undefined);

if (query === undefined || loopMs === undefined) {
  const r = spawnSync(process.execPath, [join(here, '..', '..', 'fakes', 'nvidia-smi'), ...argv], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}

if (process.env.CTL_SMI_PIDS) appendFileSync(process.env.CTL_SMI_PIDS, `${process.pid}\n`);
const fields = query.split(',').map((f) => f.trim());
const DEFAULTS = {
  index: '0',
  'power.draw': '80.00',
  'power.draw.instant': '80.00',
  'temperature.gpu': '40',
  'temperature.memory': '42',
  'clocks.sm': '1980',
  'clocks.current.sm': '1980',
  'clocks.mem': '3201',
  'clocks.current.memory': '3201',
  'fan.speed': '[N/A]',
  'utilization.gpu': '0',
  'memory.used': '1000',
  'clocks_event_reasons.active': '0x0000000000000000',
  'clocks_throttle_reasons.active': '0x0000000000000000',
};
const stateFile = process.env.CTL_SMI_STATE;
const readState = () => {
  if (!stateFile) return {};
  try {
    return JSON.parse(readFileSync(stateFile, 'utf8'));
  } catch {
    return {}; // being rewritten: the previous tick's state is as good
  }
};
const pad = (n, w = 2) => String(n).padStart(w, '0');
const stamp = () => {
  const d = new Date(); // the sampler runs nvidia-smi with TZ=UTC
  return `${d.getFullYear()}/${pad(d.getMonth() + 1)}/${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
};
const die = () => {
  process.stderr.write('Unable to determine the device handle for GPU0000:18:00.0: Unknown Error\n');
  process.exit(1);
};
if (readState().mode === 'exit-always') die();

let silent = false;
const tick = () => {
  const state = readState();
  let mode = state.mode ?? 'normal';
  if (mode !== 'normal' && state.once) {
    const marker = `${stateFile}.${state.once}.done`;
    if (existsSync(marker)) mode = 'normal';
    else writeFileSync(marker, `${process.pid}\n`);
  }
  if (mode === 'exit' || mode === 'exit-always') die();
  if (mode === 'silent') silent = true;
  if (silent) return;
  if (mode === 'garbage') {
    process.stdout.write('\u0000\u0007garbage: GPU is lost\n');
    return;
  }
  const values = { ...DEFAULTS, ...(state.values ?? {}) };
  process.stdout.write(`${fields.map((f) => (f === 'timestamp' ? stamp() : (values[f] ?? '[N/A]'))).join(', ')}\n`);
};
tick();
setInterval(tick, Number(loopMs));
