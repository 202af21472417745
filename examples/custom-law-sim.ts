/**
 * Your own control law under tmr, in simulation.
 *
 *   npx tsx examples/custom-law-sim.ts
 *
 * Runs the fan speed controller of examples/laws/fan-pi.ts (a PI law in integer fixed-point,
 * written with defineLaw, plus the fan it drives) on three in-process replicas in simulated
 * time: 2000 ticks at 200 Hz, done in well under a second. At tick 600 replica 1 starts sending
 * a wrong duty cycle for 200 ticks. The voter sees it disagree with the other two, excludes it,
 * and goes on in duplex on the two that agree: every command the fan gets is still voted, and it
 * keeps tracking its setpoint. It prints the run's key numbers from the summary; a simulated run
 * is a pure function of its configuration, so it prints the same every time.
 */
import { fileURLToPath } from 'node:url';
import { createRuntime, type SimulationSummary } from 'tmr';

// A law is a module path (a .ts file loads through tsx). Its `plant` export is the world it runs
// against unless the config names another.
const law = fileURLToPath(new URL('./laws/fan-pi.ts', import.meta.url));

const runtime = await createRuntime(
  { law, rateHz: 200, ticks: 2000, seed: 7, inject: ['wrong:1@600+200'] },
  { mode: 'simulation' },
);
// In simulation start() resolves with a SimulationSummary (what `tmr sim --json` prints).
const summary = (await runtime.start()) as SimulationSummary;

console.log(`law ${summary.law.name} v${summary.law.version} (self-test ${summary.law.selfTestHash}) on plant ${summary.plant}, ${summary.replicaCount} replicas`);
console.log(`ticks: ${summary.ticks} at ${summary.rateHz} Hz`);
const { voted, held, simplex, safe } = summary.commands;
console.log(`commands: ${voted} voted, ${held} held, ${simplex} simplex, ${safe} safe`);
for (const f of summary.faults) {
  const seen = f.detectedTick === null ? 'not detected' : `detected at tick ${f.detectedTick} (${f.reason})`;
  console.log(`fault: ${f.kind} on replica ${f.replica} at tick ${f.injectedTick} for ${f.durationTicks} ticks, ${seen}`);
}
console.log(`modes: ${summary.modeHistory.map((m) => `${m.mode}@${m.tick}`).join(' -> ')}`);
const t = summary.tracking;
console.log(`tracking: final error ${t.finalError} ${t.unit}, worst ${t.maxAbsError} ${t.unit} (the setpoint steps count)`);
console.log(`unsafe commands: ${summary.unsafeCommands}`);

// Masked: nothing reached the fan without a majority behind it, and every command was voted.
process.exitCode = summary.unsafeCommands === 0 && voted === summary.ticks ? 0 : 1;
