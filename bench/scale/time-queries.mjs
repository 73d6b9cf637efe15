#!/usr/bin/env node
// Times the analysis commands on a large results.db (written by make-db.mjs):
//   npx tsc -p tsconfig.json && node bench/scale/make-db.mjs /tmp/scale-100k.db
//   node bench/scale/time-queries.mjs /tmp/scale-100k.db [--runs 7] [--cli bin/carbonbench.js] [--json]
// Two figures per command:
// - in-process: the command function (src/cli/<cmd>.ts) called with --json, stdout discarded; the first
//   call (cold: JIT, SQLite page cache of a fresh connection) and the median of the following ones.
// - process: `node <cli> <cmd> --db <db> --json` as a child process, wall time from spawn to exit
//   (Node start, imports, query, output): what a user waits for. Median and minimum of --runs; and the
//   child's CPU time (user + system, from /usr/bin/time), which other load on the machine disturbs far
//   less than wall time (on an idle machine wall ≈ CPU for this single-threaded work).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const args = process.argv.slice(2);
const db = args.find((a) => !a.startsWith('--') && !/^\d+$/.test(a)) ?? '/tmp/scale-100k.db';
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const runs = Number(opt('--runs', '7'));
const cli = opt('--cli', join(root, 'bin', 'carbonbench.js'));
const asJson = args.includes('--json');

const commands = [
  { name: 'top', module: 'top', fn: 'topCommand', flags: {}, argv: ['top'] },
  { name: 'pareto', module: 'pareto', fn: 'paretoCommand', flags: {}, argv: ['pareto'] },
  { name: 'fit', module: 'fit', fn: 'fitCommand', flags: {}, argv: ['fit'] },
  { name: 'leaderboard --by model', module: 'leaderboard', fn: 'leaderboardCommand', flags: { by: 'model' }, argv: ['leaderboard', '--by', 'model'] },
];

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

async function inProcess(c) {
  const mod = await import(join(root, 'dist', 'cli', `${c.module}.js`));
  const write = process.stdout.write.bind(process.stdout);
  const times = [];
  for (let i = 0; i <= runs; i++) {
    process.stdout.write = () => true;
    const t = performance.now();
    try {
      await mod[c.fn](c.flags, { db, json: true });
    } finally {
      process.stdout.write = write;
    }
    times.push(performance.now() - t);
  }
  return { coldMs: times[0], medianMs: median(times.slice(1)), maxMs: Math.max(...times.slice(1)) };
}

const TIME = '/usr/bin/time';
const haveTime = spawnSync(TIME, ['-f', '%U', 'true']).status === 0;

/** Wall ms, and CPU ms (user + system) when /usr/bin/time exists, of one child process. */
function spawnTimed(argv) {
  const t = performance.now();
  const r = haveTime
    ? spawnSync(TIME, ['-f', '@@cpu %U %S', process.execPath, ...argv], { encoding: 'utf8', maxBuffer: 64 << 20 })
    : spawnSync(process.execPath, argv, { encoding: 'utf8', maxBuffer: 64 << 20 });
  const wallMs = performance.now() - t;
  const m = /@@cpu ([\d.]+) ([\d.]+)/.exec(r.stderr ?? '');
  return { status: r.status, stderr: r.stderr ?? '', wallMs, cpuMs: m ? (Number(m[1]) + Number(m[2])) * 1000 : undefined };
}

function viaProcess(c) {
  const walls = [];
  const cpus = [];
  for (let i = 0; i < runs; i++) {
    const r = spawnTimed([cli, ...c.argv, '--db', db, '--json']);
    if (r.status !== 0) return { error: `exit ${r.status}: ${r.stderr.trim().split('\n').filter((l) => !l.startsWith('@@cpu')).pop()}` };
    walls.push(r.wallMs);
    if (r.cpuMs !== undefined) cpus.push(r.cpuMs);
  }
  return { medianMs: median(walls), minMs: Math.min(...walls), maxMs: Math.max(...walls), cpuMedianMs: cpus.length ? median(cpus) : undefined };
}

const baselineRuns = Array.from({ length: runs }, () => spawnTimed([cli, 'regions', '--json']));
const baseline = median(baselineRuns.map((r) => r.wallMs));
const baselineCpu = haveTime ? median(baselineRuns.map((r) => r.cpuMs)) : undefined;

const results = [];
for (const c of commands) results.push({ command: c.name, inProcess: await inProcess(c), process: viaProcess(c) });

if (asJson) {
  console.log(JSON.stringify({ db, runs, cli, processBaselineRegionsMs: baseline, processBaselineRegionsCpuMs: baselineCpu, results }, null, 2));
} else {
  const f = (x) => (x === undefined ? '–' : x.toFixed(0));
  console.log(`db: ${db}; ${runs} runs; process baseline (\`regions --json\`, no db): ${f(baseline)} ms wall, ${f(baselineCpu)} ms CPU`);
  console.log('command                  in-process cold  in-process median  process wall median  process wall min  process CPU median');
  for (const r of results) {
    const p = r.process.error
      ? `${r.process.error}`
      : `${f(r.process.medianMs).padStart(19)}  ${f(r.process.minMs).padStart(16)}  ${f(r.process.cpuMedianMs).padStart(18)}`;
    console.log(`${r.command.padEnd(23)}  ${f(r.inProcess.coldMs).padStart(15)}  ${f(r.inProcess.medianMs).padStart(17)}  ${p}`);
  }
}
