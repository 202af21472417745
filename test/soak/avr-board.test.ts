/**
 * Soak (npm run soak, not npm test): the timing claims of TMR runs with the real Uno firmware
 * (boards/uno) in the AVR emulator, one run each, no retry. The long mixed runs with the
 * simulation's exact trace and no exclusion (both laws), three emulated Unos at 1,000,000 baud and
 * 100 Hz, a reset of one Uno mid-run detected within 2 ticks of its first missed deadline, and
 * every fault kind injected through the firmware's test hooks detected. npm test keeps the
 * deterministic checks of the firmware and two short runs (test/runtime/avr-board.test.ts).
 * One file: npx vitest run --project soak test/soak/avr-board.test.ts
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { AvrSim } from '../../firmware-sim/avr-sim.js';
import { FAULT_KIND, type FaultKind } from '../../src/protocol/messages.js';
import { DEFAULT_LOOP_OPTIONS } from '../../src/sim/plants.js';
import { serialReplica, type ReplicaProvider, type ReplicaSpec } from '../../src/runtime/replica-kinds.js';
import { runRealtime, type RealtimeSummary } from '../../src/runtime/realtime-runner.js';
import { SerialTransport } from '../../src/transport/serial-transport.js';
import { assertFreshBuild, replicaFlags, tmrJson } from '../helpers/cli.js';
import { runAgainstSim } from '../helpers/fault-free-trace.js';

beforeAll(() => assertFreshBuild());

const tmr = tmrJson;
const replicas = replicaFlags;

/** One run against the simulation that must have its exact trace, no exclusion and no disagreement. */
async function expectExactRun(common: readonly string[], mix: readonly string[], label: string): Promise<RealtimeSummary> {
  const command = `tmr run ${[...common, ...mix].join(' ')}`;
  const { run, comparison } = await runAgainstSim(common, mix, { label, runTmr: (a) => tmr<RealtimeSummary>(a) });
  expect(comparison.identical, `the machine intervened at tick ${comparison.firstInterventionTick} (${command})`).toBe(true);
  expect(run.replicas.map((r) => r.state), `${command}: ${JSON.stringify(run.replicas)}; ${JSON.stringify(run.timing)}`).toEqual(['inService', 'inService', 'inService']);
  for (const r of run.replicas) expect(r.counters.disagreements + r.counters.digestMismatches, `${command}: replica ${r.index}`).toBe(0);
  expect(run.unsafeCommands, command).toBe(0);
  return run;
}

