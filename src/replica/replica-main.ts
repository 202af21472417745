/**
 * The Node replica process: speaks protocol v1 on stdin/stdout through a ReplicaEndpoint, and
 * exits when its stdin closes (the host is gone: a replica never outlives its voter).
 *
 * Options (test hooks): --law-hash=N reports another law self-test hash, as a replica built with a
 * different control law would; --crash-ticks-after-state=N crashes N ticks after every state
 * transfer (a replica that fails as soon as it is back); --corrupt-state-transfer applies a
 * transferred state wrongly (a faulty restore).
 */
import { HEARTBEAT_PERIOD_MS, ReplicaEndpoint } from './replica-endpoint.js';
import { NODE_REPLICA_IMPLEMENTATION } from './replica-logic.js';

/** Exit code of a simulated crash. */
export const CRASH_EXIT_CODE = 70;

let lawHash: number | undefined;
let crashTicksAfterState: number | undefined;
let corruptStateTransfer = false;
for (const arg of process.argv.slice(2)) {
  const match = /^--law-hash=(\d+)$/.exec(arg);
  const crashAfter = /^--crash-ticks-after-state=(\d+)$/.exec(arg);
  if (match) lawHash = Number(match[1]);
  else if (crashAfter) crashTicksAfterState = Number(crashAfter[1]);
  else if (arg === '--corrupt-state-transfer') corruptStateTransfer = true;
  else {
    process.stderr.write(`replica: unknown argument ${arg}\n`);
    process.exit(2);
  }
}

const endpoint = new ReplicaEndpoint(
  { write: (bytes) => process.stdout.write(bytes), crash: () => process.exit(CRASH_EXIT_CODE) },
  {
    implementation: NODE_REPLICA_IMPLEMENTATION,
    ...(lawHash === undefined ? {} : { lawHash }),
    ...(crashTicksAfterState === undefined ? {} : { crashTicksAfterState }),
    corruptStateTransfer,
  },
);

process.stdin.on('data', (chunk: Buffer) => endpoint.push(chunk));
// Counted malformed frames are reported once, on the way out, where the host keeps stderr.
process.on('exit', () => {
  if (endpoint.malformedFrames > 0) process.stderr.write(`replica: refused ${endpoint.malformedFrames} malformed frames\n`);
});
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdout.on('error', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
setInterval(() => endpoint.heartbeatIfIdle(Date.now()), HEARTBEAT_PERIOD_MS).unref();
