/**
 * The supervisor's bookkeeping for bringing replicas back, shared by `tmr sim` and `tmr run`.
 * Deterministic and tick-driven: the shell tells it what happened (a tick's result, a restart
 * that finished), it says what to do next (which replicas to restart now, whom to re-synchronise
 * from whom). Starting processes, resetting boards and moving state are the shell's business.
 *
 * A replica's way back:
 *   serving ──excluded──▶ waiting (back-off) ──due──▶ restarting ──up, handshaken──▶ ready
 *   ready ──state from a replica that agreed with the majority──▶ probation (core: compared, not counted)
 *   probation ──agreed for P ticks──▶ serving     probation ──disagreed──▶ waiting (longer back-off)
 *   any failure past the restart limit ──▶ retired (for good; the summary says why)
 *
 * Loop layer (src/loop/): imports only core, protocol, law and src/loop.
 */
import { assert, fail } from '../core/assert.js';
import type { ExclusionReason } from '../core/failure-detector.js';
import {
  createRestartState,
  decideRestart,
  noteReadmitted,
  retire,
  type FailureContext,
  type ReplicaRestartState,
  type RestartPolicyConfig,
  type RetireReason,
} from '../core/restart-policy.js';
import { commandingMajority, type CoreState, type StepResult } from '../core/tmr-core.js';
import type { StateMessage } from '../protocol/messages.js';

export interface RecoveryOptions {
  /** Restart, re-synchronise and re-admit excluded replicas. Off: an excluded replica stays out. */
  readonly enabled: boolean;
  /** Consecutive agreeing ticks on probation (P). */
  readonly probationTicks: number;
  /** At most this many restarts (R) ... */
  readonly restartsMax: number;
  /** ... in any window this long (T). */
  readonly restartWindowMs: number;
  readonly backoffMsBase: number;
  readonly backoffMsMax: number;
  /** In service this long, a replica's next failure is not a quick one: its back-off starts over. */
  readonly stableMs: number;
  /** `tmr sim` only: the simulated time a restart takes (process start and handshake). */
  readonly simRestartMs: number;
  /**
   * When every replica is out and a majority of the set has been restarted (each at the law's
   * initial state, from its hello), put them back in service together: a cold restart of the law,
   * from the safe state. Off by default: it drops whatever the controllers had learned, which only
   * the user can judge acceptable for their plant.
   */
  readonly coldRestart: boolean;
}

export const DEFAULT_RECOVERY: RecoveryOptions = {
  enabled: false,
  probationTicks: 50,
  restartsMax: 3,
  restartWindowMs: 5_000,
  backoffMsBase: 100,
  backoffMsMax: 2_000,
  stableMs: 1_000,
  simRestartMs: 60,
  coldRestart: false,
};

/** Milliseconds to whole ticks (rounded up): the one place recovery converts wall time. */
export function ticksForMs(ms: number, rateHz: number): number {
  return Math.max(1, Math.ceil((ms * rateHz) / 1000 - 1e-9));
}

export function restartPolicyFor(recovery: RecoveryOptions, rateHz: number): RestartPolicyConfig {
  return {
    restartsMax: recovery.restartsMax,
    restartWindowTicks: ticksForMs(recovery.restartWindowMs, rateHz),
    backoffTicksBase: ticksForMs(recovery.backoffMsBase, rateHz),
    backoffTicksMax: ticksForMs(Math.max(recovery.backoffMsMax, recovery.backoffMsBase), rateHz),
    stableTicks: ticksForMs(recovery.stableMs, rateHz),
  };
}

/** A donor's state fit to transfer before `tick`: taken at the tick boundary just passed, with the digest the majority voted there. */
export function stateFitForTransfer(state: StateMessage, tick: number, votedDigest: number): boolean {
  return state.tick === tick - 1 && state.stateDigest === votedDigest;
}

export type RecoveryPhase = 'serving' | 'waiting' | 'restarting' | 'ready' | 'probation' | 'retired';

