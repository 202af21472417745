/**
 * Redundant voters on real hosts (issue 19, acceptance item 3): network namespaces made here
 * (loopback without the privileges), a real 3-member etcd cluster, three `tmr replica` servers,
 * a `tmr actuator` and two `tmr voter`s (trials.ts). One trial per fault on the primary.
 *
 * Asserted, whatever the scheduler does: the actuator's own log passes the checker (no tick under
 * two epochs, no older epoch after a newer one, no tick applied twice or backwards), nothing
 * unsafe was applied (the actuator's reference law), and after a fault that silences the primary a
 * newer epoch commands. The takeover time, and what the former primary does (it steps down; its
 * later commands refused), are figures here, held under npm run soak: a busy machine can make the
 * actuator take the standby before the fault, which is safe, and then the roles were already
 * swapped. `npm run test:failover` runs 56 seeded trials on a quiet machine.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertFreshBuild } from '../helpers/cli.js';
import { timingFigure } from '../helpers/timing-figure.js';
import { TrialBench, WATCHDOG_TICKS, type TrialFault } from './trials.js';

let bench: TrialBench;

beforeAll(async () => {
  assertFreshBuild();
  bench = await TrialBench.start();
}, 120_000);

afterAll(async () => {
  await bench?.stop();
});

const CASES: readonly { fault: TrialFault; seed: number }[] = [
  { fault: 'kill', seed: 1 },
  { fault: 'stop-unfenced', seed: 3 },
  { fault: 'partition-etcd', seed: 4 },
  { fault: 'etcd-leader-and-primary', seed: 7 },
];

describe('redundant voters fenced at the actuator', () => {
  for (const c of CASES) {
    it(`${c.fault}: the checker finds nothing in the actuator's log, nothing unsafe is applied, a newer epoch commands`, async (context) => {
      if (bench.hosts.kind === 'loopback' && c.fault.startsWith('partition')) {
        context.skip();
        return;
      }
      const result = await bench.runTrial(c.seed, c.fault);
      const context_ = `${JSON.stringify({ violations: result.violations, claims: result.claims, takeover: result.takeoverTicks, actuator: result.actuator })}; replay: ${result.replay}`;
      expect(result.violations, context_).toEqual([]);
      expect(result.actuator.unsafeCommands, context_).toBe(0);
      expect(result.actuator.applied, context_).toBeGreaterThan(0);
      if (c.fault !== 'etcd-member') expect(result.takeoverTicks, context_).not.toBeNull();
      timingFigure(`${c.fault}: takeover, actuator ticks from the primary's last command to the standby's first`, result.takeoverTicks ?? Number.POSITIVE_INFINITY, 10, result.actuator.epochChanges);
      timingFigure(`${c.fault}: claims about the former primary missed`, result.claims.length, 0, result.claims);
      timingFigure(`${c.fault}: longest run of actuator ticks without an applied command`, result.actuator.longestGapTicks, WATCHDOG_TICKS, result.actuator.epochChanges);
    });
  }
});
