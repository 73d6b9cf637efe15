/** The engine registry (STYLE.md: a typed registry of plain objects, each engine lazy-loaded). */
import { InputError, describeValue } from '../errors.js';
import { ENGINE_NAMES, type Engine, type EngineName } from './types.js';

const LOADERS: Record<EngineName, () => Promise<Engine>> = {
  vllm: async () => (await import('./vllm.js')).vllmEngine,
  llamacpp: async () => (await import('./llamacpp.js')).llamacppEngine,
  transformers: async () => (await import('./transformers.js')).transformersEngine,
  sim: async () => (await import('./sim.js')).simEngine,
  table: async () => (await import('./table.js')).tableEngine,
};

export function isEngineName(name: string): name is EngineName {
  return (ENGINE_NAMES as readonly string[]).includes(name);
}

export async function getEngine(name: string): Promise<Engine> {
  if (!isEngineName(name)) throw new InputError(`engine ${describeValue(name)} is unknown; allowed: ${ENGINE_NAMES.join(', ')}`);
  return LOADERS[name]();
}
