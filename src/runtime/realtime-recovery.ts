/**
 * Recovery in `tmr run`: the I/O half of the supervisor (src/loop/recovery.ts keeps the
 * books). It restarts replicas in the background while the loop goes on, takes their outcome in
 * at a tick boundary, and moves the majority's controller state into a ready replica between two
 * ticks without holding the loop up:
 *
 *   after tick t-1   stateRequest to a donor whose reply at t-1 agreed with the majority
 *   (the loop sleeps until tick t; the donor answers within a fraction of a millisecond)
 *   before tick t    the state is checked (tick t-1, the digest the majority voted at t-1), sent
 *                    to the returning replica, and the replica gets tick t like the others: it
 *                    is on probation from tick t. A state that is late or wrong is dropped and
 *                    the transfer tried again at a later boundary.
 *
 * Restarting a process is the disruptive part on a small host: spawning blocks the host's event
 * loop for 1.5–5 ms (measured: fork of an 85 MB process), and a booting, JIT-warming replica
 * competes for the cores. In duplex, one late reply from a survivor holds a command. So a Node
 * replica restarts from a warm standby: a spare process, started, handshaken and warmed up ahead
 * of time at a low priority, which a restart takes over at once. Spares are started before tick
 * 0 and replaced only while the loop is in full TMR with nobody out, right after a tick's vote,
 * where a late reply is outvoted and the spawn's pause falls in the tick's slack.
 */
import type { StepResult } from '../core/tmr-core.js';
import type { HelloMessage, StateMessage } from '../protocol/messages.js';
import type { LoopModel } from '../loop/loop-model.js';
import { stateFitForTransfer, type Recovery } from '../loop/recovery.js';
import { ReplicaLink } from './replica-link.js';
import type { Clock } from '../core/clock.js';
import type { StartedReplica } from './replica-kinds.js';
import type { ReplicaSlot } from './replica-slot.js';

/**
 * Warm-up ticks for a restarted Node replica before its state transfer. Its outputs on probation
 * are not counted, so a cold JIT costs nothing but a late reply or two there; a short warm-up
 * keeps those off the probation count without making recovery slow.
 */
export const RESTART_WARM_UP_TICKS = 300;

export interface RealtimeRecoveryOptions {
  readonly handshakeTimeoutMs: number;
  readonly hello: (replicaIndex: number) => HelloMessage;
  /** Gives a replica's processes the control priority (returns false if it could not). */
  readonly raisePriority: (pid: number) => boolean;
  /** The run's clock (its links read time through it). */
  readonly clock: Clock;
}

type RestartOutcome = Parameters<Recovery['restarted']>[2];

interface Transfer {
  readonly replica: number;
  readonly donor: number;
  readonly votedDigest: number;
  state: StateMessage | null;
}

export class RealtimeRecovery {
  private readonly finished: { replica: number; outcome: RestartOutcome }[] = [];
  private readonly tasks = new Set<Promise<void>>();
  private transfer: Transfer | null = null;
  private stopping = false;
  private sparePreparing = false;

  constructor(
    private readonly model: LoopModel,
    private readonly recovery: Recovery,
    /** The runner's replicas: what a restart replaces there is what the loop talks to next. */
    private readonly slots: readonly ReplicaSlot[],
    private readonly options: RealtimeRecoveryOptions,
  ) {}

  /** Before tick 0: a warm standby for every replica that can have one, prepared in parallel. */
  async prepareSpares(): Promise<void> {
    await Promise.all(this.slots.map((slot, i) => (slot.replica.spawnSpare !== undefined && this.model.core.status[i] === 'inService' ? this.prepareSpare(slot) : undefined)));
  }

  private async prepareSpare(slot: ReplicaSlot): Promise<void> {
    let spare: StartedReplica;
    try {
      spare = await slot.replica.spawnSpare!();
    } catch {
      return;
    }
    const link = new ReplicaLink(slot.index, spare.transport, this.model.obs, this.model.law, this.options.clock);
    const ok = !this.stopping && (await this.bringUp(link, spare, this.options.hello(slot.index))) === null;
    if (ok && !this.stopping && slot.spare === null) slot.spare = { replica: spare, link };
    else await spare.stop();
  }

  /** Handshake, warm-up and a last handshake (which resets the controller): null when it answered throughout. */
  private async bringUp(link: ReplicaLink, replica: StartedReplica, hello: HelloMessage): Promise<RestartOutcome | null> {
    const first = await link.handshake(hello, this.options.handshakeTimeoutMs);
    if (!first.ok) {
      // A replica that refuses our protocol or law will refuse it again: out for good.
      const permanent = first.reason !== 'NO_ANSWER' && first.reason !== 'LINK_DOWN' && first.reason !== 'REPLICA_ERROR';
      return { ok: false, permanent, detail: `${first.reason}: ${first.detail}` };
    }
    const warmUpTicks = replica.restartWarmUpTicks ?? RESTART_WARM_UP_TICKS;
    if (warmUpTicks > 0 && !this.stopping) {
      if (!(await link.warmUp(hello, warmUpTicks, this.options.handshakeTimeoutMs))) return { ok: false, permanent: false, detail: 'stopped answering while warming up' };
      const last = await link.handshake(hello, this.options.handshakeTimeoutMs);
      if (!last.ok) return { ok: false, permanent: false, detail: `${last.reason}: ${last.detail}` };
    }
    return null;
  }