/** One trip out and (perhaps) back. */
export interface RecoveryRecord {
  readonly replica: number;
  readonly excludedTick: number;
  readonly reason: ExclusionReason;
  /** Where it was when it failed: in service, on probation, or in a restart that failed. */
  readonly context: FailureContext;
  restartTick: number | null;
  readyTick: number | null;
  probationTick: number | null;
  /**
   * The first tick it was counted in the vote again (the first step result whose in-service mask
   * holds it, as the black box logs it): the tick after the one whose step re-admitted it after
   * probation, or the tick of a cold start. Null until then.
   */
  readmittedTick: number | null;
  outcome: 'pending' | 'readmitted' | 'failedAgain' | 'retired';
}

/** Records kept per run; later trips are counted, not kept. */
export const RECOVERY_RECORDS_MAX = 1_000;

export interface RecoverySummary {
  /** The policy: whether a cold restart was allowed, and how many happened. */
  coldRestart: boolean;
  coldRestarts: number;
  restarts: number;
  restartFailures: number;
  readmissions: number;
  probationFailures: number;
  stateTransfersRefused: number;
  /** Ticks from exclusion to the first tick counted again (readmittedTick), over re-admissions. */
  recoveryTicksMedian: number | null;
  recoveryTicksMax: number | null;
  replicas: { index: number; phase: RecoveryPhase; restarts: number; retired: RetireReason | null; detail: string | null }[];
  records: RecoveryRecord[];
  recordsDropped: number;
}

/** Everything recovery knows of one replica. */
interface ReplicaRecovery {
  phase: RecoveryPhase;
  /** Restart count, back-off and retirement (src/core/restart-policy.ts). */
  readonly restart: ReplicaRestartState;
  /** The tick its restart is due at (read while 'waiting'); -1 before its first. */
  dueTick: number;
  /** The trip out in progress, or its last one; null before the first. */
  current: RecoveryRecord | null;
  /** Why its last restart failed or why it was retired, for the summary; null if neither. */
  detail: string | null;
}

const isReady = (r: ReplicaRecovery): boolean => r.phase === 'ready';

export class Recovery {
  readonly policy: RestartPolicyConfig;
  /** One record per replica, by replica index: its state of recovery is held here and nowhere else. */
  private readonly replicas: ReplicaRecovery[];
  readonly records: RecoveryRecord[] = [];
  private recordsDropped = 0;
  private readonly counters = { restarts: 0, restartFailures: 0, readmissions: 0, probationFailures: 0, stateTransfersRefused: 0, coldRestarts: 0 };

  constructor(
    readonly options: RecoveryOptions,
    rateHz: number,
    private readonly core: CoreState,
  ) {
    assert(options.enabled, 'recovery bookkeeping for a run without recovery');
    this.policy = restartPolicyFor(options, rateHz);
    this.replicas = Array.from({ length: core.config.replicaCount }, (): ReplicaRecovery => ({
      phase: 'serving',
      restart: createRestartState(this.policy),
      dueTick: -1,
      current: null,
      detail: null,
    }));
  }

  /** Where a replica is on its way back (the shell's read of the books). */
  phaseOf(replicaIndex: number): RecoveryPhase {
    return this.replicaAt(replicaIndex).phase;
  }

  /** Every replica serving: nobody out, restarting, waiting for its state or on probation. */
  allServing(): boolean {
    return this.replicas.every((r) => r.phase === 'serving');
  }

