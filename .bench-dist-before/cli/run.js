import { InputError } from '../errors.js';
import { runSweep } from '../runner/run.js';
import { gpuListFlag, intFlag, numberFlag } from './flags.js';
import { printJson, printText, sig } from './output.js';
export async function runCommand(flags, global) {
    if (flags.dryRun && flags.fresh)
        throw new InputError('--dry-run measures nothing; --fresh has no meaning with it');
    const summary = await runSweep({
        programFile: flags.program,
        db: global.db,
        engine: flags.engine,
        maxExperiments: intFlag('--max-experiments', flags.maxExperiments, 1, 100_000),
        maxHours: numberFlag('--max-hours', flags.maxHours, 0.001, 720, 'a number of hours'),
        noAgent: !flags.agent,
        seed: intFlag('--seed', flags.seed, 0, 2 ** 31 - 1),
        dryRun: flags.dryRun === true,
        fresh: flags.fresh === true,
        nvidiaSmi: flags.nvidiaSmi,
        gpus: gpuListFlag('--gpus', flags.gpus),
        startTimeoutS: intFlag('--start-timeout-s', flags.startTimeoutS, 1, 86_400),
        progress: (line) => {
            if (!global.json || process.stderr.isTTY)
                process.stderr.write(`${line}\n`);
        },
    });
    if (global.json)
        printJson(summary);
    else if (summary.status === 'dry-run') {
        printText(`dry run: the first ${summary.plan?.length ?? 0} experiments (baseline and grid) would be:`);
        for (const [i, p] of (summary.plan ?? []).entries()) {
            printText(`${String(i + 1).padStart(3)}. ${p.phase.padEnd(8)} ${p.point.model} ${p.point.quant} batch ${p.point.batch} in ${p.point.inputLen} out ${p.point.outputLen} — ${p.rationale}`);
        }
    }
    else {
        printText([
            `run: ${summary.runId}${summary.resumed ? ' (resumed)' : ''}`,
            `status: ${summary.status}`,
            `stopped: ${summary.stopReason}`,
            `experiments: ${summary.experiments} (ok ${summary.ok}, failed ${summary.failed})`,
            `phases: ${summary.phases.map((p) => `${p.from}→${p.to}`).join(', ') || 'none switched'}`,
            `best: ${summary.best ? `#${summary.best.id} ${summary.best.model} ${summary.best.quant} batch ${summary.best.batch} in ${summary.best.inputLen} out ${summary.best.outputLen}: ${sig(summary.best.sciUg, 4)} µgCO2e/token, BPB ${sig(summary.best.bpb, 4)}` : 'none yet'}`,
            `next: carbonbench top, carbonbench status, or sqlite3 ${global.db} "SELECT * FROM results"`,
        ].join('\n'));
    }
    return summary.status === 'failed' ? 1 : 0;
}
//# sourceMappingURL=run.js.map