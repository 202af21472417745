import { defineConfig } from 'vitest/config';

// Two projects, run one after the other by `npm test`: the unit suite (parallel, CPU-heavy
// property tests) and the real-time suite (real replica processes against tick deadlines), which
// must not share two cores with the property tests or it measures the machine, not tmr.
const REALTIME = ['test/runtime/realtime.test.ts', 'test/runtime/common-mode.test.ts', 'test/runtime/recovery.test.ts', 'test/runtime/boards.test.ts', 'test/runtime/voter-death.test.ts', 'test/runtime/avr-board.test.ts', 'test/hil/library.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 30_000,
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['test/**/*.test.ts'], exclude: [...REALTIME, 'test/soak/**'], maxWorkers: 2 },
      },
      {
        extends: true,
        test: { name: 'realtime', include: REALTIME, fileParallelism: false, testTimeout: 420_000 },
      },
      {
        // npm run soak only: timing claims held to their bounds (TMR_SOAK=1), one file at a time.
        extends: true,
        test: { name: 'soak', include: ['test/soak/**/*.test.ts'], fileParallelism: false, testTimeout: 420_000 },
      },
    ],
  },
});
