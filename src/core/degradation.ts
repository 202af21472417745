/**
 * The degradation ladder: how many replicas are in service decides how commands are trusted.
 *   >= 3 in service  tmr      a strict majority of those in service must agree;
 *      2             duplex   both must agree; a disagreement latches the safe state, because
 *                             nobody can tell which of two is right;
 *      1             simplex  the lone replica commands, if the policy allows; else safe;
 *      0             safe     the actuator's safe command.
 * `safeLatched` holds the loop in safe regardless of the count (set by an unresolvable duplex
 * disagreement; cleared only by an operator or by recovery). A loss of quorum with enough
 * replicas in service also commands safe, but only until a strict majority agrees again.
 */
export type Mode = 'tmr' | 'duplex' | 'simplex' | 'safe';
export const MODES: readonly Mode[] = ['tmr', 'duplex', 'simplex', 'safe'];

/** What to do with a single replica left: trust it, or stop. */
export type SimplexPolicy = 'simplex' | 'safe';

/** Why the loop latched safe. */
export type SafeReason = 'DUPLEX_DISAGREEMENT' | 'QUORUM_LOST' | 'COMMON_MODE_STALL';

export function modeFor(inServiceCount: number, simplexPolicy: SimplexPolicy, safeLatched: boolean): Mode {
  if (safeLatched) return 'safe';
  if (inServiceCount >= 3) return 'tmr';
  if (inServiceCount === 2) return 'duplex';
  if (inServiceCount === 1) return simplexPolicy === 'simplex' ? 'simplex' : 'safe';
  return 'safe';
}