  /** Before tick `tick` is sent (after prepareTick): completes a transfer prepared after the previous tick. */
  beforeTick(tick: number): void {
    const cold = this.recovery.coldStartCandidates();
    if (cold.length > 0) {
      // Each was handshaken last: it holds the law's initial state, and takes any tick number next.
      for (const i of cold) {
        const slot = this.slots[i]!;
        slot.link.discardPending();
        this.model.obs.coldStart[i] = 1;
        for (const pid of slot.replica.dataPathPids) this.options.raisePriority(pid);
      }
      this.recovery.coldStartBegins(cold, tick);
    }
    const t = this.transfer;
    this.transfer = null;
    if (t === null) return;
    const slot = this.slots[t.replica]!;
    const link = slot.link;
    const state = t.state;
    if (state === null || !stateFitForTransfer(state, tick, t.votedDigest) || link.isDown || this.recovery.phaseOf(t.replica) !== 'ready') {
      this.slots[t.donor]!.link.cancelStateRequest();
      this.recovery.transferRefused();
      return;
    }
    link.discardPending();
    link.sendState(state);
    this.model.obs.probationStart[t.replica] = 1;
    this.recovery.probationBegins(t.replica, tick);
    for (const pid of slot.replica.dataPathPids) this.options.raisePriority(pid);
  }

  /** After each tick: starts due restarts, takes in finished ones, prepares a state transfer. */
  afterTick(result: StepResult): void {
    for (const replica of this.recovery.afterTick(result)) this.startRestart(replica);
    this.replenishSpare(result);
    for (const { replica, outcome } of this.finished.splice(0)) this.recovery.restarted(replica, result.tick, outcome);
    for (const { index: i, link } of this.slots) {
      if (this.recovery.phaseOf(i) === 'ready' && link.isDown) this.recovery.lostWhileReady(i, result.tick, `link down while waiting for its state: ${link.linkDownReason}`);
    }
    const candidate = this.recovery.transferCandidate(result);
    if (candidate === null) return;
    const transfer: Transfer = { ...candidate, votedDigest: result.votedDigest, state: null };
    this.transfer = transfer;
    void this.slots[candidate.donor]!.link.requestState(result.tick).then((state) => {
      transfer.state = state;
    });
  }

  /** Starts one missing spare, only in full TMR with every replica serving (see the file comment). */
  private replenishSpare(result: StepResult): void {
    if (this.sparePreparing || this.stopping || result.mode !== 'tmr') return;
    if (!this.recovery.allServing()) return;
    const slot = this.slots.find((s) => s.spare === null && s.replica.spawnSpare !== undefined);
    if (slot === undefined) return;
    this.sparePreparing = true;
    this.track(
      this.prepareSpare(slot).finally(() => {
        this.sparePreparing = false;
      }),
    );
  }

  /** Background work that stop() waits for. */
  private track(task: Promise<void>): void {
    this.tasks.add(task);
    void task.finally(() => this.tasks.delete(task));
  }

  /** Waits for restarts in flight and stops the spares; what restarts started is in the runner's slots, stopped there. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.transfer = null;
    await Promise.allSettled([...this.tasks]);
    await Promise.all(this.slots.map((slot) => slot.spare?.replica.stop()));
    for (const slot of this.slots) slot.spare = null;
  }

  private startRestart(replicaIndex: number): void {
    this.track(
      this.restart(replicaIndex).then((outcome) => {
        this.finished.push({ replica: replicaIndex, outcome });
      }),
    );
  }

  private async restart(i: number): Promise<RestartOutcome> {
    const slot = this.slots[i]!;
    const old = slot.replica;
    const spare = slot.spare;
    slot.spare = null;
    if (spare !== null && !spare.link.isDown) {
      await old.stop();
      slot.replace(spare.replica, spare.link);
      // Its controller was reset by the last hello of its bring-up; one more proves it is alive.
      const alive = await spare.link.handshake(this.options.hello(i), this.options.handshakeTimeoutMs);
      return alive.ok ? { ok: true } : { ok: false, permanent: false, detail: `standby: ${alive.reason}: ${alive.detail}` };
    }
    if (spare !== null) await spare.replica.stop();
    if (old.restart === undefined) return { ok: false, permanent: true, reason: 'NOT_RESTARTABLE', detail: `${old.transport.description} cannot be restarted` };
    let fresh: StartedReplica;
    try {
      fresh = await old.restart();
    } catch (error) {
      return { ok: false, permanent: false, detail: `restart failed: ${error instanceof Error ? error.message : String(error)}` };
    }
    // A new process was started at RESTART_NICE by its transport; a reset board keeps its own.
    const link = fresh.transport === old.transport ? slot.link : new ReplicaLink(i, fresh.transport, this.model.obs, this.model.law, this.options.clock);
    slot.replace(fresh, link);
    if (this.stopping) return { ok: false, permanent: false, detail: 'the run ended' };
    return (await this.bringUp(link, fresh, this.options.hello(i))) ?? { ok: true };
  }
}
