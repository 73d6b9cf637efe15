import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import type { AgentContext } from '../../src/agent/prompt.js';
import type { Observation, SearchSpace, SpacePoint } from '../../src/search/types.js';

export const SPACE: SearchSpace = {
  models: ['Qwen/Qwen2.5-0.5B-Instruct', 'Qwen/Qwen2.5-7B-Instruct'],
  quant: ['bf16', 'fp8', 'awq'],
  batch: [1, 8, 32],
  inputLen: [128, 512],
  outputLen: [128, 512],
};

export const PROSE = 'Prefer quantizations that keep BPB within 2% of bf16. Explore batch sizes above 8 only for models under 1B.';

export function point(model: string, quant: string, batch: number, inputLen = 128, outputLen = 128): SpacePoint {
  return { model, quant, batch, inputLen, outputLen };
}

export function obs(p: SpacePoint, sciUg: number | null, bpb: number | null, tokS: number | null, status: 'ok' | 'failed' = 'ok'): Observation {
  return { point: p, status, sciUg, bpb, tokS, phase: 'grid' };
}

export const SMALL = SPACE.models[0]!;
export const LARGE = SPACE.models[1]!;

export const HISTORY: Observation[] = [
  obs(point(SMALL, 'bf16', 1), 950.5, 0.9812, 41.2),
  obs(point(SMALL, 'bf16', 32), 61.25, 0.9812, 1030),
  obs(point(LARGE, 'awq', 32), null, null, null, 'failed'),
  obs(point(LARGE, 'bf16', 8), 310.7, 0.7421, 180.4),
];

export const CANDIDATES: SpacePoint[] = [point(SMALL, 'fp8', 32), point(LARGE, 'fp8', 8, 512, 512)];

export function context(over: Partial<AgentContext> = {}): AgentContext {
  return { prose: PROSE, space: SPACE, history: HISTORY, phase: 'grid', candidates: CANDIDATES, ...over };
}

/** A pino logger whose every written line is kept in `lines`. */
export function captureLog(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return { log: pino({ level: 'debug' }, stream), lines };
}
