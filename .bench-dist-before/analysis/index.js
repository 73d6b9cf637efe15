/** Analysis of results.db (DESIGN sections 3 and 9): re-exports only. */
export * from './calculator.js';
export * from './export.js';
export * from './leaderboard.js';
export * from './pareto.js';
export * from './query.js';
export * from './scaling.js';
export * from './present.js';
//# sourceMappingURL=index.js.map