/**
 * The Node replica process: speaks protocol v1 on stdin/stdout, runs the control law, and exits
 * when its stdin closes (the host is gone: a replica never outlives its voter).
 *
 * Options (for tests): --law-hash=N reports another law self-test hash, as a replica built with a
 * different control law would.
 */
import { encodeMessage, decodeMessage } from '../protocol/codec.js';
import { FrameSplitter } from '../protocol/bounded-delimiter-parser.js';
import { ERROR_CODE, LIMITS, type Message } from '../protocol/messages.js';
import { faultKindFromCode, ReplicaFaults } from './replica-faults.js';
import { ReplicaLogic } from './replica-logic.js';

/** While no message arrives for this long, the replica sends a heartbeat at this period. */
const HEARTBEAT_PERIOD_MS = 100;
/** Exit code of a simulated crash. */
export const CRASH_EXIT_CODE = 70;

const logic = new ReplicaLogic();
const faults = new ReplicaFaults();
const splitter = new FrameSplitter(LIMITS.frameBytesMax);
let lastMessageMs = Date.now();
let malformedFrames = 0;

for (const arg of process.argv.slice(2)) {
  const match = /^--law-hash=(\d+)$/.exec(arg);
  if (match) logic.lawHash = Number(match[1]) >>> 0;
  else {
    process.stderr.write(`replica: unknown argument ${arg}\n`);
    process.exit(2);
  }
}

function write(message: Message): void {
  process.stdout.write(encodeMessage(message));
}

function onTick(tick: number, setpointMilliDeg: number, positionMilliDeg: number): void {
  faults.beforeStep(tick, logic);
  const outcome = logic.onTick(tick, setpointMilliDeg, positionMilliDeg);
  if (!outcome.ok) {
    write(outcome.error);
    return;
  }
  const { action, stateDigest } = faults.afterStep(logic.outputs, outcome.stateDigest, logic);
  if (action === 'crash') process.exit(CRASH_EXIT_CODE);
  if (action === 'silent') return;
  if (action === 'garbage') {
    process.stdout.write(faults.garbage());
    return;
  }
  const frame = encodeMessage({ kind: 'output', tick, outputs: Array.from(logic.outputs), stateDigest });
  if (action === 'late') setTimeout(() => process.stdout.write(frame), Math.max(1, faults.param / 1000));
  else process.stdout.write(frame);
}

function onFrame(frame: Uint8Array): void {
  lastMessageMs = Date.now();
  const decoded = decodeMessage(frame);
  if (!decoded.ok) {
    // Counted, never answered: answering garbage on a noisy line only makes more noise.
    malformedFrames++;
    return;
  }
  const message = decoded.message;
  if (message.kind === 'tick') {
    onTick(message.tick, message.setpointMilliDeg, message.positionMilliDeg);
  } else if (message.kind === 'inject') {
    const kind = faultKindFromCode(message.fault);
    if (kind === null) write({ kind: 'error', code: ERROR_CODE.UNEXPECTED_MESSAGE, detail: `unknown fault ${message.fault}` });
    else faults.arm(kind, message.durationTicks, message.param);
  } else {
    const reply = logic.handleControl(message);
    if (reply !== null) write(reply);
  }
}

process.stdin.on('data', (chunk: Buffer) => splitter.push(chunk, onFrame));
// Counted malformed frames are reported once, on the way out, where the host keeps stderr.
process.on('exit', () => {
  if (malformedFrames > 0) process.stderr.write(`replica: refused ${malformedFrames} malformed frames\n`);
});
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdout.on('error', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));

setInterval(() => {
  if (logic.params !== null && Date.now() - lastMessageMs >= HEARTBEAT_PERIOD_MS) write(logic.heartbeat());
}, HEARTBEAT_PERIOD_MS).unref();
