/**
 * The loop with a law other than pid-q16: the tank law (three inputs, three outputs, a mid-value
 * valve beside exact discretes) on its own plant, and a user's law module with a plant module.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { importLaw, shippedLaw } from '../../src/law/law-loader.js';
import { FAULT_KINDS } from '../../src/protocol/messages.js';
import type { LoopOptions } from '../../src/loop/loop-model.js';
import { DEFAULT_LOOP_OPTIONS, importPlant, shippedPlantFor } from '../../src/sim/plants.js';
import { runSimulation } from '../../src/sim/simulator.js';

const tank = shippedLaw('tank');
const TANK: LoopOptions = { ...DEFAULT_LOOP_OPTIONS, law: tank, plant: shippedPlantFor(tank), rateHz: 50, ticks: 3_000 };

describe('the tank law in the simulator', () => {
  const faultFree = runSimulation(TANK);

  it('tracks its level profile with every command voted', () => {
    expect(faultFree.unsafeCommands).toBe(0);
    expect(faultFree.commands.voted).toBe(3_000);
    expect(faultFree.law).toMatchObject({ name: 'tank', version: 1 });
    expect(faultFree.tracking).toMatchObject({ setpoint: 'levelSetpointMm', measured: 'levelMm', unit: 'mm' });
    expect(Math.abs(faultFree.tracking.finalError)).toBeLessThan(100);
  });

  it.each(FAULT_KINDS)('a %s fault on one replica gives the fault-free voted trace', (kind) => {
    const run = runSimulation({ ...TANK, injects: [{ kind, replicaIndex: 1, startTick: 500, durationTicks: 0 }] });
    expect(run.unsafeCommands).toBe(0);
    expect(run.votedTraceHash).toBe(faultFree.votedTraceHash);
    // Every fault that makes the replica's replies differ is caught; the state fault here flips the
    // float switch's wet count, which the next dry reading clears, so it is tolerated as a transient.
    if (kind !== 'state') expect(run.faults[0]!.detectedTick).not.toBeNull();
  });

  it('two faulty replicas of three end in the safe state: valve shut, pump off, alarm raised', () => {
    const commands: number[][] = [];
    runSimulation(
      { ...TANK, injects: [{ kind: 'wrong', replicaIndex: 0, startTick: 400, durationTicks: 0 }, { kind: 'wrong', replicaIndex: 2, startTick: 400, durationTicks: 0 }] },
      { onTick: (_, r) => commands.push(Array.from(r.commands)) },
    );
    expect(commands.at(-1)).toEqual([0, 0, 1]);
  });

  it('refuses a plant built for another law, naming both channel lists', () => {
    expect(() => shippedPlantFor(tank, 'motor')).toThrow("plant 'motor' supplies inputs setpointMilliDeg, positionMilliDeg; law 'tank' takes levelSetpointMm, levelMm, highSwitch");
  });
});

describe('a user law and plant as modules', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tmr-any-law-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const index = join(process.cwd(), 'src', 'index.ts');

  it('runs in the simulator, and a fault is masked', async () => {
    // A thermostat: heater on below the setpoint band, off above it; a first-order room.
    writeFileSync(
      join(dir, 'thermostat.ts'),
      `import { defineLaw } from '${index}';
export default defineLaw({
  name: 'thermostat', version: 1,
  inputs: [{ name: 'setpointDeciC', unit: 'dC', min: 0, max: 400 }, { name: 'roomDeciC', unit: 'dC', min: -200, max: 600 }],
  outputs: [{ name: 'heaterOn', unit: 'bool', min: 0, max: 1, safe: 0, vote: 'exact' }],
  params: [{ name: 'bandDeciC', min: 0, max: 50, default: 5 }],
  stateSizeBytes: 1,
  init: (p) => ({ band: p[0], on: 0 }),
  step: (s, i, o) => { if (i[1] < i[0] - s.band) s.on = 1; else if (i[1] > i[0] + s.band) s.on = 0; o[0] = s.on; },
  serialize: (s, out) => { out[0] = s.on; },
  deserialize: (s, b) => { if (b[0] > 1) return 'not a flag'; s.on = b[0]; return null; },
});
`,
    );
    writeFileSync(
      join(dir, 'room.ts'),
      `export default {
  kind: 'tmr-plant', name: 'room', inputs: ['setpointDeciC', 'roomDeciC'], outputs: ['heaterOn'],
  tracking: { setpoint: 'setpointDeciC', measured: 'roomDeciC', unit: 'dC' },
  create: () => {
    let room = 150; let heater = 0;
    return {
      actuatorCounters: { watchdogTrips: 0, commandsRejected: 0 },
      sense: (_tick, inputs) => { inputs[0] = 210; inputs[1] = Math.round(room); },
      actuate: (_tick, commands) => { heater = commands[0]; room += heater ? 0.5 : -0.2; },
      enterSafeState: () => { heater = 0; },
    };
  },
};
`,
    );
    const law = await importLaw(join(dir, 'thermostat.ts'));
    const plant = await importPlant(law, join(dir, 'room.ts'));
    const options: LoopOptions = { ...DEFAULT_LOOP_OPTIONS, law, plant, ticks: 500 };
    const clean = runSimulation(options);
    expect(clean.unsafeCommands).toBe(0);
    expect(Math.abs(clean.tracking.finalError)).toBeLessThanOrEqual(7);
    const faulted = runSimulation({ ...options, injects: [{ kind: 'wrong', replicaIndex: 2, startTick: 100, durationTicks: 0 }] });
    expect(faulted.votedTraceHash).toBe(clean.votedTraceHash);
    expect(faulted.faults[0]!.reason).toBe('OUTPUT_DISAGREE');
  });
});
