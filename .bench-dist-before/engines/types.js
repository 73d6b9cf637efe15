export const ENGINE_NAMES = ['vllm', 'llamacpp', 'transformers', 'sim', 'table'];
//# sourceMappingURL=types.js.map