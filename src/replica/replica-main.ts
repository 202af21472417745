/**
 * The Node replica process: speaks protocol v3 on stdin/stdout through a ReplicaEndpoint, and
 * exits when its stdin closes (the host is gone: a replica never outlives its voter).
 *
 * --law=NAME|PATH: the law it runs (a shipped law's name or a module file; default pid-q16).
 *
 * Options (test hooks): --law-hash=N reports another law self-test hash, as a replica built with a
 * different control law would; --crash-ticks-after-state=N crashes N ticks after every state
 * transfer (a replica that fails as soon as it is back); --corrupt-state-transfer applies a
 * transferred state wrongly (a faulty restore).
 */
import { HEARTBEAT_PERIOD_MS, ReplicaEndpoint } from './replica-endpoint.js';
import { NODE_REPLICA_IMPLEMENTATION } from './replica-logic.js';
import { SELF_WARM_UP_TICKS_MAX, selfWarmUp } from './self-warm-up.js';
import { DEFAULT_LAW, importLaw } from '../law/law-loader.js';
import type { LoadedLaw } from '../law/law-runtime.js';

/** Exit code of a simulated crash. */
export const CRASH_EXIT_CODE = 70;

let lawHash: number | undefined;
let crashTicksAfterState: number | undefined;
let corruptStateTransfer = false;
let selfWarmUpTicks = 0;
let lawRef: string = DEFAULT_LAW;
for (const arg of process.argv.slice(2)) {
  const match = /^--law-hash=(\d+)$/.exec(arg);
  const crashAfter = /^--crash-ticks-after-state=(\d+)$/.exec(arg);
  if (match) lawHash = Number(match[1]);
  else if (crashAfter) crashTicksAfterState = Number(crashAfter[1]);
  else if (arg === '--corrupt-state-transfer') corruptStateTransfer = true;
  else if (arg.startsWith('--law=')) lawRef = arg.slice('--law='.length);
  else if (/^--self-warm-up-ticks=\d+$/.test(arg)) selfWarmUpTicks = Math.min(SELF_WARM_UP_TICKS_MAX, Number(arg.split('=')[1]));
  else {
    process.stderr.write(`replica: unknown argument ${arg}\n`);
    process.exit(2);
  }
}

let law: LoadedLaw;
try {
  law = await importLaw(lawRef);
} catch (error) {
  process.stderr.write(`replica: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(2);
}

// A standby warms its own JIT before it answers anything: no host time, no pipe traffic.
if (selfWarmUpTicks > 0) selfWarmUp(law, selfWarmUpTicks);

const endpoint = new ReplicaEndpoint(
  { write: (bytes) => process.stdout.write(bytes), crash: () => process.exit(CRASH_EXIT_CODE) },
  {
    law,
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
