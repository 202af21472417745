/**
 * A real I/O bench: the loop closes through a board running StandardFirmata.
 *
 *   npx tsx examples/firmata-bench.ts                 # the simulated Firmata board on a pty
 *   npx tsx examples/firmata-bench.ts /dev/ttyACM0    # a real Uno wired as boards/firmata/README.md says
 *
 * Three Node replicas run pid-q16 at 100 Hz for 600 ticks (6 s). Each tick the voter reads the
 * motor's shaft potentiometer on A0 through johnny-five, the replicas compute, and the voted
 * command goes to the drive's servo input on pin 9, with a heartbeat edge on pin 8 for its
 * dead-man; boards/firmata/motor-io.json says so. Without a port the board is simulated: a
 * process on a pseudo-terminal that speaks Firmata as StandardFirmata does and runs the motor on
 * its own clock, so the bytes are real both ways. Replica 1 sends wrong commands for a second from
 * tick 200; the vote masks it. It prints any input fault as it happens (from the inputFault
 * event), then what went over the wire from the summary's `io`, and exits 1 if a command ever
 * lacked a majority or nothing went over the wire.
 *
 * A sensor that goes stale (no sample for the map's staleAfterMs) or out of range holds its last
 * value for holdTicks; still bad then, the run stops with the actuator safe (kill switch
 * INPUT_FAULT) before anything is commanded from a stale reading. On a real bench that is 50 ms
 * and 5 ticks. The simulated board shares this machine with whatever else runs on it, so its map
 * (examples/motor-io-sim.json, otherwise the same) allows 1 s and 100 ticks.
 */
import { fileURLToPath } from 'node:url';
import { createRuntime, type RealtimeRunSummary, type TmrExtension } from 'tmr';

const port = process.argv[2];
// `firmata:PATH[@BAUD]` is built in. The simulated board is an extension that ships beside the
// library ('tmr/firmware-sim'); an application passes the extensions it wants to createRuntime.
const extensions: TmrExtension[] = port === undefined ? [(await import('tmr/firmware-sim')).default] : [];

const runtime = await createRuntime(
  {
    law: 'pid-q16',
    io: port === undefined ? 'firmata-sim' : `firmata:${port}`,
    ioMap: fileURLToPath(new URL(port === undefined ? './motor-io-sim.json' : '../boards/firmata/motor-io.json', import.meta.url)),
    rateHz: 100,
    ticks: 600,
    inject: ['wrong:1@200+100'],
  },
  { mode: 'realtime', extensions },
);

runtime.on('attached', (e) => console.log(`${e.kind}: ${e.description}`));
runtime.on('ready', (e) => console.log(`ready: ${e.replicas.map((r) => `replica ${r.index} ${r.name}`).join(', ')}`));
runtime.on('inputFault', (e) => {
  const why = e.kind === 'inputRecovered' ? `recovered after ${e.heldTicks} ticks held` : `${e.reason}${e.kind === 'inputHoldExpired' ? ', held too long: the run stops safe' : ''}`;
  console.log(`tick ${e.tick}: input channel ${e.channel}: ${e.kind} ${why}`);
});
runtime.on('killSwitch', (e) => console.log(`tick ${e.tick}: kill switch ${e.trigger}: ${e.detail}`));
runtime.on('replicaExcluded', (e) => console.log(`tick ${e.tick}: replica ${e.replicaIndex} excluded: ${e.reason}`));
// The library installs no signal handler: Ctrl-C is ours to map to an orderly stop (actuator safe).
process.once('SIGINT', () => runtime.stop());

const summary = (await runtime.start()) as RealtimeRunSummary;
const io = summary.io!;
console.log(`sensor samples: ${io.sensorSamples} (${io.inputs.map((i) => `${i.channel} ${i.samples}`).join(', ')})`);
console.log(`actuator writes: ${io.actuatorWrites} (${io.outputs.map((o) => `${o.channel} ${o.writes}`).join(', ')})`);
console.log(`heartbeat edges: ${io.heartbeatEdges}; sample age at the tick: p50 ${io.sampleAgeMs.p50} ms, p99 ${io.sampleAgeMs.p99} ms`);
console.log(`board lost: ${io.boardLost === null ? 'no' : `at tick ${io.boardLost.tick}: ${io.boardLost.detail}`}`);
console.log(`tracking: worst ${summary.tracking.maxAbsError} ${summary.tracking.unit}, final ${summary.tracking.finalError} ${summary.tracking.unit}`);
console.log(`ticks: ${summary.ticks}, commands voted: ${summary.commands.voted}, unsafe commands: ${summary.unsafeCommands}`);

process.exitCode = summary.unsafeCommands === 0 && io.sensorSamples > 0 && io.actuatorWrites > 0 ? 0 : 1;
