/**
 * The simulated Firmata plant board (firmware-sim/firmata-plant.ts): its logic byte for byte with
 * no port (reporting, the sampling interval, the encodings, what each write means to the plant,
 * the dead-man, each sensor fault, what it refuses, any chunking of the input), then the real
 * process on a real pseudo-terminal driven by johnny-five over firmata-io.
 */
import { spawn } from 'node:child_process';
import type { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import firmataIo from 'firmata-io';
import five, { type Board } from 'johnny-five';
import { SerialPort } from 'serialport';
import { describe, expect, it } from 'vitest';
import { FirmataPlant, PLANT_FIRMWARE_NAME, type PlantBoardConfig, type PlantEvent } from '../../firmware-sim/firmata-plant.js';
import { SimFirmataPlant, type PlantLine } from '../../firmware-sim/firmata-plant-board.js';
import { OwnedProcess, programCommand } from '../../firmware-sim/owned-process.js';
import { PtyPair } from '../../firmware-sim/pty-pair.js';
import { SYSEX_BYTES_MAX } from '../../firmware-sim/firmata-plant-protocol.js';
import { checkIoMap, rawForValue, type IoMap } from '../../src/io/io-map.js';
import { shippedLaw } from '../../src/law/law-loader.js';
import { Prng } from '../../src/core/prng.js';
import { processExists, runCleanups, type Cleanup } from '../helpers/processes.js';
import { timingFigure } from '../helpers/timing-figure.js';

const MOTOR_LAW = shippedLaw('pid-q16');
const TANK_LAW = shippedLaw('tank');
const mapFile = (name: string): unknown => JSON.parse(readFileSync(new URL(`../../boards/firmata/${name}`, import.meta.url), 'utf8'));
const MOTOR_MAP = checkIoMap(mapFile('motor-io.json'), 'motor-io.json', MOTOR_LAW);
const TANK_MAP = checkIoMap(mapFile('tank-io.json'), 'tank-io.json', TANK_LAW);
/** The motor wired to a Motor (PWM on 5, direction on 4) instead of a servo. */
const MOTOR_PWM_MAP = checkIoMap(
  { ...(mapFile('motor-io.json') as object), outputs: { commandMv: { actuator: 'motor', pwmPin: 5, dirPin: 4, valueMax: 12_000 }, rateMilliDegPerTick: { actuator: 'none' } } },
  'motor-pwm-io.json',
  MOTOR_LAW,
);

interface Rig {
  readonly b: FirmataPlant;
  /** Every byte the board sent, in order. */
  readonly out: number[];
  readonly events: PlantEvent[];
  /** Feeds bytes; returns what the board sent in answer. */
  feed(...bytes: number[]): number[];
  /** Runs board ticks; returns what the board sent meanwhile. */
  ticks(count: number): number[];
}

function rig(config: Partial<PlantBoardConfig> = {}): Rig {
  const out: number[] = [];
  const events: PlantEvent[] = [];
  const b = new FirmataPlant(
    { plant: 'motor', map: MOTOR_MAP, law: MOTOR_LAW, rateHz: 200, seed: 1, watchdogMs: 50, ...config },
    (bytes) => out.push(...bytes),
    (event) => events.push(event),
  );
  const since = (run: () => void): number[] => {
    const from = out.length;
    run();
    return out.slice(from);
  };
  return {
    b,
    out,
    events,
    feed: (...bytes) => since(() => b.receive(Uint8Array.from(bytes))),
    ticks: (count) =>
      since(() => {
        for (let i = 0; i < count; i++) b.boardTick();
      }),
  };
}

const tankRig = (config: Partial<PlantBoardConfig> = {}): Rig => rig({ plant: 'tank', map: TANK_MAP, law: TANK_LAW, ...config });

/** Host → board messages, as firmata-io writes them. */
const reportAnalog = (channel: number, on: 0 | 1): number[] => [0xc0 | channel, on];
const reportDigital = (port: number, on: 0 | 1): number[] => [0xd0 | port, on];
const pinMode = (pin: number, mode: number): number[] => [0xf4, pin, mode];
const samplingInterval = (ms: number): number[] => [0xf0, 0x7a, ms & 0x7f, ms >> 7, 0xf7];
const servoConfig = (pin: number, minUs: number, maxUs: number): number[] => [0xf0, 0x70, pin, minUs & 0x7f, minUs >> 7, maxUs & 0x7f, maxUs >> 7, 0xf7];
const analogWrite = (pin: number, value: number): number[] => [0xe0 | pin, value & 0x7f, value >> 7];
const extendedAnalog = (pin: number, value: number): number[] => [0xf0, 0x6f, pin, value & 0x7f, (value >> 7) & 0x7f, value >> 14, 0xf7];
const portWrite = (port: number, bits: number): number[] => [0x90 | port, bits & 0x7f, bits >> 7];
const pinValue = (pin: number, value: number): number[] => [0xf5, pin, value];
/** Board → host. */
const analogReport = (channel: number, raw: number): number[] => [0xe0 | channel, raw & 0x7f, raw >> 7];
const digitalReport = (port: number, bits: number): number[] => [0x90 | port, bits & 0x7f, bits >> 7];
/** A heartbeat edge on the maps' pin 8 (port 1, bit 0). */
const heartbeat = (level: 0 | 1): number[] => portWrite(1, level);

/** Splits a byte stream into the messages of the analog reports it holds (E0..EF + 2 bytes). */
function analogReadings(bytes: readonly number[]): { channel: number; raw: number }[] {
  const found: { channel: number; raw: number }[] = [];
  for (let i = 0; i + 2 < bytes.length; i++) {
    if ((bytes[i]! & 0xf0) === 0xe0) found.push({ channel: bytes[i]! & 0x0f, raw: bytes[i + 1]! | (bytes[i + 2]! << 7) });
  }
  return found;
}

/** Ticks at which analog reports came, running `count` ticks one at a time. */
function reportTicks(r: Rig, count: number): number[] {
  const at: number[] = [];
  for (let i = 0; i < count; i++) if (r.ticks(1).length > 0) at.push(r.b.counters.boardTicks);
  return at;
}

const MOTOR_POSITION = MOTOR_MAP.inputs[1] as Extract<IoMap['inputs'][number], { source: 'analog' }>;
/** The raw reading of the motor's shaft at 0 m° (within the sensor's noise of a few m°). */
const RAW_AT_ZERO = rawForValue(0, MOTOR_POSITION.raw, MOTOR_POSITION.value);

describe('the simulated Firmata plant board, bytes in and out', () => {
  it('answers the handshake firmata-io makes as StandardFirmata on an Uno does', () => {
    const r = rig();
    expect(r.feed(0xf9)).toEqual([0xf9, 2, 5]);
    const firmware = r.feed(0xf0, 0x79, 0xf7);
    expect(firmware.slice(0, 4)).toEqual([0xf0, 0x79, 2, 5]);
    expect(String.fromCharCode(...firmware.slice(4, -1).filter((_, i) => i % 2 === 0))).toBe(PLANT_FIRMWARE_NAME);
    const capabilities = r.feed(0xf0, 0x6b, 0xf7);
    // Per pin: mode, resolution pairs, then 7F; pins 0 and 1 (the serial link) have none.
    const perPin: number[][] = [];
    let current: number[] = [];
    for (const byte of capabilities.slice(2, -1)) {
      if (byte === 0x7f) {
        perPin.push(current);
        current = [];
      } else current.push(byte);
    }
    expect(perPin).toHaveLength(20);
    expect(perPin[0]).toEqual([]);
    expect(perPin[1]).toEqual([]);
    expect(perPin[2]).toEqual([0, 1, 0x0b, 1, 1, 1, 4, 14]);
    expect(perPin[9]).toEqual([0, 1, 0x0b, 1, 1, 1, 3, 8, 4, 14]);
    expect(perPin[14]).toEqual([0, 1, 0x0b, 1, 1, 1, 2, 10, 4, 14]);
    expect(r.feed(0xf0, 0x69, 0xf7)).toEqual([0xf0, 0x6a, ...Array(14).fill(0x7f), 0, 1, 2, 3, 4, 5, 0xf7]);
    expect(r.b.counters).toMatchObject({ refusedBytes: 0, ignoredCommands: 0, bytesIn: 10 });
    expect(r.b.counters.bytesOut).toBe(r.out.length);
    expect(r.events).toEqual([{ event: 'hostConnected', boardTick: 0 }]);
  });

  it('reports an analog channel once it is turned on (at once, then every sampling interval: 19 ms by default, kept on average over 5 ms ticks), and stops when it is turned off or its pin leaves ANALOG mode', () => {
    const r = rig();
    expect(r.ticks(40)).toEqual([]); // nothing is reported until the host asks
    const first = r.feed(...reportAnalog(0, 1));
    expect(first).toHaveLength(3);
    expect(first[0]).toBe(0xe0);
    expect(Math.abs(analogReadings(first)[0]!.raw - RAW_AT_ZERO)).toBeLessThanOrEqual(1);
    // The sampling phase runs from power-up: 40 ticks (200 ms) are 10.5 intervals of 19 ms.
    const at = reportTicks(r, 38);
    expect(at).toEqual([42, 46, 50, 54, 57, 61, 65, 69, 73, 76]);
    expect(r.b.counters.analogReports).toBe(11);
    // Over 19 s exactly 1000 reports: the interval is exact on average.
    const before = r.b.counters.analogReports;
    r.ticks(3_800);
    expect(r.b.counters.analogReports - before).toBe(1_000);
    // 10 ms: every other tick; 1 ms (and 0, raised to StandardFirmata's minimum 1): every tick, one report each.
    r.feed(...samplingInterval(10));
    r.ticks(2); // the next report falls within 10 ms of the change
    expect(reportTicks(r, 20)).toHaveLength(10);
    r.feed(...samplingInterval(0));
    expect(r.b.samplingMs).toBe(1);
    expect(r.ticks(5)).toHaveLength(5 * 3);
    r.feed(...reportAnalog(0, 0));
    expect(r.ticks(20)).toEqual([]);
    // SET_PIN_MODE ANALOG turns reporting on (and reports at once); any other mode turns it off.
    expect(r.feed(...pinMode(14, 2))).toHaveLength(3);
    expect(r.feed(...pinMode(14, 0))).toEqual([]);
    expect(r.ticks(20)).toEqual([]);
    expect(r.events.filter((e) => e.event === 'reporting')).toEqual([
      { event: 'reporting', boardTick: 40, kind: 'analog', index: 0, on: true },
      { event: 'reporting', boardTick: 3_905, kind: 'analog', index: 0, on: false },
      { event: 'reporting', boardTick: 3_925, kind: 'analog', index: 0, on: true },
      { event: 'reporting', boardTick: 3_925, kind: 'analog', index: 0, on: false },
    ]);
    expect(r.events.filter((e) => e.event === 'samplingInterval').map((e) => (e as { ms: number }).ms)).toEqual([10, 1]);
  });

  it('encodes readings in 14 bits over two 7-bit bytes, and an unwired analog channel reads 0', () => {
    const r = rig();
    r.feed(...reportAnalog(0, 1));
    r.b.command('{"fault":"stuck","pin":"A0","raw":1023}');
    r.b.command('{"fault":"stuck","pin":"A0","raw":128}');
    expect(r.feed(...reportAnalog(0, 1))).toEqual([0xe0, 0x00, 0x01]);
    r.b.command('{"fault":"stuck","pin":"A0","raw":1023}');
    expect(r.feed(...reportAnalog(0, 1))).toEqual([0xe0, 0x7f, 0x07]);
    expect(r.feed(...reportAnalog(5, 1))).toEqual(analogReport(5, 0));
  });

  it('reports a digital port at once when it is turned on, then only when a level changes; input pins only, the switch inverted as wired', () => {
    const r = tankRig();
    r.feed(...pinMode(2, 0x0b)); // the float switch, pull-up on
    // Dry: the channel reads 0, inverted the pin is high (bit 2).
    expect(r.feed(...reportDigital(0, 1))).toEqual(digitalReport(0, 0x04));
    expect(r.ticks(50)).toEqual([]);
    r.b.command('{"fault":"stuck","pin":2,"raw":0}');
    expect(r.ticks(3)).toEqual(digitalReport(0, 0x00));
    r.b.command('{"fault":"none","pin":2}');
    expect(r.ticks(3)).toEqual(digitalReport(0, 0x04));
    // An unwired pin with its pull-up reads high; an output pin is not reported; bit 7 rides in the second byte.
    r.feed(...pinMode(4, 0x0b));
    expect(r.ticks(1)).toEqual(digitalReport(0, 0x14));
    r.feed(...pinMode(7, 0x0b));
    expect(r.ticks(1)).toEqual([0x90, 0x14, 0x01]);
    r.feed(...pinMode(4, 1));
    expect(r.ticks(1)).toEqual([0x90, 0x04, 0x01]);
    r.feed(...reportDigital(0, 0));
    r.feed(...pinMode(4, 0x0b));
    expect(r.ticks(5)).toEqual([]);
    expect(r.b.counters.digitalReports).toBe(6);
  });

  it('maps servo pulses back onto the channel (clamped to the attached range; angles ignored), and only in SERVO mode', () => {
    const r = rig();
    r.feed(...analogWrite(9, 1750)); // pin 9 still in OUTPUT mode
    expect(r.b.lastCommands().commandMv).toBeNull();
    r.feed(...servoConfig(9, 1000, 2000), ...analogWrite(9, 1750));
    expect(r.b.lastCommands()).toEqual({ commandMv: 6_000, rateMilliDegPerTick: null });
    r.feed(...extendedAnalog(9, 1_250));
    expect(r.b.lastCommands().commandMv).toBe(-6_000);
    r.feed(...analogWrite(9, 2_400));
    expect(r.b.lastCommands().commandMv).toBe(12_000);
    r.feed(...analogWrite(9, 90)); // degrees
    expect(r.b.lastCommands().commandMv).toBe(12_000);
    expect(r.b.counters.ignoredCommands).toBe(2);
    expect(r.b.counters.writesByChannel).toEqual({ commandMv: 3, rateMilliDegPerTick: 0 });
    expect(r.events.filter((e) => e.event === 'firstCommand')).toEqual([{ event: 'firstCommand', boardTick: 0, channel: 'commandMv', value: 6_000 }]);
  });

  it('takes a Motor as duty on the PWM pin and sign on the direction pin (high = positive)', () => {
    const r = rig({ map: MOTOR_PWM_MAP });
    expect(r.b.lastCommands().commandMv).toBe(0); // its pins are low from reset: stopped
    r.feed(...pinMode(5, 3), ...analogWrite(5, 128));
    expect(r.b.lastCommands().commandMv).toBe(-Math.round((128 * 12_000) / 255));
    r.feed(...pinValue(4, 1));
    expect(r.b.lastCommands().commandMv).toBe(Math.round((128 * 12_000) / 255));
    r.feed(...analogWrite(5, 300)); // beyond the duty range: full on
    expect(r.b.lastCommands().commandMv).toBe(12_000);
    r.feed(...portWrite(0, 0x00)); // direction low through a port write
    expect(r.b.lastCommands().commandMv).toBe(-12_000);
    r.feed(...analogWrite(5, 0));
    expect(r.b.lastCommands().commandMv).toBe(0);
    expect(r.b.counters.writesByChannel.commandMv).toBe(5);
  });

  it('takes a pin, an Led and a relay as their levels (low from reset); port writes count only the pins they change; the heartbeat pin is not a channel', () => {
    const r = tankRig();
    expect(r.b.lastCommands()).toEqual({ valvePermille: null, pumpOn: 0, alarm: 0 });
    r.feed(...portWrite(0, 0x80)); // pump relay (pin 7) closed
    r.feed(...pinValue(13, 5)); // alarm lamp: any value >= 1 is high
    expect(r.b.lastCommands()).toEqual({ valvePermille: null, pumpOn: 1, alarm: 1 });
    for (let i = 0; i < 10; i++) r.feed(...portWrite(1, 0x20 | (i & 1))); // heartbeat toggles beside the lamp
    expect(r.b.counters.writesByChannel).toEqual({ valvePermille: 0, pumpOn: 1, alarm: 1 });
    expect(r.b.counters.heartbeatEdges).toBe(9);
    r.feed(...portWrite(1, 0x00));
    expect(r.b.lastCommands().alarm).toBe(0);
    // The lamp in PWM mode? Pin 13 has none: ignored. A level written to an input pin is ignored too,
    // and the relay's input, no longer driven, reads low.
    r.feed(...pinMode(13, 3), ...pinMode(7, 0), ...pinValue(7, 1));
    expect(r.b.counters.ignoredCommands).toBe(2);
    expect(r.b.lastCommands().pumpOn).toBe(0);
  });

  it('runs the motor from its commands only with heartbeat edges; the dead-man trips after its time without one (ms, whatever the rate), latched until a system reset', () => {
    for (const rateHz of [200, 1_000]) {
      const r = rig({ rateHz });
      const deadManTicks = (50 * rateHz) / 1000;
      r.feed(...servoConfig(9, 1000, 2000), ...analogWrite(9, 1750), ...reportAnalog(0, 1));
      r.ticks(20);
      expect(r.b.plant.state()).toMatchObject({ appliedMv: 0, positionMilliDeg: 0 }); // not armed: disabled
      // The host at half the board's rate: an edge every other tick, the command held between.
      let sent: number[] = [];
      for (let i = 0; i < 200; i++) {
        r.feed(...heartbeat(((i + 1) % 2) as 0 | 1));
        sent = [...sent, ...r.ticks(2)];
      }
      expect(r.b.plant.state()).toMatchObject({ appliedMv: 6_000, brakeEngaged: false });
      expect(r.b.plant.state().positionMilliDeg).toBeGreaterThan(10_000);
      expect(r.b.counters.heartbeatEdges).toBe(200);
      // The shaft has moved: so has its reading.
      expect(analogReadings(sent).at(-1)!.raw).toBeGreaterThan(RAW_AT_ZERO + 30);
      // The last edge came on the first tick of the last pair: one tick without since.
      r.ticks(deadManTicks - 2);
      expect(r.b.plant.tripped).toBe(false);
      r.ticks(1);
      expect(r.b.plant.tripped).toBe(true);
      const trip = r.events.find((e) => e.event === 'watchdogTripped');
      expect(trip).toEqual({
        event: 'watchdogTripped',
        boardTick: 20 + 400 + deadManTicks - 1,
        msWithoutHeartbeat: 50,
        commands: { commandMv: 6_000, rateMilliDegPerTick: null },
        plant: expect.objectContaining({ appliedMv: 0, brakeEngaged: true }),
      });
      r.feed(...heartbeat(0), ...heartbeat(1));
      r.ticks(5);
      expect(r.b.plant.state()).toMatchObject({ appliedMv: 0, brakeEngaged: true });
      r.feed(0xff);
      expect(r.events.at(-1)).toEqual({ event: 'rearmed', boardTick: r.b.counters.boardTicks });
      expect(r.b.counters.watchdogTrips).toBe(1);
      // The reset also detached the servo: the drive holds nothing until the host writes again.
      expect(r.b.lastCommands().commandMv).toBeNull();
    }
  });

  it('runs the tank: valve and pump fill it until the float switch reports wet (its pin pulled low); the dead-man shuts valve and pump and raises the alarm', () => {
    const r = tankRig({ watchdogMs: 30 });
    r.feed(...servoConfig(9, 1000, 2000), ...analogWrite(9, 2000), ...portWrite(0, 0x80), ...pinMode(2, 0x0b), ...reportDigital(0, 1), ...reportAnalog(0, 1));
    let sent: number[] = [];
    for (let i = 0; i < 8_000 && !sent.some((b, k) => b === 0x90 && sent[k + 1] === 0); i++) {
      r.feed(...heartbeat((i % 2) as 0 | 1));
      sent = r.ticks(1);
    }
    expect(r.b.plant.state()).toMatchObject({ valvePermille: 1000, pumpOn: 1, alarm: 0 });
    expect(r.b.plant.state().levelMm).toBeGreaterThanOrEqual(1_900);
    expect(sent.slice(sent.indexOf(0x90), sent.indexOf(0x90) + 3)).toEqual(digitalReport(0, 0)); // wet: pin 2 low (pin 7, the relay, is an output)
    const levelRaw = analogReadings(r.ticks(4)).at(-1)!.raw;
    expect(levelRaw).toBeGreaterThan(rawForValue(1_890, [0, 1023], [0, 2000]));
    r.ticks(6);
    expect(r.b.plant.state()).toMatchObject({ pumpOn: 0, alarm: 1 });
    expect(r.events.find((e) => e.event === 'watchdogTripped')).toMatchObject({ msWithoutHeartbeat: 30, commands: { valvePermille: 1000, pumpOn: 1, alarm: 0 } });
    r.ticks(400);
    expect(r.b.plant.state()).toMatchObject({ valvePermille: 0, pumpOn: 0, alarm: 1 });
  });

  it('takes sensor faults per input pin: stale stops a channel, noise is seeded within its amplitude, stuck reports a fixed reading, none restores it', () => {
    const readings = (seed: number): number[] => {
      const r = rig({ seed });
      r.feed(...reportAnalog(0, 1), ...samplingInterval(5));
      r.b.command('{"fault":"noise","pin":"A0","amplitude":8}');
      return analogReadings(r.ticks(200)).map((x) => x.raw);
    };
    const noisy = readings(7);
    expect(noisy).toHaveLength(200);
    expect(noisy.every((raw) => Math.abs(raw - RAW_AT_ZERO) <= 8 + 1)).toBe(true);
    expect(new Set(noisy).size).toBeGreaterThan(10);
    expect(readings(7)).toEqual(noisy);
    expect(readings(8)).not.toEqual(noisy);

    const r = rig();
    r.feed(...reportAnalog(0, 1), ...samplingInterval(5));
    r.b.command('{"fault":"stale","pin":"A0"}');
    expect(r.ticks(100)).toEqual([]);
    r.b.command('{"fault":"stuck","pin":14,"raw":700}');
    expect(analogReadings(r.ticks(3))).toEqual([
      { channel: 0, raw: 700 },
      { channel: 0, raw: 700 },
      { channel: 0, raw: 700 },
    ]);
    r.b.command('{"fault":"none","pin":"A0"}');
    expect(Math.abs(analogReadings(r.ticks(1))[0]!.raw - RAW_AT_ZERO)).toBeLessThanOrEqual(1);
    expect(r.events.filter((e) => e.event === 'fault')).toEqual([
      { event: 'fault', boardTick: 0, pin: 'A0', fault: 'stale' },
      { event: 'fault', boardTick: 100, pin: 'A0', fault: 'stuck', raw: 700 },
      { event: 'fault', boardTick: 103, pin: 'A0', fault: 'none' },
    ]);

    // A stale digital pin keeps the level it had when the fault began.
    const t = tankRig();
    t.feed(...pinMode(2, 0x0b), ...reportDigital(0, 1));
    t.b.command('{"fault":"stale","pin":2}');
    t.b.command('{"fault":"stuck","pin":2,"raw":0}');
    expect(t.ticks(1)).toEqual(digitalReport(0, 0));
    t.b.command('{"fault":"stale","pin":2}');
    expect(t.ticks(10)).toEqual([]);
  });

  it('refuses a bad fault command with a reason, and never throws', () => {
    const r = tankRig();
    const cases: [string, RegExp][] = [
      ['not json', /not JSON/],
      ['[1]', /not a JSON object/],
      ['{"fault":"melt","pin":"A0"}', /fault must be/],
      ['{"fault":"stale","pin":"A9"}', /not a pin of an Uno/],
      ['{"fault":"stale","pin":9}', /pin 9 is not an input of the I\/O map \(2, A0\)/],
      ['{"fault":"noise","pin":2,"amplitude":3}', /noise applies to analog inputs/],
      ['{"fault":"noise","pin":"A0","amplitude":0}', /amplitude must be a whole number in 1..1023/],
      ['{"fault":"noise","pin":"A0"}', /amplitude must be/],
      ['{"fault":"stuck","pin":2,"raw":5}', /raw must be a whole number in 0..1/],
      ['{"fault":"stuck","pin":"A0","raw":1.5}', /raw must be/],
      ['{"fault":"stale","pin":"A0","raw":3}', /raw is not a field of a stale fault/],
      [`{"fault":"stale","pin":"A0","x":"${'y'.repeat(1_100)}"}`, /longer than 1024 bytes/],
    ];
    for (const [line, reason] of cases) {
      expect(() => r.b.command(line)).not.toThrow();
      const event = r.events.at(-1) as Extract<PlantEvent, { event: 'refusedCommand' }>;
      expect(event.event, line).toBe('refusedCommand');
      expect(event.reason, line).toMatch(reason);
      expect(event.line.length).toBeLessThanOrEqual(120);
    }
  });

  it('refuses and counts what it cannot frame or does not know, bounded, and still understands what follows', () => {
    const r = rig();
    r.feed(0x01, 0x02); // data with no command: 2
    r.feed(0xa0, 0x01, 0x02); // not a Firmata command: 1, then 2 stray data bytes
    r.feed(0xe9, 0x01, 0xf9); // an analog write cut short by a version query: 2 (and the query is answered)
    r.feed(0xf0, 0x42, 0x01, 0xf7); // an unknown sysex: 4
    r.feed(0xf0, 0x7a, 0x05, 0xf7); // a sampling interval one byte short: 4
    r.feed(0xf0, ...Array(SYSEX_BYTES_MAX + 10).fill(0x11), 0xf7); // oversized: all of it
    expect(r.b.counters.refusedBytes).toBe(2 + 3 + 2 + 4 + 4 + SYSEX_BYTES_MAX + 12);
    expect(r.b.samplingMs).toBe(19);
    r.feed(...pinMode(30, 1), ...pinMode(9, 2), ...reportAnalog(6, 1), ...reportDigital(3, 1), ...portWrite(5, 1));
    expect(r.b.counters.ignoredCommands).toBe(5);
    expect(r.feed(0xf9)).toEqual([0xf9, 2, 5]);
  });

  it('does the same whatever chunks the host stream arrives in: whole, split at every boundary, byte by byte, at seeded random splits', () => {
    const session = [
      ...[0xf9, 0xf0, 0x79, 0xf7, 0xf0, 0x6b, 0xf7, 0xf0, 0x69, 0xf7],
      ...servoConfig(9, 1000, 2000),
      ...samplingInterval(10),
      ...reportAnalog(0, 1),
      ...analogWrite(9, 1600),
      ...heartbeat(1),
      ...[0x05, 0xa3, 0xe9, 0x01],
      ...extendedAnalog(9, 1400),
      ...[0xf0, ...Array(SYSEX_BYTES_MAX).fill(0x22), 0xf7],
      ...heartbeat(0),
      ...pinValue(8, 1),
      ...reportAnalog(0, 0),
      ...[0xff],
    ];
    const run = (chunks: number[][]): unknown => {
      const r = rig();
      for (const chunk of chunks) r.feed(...chunk);
      r.ticks(3);
      return { out: r.out, events: r.events, counters: r.b.counters, commands: r.b.lastCommands() };
    };
    const whole = run([session]);
    expect((whole as { counters: { refusedBytes: number } }).counters.refusedBytes).toBe(4 + SYSEX_BYTES_MAX + 2);
    for (let cut = 1; cut < session.length; cut++) expect(run([session.slice(0, cut), session.slice(cut)]), `cut at ${cut}`).toEqual(whole);
    expect(run(session.map((b) => [b]))).toEqual(whole);
    const prng = new Prng(0x5eed);
    for (let trial = 0; trial < 50; trial++) {
      const chunks: number[][] = [];
      for (let at = 0; at < session.length; ) {
        const size = 1 + prng.nextBelow(12);
        chunks.push(session.slice(at, at + size));
        at += size;
      }
      expect(run(chunks), `seed 0x5eed trial ${trial}`).toEqual(whole);
    }
  });
});

/** johnny-five's Sensor, which src/io/johnny-five.d.ts does not declare (tmr's own code does not use it). */
type Sensor = EventEmitter & { readonly value: number; disable(): void };
const SensorClass = (five as unknown as { Sensor: new (options: { pin: string; board: Board; freq: number }) => Sensor }).Sensor;
type HostIo = EventEmitter & { setSamplingInterval(ms: number): void };

/** Opens the board's host end as tmr's real I/O does (hil/actuator-path.ts, src/io/firmata-world.ts): our port, firmata-io on it, johnny-five on that. */
async function openJohnnyFive(path: string, cleanups: Cleanup[]): Promise<{ port: SerialPort; io: HostIo; j5: Board }> {
  const port = new SerialPort({ path, baudRate: 57_600, autoOpen: false });
  await new Promise<void>((resolve, reject) => port.open((error) => (error ? reject(error) : resolve())));
  cleanups.push(() => new Promise<void>((resolve) => (port.isOpen ? port.close(() => resolve()) : resolve())));
  const io = new firmataIo.Firmata(port, { reportVersionTimeout: 1_000 });
  const j5 = new five.Board({ io, repl: false, debug: false, sigint: false, timeout: 20_000, id: `plant-test-${path}` });
  io.emit('connect');
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('johnny-five: no ready within 10 s')), 10_000);
    j5.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  return { port, io: io as unknown as HostIo, j5 };
}

