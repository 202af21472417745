/**
 * Acceptance of issue 6, item 4: the voter is SIGKILLed mid-run. The drive board it was commanding
 * (the simulated Firmata drive, a process of its own on a pseudo-terminal, driven by johnny-five
 * through `tmr run --actuator firmata:PATH`) notices the heartbeat stop and its actuator model's
 * watchdog takes it to its safe position; the black-box log reads back to its last complete record
 * with no tick before it missing, and replay reproduces every voted command in it.
 */
import { shippedLaw } from '../../src/law/law-loader.js';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimFirmataDrive } from '../../firmware-sim/firmata-drive-board.js';
import { readBlackBox } from '../../src/loop/black-box-reader.js';
import { replayBlackBox } from '../../src/loop/replay.js';
import { DEFAULT_ACTUATOR } from '../../src/sim/actuator.js';
import { assertFreshBuild, killTree, runCli } from '../helpers/cli.js';
import { timingFigure } from '../helpers/timing-figure.js';

const dir = mkdtempSync(join(tmpdir(), 'tmr-voter-death-'));
beforeAll(() => assertFreshBuild());
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const RATE_HZ = 200;
/** The drive's watchdog: 20 of its ticks (100 ms) without a heartbeat edge. Long enough that a
 * host stall of this shared machine does not trip it while the voter lives. */
const WATCHDOG_TICKS = 20;
/** One Servo step: ±12 V onto 1000–2000 µs, truncated by johnny-five. */
const PULSE_STEP_MV = 24;

describe('SIGKILL of the voter mid-run (issue 6, item 4)', () => {
  it('the drive board\'s watchdog takes it to its safe position; the log reads to its last complete record and replays bit for bit', async () => {
    const drive = await SimFirmataDrive.start({ name: 'voter-death-drive', rateHz: RATE_HZ, watchdogTicks: WATCHDOG_TICKS });
    const log = join(dir, 'voter-death.tmrlog');
    const replicaPids: number[] = [];
    let voterPid: number | undefined;
    try {
      let ready = false;
      const run = runCli(['run', '--rate-hz', String(RATE_HZ), '--ticks', '100000', '--log', log, '--actuator', `firmata:${drive.hostPath}`, '--json'], {
        timeoutMs: 60_000,
        onSpawn: (child) => {
          voterPid = child.pid;
          let stderr = '';
          child.stderr!.on('data', (c: Buffer) => {
            stderr += c.toString();
            const match = /replicas ready \(replica 0: pid (\d+), replica 1: pid (\d+), replica 2: pid (\d+)\)/.exec(stderr);
            if (match !== null && !ready) {
              ready = true;
              replicaPids.push(Number(match[1]), Number(match[2]), Number(match[3]));
            }
          });
        },
      });
      const armed = await drive.waitFor('armed', 30_000);
      expect(armed, 'the drive never saw a heartbeat from tmr run').not.toBeNull();
      // Let the loop run until the log holds a few hundred ticks, then kill the voter alone.
      for (let i = 0; i < 400 && (statSync(log, { throwIfNoEntry: false })?.size ?? 0) < 30_000; i++) await new Promise((r) => setTimeout(r, 25));
      // A machine stall longer than the watchdog trips it while the voter lives, and the drive
      // latches safe: the watchdog doing its job (a figure here). Either way, once the voter is
      // dead the drive must be safe, and tripped exactly once.
      const tripsWhileAlive = drive.events.filter((e) => e.event === 'watchdogTripped').length;
      timingFigure('drive watchdog trips while the voter was alive (machine stalls over 100 ms)', tripsWhileAlive, 0, drive.events);
      process.kill(voterPid!, 'SIGKILL');
      const result = await run;
      expect(result.signal).toBe('SIGKILL');
      expect(result.stderr).toMatch(/actuator: johnny-five Servo \(pin 9\) \+ heartbeat Pin \(pin 8\) → Firmata on \S+voter-death-drive\.host @57600/);

      // The drive: tripped by its own watchdog after exactly WATCHDOG_TICKS ticks without a
      // heartbeat, applying the safe command with the brake on.
      const trip = await drive.waitFor('watchdogTripped', 5_000);
      expect(trip, 'the drive never went safe after the voter died').not.toBeNull();
      expect(trip!.ticksWithoutHeartbeat).toBe(WATCHDOG_TICKS);
      expect(trip!.appliedMv).toBe(DEFAULT_ACTUATOR.safeCommandMv);
      expect(trip!.brakeEngaged).toBe(true);
      const status = await drive.stop();
      expect(status).not.toBeNull();
      expect(status!.watchdogTrips).toBe(1);
      expect(status!.refusedBytes, 'johnny-five sent the drive something it does not understand').toBe(0);
      expect(status!.heartbeatEdges).toBeGreaterThan(300);

      // The log: every tick from 0 to its last complete record, none missing, no end record.
      const contents = readBlackBox(log);
      expect(contents.end).toBeNull();
      expect(contents.ticks.length).toBeGreaterThan(300);
      expect(contents.ticks.map((t) => t.tick)).toEqual(contents.ticks.map((_, i) => i));
      // The drive got the commands the log holds, but for those still in the serial port's write
      // queue when the voter died (measured on a loaded machine: one tick's); the last one it got
      // is one of the commands the voter sent.
      expect(status!.commandWrites).toBeGreaterThan(0);
      timingFigure('ticks in the log whose heartbeat never reached the drive (still queued at the kill)', Math.max(0, contents.ticks.length - 1 - status!.heartbeatEdges), 0, { edges: status!.heartbeatEdges, ticks: contents.ticks.length });
      expect(Math.abs(status!.lastCommandMv!)).toBeLessThanOrEqual(DEFAULT_ACTUATOR.supplyMvMax);
      const last = contents.ticks[contents.ticks.length - 1]!;
      if (status!.heartbeatEdges === contents.ticks.length - 1) expect(Math.abs(status!.lastCommandMv! - last.commands[0]!)).toBeLessThanOrEqual(PULSE_STEP_MV);

      const report = replayBlackBox(contents, shippedLaw('pid-q16'));
      expect(report.mismatchCount, JSON.stringify(report.mismatches)).toBe(0);
      expect(report.votedChecked).toBe(contents.ticks.filter((t) => t.source === 'voted').length);
    } finally {
      killTree(voterPid);
      for (const pid of replicaPids) killTree(pid);
      await drive.stop();
    }
  }, 120_000);
});
