/**
 * Per-replica failure detector, driven by ticks. Modelled on PX4's DataValidator: a consecutive
 * miss counter (timeout) and an error-density counter that rises by one on every tick with any
 * error and falls by one on every clean tick. One transient never excludes a healthy replica; a
 * persistent fault does within a bounded number of ticks:
 *   silent (crash, hang):     excluded on its deadlineMissLimit-th consecutive missed deadline;
 *   wrong / stuck / state:    excluded after errorDensityLimit consecutive bad ticks;
 *   intermittent errors:      excluded once errors outnumber clean ticks by errorDensityLimit.
 */
import { assert } from './assert.js';

/** Why a replica left service. Verbatim in events, logs and summaries. */
export type ExclusionReason =
  | 'LINK_DOWN'
  | 'DEADLINE_MISSED'
  | 'LATE_REPLY'
  | 'OUTPUT_DISAGREE'
  | 'DIGEST_MISMATCH'
  | 'PROTOCOL_ERROR'
  | 'OUTPUT_OUT_OF_RANGE'
  | 'HANDSHAKE_REFUSED';

/** Per-tick error flags for one replica (bit set). */
export const TICK_FLAG = {
  MISSED: 1,
  LATE: 2,
  DISAGREE: 4,
  DIGEST: 8,
  PROTOCOL: 16,
  RANGE: 32,
} as const;
const ANY_ERROR = 63;
/** The timing flags: what a common-mode stall or a late host can cause (see tmr-core's episodes). */
export const TIMING_FLAGS = TICK_FLAG.MISSED | TICK_FLAG.LATE;

export interface DetectorConfig {
  /** Consecutive ticks without an on-time reply that exclude a replica. */
  readonly deadlineMissLimit: number;
  /** Error-density level that excludes a replica. */
  readonly errorDensityLimit: number;
}

export interface DetectorCounters {
  missedDeadlines: number;
  lateReplies: number;
  disagreements: number;
  digestMismatches: number;
  protocolErrors: number;
  outputsOutOfRange: number;
}

export interface ReplicaHealth {
  consecutiveMisses: number;
  errorDensity: number;
  /** Last tick a late (stale) reply or a protocol error was seen; -1 for never. */
  lastLateTick: number;
  lastProtocolErrorTick: number;
  lastErrorReason: ExclusionReason | null;
  readonly counters: DetectorCounters;
}

export function createReplicaHealth(): ReplicaHealth {
  return {
    consecutiveMisses: 0,
    errorDensity: 0,
    lastLateTick: -1,
    lastProtocolErrorTick: -1,
    lastErrorReason: null,
    counters: { missedDeadlines: 0, lateReplies: 0, disagreements: 0, digestMismatches: 0, protocolErrors: 0, outputsOutOfRange: 0 },
  };
}

export function checkDetectorConfig(config: DetectorConfig): void {
  assert(Number.isInteger(config.deadlineMissLimit) && config.deadlineMissLimit >= 1 && config.deadlineMissLimit <= 1000, 'deadlineMissLimit out of range');
  assert(Number.isInteger(config.errorDensityLimit) && config.errorDensityLimit >= 1 && config.errorDensityLimit <= 1000, 'errorDensityLimit out of range');
}

/**
 * A clean slate for a replica coming back (probation, re-admission): its counts of errors
 * stay, for the summary; what it did before it was restarted no longer counts against it.
 */
export function resetReplicaHealth(health: ReplicaHealth): void {
  health.consecutiveMisses = 0;
  health.errorDensity = 0;
  health.lastLateTick = -1;
  health.lastProtocolErrorTick = -1;
  health.lastErrorReason = null;
}

/** The most telling reason among one tick's flags: what the replica said beats that it was silent. */
export function exclusionReasonFor(flags: number): ExclusionReason {
  if (flags & TICK_FLAG.PROTOCOL) return 'PROTOCOL_ERROR';
  if (flags & TICK_FLAG.RANGE) return 'OUTPUT_OUT_OF_RANGE';
  if (flags & TICK_FLAG.DIGEST) return 'DIGEST_MISMATCH';
  if (flags & TICK_FLAG.DISAGREE) return 'OUTPUT_DISAGREE';
  if (flags & TICK_FLAG.LATE) return 'LATE_REPLY';
  return 'DEADLINE_MISSED';
}

/**
 * Feeds one tick's flags. Returns the exclusion reason if the replica must leave service now,
 * else null. Pure apart from updating `health`.
 *
 * `excused` (a subset of TIMING_FLAGS) names flags this tick that are not this replica's doing: a
 * common-mode stall that silenced a majority at once, or a host that was late itself. They are
 * counted for the summary but neither raise nor lower the replica's miss run or error density: an
 * excused tick is no evidence either way. Flags about what it said are never excused.
 */
export function detectorUpdate(health: ReplicaHealth, config: DetectorConfig, tick: number, flags: number, excused = 0): ExclusionReason | null {
  assert((excused & ~TIMING_FLAGS) === 0, 'only timing flags can be excused');
  const c = health.counters;
  const counted = flags & ~excused;
  if (flags & TICK_FLAG.LATE) c.lateReplies++;
  if (counted & TICK_FLAG.LATE) health.lastLateTick = tick;
  if (flags & TICK_FLAG.PROTOCOL) {
    health.lastProtocolErrorTick = tick;
    c.protocolErrors++;
  }
  if (flags & TICK_FLAG.DISAGREE) c.disagreements++;
  if (flags & TICK_FLAG.DIGEST) c.digestMismatches++;
  if (flags & TICK_FLAG.RANGE) c.outputsOutOfRange++;
  if (flags & TICK_FLAG.MISSED) c.missedDeadlines++;
  if (counted & TICK_FLAG.MISSED) health.consecutiveMisses++;
  else if ((flags & excused & TICK_FLAG.MISSED) === 0) health.consecutiveMisses = 0;

  if (counted & ANY_ERROR) {
    if (health.errorDensity < config.errorDensityLimit) health.errorDensity++;
    health.lastErrorReason = exclusionReasonFor(counted);
  } else if ((flags & excused) === 0 && health.errorDensity > 0) {
    health.errorDensity--;
  }

  if (health.consecutiveMisses >= config.deadlineMissLimit) {
    // Silent at the deadline, but was it talking? A replica whose replies arrive late, or arrive
    // as garbage, is not dead; say which.
    const windowStart = tick - config.deadlineMissLimit;
    if (health.lastProtocolErrorTick >= 0 && health.lastProtocolErrorTick > windowStart) return 'PROTOCOL_ERROR';
    if (health.lastLateTick >= 0 && health.lastLateTick > windowStart) return 'LATE_REPLY';
    return 'DEADLINE_MISSED';
  }
  if (health.errorDensity >= config.errorDensityLimit) {
    assert(health.lastErrorReason !== null, 'density limit reached with no recorded error');
    // Corrupt frames within the window are the cause, whatever the last symptom was: a noisy
    // line that loses a tick leaves a replica whose digest then disagrees, and the reason should
    // name the line, not the digest.
    if (health.lastProtocolErrorTick >= 0 && health.lastProtocolErrorTick > tick - 2 * config.errorDensityLimit) return 'PROTOCOL_ERROR';
    return health.lastErrorReason;
  }
  return null;
}
