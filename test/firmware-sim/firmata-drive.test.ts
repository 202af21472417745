/**
 * The simulated Firmata drive's logic (firmware-sim/firmata-drive.ts), bytes in and out with no
 * port: what it answers, what it refuses, and its watchdog in drive ticks.
 */
import { describe, expect, it } from 'vitest';
import { DRIVE_FIRMWARE_NAME, FirmataDrive, SYSEX_BYTES_MAX, type DriveEvent } from '../../firmware-sim/firmata-drive.js';
import { DEFAULT_ACTUATOR } from '../../src/sim/actuator.js';

const WATCHDOG_TICKS = 3;

function drive(): { d: FirmataDrive; sent: number[][]; events: DriveEvent[] } {
  const sent: number[][] = [];
  const events: DriveEvent[] = [];
  const d = new FirmataDrive(
    { commandPin: 9, heartbeatPin: 8, pwmRangeUs: [1000, 2000], actuator: { ...DEFAULT_ACTUATOR, watchdogTicks: WATCHDOG_TICKS } },
    (bytes) => sent.push([...bytes]),
    (event) => events.push(event),
  );
  return { d, sent, events };
}

/** What johnny-five sends to attach a Servo on pin 9 and an output Pin on 8. */
const ATTACH = [0xf0, 0x70, 9, 0x68, 0x07, 0x50, 0x0f, 0xf7, 0xf4, 8, 1];
const servo = (us: number): number[] => [0xe9, us & 0x7f, us >> 7];
/** Digital port 1 (pins 8..15) with pin 8 at `level`. */
const heartbeat = (level: number): number[] => [0x91, level, 0];

describe('the simulated Firmata drive', () => {
  it('answers the handshake firmata-io makes: version, firmware name, capabilities, analog mapping', () => {
    const { d, sent } = drive();
    d.receive(Uint8Array.from([0xf9, 0xf0, 0x79, 0xf7, 0xf0, 0x6b, 0xf7, 0xf0, 0x69, 0xf7]));
    expect(sent[0]).toEqual([0xf9, 2, 5]);
    const name = sent[1]!.slice(4, -1).filter((_, i) => i % 2 === 0);
    expect(String.fromCharCode(...name)).toBe(DRIVE_FIRMWARE_NAME);
    expect(sent[2]!.slice(0, 2)).toEqual([0xf0, 0x6c]);
    expect(sent[2]!.filter((b) => b === 0x7f)).toHaveLength(20); // one terminator per pin
    expect(sent[3]).toEqual([0xf0, 0x6a, ...Array(14).fill(0x7f), 0, 1, 2, 3, 4, 5, 0xf7]);
    expect(d.counters.refusedBytes).toBe(0);
  });

  it('maps pulses back onto ±supply and delivers a command only on ticks with a heartbeat edge; silence trips the watchdog after exactly its ticks, latched until a reset', () => {
    const { d, events } = drive();
    d.receive(Uint8Array.from([...ATTACH, ...heartbeat(0), ...servo(1750)]));
    expect(d.lastCommandMv).toBe(6_000);
    d.driveTick(); // no edge yet: not armed, nothing counted
    expect(d.actuator.appliedMv).toBe(0);
    for (let i = 0; i < 10; i++) {
      d.receive(Uint8Array.from(heartbeat((i + 1) % 2)));
      d.driveTick();
    }
    expect(d.actuator.appliedMv).toBe(6_000);
    for (let i = 0; i < WATCHDOG_TICKS - 1; i++) d.driveTick();
    expect(d.actuator.watchdogTripped).toBe(false);
    d.driveTick();
    expect(d.actuator.watchdogTripped).toBe(true);
    expect(events.find((e) => e.event === 'watchdogTripped')).toMatchObject({ ticksWithoutHeartbeat: WATCHDOG_TICKS, lastCommandMv: 6_000, appliedMv: DEFAULT_ACTUATOR.safeCommandMv, brakeEngaged: true });
    // Heartbeats coming back do not re-enable it; a system reset does.
    d.receive(Uint8Array.from(heartbeat(0)));
    d.driveTick();
    expect(d.actuator.appliedMv).toBe(DEFAULT_ACTUATOR.safeCommandMv);
    d.receive(Uint8Array.from([0xff]));
    expect(events.at(-1)).toMatchObject({ event: 'rearmed' });
  });

  it('refuses and counts what it does not understand: stray data, unknown commands, a pulse on a pin not in servo mode, an oversized sysex', () => {
    const { d, sent } = drive();
    d.receive(Uint8Array.from([0x01, 0x02])); // data with no command
    d.receive(Uint8Array.from([0xa0, 0x01, 0x02])); // not a Firmata command
    d.receive(Uint8Array.from(servo(1500))); // pin 9 never attached
    expect(d.lastCommandMv).toBeNull();
    d.receive(Uint8Array.from([0xf0, ...Array(SYSEX_BYTES_MAX + 10).fill(0x11), 0xf7]));
    expect(d.counters.refusedBytes).toBe(2 + 3 + 3 + SYSEX_BYTES_MAX + 12);
    // And it still understands what follows.
    d.receive(Uint8Array.from([0xf9]));
    expect(sent.at(-1)).toEqual([0xf9, 2, 5]);
  });
});
