/**
 * Embedding tmr in an application that reacts to what happens, as it happens.
 *
 *   npx tsx examples/embed-events.ts
 *
 * Three Node replica processes run pid-q16 on the simulated motor in real time at 100 Hz, with
 * recovery on: an excluded replica is restarted, given the majority's state, watched on
 * probation for 50 ticks and counted again. Two faults are injected: replica 1 sends wrong
 * commands from tick 100 for 100 ticks, and replica 2's process crashes at tick 400. Every
 * exclusion, probation, re-admission and mode change is printed from the runtime's events the
 * moment the loop reports it (nothing here reads tmr's output). Once replica 2 is back in the
 * vote after its crash and the loop is in TMR again, the application has seen what it wanted and
 * stops the run early from an event listener: the actuator is sent its safe command and the
 * replicas are stopped. At the end it prints the summary's mode history beside what the events
 * said (they agree), and exits 1 if any command ever reached the actuator without a majority
 * behind it. On a busy machine a replica may also be excluded for its timing (and come back):
 * the events say so as they happen.
 */
import { createRuntime, type RealtimeRunSummary } from 'tmr';

const runtime = await createRuntime(
  { law: 'pid-q16', rateHz: 100, ticks: 1500, recovery: true },
  { mode: 'realtime' }, // real processes against the wall clock, as `tmr run`
);
// The object form of an `inject` entry (before start() only).
runtime.injectFault({ kind: 'wrong', replica: 1, atTick: 100, durationTicks: 100 });
runtime.injectFault({ kind: 'crash', replica: 2, atTick: 400 }); // CRASH_TICK below

// Listeners run synchronously inside the loop, so keep them short (a slow one delays the tick).
runtime.on('ready', (e) => console.log(`ready: ${e.replicas.map((r) => `replica ${r.index} = ${r.name}`).join(', ')}`));
runtime.on('replicaExcluded', (e) => console.log(`tick ${e.tick}: replica ${e.replicaIndex} excluded: ${e.reason}`));
runtime.on('probationStarted', (e) => console.log(`tick ${e.tick}: replica ${e.replicaIndex} on probation (${e.name})`));
runtime.on('modeChange', (e) => console.log(`tick ${e.inForceFromTick}: mode ${e.from} -> ${e.to} (${e.reason})`));
runtime.on('killSwitch', (e) => console.log(`tick ${e.tick}: kill switch ${e.trigger}: ${e.detail}`));
const CRASH_TICK = 400;
let crashedReplicaBack = false;
runtime.on('replicaReadmitted', (e) => {
  console.log(`tick ${e.countedFromTick}: replica ${e.replicaIndex} back in the vote`);
  if (e.replicaIndex === 2 && e.tick > CRASH_TICK) crashedReplicaBack = true;
});
// What the events said of the modes, to set beside the summary at the end.
const modesFromEvents: string[] = ['tmr@0'];
runtime.on('modeChange', (e) => modesFromEvents.push(`${e.to}@${e.inForceFromTick}`));
// Reacting to an event: once the crashed replica counts again and the loop is back in TMR, this
// application has seen what it wanted. stop() ends the run after this tick, as Ctrl-C does to
// `tmr run`. The tick event comes every tick, one object reused: read it, copy what you keep.
runtime.on('tick', (e) => {
  if (crashedReplicaBack && e.mode === 'tmr') {
    console.log(`tick ${e.tick}: TMR again after both faults, stopping early`);
    crashedReplicaBack = false;
    runtime.stop();
  }
});
process.once('SIGINT', () => runtime.stop());

const summary = (await runtime.start()) as RealtimeRunSummary;
console.log(`ran ${summary.ticks} of 1500 ticks${summary.interrupted ? ' (stopped early)' : ''}: ${summary.commands.voted} commands voted, ${summary.commands.safe} safe`);
console.log(`modes from events:  ${modesFromEvents.join(' ')}`);
console.log(`modes from summary: ${summary.modeHistory.map((m) => `${m.mode}@${m.tick}`).join(' ')}`);
console.log(`unsafe commands: ${summary.unsafeCommands}`);
process.exitCode = summary.unsafeCommands === 0 ? 0 : 1;
