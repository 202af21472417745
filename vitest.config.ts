import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 30_000,
    // Process-level tests spawn replicas; two cores cannot run many at once without
    // starving the deadlines they measure.
    maxWorkers: 2,
  },
});
