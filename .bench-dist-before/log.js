/**
 * Logging with pino: JSON lines to a file (under experiments/) and readable lines on stderr when it is
 * a TTY. Secrets never reach a log: known key paths are redacted by pino, and the values of secret-
 * looking environment variables (…KEY, …TOKEN, …SECRET, …PASSWORD) are masked in every written line.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import pino from 'pino';
import pretty from 'pino-pretty';
const SECRET_NAME_RE = /(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?)$/i;
/** Values of environment variables that look secret (at least 8 characters, to avoid masking noise). */
export function secretValues(env = process.env) {
    return Object.entries(env)
        .filter(([name, value]) => SECRET_NAME_RE.test(name) && typeof value === 'string' && value.length >= 8)
        .map(([, value]) => value)
        .sort((a, b) => b.length - a.length);
}
export function maskSecrets(text, secrets) {
    let out = text;
    for (const s of secrets)
        if (out.includes(s))
            out = out.split(s).join('[REDACTED]');
    return out;
}
export const REDACT_PATHS = [
    'apiKey',
    'api_key',
    '*.apiKey',
    '*.api_key',
    'authorization',
    '*.authorization',
    'headers.authorization',
    '*.headers.authorization',
    'password',
    '*.password',
];
export function createLogger(opts = {}) {
    const secrets = secretValues();
    const streams = [];
    if (opts.file) {
        mkdirSync(dirname(opts.file), { recursive: true });
        streams.push({ stream: pino.destination({ dest: opts.file, sync: true, mkdir: true }) });
    }
    if (opts.console ?? process.stderr.isTTY) {
        streams.push({ stream: pretty({ destination: 2, sync: true, colorize: process.stderr.isTTY, ignore: 'pid,hostname' }) });
    }
    return pino({
        level: opts.level ?? process.env.CARBONBENCH_LOG_LEVEL ?? 'info',
        redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
        hooks: { streamWrite: (line) => maskSecrets(line, secrets) },
    }, streams.length > 0 ? pino.multistream(streams) : pino.destination({ dest: '/dev/null', sync: true }));
}
//# sourceMappingURL=log.js.map