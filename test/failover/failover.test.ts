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
 *
 * One more trial puts real I/O behind the actuator (`tmr actuator --io firmata-sim`): the
 * simulated Firmata board, read and driven through johnny-five, with the same assertions, and the
 * board's traffic both ways. Its map (motor-io-quiet.json) is the shipped motor map with the sensor
 * allowed to be quiet for 2 s (stale sensors are the HIL bench's subject; here a busy machine
 * would end the run safe), checked below to differ in nothing else, so a replay can name it.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertFreshBuild } from '../helpers/cli.js';
import { timingFigure } from '../helpers/timing-figure.js';
import { TrialBench, WATCHDOG_TICKS, type TrialFault, type TrialOptions } from './trials.js';

let bench: TrialBench;
const MAP_PATH = fileURLToPath(new URL('motor-io-quiet.json', import.meta.url));

beforeAll(async () => {
  assertFreshBuild();
  bench = await TrialBench.start();
}, 120_000);

afterAll(async () => {
  await bench?.stop();
});

it("the Firmata trial's map is the shipped motor map but for the sensor's 2 s stale bound", () => {
  type MotorMap = { description: string; inputs: { positionMilliDeg: { staleAfterMs: number } } };
  const read = (url: URL): MotorMap => JSON.parse(readFileSync(url, 'utf8')) as MotorMap;
  const shipped = read(new URL('../../boards/firmata/motor-io.json', import.meta.url));
  const quiet = read(new URL('motor-io-quiet.json', import.meta.url));
  expect(quiet.inputs.positionMilliDeg.staleAfterMs).toBe(2_000);
  expect({ ...quiet, description: '', inputs: { ...quiet.inputs, positionMilliDeg: { ...quiet.inputs.positionMilliDeg, staleAfterMs: 0 } } }).toEqual({
    ...shipped,
    description: '',
    inputs: { ...shipped.inputs, positionMilliDeg: { ...shipped.inputs.positionMilliDeg, staleAfterMs: 0 } },
  });
});

const CASES: readonly { fault: TrialFault; seed: number; options?: TrialOptions }[] = [
  { fault: 'kill', seed: 1 },
  { fault: 'stop-unfenced', seed: 3 },
  { fault: 'partition-etcd', seed: 4 },
  { fault: 'etcd-leader-and-primary', seed: 7 },
  { fault: 'kill', seed: 8, options: { rateHz: 100, io: { scheme: 'firmata-sim', mapPath: MAP_PATH } } },
];

describe('redundant voters fenced at the actuator', () => {
  for (const c of CASES) {
    it(`${c.fault}${c.options?.io === undefined ? '' : `, real I/O behind the actuator (--io ${c.options.io.scheme})`}: the checker finds nothing in the actuator's log, nothing unsafe is applied, a newer epoch commands`, async (context) => {
      if (bench.hosts.kind === 'loopback' && c.fault.startsWith('partition')) {
        context.skip();
        return;
      }
      const result = await bench.runTrial(c.seed, c.fault, c.options);
      const context_ = `${JSON.stringify({ violations: result.violations, claims: result.claims, takeover: result.takeoverTicks, actuator: result.actuator })}; replay: ${result.replay}`;
      expect(result.violations, context_).toEqual([]);
      expect(result.actuator.unsafeCommands, context_).toBe(0);
      expect(result.actuator.applied, context_).toBeGreaterThan(0);
      if (c.fault !== 'etcd-member') expect(result.takeoverTicks, context_).not.toBeNull();
      if (c.options?.io !== undefined) {
        const io = result.actuator.io;
        expect(io, context_).not.toBeNull();
        // Over Firmata both ways: the board's sensor reported, the servo was written and the drive's heartbeat toggled every tick.
        expect(io!.sensorSamples, context_).toBeGreaterThan(0);
        expect(io!.actuatorWrites, context_).toBeGreaterThan(0);
        expect(io!.heartbeatEdges, context_).toBe(result.actuator.ticks);
        expect(io!.boardLost, context_).toBeNull();
        expect(result.actuator.inputFault, context_).toBeNull();
      } else {
        expect(result.actuator.io, context_).toBeNull();
      }
      timingFigure(`${c.fault}: takeover, actuator ticks from the primary's last command to the standby's first`, result.takeoverTicks ?? Number.POSITIVE_INFINITY, 10, result.actuator.epochChanges);
      timingFigure(`${c.fault}: claims about the former primary missed`, result.claims.length, 0, result.claims);
      timingFigure(`${c.fault}: longest run of actuator ticks without an applied command`, result.actuator.longestGapTicks, WATCHDOG_TICKS, result.actuator.epochChanges);
    });
  }
});
