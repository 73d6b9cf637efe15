/** program.md `storage:` and run's --storage/--db choice (issue 10). */
import { describe, expect, it } from 'vitest';

import { InputError } from '../../src/errors.js';
import { parseProgram } from '../../src/program/parse.js';
import { chooseStorage } from '../../src/runner/run.js';

const program = (storage: string): string => `---
engine: sim
models: [{ id: sim/qwen2.5-0.5b, params: 0.49e9 }]
space: { quant: [bf16], batch: [1], input_len: [128], output_len: [128] }
storage: ${storage}
---
brief
`;

function errorOf(fn: () => unknown): InputError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(InputError);
    return error as InputError;
  }
  throw new Error('expected an InputError');
}

describe('program.md storage:', () => {
  it('accepts a PostgreSQL URL without password, or a results.db path', () => {
    expect(parseProgram(program('postgresql://bench@db.lab:5432/carbonbench')).program.storage).toBe('postgresql://bench@db.lab:5432/carbonbench');
    expect(parseProgram(program('./shared/results.db')).program.storage).toBe('./shared/results.db');
  });

  it('refuses a password (program.md is stored in results.db) without echoing it', () => {
    const e = errorOf(() => parseProgram(program('postgresql://bench:hunter2@db.lab/carbonbench')));
    expect(e.message).toMatch(/^program\.md: invalid front matter:\n {2}storage: "postgresql:\/\/bench:\*\*\*@db\.lab\/carbonbench" \(string\) — contains a password/);
    expect(e.message).toMatch(/PGPASSWORD/);
    expect(e.message).not.toContain('hunter2');
  });

  it('names the key and what is allowed for a bad URL or scheme', () => {
    const port = errorOf(() => parseProgram(program('postgresql://bench@db.lab:70000/x')));
    expect(port.message).toMatch(/storage: .* allowed: a PostgreSQL URL without password/);
    const scheme = errorOf(() => parseProgram(program('mysql://db.lab/x')));
    expect(scheme.message).toMatch(/storage: "mysql:\/\/db\.lab\/x" \(string\) — unsupported URL scheme "mysql"; allowed:/);
    const empty = errorOf(() => parseProgram(program('""')));
    expect(empty.message).toMatch(/storage: "" \(string\) — empty; allowed:/);
  });
});

describe('chooseStorage (run)', () => {
  const pg = 'postgresql://bench@db.lab/carbonbench';
  it('--storage, else an explicit --db, else program.md storage:, else the default --db', () => {
    expect(chooseStorage({ db: './results.db', storage: pg, programStorage: './other.db' })).toBe(pg);
    expect(chooseStorage({ db: './mine.db', dbExplicit: true, programStorage: pg })).toBe('./mine.db');
    expect(chooseStorage({ db: './results.db', programStorage: pg })).toBe(pg);
    expect(chooseStorage({ db: './results.db' })).toBe('./results.db');
    expect(chooseStorage({ db: pg, dbExplicit: true, storage: pg })).toBe(pg);
  });

  it('refuses --storage that is not PostgreSQL, and --storage with a different --db', () => {
    expect(errorOf(() => chooseStorage({ db: './results.db', storage: './x.db' })).message).toMatch(/--storage .* is not a PostgreSQL URL.*use --db/);
    const both = errorOf(() => chooseStorage({ db: './x.db', dbExplicit: true, storage: 'postgresql://u:secret@h/d' }));
    expect(both.message).toMatch(/name different databases/);
    expect(both.message).not.toContain('secret');
  });
});
