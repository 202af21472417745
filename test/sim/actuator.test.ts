import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TmrAssertionError } from '../../src/core/assert.js';
import {
  Actuator,
  ACTUATOR_LATENCY_TICKS_MAX,
  actuatorConfigProblem,
  DEFAULT_ACTUATOR,
  type ActuatorConfig,
} from '../../src/sim/actuator.js';

/** A drive with no slew, deadband or latency, so each test switches on only the limit it checks. */
const PLAIN: ActuatorConfig = {
  supplyMvMax: 12_000,
  slewMvPerTickMax: 24_000,
  deadbandMv: 0,
  latencyTicks: 0,
  watchdogTicks: 1_000,
  safeCommandMv: 0,
};

function drive(config: Partial<ActuatorConfig>): Actuator {
  return new Actuator({ ...PLAIN, ...config });
}

/** Feeds the commands one per tick and returns appliedMv after each. */
function appliedAfter(actuator: Actuator, commands: readonly (number | null)[]): number[] {
  return commands.map((command) => {
    actuator.tick(command);
    return actuator.appliedMv;
  });
}

describe('actuator configuration', () => {
  it('accepts the default configuration', () => {
    expect(actuatorConfigProblem(DEFAULT_ACTUATOR)).toBeNull();
  });

  it.each([
    ['watchdogTicks 0', { watchdogTicks: 0 }, 'watchdogTicks'],
    ['latencyTicks beyond the ring', { latencyTicks: ACTUATOR_LATENCY_TICKS_MAX + 1 }, 'latencyTicks'],
    ['negative latencyTicks', { latencyTicks: -1 }, 'latencyTicks'],
    ['slew 0', { slewMvPerTickMax: 0 }, 'slewMvPerTickMax'],
    ['fractional slew', { slewMvPerTickMax: 10.5 }, 'slewMvPerTickMax'],
    ['deadband beyond the supply', { deadbandMv: 12_001 }, 'deadbandMv'],
    ['safe command beyond the supply', { safeCommandMv: -12_001 }, 'safeCommandMv'],
    ['supply 0', { supplyMvMax: 0 }, 'supplyMvMax'],
  ] as const)('asserts on %s at construction', (_name, override, field) => {
    const config = { ...PLAIN, ...override };
    expect(actuatorConfigProblem(config)).toContain(field);
    expect(() => new Actuator(config)).toThrow(TmrAssertionError);
  });
});

describe('actuator saturation and range check', () => {
  it('applies exactly ±supplyMvMax and rejects one millivolt more', () => {
    const a = drive({});
    expect(appliedAfter(a, [12_000, -12_000])).toEqual([12_000, -12_000]);
    expect(a.commandsRejected).toBe(0);
    a.tick(12_001);
    expect(a.appliedMv).toBe(-12_000); // rejected: the drive holds what it had
    a.tick(-12_001);
    expect(a.appliedMv).toBe(-12_000);
    expect(a.commandsRejected).toBe(2);
  });

  it.each([1.5, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0.25, 2 ** 53])(
    'rejects %s and treats it like a missing command',
    (bad) => {
      const a = drive({ watchdogTicks: 2 });
      a.tick(700);
      a.tick(bad);
      expect(a.commandsRejected).toBe(1);
      expect(a.appliedMv).toBe(700);
      expect(a.watchdogTripped).toBe(false);
      a.tick(bad); // the second consecutive tick without an accepted command trips the watchdog
      expect(a.watchdogTripped).toBe(true);
      expect(a.commandsRejected).toBe(2);
    },
  );
});

describe('actuator slew limit', () => {
  it('moves by exactly slewMvPerTickMax per tick, then lands on the target', () => {
    const a = drive({ slewMvPerTickMax: 1_000 });
    expect(appliedAfter(a, [3_500, 3_500, 3_500, 3_500, 3_500])).toEqual([1_000, 2_000, 3_000, 3_500, 3_500]);
    expect(appliedAfter(a, [-500, -500, -500, -500, -500])).toEqual([2_500, 1_500, 500, -500, -500]);
  });

  it('never changes the applied voltage by more than the slew limit (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5_000 }),
        fc.array(fc.integer({ min: -12_000, max: 12_000 }), { minLength: 1, maxLength: 200 }),
        (slew, commands) => {
          const a = drive({ slewMvPerTickMax: slew });
          let previous = a.appliedMv;
          for (const command of commands) {
            a.tick(command);
            if (Math.abs(a.appliedMv - previous) > slew) return false;
            previous = a.appliedMv;
          }
          return true;
        },
      ),
    );
  });
});

describe('actuator deadband', () => {
  it('applies 0 V below deadbandMv and the command from deadbandMv on, in both directions', () => {
    const a = drive({ deadbandMv: 100 });
    expect(appliedAfter(a, [99, 100, -99, -100, 0, 101, 1])).toEqual([0, 100, 0, -100, 0, 101, 0]);
  });
});

describe('actuator latency ring', () => {
  it.each(Array.from({ length: ACTUATOR_LATENCY_TICKS_MAX + 1 }, (_, latency) => latency))(
    'applies the command received latencyTicks = %i ticks earlier, across many wraps of the ring',
    (latency) => {
      const safe = -250;
      const a = drive({ latencyTicks: latency, safeCommandMv: safe });
      const commands = Array.from({ length: 40 }, (_, t) => 100 * (t + 1) * (t % 2 === 0 ? 1 : -1));
      const applied = appliedAfter(a, commands);
      const expected = commands.map((_, t) => (t < latency ? safe : (commands[t - latency] as number)));
      expect(applied).toEqual(expected);
    },
  );

  it('holds the last command through ticks without one, after the same latency', () => {
    const a = drive({ latencyTicks: 2, watchdogTicks: 10 });
    expect(appliedAfter(a, [500, null, null, 800, null, null, null])).toEqual([0, 0, 500, 500, 500, 800, 800]);
  });
});

