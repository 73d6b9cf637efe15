import { InputError, describeValue } from '../errors.js';
import { STUDY_NAME_ALLOWED, STUDY_NAME_RE } from '../program/schema.js';
import { runSweep } from '../runner/run.js';
import { resolveSysfsRoot } from '../telemetry/sysfs.js';
import { isPostgresUrl, redactPgUrl } from '../store/pg-url.js';
import { gpuListFlag, intFlag, numberFlag } from './flags.js';
import { printJson, printText, sig, type GlobalOptions } from './output.js';

export interface RunFlags {
  program: string;
  engine?: string;
  maxExperiments?: string;
  maxHours?: string;
  agent: boolean;
  seed?: string;
  dryRun?: boolean;
  fresh?: boolean;
  nvidiaSmi?: string;
  sysfsRoot?: string;
  gpus?: string;
  startTimeoutS?: string;
  study?: string;
  hostLabel?: string;
  heartbeatTimeoutS?: string;
  storage?: string;
}

function studyFlag(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  if (!STUDY_NAME_RE.test(text)) throw new InputError(`--study ${describeValue(text)} is invalid; allowed: ${STUDY_NAME_ALLOWED}`);
  return text;
}

const HOST_LABEL_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/;

function hostLabelFlag(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  if (!HOST_LABEL_RE.test(text)) throw new InputError(`--host-label ${describeValue(text)} is invalid; allowed: 1 to 100 letters, digits, ".", "_", ":" or "-", starting with a letter or digit`);
  return text;
}

export async function runCommand(flags: RunFlags, global: GlobalOptions): Promise<number> {
  if (flags.dryRun && flags.fresh) throw new InputError('--dry-run measures nothing; --fresh has no meaning with it');
  const summary = await runSweep({
    programFile: flags.program,
    db: global.db,
    dbExplicit: global.dbExplicit === true,
    storage: flags.storage,
    engine: flags.engine,
    maxExperiments: intFlag('--max-experiments', flags.maxExperiments, 1, 100_000),
    maxHours: numberFlag('--max-hours', flags.maxHours, 0.001, 720, 'a number of hours'),
    noAgent: !flags.agent,
    seed: intFlag('--seed', flags.seed, 0, 2 ** 31 - 1),
    dryRun: flags.dryRun === true,
    fresh: flags.fresh === true,
    nvidiaSmi: flags.nvidiaSmi,
    sysfsRoot: flags.sysfsRoot === undefined ? undefined : resolveSysfsRoot(flags.sysfsRoot),
    gpus: gpuListFlag('--gpus', flags.gpus),
    startTimeoutS: intFlag('--start-timeout-s', flags.startTimeoutS, 1, 86_400),
    study: studyFlag(flags.study),
    hostLabel: hostLabelFlag(flags.hostLabel),
    heartbeatTimeoutS: numberFlag('--heartbeat-timeout-s', flags.heartbeatTimeoutS, 1, 86_400, 'seconds'),
    progress: (line) => {
      if (!global.json || process.stderr.isTTY) process.stderr.write(`${line}\n`);
    },
  });
  if (global.json) printJson(summary);
  else if (summary.status === 'dry-run') {
    printText(`dry run: the first ${summary.plan?.length ?? 0} experiments (baseline and grid) would be:`);
    for (const [i, p] of (summary.plan ?? []).entries()) {
      printText(`${String(i + 1).padStart(3)}. ${p.phase.padEnd(8)} ${p.point.model} ${p.point.quant} batch ${p.point.batch} in ${p.point.inputLen} out ${p.point.outputLen} — ${p.rationale}`);
    }
  } else {
    printText(
      [
        `run: ${summary.runId}${summary.resumed ? ' (resumed)' : ''}`,
        `status: ${summary.status}`,
        `stopped: ${summary.stopReason}`,
        `experiments: ${summary.experiments} (ok ${summary.ok}, failed ${summary.failed})`,
        `phases: ${summary.phases.map((p) => `${p.from}→${p.to}`).join(', ') || 'none switched'}${summary.study ? ' (switches taken by this worker)' : ''}`,
        ...(summary.study
          ? [`study: ${summary.study.name}, worker ${summary.study.host} (${summary.study.hardware}): phase ${summary.study.phase ?? 'none'}, ${summary.study.finished}/${summary.study.budget} experiments across hosts, ${summary.study.lost} trials re-queued from silent workers`]
          : []),
        `best: ${summary.best ? `#${summary.best.id} ${summary.best.model} ${summary.best.quant} batch ${summary.best.batch} in ${summary.best.inputLen} out ${summary.best.outputLen}: ${sig(summary.best.sciUg, 4)} µgCO2e/token, BPB ${sig(summary.best.bpb, 4)}` : 'none yet'}`,
        isPostgresUrl(summary.db)
          ? `next: carbonbench top --db ${redactPgUrl(summary.db)}, or psql "${redactPgUrl(summary.db)}" -c "SELECT * FROM results"`
          : `next: carbonbench top, carbonbench status, or sqlite3 ${summary.db} "SELECT * FROM results"`,
      ].join('\n'),
    );
  }
  return summary.status === 'failed' ? 1 : 0;
}
