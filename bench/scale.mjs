#!/usr/bin/env node
// Scale of results.db (issue 7, item 4): a db with 100,000 experiments and 10 million telemetry samples;
// its size, the time of `top`, `pareto`, `fit` (and `leaderboard`) and of report generation. Targets:
// each query under 200 ms, the report under 10 s.
//
// The db: bench/scale/make-db.mjs writes the experiment rows (models, quants, statuses, SCI computed with
// the real computeSci), bench/scale/add-telemetry.mjs completes them as a real run stores them and adds
// the samples (one transaction, prepared statements, better-sqlite3 directly). It is kept (default
// $TMPDIR/carbonbench-scale/results.db, about 1.3 GB) and reused while it holds the asked counts;
// --fresh writes it again.
//
// Each command is timed two ways, when it exists:
//   process:    `node bin/carbonbench.js <cmd> --db DB --json` (or, while the command is not yet
//               registered in src/cli/main.ts, bench/scale/run-command.mjs calling its dist/cli module
//               the same way), wall time from spawn to exit; median of --runs. Node's own start is
//               measured too (`carbonbench regions --json`) so the query's share can be seen.
//   in-process: the command function called in this process with stdout muted: the first call (fresh
//               SQLite connection and JIT) and the median of the next ones. A command passes when its
//               first call is within the target (a CLI invocation pays that, plus Node's start).
// The report runs twice each way (it takes seconds).
// The OS page cache holds the db after it is written or read once: times are warm-cache times.
//
//   npm run build && node bench/scale.mjs [--json] [--db PATH] [--fresh] [--runs 5]
//     [--experiments 100000] [--samples 10000000]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ensureBuilt, machine, parseArgs, percentile, progress, repoRoot, report, round } from './lib/common.mjs';

const args = parseArgs({
  json: { type: 'boolean', default: false, help: 'one JSON document on stdout' },
  db: { type: 'string', default: join(tmpdir(), 'carbonbench-scale', 'results.db'), help: 'where the large db is written / reused' },
  fresh: { type: 'boolean', default: false, help: 'write the db again even if it exists' },
  runs: { type: 'number', default: 5, help: 'timed runs per command' },
  experiments: { type: 'number', default: 100_000, help: 'experiments in the db' },
  samples: { type: 'number', default: 10_000_000, help: 'telemetry samples in the db' },
  commands: { type: 'string', default: 'top,pareto,fit,leaderboard,report', help: 'which commands to time' },
});
ensureBuilt();
const Database = (await import('better-sqlite3')).default;
const cli = join(repoRoot, 'bin', 'carbonbench.js');
const db = args.db;

function counts(path) {
  if (!existsSync(path)) return null;
  try {
    const d = new Database(path, { readonly: true, fileMustExist: true });
    try {
      return {
        experiments: d.prepare('SELECT count(*) FROM experiments').pluck().get(),
        samples: d.prepare('SELECT count(*) FROM samples').pluck().get(),
      };
    } finally {
      d.close();
    }
  } catch {
    return null;
  }
}

function run(script, scriptArgs) {
  const t = performance.now();
  const r = spawnSync(process.execPath, [join(repoRoot, script), ...scriptArgs], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`${script} failed (exit ${r.status}): ${r.stdout}`);
  return { seconds: round((performance.now() - t) / 1000, 1), output: r.stdout.trim() };
}

// 1. The db.
let generation = null;
const have = counts(db);
if (args.fresh || !have || have.experiments !== args.experiments || have.samples !== args.samples) {
  progress(`scale: writing ${args.experiments} experiments and ${args.samples} samples to ${db}…`);
  mkdirSync(join(db, '..'), { recursive: true });
  for (const suffix of ['', '-wal', '-shm']) rmSync(db + suffix, { force: true });
  const experimentsStep = run('bench/scale/make-db.mjs', [db, '--experiments', String(args.experiments)]);
  const telemetryStep = run('bench/scale/add-telemetry.mjs', [db, '--samples', String(args.samples), '--json']);
  generation = { experiments_s: experimentsStep.seconds, telemetry_s: telemetryStep.seconds, telemetry: JSON.parse(telemetryStep.output) };
} else {
  progress(`scale: reusing ${db} (${have.experiments} experiments, ${have.samples} samples; --fresh writes it again)`);
}

// 2. Size, whole file and by table (dbstat, where SQLite has it).
const sizeBytes = statSync(db).size + (existsSync(`${db}-wal`) ? statSync(`${db}-wal`).size : 0);
let byTable = null;
{
  const d = new Database(db, { readonly: true });
  try {
    const rows = d.prepare("SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name ORDER BY bytes DESC").all();
    byTable = Object.fromEntries(rows.filter((r) => r.bytes > 1 << 20).map((r) => [r.name, round(r.bytes / 2 ** 20, 1)]));
  } catch {
    byTable = null; // SQLite built without SQLITE_ENABLE_DBSTAT_VTAB
  }
  d.close();
}

// 3. Commands.
const reportDir = mkdtempSync(join(tmpdir(), 'carbonbench-scale-report-'));
const commands = [
  { name: 'top', module: 'top', fn: 'topCommand', flags: {}, argv: ['top'], targetMs: 200 },
  { name: 'pareto', module: 'pareto', fn: 'paretoCommand', flags: {}, argv: ['pareto'], targetMs: 200 },
  { name: 'fit', module: 'fit', fn: 'fitCommand', flags: {}, argv: ['fit'], targetMs: 200 },
  { name: 'leaderboard --by model', module: 'leaderboard', fn: 'leaderboardCommand', flags: { by: 'model' }, argv: ['leaderboard', '--by', 'model'], targetMs: 200 },
  { name: 'report', module: 'report', fn: 'reportCommand', flags: { out: reportDir }, argv: ['report', '--out', reportDir], targetMs: 10_000, runs: 2 },
];

