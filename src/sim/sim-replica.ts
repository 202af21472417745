/**
 * An in-process replica for the deterministic simulator: the same ReplicaLogic and ReplicaFaults
 * as the Node replica process, with the link reduced to writes into the tick's observations.
 * Garbage from a babbling replica goes through the real frame splitter and decoder, so corrupt
 * frames are counted exactly as the runtime counts them.
 */
import { assertNever, fail } from '../core/assert.js';
import { helloFor, type LoadedLaw } from '../law/law-runtime.js';
import type { Observations } from '../core/tmr-core.js';
import { FrameSplitter } from '../protocol/bounded-delimiter-parser.js';
import { decodeMessage, encodeMessage } from '../protocol/codec.js';
import { LIMITS, type FaultKind } from '../protocol/messages.js';
import { ReplicaFaults } from '../replica/replica-faults.js';
import { ReplicaLogic } from '../replica/replica-logic.js';

export class SimReplica {
  readonly logic: ReplicaLogic;
  readonly faults: ReplicaFaults;
  private alive = true;
  /** Replies held back by a late fault, delivered (late) during the next tick. */
  private lateOwed = 0;
  /** The tick whose reply a late fault held back last: the host may still take it in its quorum grace. */
  private lateTick = -1;
  private readonly lateOutputs: Int32Array;
  private lateDigest = 0;
  /** Replies swallowed while hung, delivered late when the hang ends (as a SIGCONT'd process does). */
  private hungOwed = 0;
  /** A machine-wide stall stops this replica until this tick (exclusive); -1 for none. */
  private stalledUntilTick = -1;
  private readonly splitter = new FrameSplitter(LIMITS.frameBytesMax);

  constructor(
    readonly replicaIndex: number,
    law: LoadedLaw,
    lawParams: ArrayLike<number>,
  ) {
    this.logic = new ReplicaLogic(law, 'sim-replica/2');
    this.faults = new ReplicaFaults(law.outputCount);
    const reply = this.logic.onHello(helloFor(law, replicaIndex, lawParams));
    if (!(reply.kind === 'helloAck')) fail(`simulated replica ${replicaIndex} refused its own parameters`);
    this.lateOutputs = new Int32Array(this.logic.outputs.length);
  }

  /**
   * The host found no quorum at the deadline and waits on (the runtime's quorum grace, which a
   * late fault's reply, 1.5 periods after the tick, always falls within): this tick's late reply
   * is taken into the vote, counted late. Nothing happens if it had none.
   */
  deliverInGrace(tick: number, obs: Observations): void {
    if (this.lateTick !== tick) return;
    const i = this.replicaIndex;
    this.lateTick = -1;
    this.lateOwed--;
    this.answer(obs, this.lateOutputs, this.lateDigest);
    obs.lateReplies[i] = (obs.lateReplies[i] as number) + 1;
  }

  arm(kind: FaultKind, durationTicks: number, param: number): void {
    this.faults.arm(kind, durationTicks, param);
  }

  /**
   * A machine-wide stall: stopped until `untilTick`, as a SIGSTOPped process is. It still gets
   * every tick (they queue) and works through them when it runs again: every reply of the stall
   * then arrives late, together with the first on-time one.
   */
  stall(untilTick: number): void {
    this.stalledUntilTick = Math.max(this.stalledUntilTick, untilTick);
  }

  /** Runs one tick and records what the host would observe before the deadline. */
  tick(tick: number, inputs: Int32Array, obs: Observations): void {
    const i = this.replicaIndex;
    if (!this.alive) {
      obs.linkDown[i] = 1;
      return;
    }
    if (this.lateOwed > 0) {
      obs.lateReplies[i] = (obs.lateReplies[i] as number) + this.lateOwed;
      this.lateOwed = 0;
    }
    this.faults.beforeStep(tick, this.logic);
    const outcome = this.logic.onTick(tick, inputs);
    if (!(outcome.ok)) fail(`simulated replica ${i} rejected tick ${tick}`);
    const action = this.faults.afterStep(this.logic.outputs, outcome.stateDigest, this.logic);
    const stateDigest = this.faults.replyDigest;
    if (tick < this.stalledUntilTick && action !== 'crash') {
      this.hungOwed++;
      return;
    }
    if (action !== 'silent' && this.hungOwed > 0) {
      obs.lateReplies[i] = (obs.lateReplies[i] as number) + this.hungOwed;
      this.hungOwed = 0;
    }
    switch (action) {
      case 'reply':
        this.answer(obs, this.logic.outputs, stateDigest);
        return;
      case 'crash':
        this.alive = false;
        obs.linkDown[i] = 1;
        return;
      case 'silent':
        this.hungOwed++;
        return;
      case 'late':
        this.lateOwed++;
        this.lateTick = tick;
        this.lateOutputs.set(this.logic.outputs);
        this.lateDigest = stateDigest;
        return;
      case 'garbage':
        this.receive(this.faults.garbage(), tick, obs);
        return;
      case 'bitflip': {
        // The real frame, damaged on the wire: what the host receives goes through its decoder.
        const frame = encodeMessage({ kind: 'output', tick, outputs: Array.from(this.logic.outputs), stateDigest });
        this.faults.flipBit(frame);
        this.receive(frame, tick, obs);
        return;
      }
      default:
        assertNever(action, 'fault action');
    }
  }

  /** This tick's reply, in the vote: what the host records for a reply that made its deadline. */
  private answer(obs: Observations, outputs: Int32Array, stateDigest: number): void {
    const i = this.replicaIndex;
    obs.onTime[i] = 1;
    const base = i * obs.channelCount;
    for (let c = 0; c < obs.channelCount; c++) obs.outputs[base + c] = outputs[c] as number;
    obs.digests[i] = stateDigest;
  }

  /** Bytes as the host would receive them: split, decoded, and counted unless they are this tick's output. */
  private receive(bytes: Uint8Array, tick: number, obs: Observations): void {
    const i = this.replicaIndex;
    this.splitter.push(bytes, (frame) => {
      const decoded = decodeMessage(frame);
      if (decoded.ok && decoded.message.kind === 'output' && decoded.message.tick === tick && obs.onTime[i] === 0) {
        obs.onTime[i] = 1;
        decoded.message.outputs.forEach((value, c) => (obs.outputs[i * obs.channelCount + c] = value));
        obs.digests[i] = decoded.message.stateDigest;
      } else {
        obs.protocolErrors[i] = Math.min(0xffff, (obs.protocolErrors[i] as number) + 1);
      }
    });
  }
}