describe('TMR runs with emulated Unos', () => {
  it("{Node replica, emulated Uno, simulated board} at 50 Hz for 2,000 ticks: no disagreement, no exclusion, the simulation's exact trace", async () => {
    const run = await expectExactRun(['--rate-hz', '50', '--ticks', '2000', '--seed', '31'], replicas('node', 'avr-sim', 'sim-board'), '{node, avr-sim, sim-board}, 2,000 ticks');
    expect(run.links[1]!.description).toMatch(/@1000000/);
  });

  it("law tank: {Node replica, emulated Uno built for tank (the run's law), simulated board} at 50 Hz for 1,000 ticks: no exclusion, the simulation's exact trace", async () => {
    const run = await expectExactRun(['--law', 'tank', '--rate-hz', '50', '--ticks', '1000', '--seed', '33'], replicas('node', 'avr-sim', 'sim-board'), 'tank on {node, avr-sim, sim-board}, 1,000 ticks');
    expect(run.law.name).toBe('tank');
  });

  // The highest rate the 1,000,000-baud image sustains on this 2-core VM (boards/uno/profile.json):
  // reply p50 ~1.4 ms, p99 ~2.1 ms against a 7.5 ms deadline. At 200 Hz (3.75 ms) single runs
  // went from 4 misses in 2,000 ticks to all three excluded when the machine was busy.
  it('three emulated Unos at 1,000,000 baud and 100 Hz for 2,000 ticks: no disagreement, all in service', async () => {
    const args = ['run', '--rate-hz', '100', '--ticks', '2000', '--seed', '32', ...replicas('avr-sim', 'avr-sim', 'avr-sim')];
    const command = `tmr ${args.join(' ')}`;
    const run = await tmr<RealtimeSummary>(args);
    for (const r of run.replicas) expect(r.counters.disagreements + r.counters.digestMismatches, `${command}: replica ${r.index}`).toBe(0);
    expect(run.replicas.map((r) => r.state), `${command}: ${JSON.stringify(run.replicas)}; ${JSON.stringify(run.timing)}`).toEqual(['inService', 'inService', 'inService']);
    expect(run.unsafeCommands, command).toBe(0);
    console.log(`3 emulated Unos at 100 Hz: ${run.deadlineMisses} deadline misses, reply p50 ${run.timing.replyP50Us} µs, p99 ${run.timing.replyP99Us} µs`);
  });

  it('resetting one emulated Uno mid-run is detected within 2 ticks of its first missed deadline; the others carry the loop', async () => {
    const started: AvrSim[] = [];
    const provider: ReplicaProvider = {
      kind: 'avr-sim',
      async start(_spec, i) {
        const sim = await AvrSim.start({ name: `reset-${i}` });
        started.push(sim);
        const transport = await SerialTransport.open({ path: sim.hostPath, baudRate: sim.baudRate, name: `replica ${i}` });
        return serialReplica(transport, () => sim.stop(), sim.pid, () => false, sim.pid === undefined ? [] : [sim.pid]);
      },
    };
    const spec: ReplicaSpec = { kind: 'avr-sim' };
    let resetAt = -1;
    const run = await runRealtime(
      { ...DEFAULT_LOOP_OPTIONS, rateHz: 50, ticks: 400, seed: 5, deadlineUs: 15_000, handshakeTimeoutMs: 15_000, replicas: [spec, spec, spec], providers: [provider] },
      {
        onTick: (_model, result) => {
          if (result.tick === 200) void started[2]!.reset().then(() => (resetAt = 200));
        },
      },
    );
    const context = `runRealtime at 50 Hz, 400 ticks, seed 5, three emulated Unos, replica 2 reset at tick 200: ${JSON.stringify(run.replicas)}; ${JSON.stringify(run.timing)}`;
    expect(resetAt).toBe(200);
    const victim = run.replicas[2]!;
    expect(victim.state, context).toBe('excluded');
    // A reset board is silent while it boots, then answers ticks with NOT_CONFIGURED errors.
    expect(victim.reason, context).toMatch(/^(DEADLINE_MISSED|PROTOCOL_ERROR)$/);
    expect(victim.firstMissTick, context).not.toBeNull();
    expect(victim.excludedTick! - victim.firstMissTick!, `ticks from the first missed deadline to the exclusion (${context})`).toBeLessThanOrEqual(2);
    expect(run.replicas[0]!.state, context).toBe('inService');
    expect(run.replicas[1]!.state, context).toBe('inService');
    expect(run.finalMode, context).toBe('duplex');
    expect(run.unsafeCommands, context).toBe(0);
  });

  const kinds = Object.keys(FAULT_KIND) as FaultKind[];
  it.each(kinds)('fault %s injected into the emulated Uno through its test hooks is detected', async (kind) => {
    const args = ['run', '--rate-hz', '50', '--ticks', '260', '--seed', '6', '--inject', `${kind}:2@200`, ...replicas('node', 'node', 'avr-sim')];
    const command = `tmr ${args.join(' ')}`;
    const run = await tmr<RealtimeSummary>(args);
    const fault = run.faults[0]!;
    expect(fault.detectedTick, `${kind} was not detected (${command}): ${JSON.stringify(run.replicas[2])}`).not.toBeNull();
    expect(run.replicas[2]!.state, command).toBe('excluded');
    expect(run.unsafeCommands, command).toBe(0);
    expect(run.replicas[0]!.state, `${command}: ${JSON.stringify(run.replicas[0])}`).toBe('inService');
  });
});