async function waitUntil(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadlineMs = Date.now() + timeoutMs;
  // Bounded by the deadline.
  while (!condition()) {
    if (Date.now() > deadlineMs) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Median and 90th percentile of the gaps between arrival times, ms. */
function gaps(times: readonly number[]): { p50: number; p90: number; count: number } {
  const d = times.slice(1).map((t, i) => t - times[i]!).sort((a, b) => a - b);
  const at = (q: number): number => Math.round(d[Math.min(d.length - 1, Math.floor(q * d.length))]! * 10) / 10;
  return { p50: at(0.5), p90: at(0.9), count: d.length };
}

const MOTOR_MAP_PATH = fileURLToPath(new URL('../../boards/firmata/motor-io.json', import.meta.url));

describe('the plant board process on a pseudo-terminal, driven by johnny-five over firmata-io', () => {
  it('reports A0 to a Sensor at the sampling interval, a Servo write moves the motor, the dead-man trips when the heartbeat stops, and board and socat are gone after stop()', async () => {
    const cleanups: Cleanup[] = [];
    try {
      // A dead-man of 250 ms: this host's 10 ms heartbeat comes from a test worker beside busy ones.
      const board = await SimFirmataPlant.start({ plant: 'motor', mapPath: MOTOR_MAP_PATH, law: 'pid-q16', name: 'plant-j5', seed: 3, watchdogMs: 250 });
      cleanups.push(async () => void (await board.stop()));
      const pids = [board.pid!, board.linkPid!];
      const { io, j5 } = await openJohnnyFive(board.hostPath, cleanups);
      const arrivals: number[] = [];
      const raws: number[] = [];
      io.on('analog-read-0', (raw: number) => {
        arrivals.push(performance.now());
        raws.push(raw);
      });
      const sensor = new SensorClass({ pin: 'A0', board: j5, freq: 19 });
      cleanups.push(async () => sensor.disable());
      await waitUntil(() => arrivals.length >= 60, 10_000, '60 readings of A0');
      expect(Math.abs(raws[0]! - RAW_AT_ZERO)).toBeLessThanOrEqual(1);
      expect(sensor.value).toBeGreaterThanOrEqual(RAW_AT_ZERO - 1);
      const byDefault = gaps(arrivals);
      timingFigure('A0 reading period seen by johnny-five at the default 19 ms (p50, ms)', byDefault.p50, 25, byDefault);
      io.setSamplingInterval(10);
      await board.waitFor('samplingInterval', 5_000);
      const from = arrivals.length;
      await waitUntil(() => arrivals.length >= from + 100, 10_000, '100 more readings at 10 ms');
      const at10 = gaps(arrivals.slice(from + 1));
      timingFigure('A0 reading period seen by johnny-five at 10 ms (p50, ms)', at10.p50, 15, at10);

      const servo = new five.Servo({ pin: 9, board: j5, pwmRange: [1000, 2000], degreeRange: [-12_000, 12_000], range: [-12_000, 12_000] });
      const heartbeat = new five.Pin({ pin: 8, board: j5, type: 'digital' });
      servo.to(3_000);
      let level = false;
      const beating = setInterval(() => ((level = !level) ? heartbeat.high() : heartbeat.low()), 10);
      cleanups.push(async () => clearInterval(beating));
      expect(await board.waitFor('firstCommand', 5_000)).toMatchObject({ channel: 'commandMv', value: 3_000 });
      expect(await board.waitFor('armed', 5_000)).not.toBeNull();
      // 3 V turns the shaft at about 240°/s: its potentiometer's reading climbs to the ADC's end.
      await waitUntil(() => raws.at(-1)! > RAW_AT_ZERO + 200, 10_000, 'the Servo write to move the shaft');
      clearInterval(beating);
      const trip = await board.waitFor('watchdogTripped', 5_000);
      expect(trip).toMatchObject({ commands: { commandMv: 3_000 }, plant: { appliedMv: 0, brakeEngaged: true } });
      expect(trip!.msWithoutHeartbeat).toBe(250);

      await runCleanups(cleanups.splice(1)); // the host's end closed, the board still running
      const status = await board.stop();
      expect(status).toMatchObject({ event: 'status', armed: true, tripped: true, refusedBytes: 0, commands: { commandMv: 3_000 } });
      expect(status!.analogReports).toBeGreaterThanOrEqual(160);
      expect(status!.writesByChannel.commandMv).toBeGreaterThanOrEqual(1);
      expect(status!.heartbeatEdges).toBeGreaterThan(10);
      expect(status!.plant.positionMilliDeg).toBeGreaterThan(20_000);
      for (const pid of pids) expect(processExists(pid), `pid ${pid}`).toBe(false);
      console.info(`plant board over johnny-five: ${JSON.stringify({ byDefault, at10, lateTicks: status!.lateTicks, bytesDropped: status!.bytesDropped })}`);
    } finally {
      await runCleanups(cleanups);
    }
  });

  it('vanishes as an unplugged board: the host\'s port closes under it (disconnected), no byte comes after, and board and socat are gone', async () => {
    const cleanups: Cleanup[] = [];
    try {
      const board = await SimFirmataPlant.start({ plant: 'motor', mapPath: MOTOR_MAP_PATH, law: 'pid-q16', name: 'plant-vanish' });
      cleanups.push(async () => void (await board.stop()));
      const pids = [board.pid!, board.linkPid!];
      const { port, io, j5 } = await openJohnnyFive(board.hostPath, cleanups);
      let bytes = 0;
      port.on('data', (chunk: Buffer) => (bytes += chunk.length));
      const seen: { event: string; atMs: number; detail: string }[] = [];
      port.on('close', (error: (Error & { disconnected?: boolean }) | null) => seen.push({ event: 'close', atMs: performance.now(), detail: `${error?.message ?? 'no error'}, disconnected ${error?.disconnected}` }));
      port.on('error', (error: Error) => seen.push({ event: 'error', atMs: performance.now(), detail: error.message }));
      const readings: number[] = [];
      io.on('analog-read-0', () => readings.push(performance.now()));
      const sensor = new SensorClass({ pin: 'A0', board: j5, freq: 19 });
      cleanups.push(async () => sensor.disable());
      await waitUntil(() => readings.length >= 10, 10_000, '10 readings of A0');
      const vanishedAtMs = performance.now();
      await board.vanish();
      const vanishMs = performance.now() - vanishedAtMs;
      for (const pid of pids) expect(processExists(pid), `pid ${pid}`).toBe(false);
      await waitUntil(() => seen.length > 0, 5_000, 'the host to notice');
      const bytesAtClose = bytes;
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(seen[0]).toMatchObject({ event: 'close', detail: expect.stringMatching(/disconnected true/) });
      expect(bytes).toBe(bytesAtClose);
      expect(port.isOpen).toBe(false);
      expect(await board.stop()).toBeNull(); // unplugged: it printed no status
      timingFigure('vanish(): board and socat gone (ms)', Math.round(vanishMs), 1_000, {});
      timingFigure('vanish() to the host port\'s close (ms)', Math.round(seen[0]!.atMs - vanishedAtMs), 1_000, seen);
    } finally {
      await runCleanups(cleanups);
    }
  });
});

/** A process that still runs: it exists and is no zombie (a killed orphan waits for init to reap it, which can take seconds here). */
function runs(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return false;
  }
}

describe('the plant board process: its stdin and its life', () => {
  it('takes fault lines on stdin in any chunks (CRLF too), answers a bad or over-long line with refusedCommand and goes on, and prints its status when stdin ends', async () => {
    const cleanups: Cleanup[] = [];
    try {
      const pair = await PtyPair.open({ name: 'plant-stdin' });
      cleanups.push(() => pair.stop());
      const tankMap = fileURLToPath(new URL('../../boards/firmata/tank-io.json', import.meta.url));
      const board = await OwnedProcess.start('plant-stdin', programCommand('firmata-plant-main', ['--port', pair.boardPath, '--plant', 'tank', '--map', tankMap, '--law', 'tank']), 'ready ');
      cleanups.push(() => board.stop());
      const lines: PlantLine[] = [];
      let tail = '';
      board.child.stdout!.on('data', (chunk: Buffer) => {
        const parts = (tail + chunk.toString()).split('\n');
        tail = parts.pop()!;
        for (const line of parts) if (line.startsWith('{')) lines.push(JSON.parse(line) as PlantLine);
      });
      const exited = new Promise<number | null>((resolve) => board.child.once('exit', (code) => resolve(code)));
      const stdin = board.child.stdin!;
      stdin.write('garbage\n\n{"fault":"stuck",');
      stdin.write('"pin":"A0","raw":300}\r\n');
      stdin.write(`{"fault":"stale","pin":"A0","x":"${'y'.repeat(3_000)}"}\n`);
      stdin.write('{"fault":"noise","pin":2,"amplitude":4}\n{"fault":"none","pin":"A0"}\n');
      await waitUntil(() => lines.length >= 5, 10_000, 'five answers');
      stdin.end();
      expect(await exited).toBe(0);
      const answers = lines.map((l) => (l.event === 'refusedCommand' ? `refused: ${l.reason}` : l.event === 'fault' ? `${l.fault} ${l.pin}` : l.event));
      expect(answers).toEqual([
        'refused: not JSON',
        'stuck A0',
        'refused: longer than 1024 bytes',
        'refused: noise applies to analog inputs; pin 2 is digital',
        'none A0',
        'status',
      ]);
      expect(lines.at(-1)).toMatchObject({ event: 'status', armed: false, bytesIn: 0, plant: { pumpOn: 0, alarm: 1 } });
    } finally {
      await runCleanups(cleanups);
    }
  });

  it('dies with whoever started it, even stopped (SIGSTOP): the parent-death signal, not only its stdin', async () => {
    const launcher = `const { SimFirmataPlant } = await import(${JSON.stringify(fileURLToPath(new URL('../../firmware-sim/firmata-plant-board.ts', import.meta.url)))});
const board = await SimFirmataPlant.start({ plant: 'motor', mapPath: ${JSON.stringify(MOTOR_MAP_PATH)}, law: 'pid-q16', name: 'plant-orphan' });
process.stdout.write(JSON.stringify([board.pid, board.linkPid]) + '\\n');
setInterval(() => {}, 1000);`;
    const parent = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', launcher], { stdio: ['ignore', 'pipe', 'pipe'] });
    let pids: number[] = [];
    try {
      let out = '';
      parent.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
      await waitUntil(() => out.includes('\n'), 20_000, 'the launcher to start a board');
      pids = JSON.parse(out.split('\n')[0]!) as number[];
      expect(pids.every((pid) => runs(pid))).toBe(true);
      process.kill(pids[0]!, 'SIGSTOP'); // a stopped board cannot see its stdin close
      const killedAtMs = Date.now();
      parent.kill('SIGKILL');
      await waitUntil(() => pids.every((pid) => !runs(pid)), 5_000, 'board and socat to die with their parent');
      timingFigure('ms from SIGKILL of the launcher until the board and socat were gone', Date.now() - killedAtMs, 1_000, { pids });
    } finally {
      if (parent.exitCode === null && parent.signalCode === null) parent.kill('SIGKILL');
      for (const pid of pids) if (runs(pid)) process.kill(pid, 'SIGKILL');
    }
  });
});
