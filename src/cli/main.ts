/**
 * The command line: registers commands (each in its own file, imported lazily), normalizes global
 * options, and turns errors into exit codes in one place: 0 ok, 1 runtime failure, 2 usage/input error.
 */
import { Command, CommanderError, Option } from 'commander';
import { CarbonbenchError } from '../errors.js';
import { printJson, type GlobalOptions } from './output.js';
import { VERSION } from '../version.js';

function globalOptions(cmd: Command): GlobalOptions {
  const opts = cmd.optsWithGlobals<{ db: string; json?: boolean }>();
  let root: Command = cmd;
  while (root.parent) root = root.parent;
  return { db: opts.db, json: opts.json === true, dbExplicit: root.getOptionValueSource('db') !== 'default' };
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('carbonbench')
    .description('Measures the carbon cost (SCI, gCO2e per generated token) of LLM inference configurations on your GPUs')
    .version(VERSION)
    .option('--db <path|url>', 'results database: a results.db path, or a postgresql:// URL (password from PGPASSWORD)', './results.db')
    .option('--json', 'print one JSON document on stdout and nothing else there')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  program
    .command('init')
    .description('writes a commented program.md and adds results.db and experiments/ to .gitignore')
    .argument('[dir]', 'directory', '.')
    .option('--force', 'replace an existing program.md')
    .action(async (dir: string, flags: { force?: boolean }, cmd: Command) => {
      const { initCommand } = await import('./init.js');
      process.exitCode = await initCommand(dir, flags, globalOptions(cmd));
    });

  program
    .command('doctor')
    .description('checks nvidia-smi, NVML, the GPU → hardware profile, engines, Python/Optuna, disk and the database')
    .option('--nvidia-smi <path>', 'nvidia-smi executable (default: $CARBONBENCH_NVIDIA_SMI or nvidia-smi on PATH)')
    .option('--nvml-lib <path>', 'NVML library (default: $CARBONBENCH_NVML_LIB or libnvidia-ml.so.1)')
    .option('--sysfs-root <dir>', 'sysfs to read CPU/DRAM energy from: RAPL powercap and hwmon (default: $CARBONBENCH_SYSFS_ROOT or /sys)')
    .action(async (flags: { nvidiaSmi?: string; nvmlLib?: string }, cmd: Command) => {
      const { doctorCommand } = await import('./doctor.js');
      process.exitCode = await doctorCommand(flags, globalOptions(cmd));
    });

  program
    .command('energy')
    .description('integrates a recorded nvidia-smi CSV trace: joules, mean/peak power, samples, gaps')
    .argument('<trace>', 'CSV from nvidia-smi --query-gpu=timestamp,power.draw,… (with header, or noheader,nounits plus --fields)')
    .option('--from <time>', 'window start: epoch seconds, ISO-8601, or nvidia-smi format (default: trace start)')
    .option('--to <time>', 'window end (default: trace end)')
    .option('--fields <list>', 'field names of a noheader trace, in recording order')
    .option('--tz <zone>', 'zone of the trace timestamps: local, UTC, +02:00 or an IANA name', 'local')
    .option('--gpus <list>', 'GPU indices to include (default: all in the trace)')
    .addOption(new Option('--power-field <field>', 'power column to integrate').default('power.draw'))
    .option('--align <seconds>', 'move samples this much earlier (default 0.5 for power.draw, a trailing 1 s average; 0 for power.draw.instant)')
    .option('--max-gap <seconds>', 'a longer interval without samples makes the window unmeasurable', '3')
    .option('--skip-bad-lines', 'ignore lines that do not parse instead of failing')
    .action(async (trace: string, flags, cmd: Command) => {
      const { energyCommand } = await import('./energy.js');
      process.exitCode = await energyCommand(trace, flags, globalOptions(cmd));
    });

  program
    .command('run')
    .description('the autonomous sweep: plans, measures and stores experiments until the budget is spent or the search converges; resumes an interrupted run')
    .option('--program <file>', 'the program (research brief + settings)', 'program.md')
    .option('--engine <engine>', 'override program.md\'s engine')
    .option('--max-experiments <n>', 'override budget.experiments')
    .option('--max-hours <h>', 'override budget.hours')
    .option('--no-agent', 'do not call the LLM agent even if program.md configures one')
    .option('--seed <n>', 'seed of the search (default: program.md seed or 0)')
    .option('--dry-run', 'validate and print the planned baseline and grid experiments; measure nothing')
    .option('--fresh', 'start a new run instead of resuming the last unfinished one')
    .option('--nvidia-smi <path>', 'nvidia-smi executable')
    .option('--gpus <list>', 'GPU indices to use and measure (default: program.md gpus, else all)')
    .option('--sysfs-root <dir>', 'sysfs to read CPU/DRAM energy from: RAPL powercap and hwmon (default: $CARBONBENCH_SYSFS_ROOT or /sys)')
    .option('--start-timeout-s <s>', 'seconds an engine may take to become ready (default 900)')
    .option('--study <name>', 'join this shared study as one worker (start the same command on each host; see README "Several hosts")')
    .option('--host-label <label>', 'host label stored with each experiment of this worker (default: the hostname)')
    .option('--heartbeat-timeout-s <s>', "seconds without a worker's heartbeat before its running trial is re-queued (default 60)")
    .option('--storage <url>', 'PostgreSQL URL shared by several hosts (results and the search), e.g. postgresql://bench@db:5432/carbonbench; overrides program.md storage')
    .action(async (flags, cmd: Command) => {
      const { runCommand } = await import('./run.js');
      process.exitCode = await runCommand(flags, globalOptions(cmd));
    });

  program
    .command('status')
    .description('the current or last run: phase, experiments done/failed, best so far, ETA')
    .action(async (_flags, cmd: Command) => {
      const { statusCommand } = await import('./status.js');
      process.exitCode = await statusCommand(globalOptions(cmd));
    });

  program
    .command('measure')
    .description('one experiment under the full measurement protocol, stored with phase manual')
    .requiredOption('--engine <engine>', 'vllm | llamacpp | transformers | sim')
    .requiredOption('--model <id>', 'model id or path (its params/family/variants come from --program when listed there)')
    .option('--quant <q>', 'quantization (engine-specific; default bf16 where that applies)')
    .requiredOption('--batch <n>', 'concurrency of the closed-loop load')
    .requiredOption('--input-len <tokens>', 'prompt length in tokens')
    .requiredOption('--output-len <tokens>', 'generated tokens per request')
    .option('--program <file>', 'program.md to take models, carbon, safety and engine options from')
    .option('--params <n>', 'parameter count of the model (e.g. 7.6e9)')
    .option('--region <id>', 'grid region (see carbonbench regions)')
    .option('--intensity <g>', 'grid intensity in gCO2e/kWh (overrides --region)')
    .option('--nvidia-smi <path>', 'nvidia-smi executable')
    .option('--gpus <list>', 'GPU indices to use and measure (default: all)')
    .option('--sysfs-root <dir>', 'sysfs to read CPU/DRAM energy from: RAPL powercap and hwmon (default: $CARBONBENCH_SYSFS_ROOT or /sys)')
    .option('--experiment-seconds <s>', 'time budget of the experiment (hard kill at twice this)')
    .option('--start-timeout-s <s>', 'seconds the engine may take to become ready (default 900)')
    .option('--engine-option <key=value...>', 'engine option, repeatable (e.g. gpu_memory_utilization=0.8)')
    .action(async (flags, cmd: Command) => {
      const { measureCommand } = await import('./measure.js');
      process.exitCode = await measureCommand(flags, globalOptions(cmd));
    });

  program
    .command('search-bench')
    .description('replays a tabular benchmark (one row per config) for every search strategy and prints the experiments each needs to come within the target of the optimum')
    .requiredOption('--table <csv>', 'table with columns model,quant,batch,input_len,output_len,tok_s,power_w,bpb (optional params)')
    .option('--budget <n>', 'experiments per strategy and seed (default: the size of the full factorial)')
    .option('--seeds <k>', 'seeds per strategy', '5')
    .option('--target <rel>', 'within this relative distance of the feasible optimum counts as reached', '0.05')
    .option('--constraint <expr>', 'BPB constraint: "bpb <= F * baseline" or "bpb <= X" (default: none)')
    .option('--noise <sigma>', 'relative σ of multiplicative noise on tok/s and power', '0')
    .option('--patience <n>', "the pipeline's patience (default 8)")
    .option('--hardware <id>', 'hardware profile for embodied carbon (default: the table\'s "# hardware:" comment, else dgx-spark)')
    .option('--region <id>', 'grid region (default US-NE-ISNE)')
    .option('--intensity <g>', 'grid intensity in gCO2e/kWh (overrides --region)')
    .option('--no-bayesian', "skip the bayesian strategy and the pipeline's bayesian phase")
    .action(async (flags, cmd: Command) => {
      const { searchBenchCommand } = await import('./search-bench.js');
      process.exitCode = await searchBenchCommand(flags, globalOptions(cmd));
    });

  program
    .command('top')
    .description('the greenest configurations: model, quant, batch, SCI µgCO2e/token, BPB, tok/s, Pareto flag')
    .option('-n <count>', 'how many', '5')
    .option('--include-simulated', 'also rank sim and table engine results (always labelled SIMULATED)')
    .option('--include-manual', 'also rank `carbonbench measure` experiments (phase manual)')
    .option('--hardware <id>', 'only experiments scored with this hardware profile (e.g. h100-sxm): SCI is per hardware')
    .action(async (flags: { n?: string; includeSimulated?: boolean; includeManual?: boolean; hardware?: string }, cmd: Command) => {
      const { topCommand } = await import('./top.js');
      process.exitCode = await topCommand(flags, globalOptions(cmd));
    });

  program
    .command('leaderboard')
    .description('best SCI per model, quantization, engine or batch size, with the config that reached it')
    .option('--by <key>', 'model | quant | engine | batch | hardware (profile id: several hosts)', 'model')
    .option('--include-simulated', 'also rank sim and table engine results (always labelled SIMULATED)')
    .option('--include-manual', 'also rank `carbonbench measure` experiments (phase manual)')
    .option('--hardware <id>', 'only experiments scored with this hardware profile (e.g. h100-sxm): SCI is per hardware')
    .action(async (flags: { by?: string; includeSimulated?: boolean; includeManual?: boolean; hardware?: string }, cmd: Command) => {
      const { leaderboardCommand } = await import('./leaderboard.js');
      process.exitCode = await leaderboardCommand(flags, globalOptions(cmd));
    });

  program
    .command('pareto')
    .description('the Pareto front over SCI (min) × BPB (min) × tok/s (max)')
    .option('--include-simulated', 'also compare sim and table engine results (always labelled SIMULATED)')
    .option('--include-manual', 'also compare `carbonbench measure` experiments (phase manual)')
    .action(async (flags: { includeSimulated?: boolean; includeManual?: boolean }, cmd: Command) => {
      const { paretoCommand } = await import('./pareto.js');
      process.exitCode = await paretoCommand(flags, globalOptions(cmd));
    });

  program
    .command('fit')
    .description("power law SCI = a · params^b over each model's best SCI, R², 95% interval on b, extrapolation to data/frontier-models.csv")
    .option('--family <name>', 'fit one model family only (default: all families pooled, and each family)')
    .option('--include-simulated', 'also fit sim and table engine results (always labelled SIMULATED)')
    .option('--include-manual', 'also use `carbonbench measure` experiments (phase manual)')
    .action(async (flags: { family?: string; includeSimulated?: boolean; includeManual?: boolean }, cmd: Command) => {
      const { fitCommand } = await import('./fit.js');
      process.exitCode = await fitCommand(flags, globalOptions(cmd));
    });

  program
    .command('calc')
    .description("carbon calculator: an experiment's operational, embodied and total carbon per token for another grid")
    .option('--experiment <id>', 'experiment id (see carbonbench top, or the results view)')
    .option('--region <id>', 'grid region (see carbonbench regions)')
    .option('--intensity <g>', 'grid intensity in gCO2e/kWh')
    .option('--all-regions', 'every region of data/grid-regions.csv')
    .action(async (flags: { experiment?: string; region?: string; intensity?: string; allRegions?: boolean }, cmd: Command) => {
      const { calcCommand } = await import('./calc.js');
      process.exitCode = await calcCommand(flags, globalOptions(cmd));
    });

  program
    .command('export')
    .description('results for other tools: csv and json (the results view, every experiment), codecarbon (emissions.csv), impact (Impact Framework manifest)')
    .option('--format <format>', 'csv | json | codecarbon | impact')
    .option('--out <file>', 'write to this file instead of stdout')
    .action(async (flags: { format?: string; out?: string }, cmd: Command) => {
      const { exportCommand } = await import('./export.js');
      process.exitCode = await exportCommand(flags, globalOptions(cmd));
    });

  program
    .command('report')
    .description('writes a self-contained HTML report (index.html: charts, calculator, methodology; needs no network to view)')
    .option('--out <dir>', 'output directory', './report')
    .action(async (flags: { out?: string }, cmd: Command) => {
      const { reportCommand } = await import('./report.js');
      process.exitCode = await reportCommand(flags, globalOptions(cmd));
    });

  program
    .command('migrate')
    .description('upgrade results.db to this version\'s schema in place (every writing command also does this)')
    .action(async (_flags, cmd: Command) => {
      const { migrateCommand } = await import('./migrate.js');
      process.exitCode = await migrateCommand(globalOptions(cmd));
    });

  program
    .command('merge')
    .description('imports results databases (results.db files or postgresql:// URLs) into one, without duplicates')
    .argument('<sources...>', 'results.db paths or postgresql:// URLs to import')
    .option('--into <db>', 'target: a results.db path (created if missing) or a postgresql:// URL')
    .action(async (sources: string[], flags: { into?: string }, cmd: Command) => {
      const { mergeCommand } = await import('./merge.js');
      process.exitCode = await mergeCommand(sources, flags, globalOptions(cmd));
    });

  program
    .command('regions')
    .description('the grid regions with their carbon intensity and sources')
    .action(async (_flags, cmd: Command) => {
      const { regionsCommand } = await import('./regions.js');
      process.exitCode = await regionsCommand(globalOptions(cmd));
    });

  return program;
}

/** Runs the CLI; returns the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  // `carbonbench top | head`: a closed pipe ends the output quietly, not with a stack trace.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
  const program = buildProgram();
  const wantsJson = argv.includes('--json');
  try {
    await program.parseAsync([...argv]);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here too, with exit code 0.
      return err.exitCode === 0 ? 0 : 2;
    }
    const exitCode = err instanceof CarbonbenchError ? err.exitCode : 1;
    const message = err instanceof Error ? err.message : String(err);
    if (wantsJson) printJson({ error: message, kind: err instanceof Error ? err.name : 'Error', exit_code: exitCode });
    process.stderr.write(`error: ${message}\n`);
    if (!(err instanceof CarbonbenchError) && err instanceof Error && process.env.CARBONBENCH_DEBUG) process.stderr.write(`${err.stack}\n`);
    return exitCode;
  }
}
