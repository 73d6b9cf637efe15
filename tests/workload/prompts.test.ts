import { describe, expect, it } from 'vitest';
import { createPromptBuilder, seededText, textWordsFor } from '../../src/workload/prompts.js';

describe('seeded prompts', () => {
  it('seededText is deterministic for a seed and differs between seeds', () => {
    const a = seededText(1, 500);
    expect(seededText(1, 500)).toBe(a);
    expect(seededText(2, 500)).not.toBe(a);
    expect(a.split(/\s+/).filter(Boolean)).toHaveLength(500);
    expect(a).toMatch(/^[A-Z]/);
    expect(textWordsFor(128)).toBe(1024);
    expect(textWordsFor(8192)).toBe(10240);
  });

  it('every prompt has exactly inputLen tokens from the pool; deterministic for (pool, seed, u)', () => {
    const pool = Array.from({ length: 700 }, (_, i) => 1000 + ((i * 37) % 211));
    const b = createPromptBuilder(pool, 128, 5);
    expect(b.alphabet).toBe(211);
    expect(b.prefixLen).toBe(4); // 211^4 ≥ 1e9 > 211^3
    for (const u of [0, 1, 2, 210, 211, 99_999, 123_456_789]) {
      const p = b.prompt(u);
      expect(p).toHaveLength(128);
      for (const t of p) expect(pool).toContain(t);
      expect(b.prompt(u)).toEqual(p);
    }
    expect(createPromptBuilder(pool, 128, 6).prompt(7)).not.toEqual(b.prompt(7));
  });

  it('no two of the first 200,000 prompts share their first prefixLen tokens', () => {
    const pool = Array.from({ length: 1000 }, (_, i) => i % 97);
    const b = createPromptBuilder(pool, 64, 1);
    const seen = new Set<string>();
    for (let u = 0; u < 200_000; u++) seen.add(b.prompt(u).slice(0, b.prefixLen).join(','));
    expect(seen.size).toBe(200_000);
    // The first token varies fastest: consecutive prompts differ in their very first token.
    expect(b.prompt(0)[0]).not.toBe(b.prompt(1)[0]);
  });

  it('short prompts and short pools still have the exact length (the pool wraps)', () => {
    const b = createPromptBuilder([5, 6, 7], 2, 0);
    expect(b.prefixLen).toBe(2);
    expect(b.prompt(4)).toHaveLength(2);
    const long = createPromptBuilder([5, 6, 7], 1000, 0);
    expect(long.prompt(3)).toHaveLength(1000);
    expect(() => createPromptBuilder([], 10, 0)).toThrow(/non-empty/);
    expect(() => createPromptBuilder([1, 2], 0, 0)).toThrow(/inputLen/);
  });
});
