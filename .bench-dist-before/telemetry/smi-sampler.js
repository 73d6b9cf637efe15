/**
 * The 1 Hz nvidia-smi sampler: one long-lived `nvidia-smi --query-gpu=… --format=csv,noheader,nounits
 * -lms 1000` whose lines are read as they stream. nvidia-smi runs with TZ=UTC so its wall-clock
 * timestamps are unambiguous. A sampler that exits or goes silent for `silenceTimeoutS` fails with a
 * TelemetryError, delivered to every `onError` listener and kept in `failure`.
 */
import { createInterface } from 'node:readline';
import { execa } from 'execa';
import { TelemetryError } from '../errors.js';
import { resolveQuery } from './smi-fields.js';
import { queryableFields } from './smi-exec.js';
import { parseSampleLine, sampleLineError } from './smi-parse.js';
/** Lines that nvidia-smi prints instead of data when something is wrong. */
const SMI_ERROR_RE = /^(ERROR:|Field ".*" is not a valid field|No devices were found|NVIDIA-SMI has failed|Unable to determine)/;
export class SmiSampler {
    opts;
    query;
    command;
    samples = [];
    sampleListeners = new Set();
    errorListeners = new Set();
    process = null;
    silenceTimer = null;
    lastSampleAtMs = 0;
    stopping = false;
    stderrTail = '';
    badLines = 0;
    failure = null;
    constructor(opts, query) {
        this.opts = opts;
        this.query = query;
        this.command = [
            opts.executable,
            `--query-gpu=${query.queryNames.join(',')}`,
            '--format=csv,noheader,nounits',
            '-lms',
            String(opts.intervalMs),
            ...(opts.gpus && opts.gpus.length > 0 ? ['-i', opts.gpus.join(',')] : []),
        ];
    }
    /** Probes the driver's fields and builds a sampler (not started). */
    static async create(options) {
        const accepted = options.accepted ?? (await queryableFields(options.executable));
        const resolved = resolveQuery(accepted);
        if (resolved.missingRequired.length > 0) {
            throw new TelemetryError(`${options.executable} does not know the required field(s) ${resolved.missingRequired.join(', ')}; carbonbench needs a driver whose nvidia-smi lists them in --help-query-gpu`);
        }
        return new SmiSampler({
            executable: options.executable,
            gpus: options.gpus,
            intervalMs: options.intervalMs ?? 1000,
            silenceTimeoutS: options.silenceTimeoutS ?? 3,
            firstSampleTimeoutS: options.firstSampleTimeoutS ?? 15,
            maxRestarts: options.maxRestarts ?? 0,
            restartWindowS: options.restartWindowS ?? 600,
        }, resolved);
    }
    onSample(fn) {
        this.sampleListeners.add(fn);
        return () => this.sampleListeners.delete(fn);
    }
    onError(fn) {
        this.errorListeners.add(fn);
        return () => this.errorListeners.delete(fn);
    }
    /** Transient failures that were recovered by a restart: when, and why. */
    incidents = [];
    incidentListeners = new Set();
    generation = 0;
    samplesSinceSpawn = 0;
    /** A transient failure followed by a restart (the samples have a gap there). */
    onIncident(fn) {
        this.incidentListeners.add(fn);
        return () => this.incidentListeners.delete(fn);
    }
    /** Starts nvidia-smi and resolves once the first sample arrived (or rejects with the failure). */
    async start() {
        if (this.process)
            throw new Error('sampler already started');
        this.spawn();
        this.silenceTimer = setInterval(() => this.checkSilence(), 250);
        this.silenceTimer.unref();
        await new Promise((resolve, reject) => {
            const offSample = this.onSample(() => {
                offSample();
                offError();
                resolve();
            });
            const offError = this.onError((e) => {
                offSample();
                offError();
                reject(e);
            });
        });
    }
    spawn() {
        const generation = ++this.generation;
        this.samplesSinceSpawn = 0;
        const [file, ...args] = this.command;
        const child = execa(file, args, {
            env: { TZ: 'UTC' },
            stdin: 'ignore',
            buffer: false,
            reject: false,
            cleanup: true,
        });
        this.process = child;
        child.stderr?.on('data', (chunk) => {
            this.stderrTail = (this.stderrTail + chunk.toString()).slice(-2000);
        });
        const lines = createInterface({ input: child.stdout });
        lines.on('line', (line) => this.handleLine(line));
        void child.then((result) => {
            if (this.stopping || generation !== this.generation)
                return;
            // Fix (found by tests/telemetry/smi-sampler.test.ts): a process that could not be spawned (missing
            // or non-executable file, e.g. when `accepted` skipped the --help-query-gpu probe) has no exit code
            // and used to fail with "exited unexpectedly (exit code none)"; say what is wrong and how to fix it.
            const spawnCode = result.code;
            if (result.exitCode === undefined && !result.signal && typeof spawnCode === 'string') {
                this.fail(new TelemetryError(spawnCode === 'ENOENT'
                    ? `${file} not found: install the NVIDIA driver, or pass --nvidia-smi PATH / set CARBONBENCH_NVIDIA_SMI`
                    : `${file} could not be started (${spawnCode}): pass an executable nvidia-smi with --nvidia-smi PATH / CARBONBENCH_NVIDIA_SMI`, { command: this.command, exitCode: null, cause: result }));
                return;
            }
            const tail = this.stderrTail.trim().split('\n').slice(-3).join(' | ');
            this.fail(new TelemetryError(`nvidia-smi sampler exited unexpectedly (exit code ${result.exitCode ?? 'none'}${result.signal ? `, signal ${result.signal}` : ''})${tail ? `: ${tail}` : ''}`, { command: this.command, exitCode: result.exitCode ?? null, outputTail: this.stderrTail }));
        });
        this.lastSampleAtMs = Date.now();
    }
    handleLine(line) {
        if (line.trim() === '')
            return;
        if (SMI_ERROR_RE.test(line.trim())) {
            this.fail(new TelemetryError(`nvidia-smi reported: ${line.trim()}`, { command: this.command }));
            return;
        }
        let sample;
        try {
            sample = parseSampleLine(line, this.query.keys, 'UTC');
        }
        catch (err) {
            // One bad line is logged and skipped; a sampler printing only garbage goes silent and fails.
            this.badLines++;
            this.lastBadLine = sampleLineError(line, err);
            return;
        }
        this.lastSampleAtMs = Date.now();
        this.samplesSinceSpawn++;
        this.samples.push(sample);
        for (const fn of this.sampleListeners)
            fn(sample);
    }
    /** The last unparseable line's error, for diagnostics. */
    lastBadLine = null;
    get badLineCount() {
        return this.badLines;
    }
    checkSilence() {
        const silentS = (Date.now() - this.lastSampleAtMs) / 1000;
        const limitS = this.samplesSinceSpawn === 0 ? this.opts.firstSampleTimeoutS : this.opts.silenceTimeoutS;
        if (silentS > limitS) {
            const why = this.lastBadLine ? `; last unparseable line: ${this.lastBadLine.message}` : '';
            const what = this.samplesSinceSpawn === 0 ? 'printed no usable sample since it started' : 'went silent: no usable sample';
            this.fail(new TelemetryError(`nvidia-smi sampler ${what} for ${silentS.toFixed(1)} s (limit ${limitS} s)${why}`, { command: this.command }));
        }
    }
    fail(error) {
        if (this.failure || this.stopping)
            return;
        const nowS = Date.now() / 1000;
        const recent = this.incidents.filter((i) => nowS - i.tS <= this.opts.restartWindowS).length;
        if (this.samples.length > 0 && recent < this.opts.maxRestarts) {
            // Transient: report it, and start a new nvidia-smi (the old one is killed; its exit is ignored).
            this.incidents.push({ tS: nowS, message: error.message });
            for (const fn of this.incidentListeners)
                fn(error);
            this.process?.kill('SIGKILL');
            this.spawn();
            return;
        }
        this.failure = error;
        if (this.silenceTimer)
            clearInterval(this.silenceTimer);
        this.process?.kill('SIGKILL');
        for (const fn of this.errorListeners)
            fn(error);
    }
    /** Samples collected so far, optionally limited to [fromS, toS] and one GPU. */
    collected(filter = {}) {
        return this.samples.filter((s) => (filter.fromS === undefined || s.tS >= filter.fromS) &&
            (filter.toS === undefined || s.tS <= filter.toS) &&
            (filter.gpuIndex === undefined || s.gpuIndex === filter.gpuIndex));
    }
    /** Waits until a sample at or after `tS` exists for every sampled GPU (to close a window). */
    async waitForSampleAfter(tS, timeoutS = this.opts.silenceTimeoutS + 1) {
        const gpus = new Set(this.samples.map((s) => s.gpuIndex));
        const done = () => [...gpus].every((g) => this.samples.some((s) => s.gpuIndex === g && s.tS >= tS));
        if (done())
            return;
        if (this.failure)
            throw this.failure;
        await new Promise((resolve, reject) => {
            const timer = setTimeout(() => {
                cleanup();
                reject(new TelemetryError(`no nvidia-smi sample after ${new Date(tS * 1000).toISOString()} within ${timeoutS} s`));
            }, timeoutS * 1000);
            const offSample = this.onSample(() => {
                if (done()) {
                    cleanup();
                    resolve();
                }
            });
            const offError = this.onError((e) => {
                cleanup();
                reject(e);
            });
            const cleanup = () => {
                clearTimeout(timer);
                offSample();
                offError();
            };
        });
    }
    async stop() {
        this.stopping = true;
        if (this.silenceTimer)
            clearInterval(this.silenceTimer);
        if (!this.process)
            return;
        this.process.kill('SIGTERM');
        const killTimer = setTimeout(() => this.process?.kill('SIGKILL'), 2000);
        await this.process;
        clearTimeout(killTimer);
    }
}
//# sourceMappingURL=smi-sampler.js.map