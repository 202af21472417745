/**
 * `tmr run --io firmata-sim` (issue 18, acceptance 1): the loop closes through the simulated
 * Firmata plant board (johnny-five on the host, Firmata bytes on a real pty both ways, the plant on
 * the board's own clock), for the motor and the tank, with a replica fault masked.
 *
 * What holds whatever the scheduler does: samples were read and writes made over Firmata, every
 * tick toggled the heartbeat, and the fault was masked (the replica out, no unsafe command).
 * Timing figures, held to their bounds under npm run soak: the fault seen as such, no other replica
 * out for its timing, the loop closed (the final error far inside an open loop's) and within a
 * band of the in-process plant's. Beside two busy loops (CI) a run went safe with a second replica
 * out for its timing, its final error then an open loop's. The map used here is the shipped one with a tolerant stale
 * bound (1 s, hold 100 ticks): a busy machine that stalls the board process for more than the
 * shipped 50 ms would otherwise end the run safe, correctly, and this test is about closing the
 * loop; the stale path has its own tests (test/io/, and the HIL library's Firmata scenarios).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { assertFreshBuild, ROOT, runCli } from '../helpers/cli.js';
import { timingFigure } from '../helpers/timing-figure.js';

interface IoRunSummary {
  ticks: number;
  unsafeCommands: number;
  finalMode: string;
  modeHistory: unknown;
  killSwitch: unknown;
  commands: { voted: number; held: number; simplex: number; safe: number };
  faults: { outcome: string; replica: number; reason: string | null }[];
  replicas: { state: string }[];
  tracking: { maxAbsError: number; finalError: number };
  io: {
    sensorSamples: number;
    actuatorWrites: number;
    heartbeatEdges: number;
    inputs: { channel: string; samples: number }[];
    outputs: { channel: string; writes: number }[];
    boardLost: unknown;
  };
}

const dir = mkdtempSync(join(tmpdir(), 'tmr-firmata-io-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tolerantMap(plant: 'motor' | 'tank', analog: string): string {
  const map = JSON.parse(readFileSync(join(ROOT, 'boards', 'firmata', `${plant}-io.json`), 'utf8'));
  Object.assign(map.inputs[analog], { staleAfterMs: 1000, onFault: { holdTicks: 100 } });
  const path = join(dir, `${plant}-io.json`);
  writeFileSync(path, JSON.stringify(map));
  return path;
}

async function simulated(law: string): Promise<{ tracking: { finalError: number } }> {
  const sim = await runCli(['sim', '--law', law, '--rate-hz', '100', '--ticks', '3000', '--json']);
  expect(sim.code, sim.stderr).toBe(0);
  return JSON.parse(sim.stdout);
}

describe('tmr run --io firmata-sim', () => {
  const cases = [
    // The default profile ends on a 60° ramp: a loop that does not close ends about 60° off.
    { law: 'pid-q16', plant: 'motor' as const, analog: 'positionMilliDeg', outputs: ['commandMv'], finalBand: 1_000, closedBand: 20_000, inject: 'wrong:1@1000+500' },
    // A wrong valve command offset into a saturated valve (shut or open) can equal the truth and go
    // unseen (masked all the same): the tank's replica fault is a crash, always seen.
    // The tank's profile ends at 600 mm from a start at 300 mm.
    { law: 'tank', plant: 'tank' as const, analog: 'levelMm', outputs: ['valvePermille'], finalBand: 30, closedBand: 150, inject: 'crash:1@1000' },
  ];
  for (const c of cases) {
    it(`${c.law}: closes the loop over Firmata and masks a faulty replica (${c.inject})`, async () => {
      assertFreshBuild();
      const args = ['run', '--law', c.law, '--rate-hz', '100', '--ticks', '3000', '--io', 'firmata-sim', '--io-map', tolerantMap(c.plant, c.analog), '--inject', c.inject, '--json'];
      const result = await runCli(args, { timeoutMs: 120_000 });
      expect(result.code, result.stderr).toBe(0);
      const s = JSON.parse(result.stdout) as IoRunSummary;
      expect(result.stderr).toContain(`simulated Firmata ${c.plant} board`);
      expect(s.ticks).toBe(3000);
      expect(s.unsafeCommands).toBe(0);
      expect(s.killSwitch).toBeNull();
      // Masked: the faulty replica is out and the loop commands on in duplex. A busy machine may take
      // it out for its timing before the fault (as in realtime.test.ts's tank case); whether the
      // fault itself was seen is then a figure, not the claim. Or it may take a healthy replica out
      // for its timing first (CI beside two busy loops once did): the duplex left cannot tell which
      // of two is right when the fault comes, and the loop goes safe. Nothing unsafe either way.
      const context = JSON.stringify({ faults: s.faults, replicas: s.replicas, modeHistory: s.modeHistory });
      expect(s.replicas[1]!.state === 'excluded' || s.finalMode === 'safe', `replica 1 still in service and the loop not safe: ${context}`).toBe(true);
      // A busy machine may take another replica out for its timing too (then the loop is safe):
      // replicas out beyond the faulty one are a figure.
      timingFigure(`${c.law}: replicas out besides the faulty one`, s.replicas.filter((r, i) => i !== 1 && r.state === 'excluded').length, 0, s.replicas);
      timingFigure(`${c.law}: fault not seen as such (1: its replica was out for its timing before it)`, s.faults[0]!.outcome === 'detected' ? 0 : 1, 0, s.faults);
      // Over the wire both ways: every sensor reported, every driven output was written, a heartbeat edge per tick.
      expect(s.io.inputs.find((i) => i.channel === c.analog)!.samples).toBeGreaterThan(0);
      expect(s.io.sensorSamples).toBeGreaterThan(0);
      for (const name of c.outputs) expect(s.io.outputs.find((o) => o.channel === name)!.writes).toBeGreaterThan(0);
      expect(s.io.heartbeatEdges).toBe(3000);
      expect(s.io.boardLost).toBeNull();
      // Tracking: the loop closed (the final error is far inside what an open loop leaves), and, a
      // timing figure held under npm run soak, it ends where the in-process plant ends, within a band:
      // the board's plant runs on its own clock and its samples are up to an interval old, so a stall
      // of the board or the host near the end shows here (pid-q16 rings through the extra delay).
      timingFigure(`${c.law}: |final error| (an open loop ends far outside it)`, Math.abs(s.tracking.finalError), c.closedBand, s.tracking);
      const reference = await simulated(c.law);
      timingFigure(`${c.law}: |final error − in-process final error|`, Math.abs(s.tracking.finalError - reference.tracking.finalError), c.finalBand, s.tracking);
    });
  }
});