// Commands the CLI lists in its help (an unknown command with --help prints the main help, exit 0).
const cliHelp = spawnSync(process.execPath, [cli, '--help'], { encoding: 'utf8' }).stdout ?? '';
const registered = (argv0) => new RegExp(`^  ${argv0}\\b`, 'm').test(cliHelp.slice(cliHelp.indexOf('Commands:')));
const median = (xs) => percentile(xs, 0.5);

function timeProcess(c) {
  const viaCli = registered(c.argv[0]);
  const argv = viaCli ? [cli, ...c.argv, '--db', db, '--json'] : [join(repoRoot, 'bench', 'scale', 'run-command.mjs'), c.module, c.fn, JSON.stringify(c.flags), db];
  const times = [];
  for (let i = 0; i < (c.runs ?? args.runs); i++) {
    const t = performance.now();
    const r = spawnSync(process.execPath, argv, { encoding: 'utf8', maxBuffer: 256 << 20 });
    const ms = performance.now() - t;
    if (r.status !== 0) return { via: viaCli ? 'cli' : 'dist module', error: `exit ${r.status}: ${(r.stderr || r.stdout || '').trim().split('\n').slice(-2).join(' | ')}` };
    times.push(ms);
  }
  return { via: viaCli ? 'carbonbench CLI' : 'dist/cli module (not yet registered in the CLI)', median_ms: round(median(times), 0), min_ms: round(Math.min(...times), 0), max_ms: round(Math.max(...times), 0) };
}

async function timeInProcess(c) {
  const mod = await import(join(repoRoot, 'dist', 'cli', `${c.module}.js`));
  const write = process.stdout.write.bind(process.stdout);
  const times = [];
  for (let i = 0; i <= (c.runs ?? Math.max(2, args.runs)); i++) {
    process.stdout.write = () => true;
    const t = performance.now();
    try {
      const code = await mod[c.fn]({ ...c.flags }, { db, json: true });
      if (code !== 0) throw new Error(`exit code ${code}`);
    } finally {
      process.stdout.write = write;
    }
    times.push(performance.now() - t);
  }
  return { first_ms: round(times[0], 0), median_ms: round(median(times.slice(1)), 0), max_ms: round(Math.max(...times.slice(1)), 0) };
}

const nodeStart = (() => {
  const times = [];
  for (let i = 0; i < args.runs; i++) {
    const t = performance.now();
    spawnSync(process.execPath, [cli, 'regions', '--json'], { encoding: 'utf8' });
    times.push(performance.now() - t);
  }
  return round(median(times), 0);
})();

const results = [];
const wanted = new Set(args.commands.split(',').map((x) => x.trim()));
for (const c of commands.filter((x) => wanted.has(x.argv[0]))) {
  if (!existsSync(join(repoRoot, 'dist', 'cli', `${c.module}.js`))) {
    results.push({ command: c.name, available: false, note: `src/cli/${c.module}.ts does not exist yet (or is not built)` });
    continue;
  }
  progress(`scale: timing ${c.name}…`);
  let inProcess;
  try {
    inProcess = await timeInProcess(c);
  } catch (err) {
    inProcess = { error: err instanceof Error ? err.message.split('\n')[0] : String(err) };
  }
  const proc = timeProcess(c);
  results.push({
    command: c.name,
    available: true,
    in_process: inProcess,
    process: proc,
    target_ms: c.targetMs,
    // A CLI invocation pays the first call (fresh SQLite connection) plus Node's start.
    met: typeof inProcess.first_ms === 'number' ? inProcess.first_ms < c.targetMs : null,
  });
}
rmSync(reportDir, { recursive: true, force: true });

const result = {
  db,
  experiments: have?.experiments ?? args.experiments,
  samples: have?.samples ?? args.samples,
  size_mib: round(sizeBytes / 2 ** 20, 0),
  size_by_table_mib: byTable,
  generation,
  node_start_ms: nodeStart,
  commands: results,
  machine: machine(),
};
const lines = [
  `db: ${db}: ${result.experiments} experiments, ${result.samples} samples, ${result.size_mib} MiB`,
  ...(byTable ? [`  by table/index (MiB): ${Object.entries(byTable).map(([k, v]) => `${k} ${v}`).join(', ')}`] : []),
  ...(generation ? [`  written in ${generation.experiments_s} s (experiments) + ${generation.telemetry_s} s (completion and samples, ${generation.telemetry.samples_per_s} samples/s)`] : []),
  `node start (carbonbench regions --json): ${nodeStart} ms`,
  ...results.map((r) =>
    !r.available
      ? `${r.command}: not available: ${r.note}`
      : `${r.command}: in-process first/median ${r.in_process.first_ms ?? r.in_process.error}/${r.in_process.median_ms ?? '–'} ms; process (${r.process.via}) median ${r.process.median_ms ?? r.process.error} ms; target < ${r.target_ms} ms: ${r.met === null ? 'n/a' : r.met ? 'met' : 'MISSED'}`,
  ),
];
report(result, args.json, lines);
