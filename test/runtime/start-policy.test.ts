/**
 * The start policy (issue 17, item 5), every case: each odd replica count, each number in
 * service, both simplex policies, against an oracle written from the README's words rather than
 * from the degradation ladder the implementation asks.
 */
import { describe, expect, it } from 'vitest';
import { REPLICA_COUNT_MAX } from '../../src/core/voter.js';
import { START_POLICIES, startPolicyMet, StartRefusedError, type ReplicaStartFailure } from '../../src/runtime/realtime-runner.js';

/** README "Start-up": full needs every replica; degraded needs two, or one under the simplex policy 'simplex'. */
function oracle(policy: string, replicaCount: number, inService: number, simplexPolicy: string): boolean {
  if (policy === 'full') return inService === replicaCount;
  return inService >= 2 || (inService === 1 && simplexPolicy === 'simplex');
}

describe('startPolicyMet', () => {
  it('agrees with the README for every replica count, count in service and simplex policy', () => {
    let cases = 0;
    let refused = 0;
    for (const policy of START_POLICIES) {
      for (let replicaCount = 3; replicaCount <= REPLICA_COUNT_MAX; replicaCount += 2) {
        for (let inService = 0; inService <= replicaCount; inService++) {
          for (const simplexPolicy of ['safe', 'simplex'] as const) {
            const met = startPolicyMet(policy, replicaCount, inService, simplexPolicy);
            expect(met, `${policy}, ${inService} of ${replicaCount}, simplex policy ${simplexPolicy}`).toBe(oracle(policy, replicaCount, inService, simplexPolicy));
            cases++;
            if (!met) refused++;
          }
        }
      }
    }
    // Not vacuous: both outcomes occur, zero in service is refused under both policies.
    expect(refused).toBeGreaterThan(0);
    expect(refused).toBeLessThan(cases);
    for (const policy of START_POLICIES) for (const simplexPolicy of ['safe', 'simplex'] as const) expect(startPolicyMet(policy, 3, 0, simplexPolicy)).toBe(false);
  });
});

describe('StartRefusedError', () => {
  const failures: ReplicaStartFailure[] = [
    { replicaIndex: 0, name: '/dev/ttyS0', reason: 'NO_ANSWER', detail: 'no answer within 10000 ms' },
    { replicaIndex: 2, name: 'serial', reason: 'START_FAILED', detail: 'replica 2: cannot open /dev/ttyX: no such port (ENOENT)' },
  ];

  it('names the policy and each replica that did not start, by what it is, with why', () => {
    expect(new StartRefusedError('full', 3, 1, failures, 'safe').message.split('\n')).toEqual([
      "cannot start: 2 of 3 replicas did not start; the start policy is 'full' (every replica must; the 'degraded' policy starts with fewer):",
      '  replica 0 (/dev/ttyS0): NO_ANSWER: no answer within 10000 ms',
      '  replica 2 (serial): START_FAILED: replica 2: cannot open /dev/ttyX: no such port (ENOENT)',
    ]);
  });

  it('under the degraded policy says how many it needs', () => {
    expect(new StartRefusedError('degraded', 3, 1, failures, 'safe').message.split('\n')[0]).toBe(
      "cannot start: 1 of 3 replicas answered, too few for the loop to command anything but the safe state (the start policy 'degraded' needs at least 2 with the simplex policy 'safe'):",
    );
    expect(new StartRefusedError('degraded', 3, 0, failures, 'simplex').message.split('\n')[0]).toContain("needs at least 1 with the simplex policy 'simplex'");
  });
});