  /**
   * After each tick: exclusions become restarts (or retirements), probation outcomes are noted.
   * Returns the replicas whose restart is due now; they are 'restarting' until `restarted`.
   */
  afterTick(result: StepResult): number[] {
    const tick = result.tick;
    // Before this tick's events: a replica re-admitted and counted at this tick may yet be excluded at its end.
    for (let i = 0; i < this.replicas.length; i++) {
      const current = this.replicas[i]!.current;
      if (current !== null && current.outcome === 'readmitted' && current.readmittedTick === null && (result.inServiceMask & (1 << i)) !== 0) current.readmittedTick = tick;
    }
    for (const event of result.events) {
      if (event.kind === 'replicaExcluded') this.onExcluded(event.replicaIndex, event.reason, tick);
      else if (event.kind === 'replicaReadmitted') this.onReadmitted(event.replicaIndex, tick);
    }
    const due: number[] = [];
    for (let i = 0; i < this.replicas.length; i++) {
      const r = this.replicas[i]!;
      // Out before the run began (a refused handshake): nothing to restart into agreement.
      if (r.phase === 'serving' && this.core.status[i] === 'excluded') this.retireNow(i, 'HANDSHAKE_REFUSED', `out since tick ${this.core.excludedTick[i]}: ${this.core.exclusionReason[i]}`);
      if (r.phase === 'waiting' && tick + 1 >= r.dueTick) {
        r.phase = 'restarting';
        if (r.current !== null) r.current.restartTick = tick + 1;
        due.push(i);
      }
    }
    return due;
  }

  /**
   * The shell finished a restart before `tick`: up and handshaken (ready for a state transfer),
   * or failed. A permanent failure (the replica refuses our law or protocol) retires it.
   */
  restarted(replicaIndex: number, tick: number, outcome: { ok: true } | { ok: false; permanent: boolean; detail: string; reason?: RetireReason }): void {
    const r = this.replicaAt(replicaIndex);
    assert(r.phase === 'restarting', 'restart finished for a replica that was not restarting');
    if (outcome.ok) {
      r.phase = 'ready';
      if (r.current !== null) r.current.readyTick = tick;
      return;
    }
    this.counters.restartFailures++;
    r.detail = outcome.detail;
    if (outcome.permanent) {
      this.retireNow(replicaIndex, outcome.reason ?? 'HANDSHAKE_REFUSED', outcome.detail);
      return;
    }
    this.schedule(replicaIndex, tick, 'restartFailed', r.current?.reason ?? 'LINK_DOWN');
  }

  /**
   * Whom to re-synchronise after this tick, and from whom: the first ready replica, from an
   * in-service replica whose reply this tick agreed with a commanding majority (a voted or
   * simplex command, outputs and digest both voted). Null if nobody is ready or nobody is fit
   * to give: state is never taken from a replica the vote did not back.
   */
  transferCandidate(result: StepResult): { replica: number; donor: number } | null {
    const replica = this.replicas.findIndex(isReady);
    if (replica < 0) return null;
    if (!commandingMajority(result)) return null;
    for (let donor = 0; donor < this.replicas.length; donor++) {
      if ((result.participantMask & (1 << donor)) !== 0 && result.flags[donor] === 0 && this.core.status[donor] === 'inService') return { replica, donor };
    }
    return null;
  }

  /**
   * With the cold-restart policy: when nobody is in service and a majority of the set is ready
   * (restarted and handshaken, so each holds the law's initial state), those ready replicas, which
   * the shell puts back in service together before the next tick (obs.coldStart); else none.
   */
  coldStartCandidates(): number[] {
    if (!this.options.coldRestart || this.core.status.some((s) => s === 'inService')) return [];
    const ready: number[] = [];
    for (let i = 0; i < this.replicas.length; i++) if (this.replicas[i]!.phase === 'ready') ready.push(i);
    return ready.length * 2 > this.replicas.length ? ready : [];
  }

  /** The shell cold-started these replicas before `tick`: serving again from the law's initial state. */
  coldStartBegins(replicas: readonly number[], tick: number): void {
    this.counters.coldRestarts++;
    for (const i of replicas) {
      const r = this.replicaAt(i);
      assert(r.phase === 'ready', 'cold start of a replica that was not ready');
      this.serveAgain(r, tick);
    }
  }

  /** The shell moved the majority's state into the replica; the core starts its probation this tick. */
  probationBegins(replicaIndex: number, tick: number): void {
    const r = this.replicaAt(replicaIndex);
    assert(r.phase === 'ready', 'probation for a replica that was not ready');
    r.phase = 'probation';
    if (r.current !== null) r.current.probationTick = tick;
  }

