/**
 * Load generation (DESIGN section 5.3-5.4). A load generator keeps `batch` requests in flight
 * (closed loop) and records when output tokens arrived, so that tokens and energy are counted over the
 * same window. HTTP engines share one implementation (src/workload/openai-load.ts); offline engines
 * (transformers, llama-batched-bench, sim) implement the same interface with one segment per batch call.
 */
export {};
//# sourceMappingURL=types.js.map