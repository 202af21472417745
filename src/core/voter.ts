/**
 * Per-channel voters for N replicas. Pure, allocation-free: callers pass preallocated scratch
 * and a result object that is overwritten.
 *
 * Replica sets are bit masks (bit i = replica i), so N <= 15.
 *   exact:     a value agreed bit for bit by at least `requiredAgreeing` participants wins.
 *   midValue:  the median of the participants (lower median for an even count) is selected;
 *              it is valid when at least `requiredAgreeing` participants lie within
 *              ±toleranceCounts of it.
 * `requiredAgreeing` must be a strict majority of the replicas in service (not merely of those
 * that replied), so at most one value can ever win and a minority can never command.
 */
import { assert, fail } from './assert.js';

export const REPLICA_COUNT_MAX = 15;

export type VoteKind = 'exact' | 'midValue';

export interface ChannelSpec {
  readonly name: string;
  readonly kind: VoteKind;
  /** Allowed distance from the selected value, in the channel's own units (midValue only; 0 for exact). */
  readonly toleranceCounts: number;
}

export interface VoteResult {
  ok: boolean;
  value: number;
  /** Participants that agree with the selected value (within tolerance for midValue). */
  agreeMask: number;
}

export function createVoteResult(): VoteResult {
  return { ok: false, value: 0, agreeMask: 0 };
}

export function popcount(mask: number): number {
  let m = mask >>> 0;
  let count = 0;
  while (m !== 0) {
    m &= m - 1;
    count++;
  }
  return count;
}

function checkArguments(values: ArrayLike<number>, participantMask: number, replicaCount: number, requiredAgreeing: number): void {
  if (!(replicaCount >= 1 && replicaCount <= REPLICA_COUNT_MAX)) fail(`replicaCount ${replicaCount} out of range`);
  assert(values.length >= replicaCount, 'values shorter than replicaCount');
  assert(participantMask >>> 0 < 1 << replicaCount, 'participant mask names a replica beyond replicaCount');
  if (!(requiredAgreeing >= 1 && requiredAgreeing <= replicaCount)) fail(`requiredAgreeing ${requiredAgreeing} out of range`);
}

/** Exact majority vote. */
export function voteExact(
  values: ArrayLike<number>,
  participantMask: number,
  replicaCount: number,
  requiredAgreeing: number,
  result: VoteResult,
): VoteResult {
  checkArguments(values, participantMask, replicaCount, requiredAgreeing);
  result.ok = false;
  result.value = 0;
  result.agreeMask = 0;
  for (let i = 0; i < replicaCount; i++) {
    if ((participantMask & (1 << i)) === 0) continue;
    const candidate = values[i] as number;
    let agree = 0;
    for (let j = 0; j < replicaCount; j++) {
      if ((participantMask & (1 << j)) !== 0 && values[j] === candidate) agree |= 1 << j;
    }
    if (popcount(agree) >= requiredAgreeing) {
      result.ok = true;
      result.value = candidate;
      result.agreeMask = agree;
      return result;
    }
  }
  return result;
}

/**
 * Mid-value select with tolerance. `sortScratch` must hold at least replicaCount numbers; it is
 * overwritten. Insertion sort: N <= 15, no allocation, bounded.
 */
export function voteMidValue(
  values: ArrayLike<number>,
  participantMask: number,
  replicaCount: number,
  requiredAgreeing: number,
  toleranceCounts: number,
  sortScratch: Float64Array,
  result: VoteResult,
): VoteResult {
  checkArguments(values, participantMask, replicaCount, requiredAgreeing);
  assert(toleranceCounts >= 0 && Number.isInteger(toleranceCounts), 'tolerance must be a non-negative integer');
  assert(sortScratch.length >= replicaCount, 'sort scratch too small');
  result.ok = false;
  result.value = 0;
  result.agreeMask = 0;
  let count = 0;
  for (let i = 0; i < replicaCount; i++) {
    if ((participantMask & (1 << i)) === 0) continue;
    const v = values[i] as number;
    let k = count;
    while (k > 0 && (sortScratch[k - 1] as number) > v) {
      sortScratch[k] = sortScratch[k - 1] as number;
      k--;
    }
    sortScratch[k] = v;
    count++;
  }
  if (count === 0) return result;
  const selected = sortScratch[(count - 1) >> 1] as number;
  let agree = 0;
  for (let j = 0; j < replicaCount; j++) {
    if ((participantMask & (1 << j)) !== 0 && Math.abs((values[j] as number) - selected) <= toleranceCounts) agree |= 1 << j;
  }
  result.value = selected;
  result.agreeMask = agree;
  result.ok = popcount(agree) >= requiredAgreeing;
  return result;
}

/** Strict majority of the replicas in service: the agreement a vote needs. */
export function requiredAgreeingFor(inServiceCount: number): number {
  return (inServiceCount >> 1) + 1;
}
