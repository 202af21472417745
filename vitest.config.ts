import { defineConfig } from 'vitest/config';

// Three projects. `npm test` runs the unit suite (parallel, CPU-heavy property tests and
// deterministic simulations) and the real-time suite (real replica processes, ptys and emulators
// against tick deadlines, one file at a time) side by side (test/setup/run-suites.mjs): the
// real-time suite asserts only what holds on a loaded machine, so it may share the cores; its
// timing claims are figures there and bounds under `npm run soak` (TMR_SOAK=1, the real-time suite
// alone), which also runs test/soak/ (long runs, timing claims that need a quiet machine) and the
// whole HIL library.
const REALTIME = [
  'test/runtime/realtime.test.ts',
  'test/runtime/common-mode.test.ts',
  'test/runtime/recovery.test.ts',
  'test/runtime/boards.test.ts',
  'test/runtime/board-replug.test.ts',
  'test/runtime/voter-death.test.ts',
  'test/runtime/avr-board.test.ts',
  'test/runtime/lifetime.test.ts',
  'test/runtime/start-up.test.ts',
  'test/runtime/firmata-io.test.ts',
  'test/runtime/tcp-replicas.test.ts',
  'test/failover/election.test.ts',
  'test/failover/failover.test.ts',
  // Real processes on ptys (the simulated Firmata boards): one at a time, not beside the CPU-heavy unit files.
  'test/io/firmata-world.test.ts',
  'test/firmware-sim/firmata-plant.test.ts',
  'test/api/runtime-realtime.test.ts',
  'test/examples/examples.test.ts',
];
const SOAK_ONLY = ['test/soak/**/*.test.ts', 'test/hil/library.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 30_000,
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['test/**/*.test.ts'], exclude: [...REALTIME, ...SOAK_ONLY], maxWorkers: 2 },
      },
      {
        extends: true,
        test: { name: 'realtime', include: REALTIME, fileParallelism: false, testTimeout: 420_000 },
      },
      {
        // npm run soak only: timing claims held to their bounds (TMR_SOAK=1), one file at a time.
        extends: true,
        test: { name: 'soak', include: SOAK_ONLY, fileParallelism: false, testTimeout: 420_000 },
      },
    ],
  },
});
