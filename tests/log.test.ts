import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, maskSecrets, secretValues } from '../src/log.js';

const SECRET = 'sk-test-0123456789abcdefSECRET';

afterEach(() => {
  delete process.env.OPENAI_API_KEY;
  delete process.env.ELECTRICITYMAPS_TOKEN;
});

describe('logging', () => {
  it('writes JSON lines to the file and never the value of a secret environment variable', () => {
    process.env.OPENAI_API_KEY = SECRET;
    process.env.ELECTRICITYMAPS_TOKEN = 'em-token-777777777';
    const file = join(mkdtempSync(join(tmpdir(), 'cb-log-')), 'experiments', 'run.log');
    const log = createLogger({ file, console: false });
    log.info({ apiKey: SECRET, agent: { api_key: SECRET, headers: { authorization: `Bearer ${SECRET}` } } }, 'calling the agent');
    log.warn(`request failed for key ${SECRET} with token em-token-777777777`);
    log.error({ err: new Error(`401 for ${SECRET}`) }, 'agent error');
    log.flush();
    const text = readFileSync(file, 'utf8');
    const lines = text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(3);
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain('em-token-777777777');
    expect(lines[0]).toMatchObject({ msg: 'calling the agent', apiKey: '[REDACTED]', agent: { api_key: '[REDACTED]', headers: { authorization: '[REDACTED]' } } });
    expect(lines[1]!.msg).toBe('request failed for key [REDACTED] with token [REDACTED]');
    expect(JSON.stringify(lines[2])).toContain('401 for [REDACTED]');
  });

  it('masks the password of a connection URL in any log line (issue 10)', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'cb-log-')), 'run.log');
    const log = createLogger({ file, console: false });
    log.info({ db: 'postgresql://bench:pw-short@db.lab:5432/carbonbench' }, 'opened postgresql://bench:pw-short@db.lab/c');
    log.flush();
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain('pw-short');
    expect(JSON.parse(text.trim()) as Record<string, unknown>).toMatchObject({
      db: 'postgresql://bench:***@db.lab:5432/carbonbench',
      msg: 'opened postgresql://bench:***@db.lab/c',
    });
  });

  it('only masks secret-looking variables of useful length', () => {
    const values = secretValues({ OPENAI_API_KEY: SECRET, HOME: '/root/very/long/path', SHORT_TOKEN: 'abc', DB_PASSWORD: 'hunter2hunter2' });
    expect(values).toEqual([SECRET, 'hunter2hunter2']);
    expect(maskSecrets('a hunter2hunter2 b', values)).toBe('a [REDACTED] b');
  });
});
