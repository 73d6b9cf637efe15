/**
 * Engine processes: launched with an argument array (never a shell) as the leader of a new process
 * group, output appended to a log file, readiness polled over HTTP, and stopped as a whole group
 * (SIGTERM, then SIGKILL after a grace period) with a check that no member survived.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { execa } from 'execa';
import { EngineError } from '../errors.js';
/** Last `n` lines of a log file ('' when unreadable). */
export function tailLines(file, n = 20) {
    try {
        const lines = readFileSync(file, 'utf8').split(/\r?\n/);
        while (lines.length > 0 && lines[lines.length - 1] === '')
            lines.pop();
        return lines.slice(-n).join('\n');
    }
    catch {
        return '';
    }
}
/** A TCP port that was free a moment ago on 127.0.0.1. */
export async function freePort() {
    return new Promise((resolve, reject) => {
        const server = createServer();
        server.unref();
        server.on('error', reject);
        server.listen(0, '127.0.0.1', () => {
            const address = server.address();
            server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
        });
    });
}
/** PIDs of live processes whose process group is `pgid` (Linux /proc; zombies excluded). */
export function processGroupMembers(pgid) {
    const members = [];
    let entries;
    try {
        entries = readdirSync('/proc');
    }
    catch {
        return members;
    }
    for (const entry of entries) {
        if (!/^\d+$/.test(entry))
            continue;
        try {
            const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
            // Fields after the parenthesised command name: state ppid pgrp …
            const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
            if (rest[0] !== 'Z' && Number(rest[2]) === pgid)
                members.push(Number(entry));
        }
        catch {
            // the process ended while we looked
        }
    }
    return members;
}
function signalGroup(pgid, signal) {
    try {
        process.kill(-pgid, signal);
    }
    catch {
        // the group is already gone
    }
}
export function launch(opts) {
    const env = opts.env ?? {};
    const piped = opts.stdio === 'pipe';
    const child = execa(opts.command, [...opts.args], {
        detached: true, // leader of a new process group: stop() signals every descendant
        stdin: piped ? 'pipe' : 'ignore',
        // Both streams append to the log file (O_APPEND: lines interleave, nothing is overwritten), unless
        // stdout is the caller's channel (then execa must not buffer it: the caller reads it as it comes).
        stdout: piped ? 'pipe' : { file: opts.logFile, append: true },
        stderr: { file: opts.logFile, append: true },
        buffer: !piped,
        env,
        cwd: opts.cwd ?? process.cwd(),
        reject: false,
        cleanup: true,
    });
    const command = [opts.command, ...opts.args];
    if (child.pid === undefined) {
        // execa reports spawn errors (ENOENT) through the promise; make them an EngineError.
        const died = child.then((r) => {
            throw new EngineError(`could not start ${opts.command}: ${r.shortMessage ?? r.message ?? 'spawn failed'}`, { command });
        });
        died.catch(() => { });
        return { pid: -1, command, logFile: opts.logFile, died, exited: true, stdin: null, stdout: null, stop: async () => { } };
    }
    const pid = child.pid;
    let exited = false;
    let stopping = false;
    const started = Date.now();
    const died = child.then((result) => {
        exited = true;
        if (stopping)
            return new Promise(() => { });
        const how = result.signal ? `was killed by ${result.signal}` : `exited with code ${result.exitCode}`;
        const spawnError = result.exitCode === undefined && !result.signal ? `: ${result.shortMessage}` : '';
        const tail = tailLines(opts.logFile);
        throw new EngineError(`${opts.command} ${how}${spawnError}${tail ? `; last log lines:\n${tail}` : ' (no output)'}`, {
            command,
            exitCode: result.exitCode ?? null,
            outputTail: tail,
            durationMs: Date.now() - started,
        });
    });
    died.catch(() => { }); // observed by whoever awaits it; never an unhandled rejection
    return {
        pid,
        command,
        logFile: opts.logFile,
        died,
        get exited() {
            return exited;
        },
        stdin: piped ? child.stdin : null,
        stdout: piped ? child.stdout : null,
        async stop(graceMs = 10_000) {
            stopping = true;
            signalGroup(pid, 'SIGTERM');
            const deadline = Date.now() + graceMs;
            while (Date.now() < deadline && processGroupMembers(pid).length > 0)
                await new Promise((r) => setTimeout(r, 50));
            if (processGroupMembers(pid).length > 0)
                signalGroup(pid, 'SIGKILL');
            const killDeadline = Date.now() + 5000;
            while (Date.now() < killDeadline && processGroupMembers(pid).length > 0)
                await new Promise((r) => setTimeout(r, 50));
            await child.catch(() => { });
            const left = processGroupMembers(pid);
            if (left.length > 0) {
                throw new EngineError(`process group ${pid} of ${opts.command} still has live members after SIGKILL: ${left.join(', ')}`, { command });
            }
        },
    };
}
/**
 * Polls `url` until it answers 200, the process dies, the deadline passes, or `signal` aborts.
 * `describeNotReady` turns a non-200 answer into a progress note (e.g. llama-server's 503 "Loading model").
 */
export async function waitForHealth(opts) {
    const deadline = Date.now() + opts.timeoutS * 1000;
    let last = 'no answer yet';
    const deathWatch = opts.proc.died;
    for (;;) {
        if (opts.signal?.aborted)
            throw opts.signal.reason;
        try {
            const probeMs = Math.max(100, Math.min(5000, deadline - Date.now()));
            const res = await Promise.race([fetch(opts.url, { signal: AbortSignal.timeout(probeMs) }), deathWatch]);
            if (res.status === 200)
                return;
            last = `HTTP ${res.status} ${(await res.text()).slice(0, 200)}`;
        }
        catch (err) {
            if (err instanceof EngineError)
                throw err;
            last = err.cause instanceof Error ? err.cause.message : err.message;
        }
        if (Date.now() > deadline) {
            const tail = tailLines(opts.proc.logFile);
            throw new EngineError(`${opts.proc.command[0]} did not become ready within ${opts.timeoutS} s (${opts.url}: ${last})${tail ? `; last log lines:\n${tail}` : ''}`, {
                command: opts.proc.command,
                outputTail: tail,
            });
        }
        await Promise.race([new Promise((r) => setTimeout(r, opts.intervalMs ?? 250)), deathWatch]);
    }
}
//# sourceMappingURL=process.js.map