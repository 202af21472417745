/**
 * A simulated run logged exactly as `tmr sim --log` logs it, with a clock the test controls (5 ms
 * a tick), for the black-box tests and the damage fuzz.
 */
import { blackBoxHeader } from '../../src/cli/black-box-cli.js';
import { BlackBoxWriter } from '../../src/loop/black-box.js';
import type { LoopOptions } from '../../src/loop/loop-model.js';
import { runSimulation } from '../../src/sim/simulator.js';

/** Simulates `options` and writes its log to `path`: the header at tick 0, every tick, the end record. */
export function logSimulationTo(path: string, options: LoopOptions, clock: { ms: number } = { ms: 0 }): void {
  const writer = new BlackBoxWriter(path, () => clock.ms);
  const summary = runSimulation(options, {
    onTick: (model, result) => {
      if (result.tick === 0) writer.writeHeader(blackBoxHeader(options, model, 'test'));
      writer.writeTick(result.tick, model.inputs, model.obs, result);
      clock.ms += 5;
    },
  });
  writer.writeEnd({ ticks: summary.ticks, reason: 'completed', unsafeCommands: summary.unsafeCommands, votedTraceHash: summary.votedTraceHash });
  writer.close();
}
