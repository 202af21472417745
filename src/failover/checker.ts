/**
 * A checker over the actuator's own log (arbiter.ts), in the manner of Jepsen: it reads only what
 * the actuator recorded, never what the voters believe, and reports every violation of the
 * safety properties redundant voters promise, with the ticks that show it:
 *
 *  - SPLIT_TICK: one voter tick applied under two epochs (two voters commanded the same tick);
 *  - EPOCH_REGRESSION: a command of an older epoch applied after one of a newer epoch;
 *  - TICK_REGRESSION: a voter tick applied at or below one applied before it (a replayed or
 *    reordered command);
 *  - GAP: more actuator ticks in a row without an applied command than the bound given, after the
 *    first applied command (the longest gap is reported whatever the bound).
 *
 * Pure: the log in, the findings out.
 */
import type { ArbiterLogEntry } from './arbiter.js';

export type ViolationKind = 'SPLIT_TICK' | 'EPOCH_REGRESSION' | 'TICK_REGRESSION' | 'GAP';

export interface Violation {
  readonly kind: ViolationKind;
  /** The actuator tick that shows it. */
  readonly actuatorTick: number;
  /** One line: what happened, with the epochs and ticks involved. */
  readonly detail: string;
}

export interface CheckResult {
  readonly violations: readonly Violation[];
  readonly applied: number;
  readonly refused: number;
  /** Epoch changes the actuator made, in order. */
  readonly epochChanges: readonly { readonly actuatorTick: number; readonly from: number; readonly to: number; readonly why: string }[];
  /** The longest run of actuator ticks without an applied command, after the first applied one. */
  readonly longestGapTicks: number;
  /** Where that run started (-1: none). */
  readonly longestGapAt: number;
}

/** Violations listed at most; more are counted in the last one's detail. */
const VIOLATIONS_LISTED_MAX = 100;

export function checkActuatorLog(log: Iterable<ArbiterLogEntry>, options: { readonly gapTicksMax?: number } = {}): CheckResult {
  const violations: Violation[] = [];
  let violationsOmitted = 0;
  const report = (violation: Violation): void => {
    if (violations.length < VIOLATIONS_LISTED_MAX) violations.push(violation);
    else violationsOmitted++;
  };
  /** Voter tick → the epoch it was applied under. */
  const epochOfTick = new Map<number, number>();
  const epochChanges: { actuatorTick: number; from: number; to: number; why: string }[] = [];
  let applied = 0;
  let refused = 0;
  let newestEpoch = 0;
  let lastTick = -1;
  let lastAppliedAt = -1;
  let longestGapTicks = 0;
  let longestGapAt = -1;
  const gap = (fromTick: number, toTick: number): void => {
    const ticks = toTick - fromTick - 1;
    if (lastAppliedAt >= 0 && ticks > longestGapTicks) {
      longestGapTicks = ticks;
      longestGapAt = fromTick + 1;
    }
  };
  /** The last actuator tick the log covers: a gap that runs to the end of the log counts too. */
  let lastActuatorTick = -1;
  for (const entry of log) {
    // Refusals are dated by the tick still open; applied and silent entries close theirs.
    if (entry.kind === 'applied' || entry.kind === 'silent') lastActuatorTick = Math.max(lastActuatorTick, entry.actuatorTick);
    if (entry.kind === 'refused') {
      refused++;
      continue;
    }
    if (entry.kind === 'epoch') {
      epochChanges.push({ actuatorTick: entry.actuatorTick, from: entry.from, to: entry.to, why: entry.why });
      continue;
    }
    if (entry.kind !== 'applied') continue;
    applied++;
    gap(lastAppliedAt, entry.actuatorTick);
    const earlier = epochOfTick.get(entry.tick);
    if (earlier !== undefined && earlier !== entry.epoch) {
      report({ kind: 'SPLIT_TICK', actuatorTick: entry.actuatorTick, detail: `voter tick ${entry.tick} applied under epoch ${earlier} and again under epoch ${entry.epoch}` });
    }
    if (entry.epoch < newestEpoch) {
      report({ kind: 'EPOCH_REGRESSION', actuatorTick: entry.actuatorTick, detail: `a command of epoch ${entry.epoch} (voter ${entry.voterId}, tick ${entry.tick}) applied after one of epoch ${newestEpoch}` });
    }
    if (entry.tick <= lastTick) {
      report({ kind: 'TICK_REGRESSION', actuatorTick: entry.actuatorTick, detail: `voter tick ${entry.tick} applied after voter tick ${lastTick}` });
    }
    epochOfTick.set(entry.tick, entry.epoch);
    newestEpoch = Math.max(newestEpoch, entry.epoch);
    lastTick = Math.max(lastTick, entry.tick);
    lastAppliedAt = entry.actuatorTick;
  }
  gap(lastAppliedAt, lastActuatorTick + 1);
  if (options.gapTicksMax !== undefined && longestGapTicks > options.gapTicksMax) {
    report({ kind: 'GAP', actuatorTick: longestGapAt, detail: `${longestGapTicks} actuator ticks without an applied command from tick ${longestGapAt} (bound ${options.gapTicksMax})` });
  }
  if (violationsOmitted > 0) {
    const last = violations[violations.length - 1]!;
    violations[violations.length - 1] = { ...last, detail: `${last.detail} (and ${violationsOmitted} more violations not listed)` };
  }
  return { violations, applied, refused, epochChanges, longestGapTicks, longestGapAt };
}
