/**
 * Running nvidia-smi: locating the executable and one-shot queries. The executable comes from
 * `--nvidia-smi PATH`, else `CARBONBENCH_NVIDIA_SMI`, else `nvidia-smi` on PATH.
 */
import { execa } from 'execa';
import { TelemetryError } from '../errors.js';
import { parseHelpQueryGpu } from './smi-fields.js';
export function resolveNvidiaSmi(flag) {
    return flag ?? process.env.CARBONBENCH_NVIDIA_SMI ?? 'nvidia-smi';
}
/** Runs nvidia-smi once with an argument array; throws TelemetryError with what it printed. */
export async function runSmi(executable, args, timeoutMs = 15_000) {
    const started = Date.now();
    try {
        const result = await execa(executable, args, { timeout: timeoutMs, stdin: 'ignore', env: { TZ: 'UTC' } });
        return result.stdout;
    }
    catch (err) {
        const e = err;
        const output = `${String(e.stdout ?? '')}\n${String(e.stderr ?? '')}`.trim();
        const reason = e.code === 'ENOENT'
            ? `${executable} not found: install the NVIDIA driver, or pass --nvidia-smi PATH / set CARBONBENCH_NVIDIA_SMI`
            : e.timedOut
                ? `${executable} ${args.join(' ')} did not answer within ${timeoutMs} ms`
                : `${executable} ${args.join(' ')} failed with exit code ${e.exitCode ?? 'none'}: ${output.split('\n').slice(-3).join(' | ') || '(no output)'}`;
        throw new TelemetryError(reason, {
            command: [executable, ...args],
            exitCode: e.exitCode ?? null,
            outputTail: output.slice(-2000),
            durationMs: Date.now() - started,
            cause: err,
        });
    }
}
/** The --query-gpu field names this driver accepts (`nvidia-smi --help-query-gpu`). */
export async function queryableFields(executable) {
    const names = parseHelpQueryGpu(await runSmi(executable, ['--help-query-gpu']));
    if (names.size === 0)
        throw new TelemetryError(`${executable} --help-query-gpu listed no fields; is this nvidia-smi?`);
    return names;
}
/** Names, UUIDs and driver version of every GPU, in one query. */
export async function listGpus(executable) {
    const text = await runSmi(executable, [
        '--query-gpu=index,name,uuid,driver_version,power.limit,memory.total',
        '--format=csv,noheader,nounits',
    ]);
    const num = (v) => {
        const n = Number(v?.trim());
        return v === undefined || !/^\d/.test(v.trim()) || !Number.isFinite(n) ? null : n;
    };
    return text
        .split(/\r?\n/)
        .filter((l) => l.trim() !== '')
        .map((line) => {
        const [index, name, uuid, driver, limit, mem] = line.split(',').map((c) => c.trim());
        if (index === undefined || !/^\d+$/.test(index) || name === undefined) {
            throw new TelemetryError(`unexpected nvidia-smi GPU list line: ${JSON.stringify(line.slice(0, 200))}`);
        }
        return {
            index: Number(index),
            // '[N/A]' is no name: the hardware profile then falls back (and says so).
            name: name.startsWith('[') ? '' : name,
            uuid: uuid ?? '',
            driverVersion: driver && !driver.startsWith('[') ? driver : null,
            powerLimitW: num(limit),
            memoryTotalMib: num(mem),
        };
    });
}
//# sourceMappingURL=smi-exec.js.map