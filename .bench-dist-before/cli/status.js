/** `carbonbench status`: the current or last run, readable from another shell while it runs. */
import { existsSync } from 'node:fs';
import { InputError } from '../errors.js';
import { openStore } from '../store/index.js';
import { printJson, printText, sig } from './output.js';
export async function statusCommand(global) {
    if (!existsSync(global.db))
        throw new InputError(`${global.db} does not exist: no run yet (start one with carbonbench run)`);
    const store = await openStore(global.db, { readonly: true });
    try {
        const runs = await store.listRuns();
        const run = runs[runs.length - 1];
        if (!run) {
            if (global.json)
                printJson({ run: null });
            else
                printText('no run yet');
            return 0;
        }
        const experiments = (await store.listExperiments({ runId: run.id })).filter((e) => e.phase !== 'manual');
        const notes = await store.listNotes(run.id);
        const done = experiments.filter((e) => ['ok', 'failed', 'aborted_thermal'].includes(e.status));
        const ok = experiments.filter((e) => e.status === 'ok');
        const failed = experiments.filter((e) => e.status === 'failed' || e.status === 'aborted_thermal');
        const current = experiments.find((e) => e.status === 'running') ?? null;
        const phase = current?.phase ?? experiments[experiments.length - 1]?.phase ?? null;
        const bestRow = ok.filter((e) => e.sciUg !== null).sort((a, b) => a.sciUg - b.sciUg)[0] ?? null;
        let budget = null;
        const m = /budget:\s*\{[^}]*experiments:\s*(\d+)/.exec(run.programText);
        if (m)
            budget = Number(m[1]);
        const durations = done.filter((e) => e.startedAt && e.endedAt).map((e) => (Date.parse(e.endedAt) - Date.parse(e.startedAt)) / 1000);
        const meanS = durations.length > 0 ? durations.reduce((a, b) => a + b, 0) / durations.length : null;
        const etaS = budget !== null && meanS !== null && run.status === 'running' ? Math.max(0, budget - done.length) * meanS : null;
        const doc = {
            run: run.id,
            status: run.status,
            started_at: run.startedAt,
            ended_at: run.endedAt,
            phase,
            done: done.length,
            budget,
            ok: ok.length,
            failed: failed.length,
            running: current ? { id: current.id, model: current.model, quant: current.quant, batch: current.batch, started_at: current.startedAt } : null,
            best: bestRow ? { id: bestRow.id, model: bestRow.model, quant: bestRow.quant, batch: bestRow.batch, input_len: bestRow.inputLen, output_len: bestRow.outputLen, sci_ug: bestRow.sciUg, bpb: bestRow.bpb, simulated: bestRow.simulated } : null,
            eta_s: etaS,
            last_note: notes[notes.length - 1] ? { kind: notes[notes.length - 1].kind, text: notes[notes.length - 1].text } : null,
        };
        if (global.json)
            printJson(doc);
        else {
            printText([
                `run: ${doc.run} (${doc.status}, started ${doc.started_at})`,
                `phase: ${doc.phase ?? '–'}`,
                `done: ${doc.done}${doc.budget !== null ? `/${doc.budget}` : ''} (ok ${doc.ok}, failed ${doc.failed})`,
                `running: ${doc.running ? `#${doc.running.id} ${doc.running.model} ${doc.running.quant} batch ${doc.running.batch}` : '–'}`,
                `best: ${doc.best ? `#${doc.best.id} ${doc.best.model} ${doc.best.quant} batch ${doc.best.batch}: ${sig(doc.best.sci_ug, 4)} µgCO2e/token${doc.best.simulated ? ' (simulated)' : ''}` : '–'}`,
                `eta: ${etaS === null ? '–' : `${Math.round(etaS / 60)} min`}`,
                ...(doc.last_note ? [`last note: [${doc.last_note.kind}] ${doc.last_note.text}`] : []),
            ].join('\n'));
        }
        return 0;
    }
    finally {
        await store.close();
    }
}
//# sourceMappingURL=status.js.map