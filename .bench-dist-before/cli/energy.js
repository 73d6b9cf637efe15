import { readFileSync } from 'node:fs';
import { EnergyWindowError, InputError, describeValue } from '../errors.js';
import { traceEnergy, traceGaps, defaultAlignS } from '../energy/trace.js';
import { parseTrace } from '../telemetry/smi-parse.js';
import { describeTimeZone, isoFromEpochS, parseInstant, validateTimeZone } from '../util/time.js';
import { printJson, printText, sig } from './output.js';
function parseGpuList(text) {
    const list = text.split(',').map((s) => s.trim());
    if (list.some((s) => !/^\d+$/.test(s))) {
        throw new InputError(`--gpus ${describeValue(text)} is invalid; allowed: comma-separated GPU indices such as 0 or 0,1`);
    }
    return list.map(Number);
}
function parseNonNegative(flag, text, max) {
    const n = Number(text);
    if (text.trim() === '' || !Number.isFinite(n) || n < 0 || n > max) {
        throw new InputError(`${flag} ${describeValue(text)} is invalid; allowed: a number of seconds from 0 to ${max}`);
    }
    return n;
}
export async function energyCommand(file, flags, global) {
    const tz = validateTimeZone(flags.tz);
    if (flags.powerField !== 'power.draw' && flags.powerField !== 'power.draw.instant') {
        throw new InputError(`--power-field ${describeValue(flags.powerField)} is invalid; allowed: power.draw, power.draw.instant`);
    }
    const powerField = flags.powerField;
    const alignS = flags.align === undefined ? defaultAlignS(powerField) : parseNonNegative('--align', flags.align, 5);
    const maxGapS = parseNonNegative('--max-gap', flags.maxGap, 3600);
    let text;
    try {
        text = readFileSync(file, 'utf8');
    }
    catch (err) {
        throw new InputError(`cannot read trace ${file}: ${err.message}`);
    }
    const fields = flags.fields?.split(',').map((f) => f.trim()).filter((f) => f !== '');
    const trace = parseTrace(text, { fields, tz, source: file });
    if (trace.badLines.length > 0 && !flags.skipBadLines) {
        const shown = trace.badLines.slice(0, 5).map((b) => `line ${b.line}: ${b.reason}`).join('; ');
        throw new InputError(`${file} has ${trace.badLines.length} line(s) that are not samples of the columns ${trace.fields.join(', ')} (${shown}); check --fields, or pass --skip-bad-lines to ignore them`);
    }
    const fromS = flags.from === undefined ? undefined : parseInstant(flags.from, tz, '--from');
    const toS = flags.to === undefined ? undefined : parseInstant(flags.to, tz, '--to');
    const gpus = flags.gpus === undefined ? undefined : parseGpuList(flags.gpus);
    const assumption = `timestamps read as ${describeTimeZone(tz)}${tz === 'local' ? ' (local time; use --tz to change)' : ''}`;
    try {
        const r = traceEnergy(trace, { fromS, toS, gpus, powerField, alignS, maxGapS }, file);
        const gaps = r.missedSamples.map((g) => ({ from: isoFromEpochS(g.fromS), to: isoFromEpochS(g.toS), seconds: g.seconds }));
        if (global.json) {
            printJson({
                energy_j: r.energyJ,
                duration_s: r.durationS,
                samples: r.samples,
                mean_power_w: r.meanPowerW,
                peak_power_w: r.peakPowerW,
                start: isoFromEpochS(r.fromS),
                end: isoFromEpochS(r.toS),
                gaps,
                power_field: r.powerField,
                align_s: r.alignS,
                time_zone: describeTimeZone(tz),
                skipped_lines: trace.badLines.length,
                per_gpu: r.perGpu.map((g) => ({ gpu: g.gpuIndex, energy_j: g.energyJ, samples: g.samples, mean_power_w: g.meanPowerW, peak_power_w: g.peakPowerW })),
            });
        }
        else {
            printText([
                `energy_j: ${sig(r.energyJ, 6)}`,
                `duration_s: ${sig(r.durationS, 6)}`,
                `samples: ${r.samples}`,
                `mean_power_w: ${sig(r.meanPowerW, 5)}`,
                `peak_power_w: ${sig(r.peakPowerW, 5)}`,
                `start: ${isoFromEpochS(r.fromS)}`,
                `end: ${isoFromEpochS(r.toS)}`,
                `gaps: ${gaps.length === 0 ? 'none' : gaps.map((g) => `${g.from} → ${g.to} (${sig(g.seconds, 3)} s)`).join(', ')}`,
                ...(r.perGpu.length > 1 ? r.perGpu.map((g) => `gpu ${g.gpuIndex}: ${sig(g.energyJ, 6)} J, mean ${sig(g.meanPowerW, 5)} W`) : []),
                `method: trapezoid of ${r.powerField} at its samples${r.alignS ? ` moved ${r.alignS} s earlier (a trailing 1 s average)` : ''}, edges interpolated; ${assumption}`,
            ].join('\n'));
        }
        return 0;
    }
    catch (err) {
        if (!(err instanceof EnergyWindowError))
            throw err;
        if (global.json) {
            const gaps = traceGaps(trace, powerField, alignS, maxGapS).map((g) => ({ from: isoFromEpochS(g.fromS), to: isoFromEpochS(g.toS), seconds: g.seconds }));
            printJson({ error: err.message, covered: false, gaps, time_zone: describeTimeZone(tz) });
            process.stderr.write(`error: ${err.message}\n`);
            return 1;
        }
        throw err;
    }
}
//# sourceMappingURL=energy.js.map