  /** A state transfer did not happen (no answer, wrong tick, digest not the voted one): try again later. */
  transferRefused(): void {
    this.counters.stateTransfersRefused++;
  }

  /** A ready replica whose link died before it could be re-synchronised: restart it again. */
  lostWhileReady(replicaIndex: number, tick: number, detail: string): void {
    const r = this.replicaAt(replicaIndex);
    assert(r.phase === 'ready', 'lost a replica that was not ready');
    r.phase = 'restarting';
    this.restarted(replicaIndex, tick, { ok: false, permanent: false, detail });
  }

  private replicaAt(replicaIndex: number): ReplicaRecovery {
    const r = this.replicas[replicaIndex];
    if (r === undefined) fail(`recovery: replica index ${replicaIndex} out of range 0..${this.replicas.length - 1}`);
    return r;
  }

  private onExcluded(replicaIndex: number, reason: ExclusionReason, tick: number): void {
    const onProbation = this.replicaAt(replicaIndex).phase === 'probation';
    if (onProbation) this.counters.probationFailures++;
    this.schedule(replicaIndex, tick, onProbation ? 'probation' : 'serving', reason);
  }

  private schedule(replicaIndex: number, tick: number, context: FailureContext, reason: ExclusionReason): void {
    const r = this.replicaAt(replicaIndex);
    const record: RecoveryRecord = {
      replica: replicaIndex,
      excludedTick: tick,
      reason,
      context,
      restartTick: null,
      readyTick: null,
      probationTick: null,
      readmittedTick: null,
      outcome: 'pending',
    };
    if (r.current !== null && r.current.outcome === 'pending') r.current.outcome = 'failedAgain';
    r.current = record;
    if (this.records.length < RECOVERY_RECORDS_MAX) this.records.push(record);
    else this.recordsDropped++;
    const decision = decideRestart(r.restart, this.policy, tick, context);
    if (decision.kind === 'retire') {
      record.outcome = 'retired';
      r.phase = 'retired';
      r.detail = decision.detail;
      return;
    }
    this.counters.restarts++;
    r.phase = 'waiting';
    r.dueTick = decision.atTick;
  }

  private onReadmitted(replicaIndex: number, tick: number): void {
    const r = this.replicaAt(replicaIndex);
    assert(r.phase === 'probation', 'readmitted a replica that was not on probation');
    this.serveAgain(r, tick);
  }

  /**
   * Back in service (probation passed at the end of `tick`, or a cold start before it): its trip
   * out ends re-admitted; afterTick notes the first tick it is counted in the vote again.
   */
  private serveAgain(r: ReplicaRecovery, tick: number): void {
    r.phase = 'serving';
    this.counters.readmissions++;
    noteReadmitted(r.restart, tick);
    if (r.current !== null) r.current.outcome = 'readmitted';
  }

  private retireNow(replicaIndex: number, reason: RetireReason, detail: string): void {
    const r = this.replicaAt(replicaIndex);
    retire(r.restart, reason);
    r.phase = 'retired';
    r.detail = detail;
    if (r.current !== null && r.current.outcome === 'pending') r.current.outcome = 'retired';
  }

  summary(): RecoverySummary {
    const recoveryTicks = this.records
      .filter((r) => r.readmittedTick !== null)
      .map((r) => (r.readmittedTick as number) - r.excludedTick)
      .sort((a, b) => a - b);
    return {
      coldRestart: this.options.coldRestart,
      ...this.counters,
      recoveryTicksMedian: recoveryTicks.length > 0 ? (recoveryTicks[Math.floor((recoveryTicks.length - 1) / 2)] as number) : null,
      recoveryTicksMax: recoveryTicks.length > 0 ? (recoveryTicks[recoveryTicks.length - 1] as number) : null,
      replicas: this.replicas.map((r, index) => ({
        index,
        phase: r.phase,
        restarts: r.restart.restartCount,
        retired: r.restart.retired,
        detail: r.detail,
      })),
      records: this.records,
      recordsDropped: this.recordsDropped,
    };
  }
}
