import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { parseProgram } from '../../src/program/parse.js';

const GOOD = `---
engine: vllm
models:
  - { id: Qwen/Qwen2.5-0.5B-Instruct, params: 0.49e9, family: qwen2.5 }
  - { id: Qwen/Qwen2.5-7B-Instruct, params: 7.6e9, family: qwen2.5, variants: { awq: Qwen/Qwen2.5-7B-Instruct-AWQ } }
space:
  quant: [bf16, fp8, awq]
  batch: [1, 2, 4, 8, 16, 32, 64]
  input_len: [128, 512, 2048]
  output_len: [128, 512]
objective: { minimize: sci, constraint: "bpb <= 1.02 * baseline" }
budget: { experiments: 120, hours: 8, experiment_seconds: 300 }
carbon: { region: US-NE-ISNE }
safety: { abort_temp_c: 85, cooldown_temp_c: 50, cooldown_max_s: 300 }
agent: { model: gpt-4.1-mini, base_url_env: OPENAI_BASE_URL, api_key_env: OPENAI_API_KEY }
---
# Research brief

Prefer quantizations that keep BPB within 2% of bf16.
`;

function errorOf(text: string): string {
  try {
    parseProgram(text, 'program.md');
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    return (err as Error).message;
  }
  throw new Error('expected an InputError');
}

describe('parseProgram', () => {
  it("parses DESIGN section 4's example and keeps the prose", () => {
    const p = parseProgram(GOOD);
    expect(p.program.engine).toBe('vllm');
    expect(p.program.models[1]).toEqual({ id: 'Qwen/Qwen2.5-7B-Instruct', params: 7.6e9, family: 'qwen2.5', variants: { awq: 'Qwen/Qwen2.5-7B-Instruct-AWQ' } });
    expect(p.program.space.batch).toEqual([1, 2, 4, 8, 16, 32, 64]);
    expect(p.program.budget.experiment_seconds).toBe(300);
    expect(p.program.engine_options).toEqual({});
    expect(p.prose).toMatch(/^# Research brief\n\nPrefer quantizations/);
    expect(p.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('fills defaults for optional blocks', () => {
    const p = parseProgram(`---\nengine: sim\nmodels: [{ id: m }]\nspace: { quant: [bf16], batch: [1], input_len: [128], output_len: [128] }\n---\n`);
    expect(p.program.safety).toEqual({ abort_temp_c: 85, cooldown_temp_c: 50, cooldown_max_s: 300 });
    expect(p.program.budget).toEqual({ experiments: 120, hours: 8, experiment_seconds: 300 });
  });

  it('names the key, the value and what is allowed', () => {
    expect(errorOf(GOOD.replace('batch: [1, 2, 4,', 'batch: [1, -2, 4,'))).toMatch(/space\.batch\[1\]: -2 \(number\) — allowed: an integer from 1 to 4096/);
    expect(errorOf(GOOD.replace('engine: vllm', 'engine: tgi'))).toMatch(/engine: "tgi" \(string\) — allowed: vllm, llamacpp, transformers, sim, table/);
    expect(errorOf(GOOD.replace('budget: {', 'budjet: {'))).toMatch(/unknown key "budjet"/);
    expect(errorOf(GOOD.replace('abort_temp_c: 85', 'abort_temp_c: "hot"'))).toMatch(/safety\.abort_temp_c: "hot" \(string\) — allowed: °C from 40 to 110/);
    expect(errorOf(GOOD.replace('quant: [bf16, fp8, awq]', 'quant: []'))).toMatch(/space\.quant: \[\] \(array\) — allowed: a non-empty list/);
    expect(errorOf(GOOD.replace('cooldown_temp_c: 50', 'cooldown_temp_c: 90'))).toMatch(/cooldown_temp_c below abort_temp_c/);
    expect(errorOf(GOOD.replace('api_key_env: OPENAI_API_KEY', 'api_key_env: "sk-live-123"'))).toMatch(/NAME of an environment variable/);
  });

  it('reports missing front matter, broken YAML with its line, and non-mapping front matter', () => {
    expect(errorOf('# just prose\n')).toMatch(/no YAML front matter/);
    expect(errorOf('---\nengine: vllm\nmodels: [\n---\n')).toMatch(/not valid YAML/);
    expect(errorOf('---\n- a\n- b\n---\n')).toMatch(/must be a mapping/);
    expect(errorOf('---\nengine: vllm\nengine: sim\n---\n')).toMatch(/not valid YAML/);
  });

  it('refuses text that was not UTF-8', () => {
    const latin1 = Buffer.from('---\nengine: vllm\n# caf\xe9\n---\n', 'latin1').toString('utf8');
    expect(errorOf(latin1)).toMatch(/not valid UTF-8/);
  });

  it('refuses model ids that are not ids or paths: shell metacharacters, option-like, ".." segments', () => {
    expect(errorOf(GOOD.replace('id: Qwen/Qwen2.5-0.5B-Instruct', 'id: "a;rm -rf $(HOME)/../x"'))).toMatch(/models\[0\]\.id: .* contains ";"; allowed: a model id/);
    expect(errorOf(GOOD.replace('id: Qwen/Qwen2.5-0.5B-Instruct', 'id: "--trust-remote-code"'))).toMatch(/starts with "-"/);
    expect(errorOf(GOOD.replace('id: Qwen/Qwen2.5-0.5B-Instruct', 'id: "models/../../etc"'))).toMatch(/".." path segment/);
    expect(errorOf(GOOD.replace('id: Qwen/Qwen2.5-0.5B-Instruct', 'id: "a\\nb"'))).toMatch(/contains/);
    // Ordinary paths with spaces are fine.
    expect(parseProgram(GOOD.replace('id: Qwen/Qwen2.5-0.5B-Instruct', 'id: "/models/My Model/q8_0.gguf"')).program.models[0]!.id).toBe('/models/My Model/q8_0.gguf');
  });
});

describe('the shipped example program.md', () => {
  it('parses', async () => {
    const { readFileSync } = await import('node:fs');
    const p = parseProgram(readFileSync(new URL('../../program.md', import.meta.url), 'utf8'));
    expect(p.program.models.map((m) => m.id)).toContain('Qwen/Qwen2.5-7B-Instruct');
    expect(p.prose).toMatch(/Research brief/);
  });
});