describe('actuator watchdog', () => {
  it.each([1, 2, 3, 5, 8])('trips at exactly watchdogTicks = %i consecutive missing commands', (watchdogTicks) => {
    const a = drive({ watchdogTicks, safeCommandMv: 300 });
    a.tick(4_000);
    for (let missed = 1; missed < watchdogTicks; missed++) {
      a.tick(null);
      expect(a.watchdogTripped).toBe(false);
      expect(a.brakeEngaged).toBe(false);
      expect(a.appliedMv).toBe(4_000);
    }
    a.tick(null);
    expect(a.watchdogTripped).toBe(true);
    expect(a.brakeEngaged).toBe(true);
    expect(a.safeReason).toBe('watchdog');
    expect(a.appliedMv).toBe(300); // the safe command, at once: no slew, no latency
    expect(a.watchdogTrips).toBe(1);
  });

  it('restarts the count on every accepted command', () => {
    const a = drive({ watchdogTicks: 3 });
    appliedAfter(a, [100, null, null, 100, null, null, 100, null, null]);
    expect(a.watchdogTripped).toBe(false);
    a.tick(null);
    expect(a.watchdogTripped).toBe(true);
  });

  it('latches safe, ignoring (and counting) commands until rearm()', () => {
    const a = drive({ watchdogTicks: 2, slewMvPerTickMax: 1_000, safeCommandMv: 0 });
    appliedAfter(a, [1_000, 2_000, null, null]);
    expect(a.watchdogTripped).toBe(true);
    expect(appliedAfter(a, [5_000, 5_000, 5_000])).toEqual([0, 0, 0]);
    expect(a.commandsIgnored).toBe(3);
    expect(a.brakeEngaged).toBe(true);
    a.tick(null);
    a.tick(null);
    expect(a.watchdogTrips).toBe(1); // a latched drive does not trip again
    a.tick(20_000); // still range-checked while latched
    expect(a.commandsRejected).toBe(1);
    expect(a.commandsIgnored).toBe(3);

    a.rearm();
    expect(a.watchdogTripped).toBe(false);
    expect(a.brakeEngaged).toBe(false);
    expect(appliedAfter(a, [2_500, 2_500, 2_500])).toEqual([1_000, 2_000, 2_500]); // slews from the safe value
  });

  it('applies nothing received before the trip after rearm()', () => {
    const a = drive({ latencyTicks: 2, watchdogTicks: 1 });
    appliedAfter(a, [5_000, 6_000]);
    a.tick(null);
    expect(a.watchdogTripped).toBe(true);
    a.rearm();
    expect(appliedAfter(a, [7_000, 7_000, 7_000])).toEqual([0, 0, 7_000]);
  });

  it('trips again after a rearm when commands stay away', () => {
    const a = drive({ watchdogTicks: 2 });
    appliedAfter(a, [null, null]);
    a.rearm();
    a.tick(null);
    expect(a.watchdogTripped).toBe(false);
    a.tick(null);
    expect(a.watchdogTripped).toBe(true);
    expect(a.watchdogTrips).toBe(2);
  });

  it('enters the commanded safe state at once, distinct from a watchdog trip', () => {
    const a = drive({ safeCommandMv: -400 });
    a.tick(9_000);
    a.enterSafeState();
    expect(a.appliedMv).toBe(-400);
    expect(a.brakeEngaged).toBe(true);
    expect(a.watchdogTripped).toBe(false);
    expect(a.safeReason).toBe('commanded');
    expect(a.watchdogTrips).toBe(0);
  });
});

describe('actuator invariants (property)', () => {
  const commandArb = fc.oneof(
    fc.integer({ min: -13_000, max: 13_000 }),
    fc.constant(null),
    fc.double({ noNaN: false }),
  );
  it('applies an integer within the supply, equal to the safe command whenever the brake is on', () => {
    fc.assert(
      fc.property(
        fc.record({
          slewMvPerTickMax: fc.integer({ min: 1, max: 24_000 }),
          deadbandMv: fc.integer({ min: 0, max: 500 }),
          latencyTicks: fc.integer({ min: 0, max: ACTUATOR_LATENCY_TICKS_MAX }),
          watchdogTicks: fc.integer({ min: 1, max: 6 }),
          safeCommandMv: fc.integer({ min: -12_000, max: 12_000 }),
        }),
        fc.array(fc.tuple(commandArb, fc.integer({ min: 0, max: 30 })), { maxLength: 150 }),
        (config, script) => {
          const a = drive(config);
          const twin = drive(config);
          for (const [command, action] of script) {
            if (action === 0) { a.rearm(); twin.rearm(); }
            a.tick(command);
            twin.tick(command);
            if (!Number.isInteger(a.appliedMv) || Math.abs(a.appliedMv) > 12_000) return false;
            if (a.brakeEngaged && a.appliedMv !== config.safeCommandMv) return false;
            if (!Object.is(a.appliedMv, twin.appliedMv)) return false; // deterministic
          }
          return true;
        },
      ),
    );
  });
});
