/**
 * `import { createRuntime } from 'tmr'`: the control loop as a library (README "Library").
 *
 * This module stays light: a law module imports 'tmr' for defineLaw, and every replica process
 * loads that law, so the runtime itself (the real-time runner, serial ports, the black-box
 * writer) is imported only when createRuntime is called (src/api/tmr-runtime.ts).
 */
import type { Runtime, RuntimeConfig, RuntimeOptions } from './runtime-types.js';

/**
 * A runtime for one run of `config` (the keys and checks of `tmr run --config FILE`; see
 * RuntimeConfig). Checks everything first, the law and plant loaded and checked against each
 * other: a configuration it refuses rejects with a ConfigError naming the field, and nothing has
 * started. Then listen with `runtime.on(...)` and run it with `await runtime.start()`.
 *
 * ```ts
 * const runtime = await createRuntime({ law: 'pid-q16', ticks: 2000, inject: ['crash:1@500'] }, { mode: 'simulation' });
 * runtime.on('replicaExcluded', (e) => console.log(`replica ${e.replicaIndex} out at tick ${e.tick}: ${e.reason}`));
 * const summary = await runtime.start();
 * ```
 */
export async function createRuntime(config: RuntimeConfig, options: RuntimeOptions = {}): Promise<Runtime> {
  const { openRuntime } = await import('./tmr-runtime.js');
  return openRuntime(config, options);
}
