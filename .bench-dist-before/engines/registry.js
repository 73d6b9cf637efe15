/** The engine registry (STYLE.md: a typed registry of plain objects, each engine lazy-loaded). */
import { InputError, describeValue } from '../errors.js';
import { ENGINE_NAMES } from './types.js';
const LOADERS = {
    vllm: async () => (await import('./vllm.js')).vllmEngine,
    llamacpp: async () => (await import('./llamacpp.js')).llamacppEngine,
    transformers: async () => (await import('./transformers.js')).transformersEngine,
    sim: async () => (await import('./sim.js')).simEngine,
    table: async () => (await import('./table.js')).tableEngine,
};
export function isEngineName(name) {
    return ENGINE_NAMES.includes(name);
}
export async function getEngine(name) {
    if (!isEngineName(name))
        throw new InputError(`engine ${describeValue(name)} is unknown; allowed: ${ENGINE_NAMES.join(', ')}`);
    return LOADERS[name]();
}
//# sourceMappingURL=registry.js.map