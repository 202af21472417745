/**
 * One replica's end of a link, independent of what carries the bytes: frames in, frames out,
 * faults, heartbeats. The Node replica process wires it to stdin/stdout; the simulated board
 * (firmware-sim/) wires it to a serial port. What "crash" means is the carrier's business: a
 * process exits, a board reboots.
 */
import { FrameSplitter } from '../protocol/bounded-delimiter-parser.js';
import { decodeMessage, encodeMessage } from '../protocol/codec.js';
import { ERROR_CODE, LIMITS, type Message } from '../protocol/messages.js';
import type { LoadedLaw } from '../law/law-runtime.js';
import { corruptState, faultKindFromCode, ReplicaFaults } from './replica-faults.js';
import { ReplicaLogic } from './replica-logic.js';
import type { Clock } from '../core/clock.js';

/** While no message arrives for this long, a configured replica sends a heartbeat at this period. */
export const HEARTBEAT_PERIOD_MS = 100;

export interface EndpointCarrier {
  /** Puts bytes on the link (a complete frame, or garbage for a babble fault). */
  write(bytes: Uint8Array): void;
  /** A crash fault fired: exit the process, reboot the board. */
  crash(): void;
}

export interface EndpointOptions {
  /** The law this replica runs (a board is built with one). */
  readonly law: LoadedLaw;
  readonly implementation: string;
  /** Self-test hash to report instead of our own (a replica built with another law). */
  readonly lawHash?: number;
  /** Protocol version to speak instead of ours (a board built for another version). */
  readonly protocolVersion?: number;
  /** Test hook: crash this many ticks after each state transfer (a replica that fails once re-admitted). */
  readonly crashTicksAfterState?: number;
  /** Test hook: apply a transferred state wrongly (one bit flipped, as the state fault does), as a faulty restore would. */
  readonly corruptStateTransfer?: boolean;
  /** The clock it reads (ms) and its timers (a late fault's held reply): the machine's, or a simulated one. */
  readonly clock?: Pick<Clock, 'nowMs' | 'setTimer'>;
}

const MACHINE_CLOCK: Pick<Clock, 'nowMs' | 'setTimer'> = {
  nowMs: () => Date.now(),
  setTimer: (delayMs, fn) => {
    const handle = setTimeout(fn, delayMs);
    return { cancel: () => clearTimeout(handle) };
  },
};

export class ReplicaEndpoint {
  logic: ReplicaLogic;
  faults: ReplicaFaults;
  private readonly splitter = new FrameSplitter(LIMITS.frameBytesMax);
  private readonly onFrameBound = (frame: Uint8Array): void => this.onFrame(frame);
  private readonly clock: Pick<Clock, 'nowMs' | 'setTimer'>;
  private lastMessageMs: number;
  malformedFrames = 0;
  /** Ticks left before the crash-after-state test hook fires; -1 when not armed. */
  private crashCountdownTicks = -1;

  constructor(
    private readonly carrier: EndpointCarrier,
    private readonly options: EndpointOptions,
  ) {
    this.clock = options.clock ?? MACHINE_CLOCK;
    this.lastMessageMs = this.clock.nowMs();
    this.logic = this.freshLogic();
    this.faults = new ReplicaFaults(options.law.outputCount);
  }

  private freshLogic(): ReplicaLogic {
    const logic = new ReplicaLogic(this.options.law, this.options.implementation);
    if (this.options.lawHash !== undefined) logic.lawHash = this.options.lawHash >>> 0;
    if (this.options.protocolVersion !== undefined) logic.protocolVersion = this.options.protocolVersion;
    return logic;
  }

  /** Bytes from the link, in any chunking. */
  push(chunk: Uint8Array): void {
    this.splitter.push(chunk, this.onFrameBound);
  }

  /** One whole frame (without its delimiter), from a link that splits frames itself (an authenticated TCP link). */
  pushFrame(frame: Uint8Array): void {
    this.onFrame(frame);
  }

  /** A reboot: controller state, configuration and faults are gone; half-received bytes too. */
  reset(): void {
    this.logic = this.freshLogic();
    this.faults = new ReplicaFaults(this.options.law.outputCount);
    this.splitter.push(new Uint8Array([0]), () => {});
  }

  /** Call every HEARTBEAT_PERIOD_MS: sends a heartbeat if configured and idle that long. */
  heartbeatIfIdle(nowMs: number): void {
    if (this.logic.params !== null && nowMs - this.lastMessageMs >= HEARTBEAT_PERIOD_MS) this.send(this.logic.heartbeat());
  }

  private send(message: Message): void {
    this.carrier.write(encodeMessage(message));
  }

  private onFrame(frame: Uint8Array): void {
    this.lastMessageMs = this.clock.nowMs();
    const decoded = decodeMessage(frame);
    if (!decoded.ok) {
      // Counted, never answered: answering garbage on a noisy line only makes more noise.
      this.malformedFrames++;
      return;
    }
    const message = decoded.message;
    if (message.kind === 'tick') this.onTick(message.tick, message.inputs);
    else if (message.kind === 'inject') {
      const kind = faultKindFromCode(message.fault);
      if (kind === null) this.send({ kind: 'error', code: ERROR_CODE.UNEXPECTED_MESSAGE, detail: `unknown fault ${message.fault}` });
      else this.faults.arm(kind, message.durationTicks, message.param);
    } else {
      const reply = this.logic.handleControl(message);
      // An accepted hello resets the law and ends injected faults, as a board's does (PROTOCOL.md 13).
      if (message.kind === 'hello' && reply?.kind === 'helloAck' && this.logic.state !== null) this.faults.clear();
      if (message.kind === 'state' && reply?.kind === 'heartbeat') this.afterStateTransfer();
      if (reply !== null) this.send(reply);
    }
  }

  private afterStateTransfer(): void {
    if (this.options.corruptStateTransfer === true) corruptState(this.logic, 1);
    if (this.options.crashTicksAfterState !== undefined) this.crashCountdownTicks = this.options.crashTicksAfterState;
  }

  private onTick(tick: number, inputs: ArrayLike<number>): void {
    const { logic, faults } = this;
    if (this.crashCountdownTicks >= 0 && this.crashCountdownTicks-- === 0) {
      this.carrier.crash();
      return;
    }
    faults.beforeStep(tick, logic);
    const outcome = logic.onTick(tick, inputs);
    if (!outcome.ok) {
      this.send(outcome.error);
      return;
    }
    const action = faults.afterStep(logic.outputs, outcome.stateDigest, logic);
    const stateDigest = faults.replyDigest;
    switch (action) {
      case 'crash':
        this.carrier.crash();
        return;
      case 'silent':
        return;
      case 'garbage':
        this.carrier.write(faults.garbage());
        return;
      default: {
        const frame = encodeMessage({ kind: 'output', tick, outputs: Array.from(logic.outputs), stateDigest });
        if (action === 'bitflip') faults.flipBit(frame);
        if (action === 'late') this.clock.setTimer(Math.max(1, faults.param / 1000), () => this.carrier.write(frame));
        else this.carrier.write(frame);
      }
    }
  }
}
