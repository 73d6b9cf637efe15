import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    // One throwaway PostgreSQL cluster for the run (issue 10); each test file creates its own database.
    globalSetup: ['tests/helpers/postgres-global.ts'],
    // Tests spawn real child processes (fake nvidia-smi, the CLI): give them time on a 2-core machine.
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
