/**
 * A simulated Firmata board with a whole plant behind its pins: what stands in, in CI, for a
 * user's bench (an Uno running StandardFirmata wired to a servo drive, a potentiometer on the
 * shaft, a pump, a level sensor, a float switch, an alarm lamp). The host talks to it with
 * johnny-five over Firmata exactly as to StandardFirmata, in both directions: it reports the
 * plant's sensors as Firmata analog and digital messages and applies the servo, PWM and pin writes
 * it receives to the plant's drives, while the plant (firmata-plant-models.ts) runs on the board's
 * own clock, so it keeps moving, and its drives' dead-man keeps counting, when the host is gone.
 *
 * Wired by an I/O map (src/io/io-map.ts): the board is the plant side of the same wiring the
 * host reads and writes through.
 *   inputs   `analog` A0..A5: the plant's measured value as a 10-bit ADC reading (rawForValue),
 *            reported as ANALOG_MESSAGE (E0|channel, 14 bits in two 7-bit bytes) every sampling
 *            interval for each channel whose reporting is on and whose pin is in ANALOG mode (its
 *            mode after a reset), and once at once when reporting is turned on;
 *            `digital`: the plant's 0/1 as the pin's level (invert: 1 is low), in the port's
 *            DIGITAL_MESSAGE (90|port) for pins in INPUT or PULLUP mode, sent when REPORT_DIGITAL
 *            turns the port on and then whenever its levels change (checked every board tick).
 *            An unwired input pin reads 0, or 1 in PULLUP mode; an unwired analog channel reads 0.
 *   outputs  `servo`: a pulse (µs, >= 544, through ANALOG_MESSAGE or EXTENDED_ANALOG, pin in
 *            SERVO mode) is clamped to the range SERVO_CONFIG attached it with, as the Arduino
 *            Servo library does, and mapped back linearly from pwmRangeUs onto the channel's
 *            value range; an angle (< 544) is ignored, this board's servos are wired in µs.
 *            `motor`: value = ±round(duty/255 · valueMax), duty on pwmPin (PWM mode, 0..255,
 *            more is full on), the sign on dirPin (high = positive).
 *            `pin`, `led`, `relay`: the pin's level as 0/1 (OUTPUT mode; in PWM mode a duty >= 1
 *            is 1). A johnny-five Relay of type "NO" closes with a high level, so 1 is closed; an
 *            "NC" relay would read inverted here.
 *            A motor's and a level pin's channel has a value from reset on (its pins are low: 0);
 *            a servo's has none until a pulse reaches its pin in SERVO mode.
 *   heartbeat  every level change of heartbeatPin (OUTPUT mode) is an edge of the drives' dead-man
 *            input; see firmata-plant-models.ts for what the drives do with it.
 * Pin modes, reporting and the sampling interval follow StandardFirmata 2.5: at start and after
 * SYSTEM_RESET analog pins are in ANALOG mode and digital pins in OUTPUT mode, all reporting is
 * off and the outputs are low (servos detached); SET_PIN_MODE ANALOG on an analog pin turns its
 * reporting on, any other mode off; SAMPLING_INTERVAL sets the interval (default 19 ms, at least 1).
 * SYSTEM_RESET also re-arms drives the dead-man had latched safe, as a drive's enable input would.
 *
 * Time: the board's clock is its ticks, 1/rateHz each. Analog reports fall on board ticks, at most
 * one per tick: the interval is kept exactly on average and each report is late by less than a
 * tick (19 ms at 200 Hz: 20, 20, 20, 15 ms apart). The dead-man is stated in ms and counted in
 * board ticks (ceil(watchdogMs · rateHz / 1000)), so it means the same time at any --rate-hz.
 *
 * Faults, for scenarios (`command`, one JSON line each): per input pin `stale` (an analog pin stops
 * reporting; a digital pin's level freezes), `noise` (± amplitude raw counts, uniform, seeded;
 * analog pins), `stuck` (a fixed raw reading; 0/1 on a digital pin), `none` (back to normal).
 *
 * Pure: bytes in through `receive`, bytes out through the `send` callback, events through
 * `report`, time through `boardTick`; noise from a PRNG seeded by the caller. The process around it
 * is firmata-plant-main.ts.
 */
import { assert } from '../src/core/assert.js';
import { deriveSeed, Prng } from '../src/core/prng.js';
import { UsageError } from '../src/config/fields.js';
import { ANALOG_RAW_MAX, pinName, pinNumber, rawForValue, UNO_DIGITAL_PINS, type InputBinding, type IoMap, type OutputBinding } from '../src/io/io-map.js';
import type { LoadedLaw } from '../src/law/law-runtime.js';
import { checkPlantFitsLaw } from '../src/loop/world.js';
import { createBoardPlant, DeadManInput, type BoardPlant, type PlantKind } from './firmata-plant-models.js';
import {
  analogMessage,
  digitalMessage,
  FirmataDevice,
  isAnalogPin,
  isDigitalPin,
  MODE,
  PIN_COUNT,
  pinModes,
  PORT_COUNT,
  SERVO_MICROSECONDS_MIN,
  type HostCommand,
} from './firmata-plant-protocol.js';

export const PLANT_FIRMWARE_NAME = 'tmr-sim-plant';
/** StandardFirmata's default sampling interval and its smallest. */
export const SAMPLING_INTERVAL_MS_DEFAULT = 19;
export const SAMPLING_INTERVAL_MS_MIN = 1;
export const WATCHDOG_MS_DEFAULT = 50;
export const WATCHDOG_MS_MAX = 60_000;
export const RATE_HZ_MAX = 2_000;
/** A fault command line longer than this is refused unread. */
export const COMMAND_LINE_BYTES_MAX = 1_024;
/** How much of a refused command line its event repeats. */
const REFUSED_LINE_ECHO_MAX = 120;
/** The Arduino Servo library's pulse range when a pin is attached without SERVO_CONFIG. */
const SERVO_DEFAULT_RANGE_US: readonly [number, number] = [544, 2_400];
/** Full duty of an 8-bit PWM pin. */
const PWM_DUTY_MAX = 255;
/** Mode of pins 0 and 1 (the serial link): none. */
const NO_MODE = -1;
/** The noise of the `noise` fault, a stream of the board's seed of its own. */
const FAULT_NOISE_STREAM = 2;

export interface PlantBoardConfig {
  readonly plant: PlantKind;
  /** Checked against `law` (checkIoMap). */
  readonly map: IoMap;
  readonly law: LoadedLaw;
  readonly rateHz: number;
  readonly seed: number;
  readonly watchdogMs: number;
}

export type PinFault =
  | { readonly fault: 'none' }
  | { readonly fault: 'stale' }
  | { readonly fault: 'noise'; readonly amplitude: number }
  | { readonly fault: 'stuck'; readonly raw: number };
export type PinFaultKind = PinFault['fault'];

/** What the board tells whoever runs it; firmata-plant-main prints these as JSON lines. */
export type PlantEvent =
  | { readonly event: 'hostConnected'; readonly boardTick: number }
  /** The first heartbeat edge: from here on the dead-man counts (drives power up disabled). */
  | { readonly event: 'armed'; readonly boardTick: number }
  /** A channel's first write from the host. */
  | { readonly event: 'firstCommand'; readonly boardTick: number; readonly channel: string; readonly value: number }
  | {
      readonly event: 'watchdogTripped';
      readonly boardTick: number;
      /** Time without a heartbeat edge when it tripped, ms of board time. */
      readonly msWithoutHeartbeat: number;
      /** The command per output channel (null: none), and what the plant does now. */
      readonly commands: Readonly<Record<string, number | null>>;
      readonly plant: Readonly<Record<string, number | boolean>>;
    }
  | { readonly event: 'rearmed'; readonly boardTick: number }
  /** The host turned reporting of an analog channel (`index`) or digital port on or off. */
  | { readonly event: 'reporting'; readonly boardTick: number; readonly kind: 'analog' | 'digital'; readonly index: number; readonly on: boolean }
  | { readonly event: 'samplingInterval'; readonly boardTick: number; readonly ms: number }
  | ({ readonly event: 'fault'; readonly boardTick: number; readonly pin: string } & PinFault)
  | { readonly event: 'refusedCommand'; readonly boardTick: number; readonly line: string; readonly reason: string };

export interface PlantCounters {
  bytesIn: number;
  bytesOut: number;
  /** Bytes the parser or decoder could not take (malformed, unknown, oversized). */
  refusedBytes: number;
  /** Well-formed commands this board's wiring does not take: an unwired pin, a mode the pin lacks, a write to a pin in another mode, a servo angle. */
  ignoredCommands: number;
  analogReports: number;
  digitalReports: number;
  heartbeatEdges: number;
  watchdogTrips: number;
  boardTicks: number;
  /** Writes that reached each output channel's pins, by channel name (a port write counts for the pins it changes). */
  writesByChannel: Record<string, number>;
}

/** How a pin is wired, for a write to it. */
type OutputRole = 'servo' | 'motorPwm' | 'motorDir' | 'level';

export class FirmataPlant extends FirmataDevice {
  readonly counters: PlantCounters;
  readonly plant: BoardPlant;
  private readonly watchdogTicks: number;
  private readonly inputs: Int32Array;
  private readonly commands: Int32Array;
  /** Per output channel: whether the drive has a command (a level pin always has one), and whether the host has written it since reset. */
  private readonly written: Uint8Array;
  private readonly hostWrote: Uint8Array;
  /** By pin: the input or output channel wired to it (-1: none), and an output pin's role. */
  private readonly inputOfPin = new Int8Array(PIN_COUNT).fill(-1);
  private readonly outputOfPin = new Int8Array(PIN_COUNT).fill(-1);
  private readonly roleOfPin: (OutputRole | null)[] = new Array<OutputRole | null>(PIN_COUNT).fill(null);
  /** StandardFirmata's pin state: an output's level, a PWM duty, a servo pulse (µs). */
  private readonly pinMode = new Int8Array(PIN_COUNT);
  private readonly pinValue = new Int32Array(PIN_COUNT);
  private readonly servoMinUs = new Int32Array(PIN_COUNT);
  private readonly servoMaxUs = new Int32Array(PIN_COUNT);
  private analogReporting = 0;
  private readonly digitalReporting = new Uint8Array(PORT_COUNT);
  /** The bits last sent per port (-1: none since reporting was turned on). */
  private readonly portSent = new Int16Array(PORT_COUNT);
  private samplingIntervalMs = SAMPLING_INTERVAL_MS_DEFAULT;
  /** Board time since the last analog report, in 1/rateHz ms (each tick adds 1000). */
  private sinceSample = 0;
  private readonly faults: PinFault[] = new Array<PinFault>(PIN_COUNT).fill({ fault: 'none' });
  /** A stale digital pin's level: what it reported when the fault began. */
  private readonly frozenLevel = new Uint8Array(PIN_COUNT);
  private readonly noise: Prng;
  /** The heartbeat pin, low from reset like every output. */
  private readonly deadMan = new DeadManInput(0);
  private tripReported = false;

  constructor(
    readonly config: PlantBoardConfig,
    send: (bytes: Uint8Array) => void,
    private readonly report: (event: PlantEvent) => void,
  ) {
    super(PLANT_FIRMWARE_NAME, send);
    const { map, law, rateHz, watchdogMs } = config;
    assert(Number.isInteger(rateHz) && rateHz >= 1 && rateHz <= RATE_HZ_MAX, 'board rate');
    assert(Number.isInteger(watchdogMs) && watchdogMs >= 1 && watchdogMs <= WATCHDOG_MS_MAX, 'dead-man time');
    assert(map.inputs.length === law.definition.inputs.length && map.outputs.length === law.definition.outputs.length, 'the map is for this law');
    this.watchdogTicks = Math.max(1, Math.ceil((watchdogMs * rateHz) / 1000));
    this.plant = createBoardPlant(config.plant, { rateHz, seed: config.seed, watchdogTicks: this.watchdogTicks });
    checkPlantFitsLaw(this.plant.definition, law);
    this.noise = new Prng(deriveSeed(config.seed, FAULT_NOISE_STREAM));
    this.inputs = new Int32Array(map.inputs.length);
    this.commands = new Int32Array(map.outputs.length);
    this.written = new Uint8Array(map.outputs.length);
    this.hostWrote = new Uint8Array(map.outputs.length);
    const writes: Record<string, number> = {};
    for (const c of law.definition.outputs) writes[c.name] = 0;
    this.counters = { bytesIn: 0, bytesOut: 0, refusedBytes: 0, ignoredCommands: 0, analogReports: 0, digitalReports: 0, heartbeatEdges: 0, watchdogTrips: 0, boardTicks: 0, writesByChannel: writes };
    map.inputs.forEach((b, c) => {
      if (b.source === 'analog' || b.source === 'digital') this.inputOfPin[b.pin] = c;
    });
    map.outputs.forEach((b, c) => this.wireOutput(b, c));
    this.resetPins();
    this.plant.sense(0, this.inputs);
  }

  private wireOutput(binding: OutputBinding, channel: number): void {
    const wire = (pin: number, role: OutputRole): void => {
      this.outputOfPin[pin] = channel;
      this.roleOfPin[pin] = role;
    };
    if (binding.actuator === 'servo') wire(binding.pin, 'servo');
    else if (binding.actuator === 'motor') {
      wire(binding.pwmPin, 'motorPwm');
      wire(binding.dirPin, 'motorDir');
    } else if (binding.actuator !== 'none') wire(binding.pin, 'level');
  }

  get samplingMs(): number {
    return this.samplingIntervalMs;
  }

  /** The command each output channel's pins give now (null: none, a servo not pulsed since reset), by name. */
  lastCommands(): Record<string, number | null> {
    const out: Record<string, number | null> = {};
    this.config.law.definition.outputs.forEach((c, i) => (out[c.name] = this.written[i] === 1 ? this.commands[i]! : null));
    return out;
  }

  protected hostConnected(): void {
    this.report({ event: 'hostConnected', boardTick: this.counters.boardTicks });
  }

  /**
   * One tick of the board's own clock: the dead-man looks at this tick's heartbeat edges, the
   * plant steps, its sensors are read, changed digital ports are reported, and the analog
   * channels when a sampling interval has passed.
   */
  boardTick(): void {
    const tick = ++this.counters.boardTicks;
    const wasArmed = this.deadMan.armed;
    this.plant.tick(this.commands, this.written, this.deadMan.tick());
    if (!wasArmed && this.deadMan.armed) this.report({ event: 'armed', boardTick: tick });
    this.counters.watchdogTrips = this.plant.watchdogTrips;
    if (this.plant.tripped && !this.tripReported) {
      this.tripReported = true;
      const msWithoutHeartbeat = Math.round((this.deadMan.ticksWithoutEdge * 1000) / this.config.rateHz);
      this.report({ event: 'watchdogTripped', boardTick: tick, msWithoutHeartbeat, commands: this.lastCommands(), plant: this.plant.state() });
    }
    this.plant.sense(tick, this.inputs);
    for (let port = 0; port < PORT_COUNT; port++) {
      if (this.digitalReporting[port] === 1) this.reportPort(port, false);
    }
    const threshold = this.samplingIntervalMs * this.config.rateHz;
    this.sinceSample += 1000;
    if (this.sinceSample >= threshold) {
      // At most one report a tick: an interval shorter than a tick reports every tick.
      this.sinceSample %= threshold;
      for (let channel = 0; channel < PIN_COUNT - UNO_DIGITAL_PINS; channel++) {
        if ((this.analogReporting >> channel) & 1 && this.pinMode[UNO_DIGITAL_PINS + channel] === MODE.ANALOG) this.reportAnalog(channel);
      }
    }
  }

  protected apply(command: HostCommand): void {
    switch (command.kind) {
      case 'reset':
        this.resetPins();
        if (this.plant.tripped) {
          this.plant.rearm();
          this.tripReported = false;
          this.report({ event: 'rearmed', boardTick: this.counters.boardTicks });
        }
        return;
      case 'pinMode':
        if (!pinModes(command.pin).includes(command.mode)) this.counters.ignoredCommands++;
        else this.setPinMode(command.pin, command.mode);
        return;
      case 'pinValue':
        if (!isDigitalPin(command.pin) || this.pinMode[command.pin] !== MODE.OUTPUT) this.counters.ignoredCommands++;
        else this.writeLevel(command.pin, command.level, true);
        return;
      case 'port':
        this.writePort(command.port, command.bits);
        return;
      case 'analogWrite':
        this.analogWrite(command.pin, command.value);
        return;
      case 'reportAnalog':
        this.setAnalogReporting(command.channel, command.on);
        return;
      case 'reportDigital':
        this.setDigitalReporting(command.port, command.on);
        return;
      case 'servoConfig':
        if (!isDigitalPin(command.pin)) this.counters.ignoredCommands++;
        else {
          this.setPinMode(command.pin, MODE.SERVO);
          this.servoMinUs[command.pin] = command.minUs;
          this.servoMaxUs[command.pin] = command.maxUs;
        }
        return;
      case 'samplingInterval':
        this.samplingIntervalMs = Math.max(SAMPLING_INTERVAL_MS_MIN, command.ms);
        this.report({ event: 'samplingInterval', boardTick: this.counters.boardTicks, ms: this.samplingIntervalMs });
        return;
    }
  }

  /** StandardFirmata's reset: analog pins ANALOG, digital pins OUTPUT and low, nothing reported, no channel written. */
  private resetPins(): void {
    for (let pin = 0; pin < PIN_COUNT; pin++) this.pinMode[pin] = isAnalogPin(pin) ? MODE.ANALOG : isDigitalPin(pin) ? MODE.OUTPUT : NO_MODE;
    this.pinValue.fill(0);
    this.servoMinUs.fill(SERVO_DEFAULT_RANGE_US[0]);
    this.servoMaxUs.fill(SERVO_DEFAULT_RANGE_US[1]);
    this.analogReporting = 0;
    this.digitalReporting.fill(0);
    this.portSent.fill(-1);
    // A pin's level is a command from the start (low: 0, a motor stopped); a servo has none until attached and pulsed.
    this.config.map.outputs.forEach((b, c) => {
      this.written[c] = b.actuator === 'servo' || b.actuator === 'none' ? 0 : 1;
      this.commands[c] = 0;
    });
    this.hostWrote.fill(0);
  }

  private setPinMode(pin: number, mode: number): void {
    if (isAnalogPin(pin)) this.setAnalogReporting(pin - UNO_DIGITAL_PINS, mode === MODE.ANALOG);
    this.pinMode[pin] = mode;
    this.pinValue[pin] = mode === MODE.PULLUP ? 1 : 0;
    const channel = this.outputOfPin[pin]!;
    if (channel >= 0 && this.written[channel] === 1) this.refreshOutput(channel);
  }

  private writePort(port: number, bits: number): void {
    if (port >= PORT_COUNT) {
      this.counters.ignoredCommands++;
      return;
    }
    for (let bit = 0; bit < 8; bit++) {
      const pin = port * 8 + bit;
      // A port write rewrites every output pin of the port; only the pins it changes count as writes.
      if (pin < PIN_COUNT && this.pinMode[pin] === MODE.OUTPUT) this.writeLevel(pin, (bits >> bit) & 1, false);
    }
  }

  private writeLevel(pin: number, level: number, addressed: boolean): void {
    const changed = this.pinValue[pin] !== level;
    this.pinValue[pin] = level;
    if (pin === this.config.map.heartbeatPin) {
      this.deadMan.write(level);
      this.counters.heartbeatEdges = this.deadMan.edges;
      return;
    }
    // A servo input takes pulses, not levels: a level on it is no command.
    if (this.outputOfPin[pin]! >= 0 && this.roleOfPin[pin] !== 'servo' && (addressed || changed)) this.outputWritten(pin);
  }

  private analogWrite(pin: number, value: number): void {
    const mode = pin < PIN_COUNT ? this.pinMode[pin] : NO_MODE;
    if (mode === MODE.SERVO && value >= SERVO_MICROSECONDS_MIN) {
      this.pinValue[pin] = Math.min(this.servoMaxUs[pin]!, Math.max(this.servoMinUs[pin]!, value));
    } else if (mode === MODE.PWM) {
      this.pinValue[pin] = Math.min(PWM_DUTY_MAX, value);
    } else {
      this.counters.ignoredCommands++; // not a PWM or servo pin, or a servo angle
      return;
    }
    if (this.outputOfPin[pin]! >= 0) this.outputWritten(pin);
  }

  private outputWritten(pin: number): void {
    const channel = this.outputOfPin[pin]!;
    const name = this.config.law.definition.outputs[channel]!.name;
    this.counters.writesByChannel[name]!++;
    const first = this.hostWrote[channel] === 0;
    this.hostWrote[channel] = 1;
    this.written[channel] = 1;
    this.refreshOutput(channel);
    if (first) this.report({ event: 'firstCommand', boardTick: this.counters.boardTicks, channel: name, value: this.commands[channel]! });
  }

  /** A written output channel's value, from the state of its pins. */
  private refreshOutput(channel: number): void {
    const b = this.config.map.outputs[channel]!;
    if (b.actuator === 'servo') {
      if (this.pinMode[b.pin] !== MODE.SERVO) return; // detached: the drive holds what it had
      const [lowUs, highUs] = b.pwmRangeUs;
      const [low, high] = b.value;
      this.commands[channel] = Math.round(low + ((this.pinValue[b.pin]! - lowUs) * (high - low)) / (highUs - lowUs));
    } else if (b.actuator === 'motor') {
      // A PWM pin driven as a digital output is full on when high.
      const mode = this.pinMode[b.pwmPin];
      const duty = mode === MODE.PWM ? this.pinValue[b.pwmPin]! : mode === MODE.OUTPUT ? this.pinValue[b.pwmPin]! * PWM_DUTY_MAX : 0;
      const magnitude = Math.round((duty * b.valueMax) / PWM_DUTY_MAX);
      this.commands[channel] = this.pinValue[b.dirPin] === 1 ? magnitude : -magnitude + 0;
    } else if (b.actuator !== 'none') {
      this.commands[channel] = this.pinValue[b.pin]! >= 1 ? 1 : 0;
    }
  }

  private setAnalogReporting(channel: number, on: boolean): void {
    if (channel >= PIN_COUNT - UNO_DIGITAL_PINS) {
      this.counters.ignoredCommands++;
      return;
    }
    const was = ((this.analogReporting >> channel) & 1) === 1;
    this.analogReporting = on ? this.analogReporting | (1 << channel) : this.analogReporting & ~(1 << channel);
    if (was !== on) this.report({ event: 'reporting', boardTick: this.counters.boardTicks, kind: 'analog', index: channel, on });
    // As StandardFirmata: a channel turned on reports at once.
    if (on) this.reportAnalog(channel);
  }

  private setDigitalReporting(port: number, on: boolean): void {
    if (port >= PORT_COUNT) {
      this.counters.ignoredCommands++;
      return;
    }
    if ((this.digitalReporting[port] === 1) !== on) this.report({ event: 'reporting', boardTick: this.counters.boardTicks, kind: 'digital', index: port, on });
    this.digitalReporting[port] = on ? 1 : 0;
    this.portSent[port] = -1;
    if (on) this.reportPort(port, true);
  }

  private reportAnalog(channel: number): void {
    const pin = UNO_DIGITAL_PINS + channel;
    const fault = this.faults[pin]!;
    if (fault.fault === 'stale') return;
    let raw = fault.fault === 'stuck' ? fault.raw : this.analogRaw(pin);
    if (fault.fault === 'noise') raw = Math.max(0, Math.min(ANALOG_RAW_MAX, raw + this.noise.nextIntInclusive(-fault.amplitude, fault.amplitude)));
    this.counters.analogReports++;
    this.send(analogMessage(channel, raw));
  }

  private reportPort(port: number, force: boolean): void {
    let bits = 0;
    for (let bit = 0; bit < 8; bit++) {
      const pin = port * 8 + bit;
      if (pin < PIN_COUNT && (this.pinMode[pin] === MODE.INPUT || this.pinMode[pin] === MODE.PULLUP)) bits |= this.inputLevel(pin) << bit;
    }
    if (!force && bits === this.portSent[port]) return;
    this.portSent[port] = bits;
    this.counters.digitalReports++;
    this.send(digitalMessage(port, bits));
  }

  /** An analog pin's ADC reading, faults aside. */
  private analogRaw(pin: number): number {
    const channel = this.inputOfPin[pin]!;
    if (channel < 0) return 0;
    const b = this.config.map.inputs[channel]!;
    if (b.source === 'analog') return rawForValue(this.inputs[channel]!, b.raw, b.value);
    return this.trueLevel(pin) * ANALOG_RAW_MAX;
  }

  /** An input pin's level as reported, faults included. */
  private inputLevel(pin: number): number {
    const fault = this.faults[pin]!;
    if (fault.fault === 'stuck') return fault.raw;
    if (fault.fault === 'stale') return this.frozenLevel[pin]!;
    return this.trueLevel(pin);
  }

  private trueLevel(pin: number): number {
    const channel = this.inputOfPin[pin]!;
    if (channel < 0) return this.pinMode[pin] === MODE.PULLUP ? 1 : 0;
    const b = this.config.map.inputs[channel]!;
    if (b.source === 'digital') return (this.inputs[channel]! >= 1) !== b.invert ? 1 : 0;
    // An analog sensor read as a digital input: high above half the ADC's range.
    return this.analogRaw(pin) > ANALOG_RAW_MAX >> 1 ? 1 : 0;
  }

  /**
   * A fault command, one JSON line: `{"fault":"stale"|"noise"|"stuck"|"none","pin":"A0"|2,
   * "amplitude":N,"raw":N}`. Applied, and reported as a `fault` event; or refused, as a
   * `refusedCommand` event naming why. Never throws.
   */
  command(line: string): void {
    const outcome = this.parseFault(line);
    if (typeof outcome === 'string') {
      this.report({ event: 'refusedCommand', boardTick: this.counters.boardTicks, line: line.slice(0, REFUSED_LINE_ECHO_MAX), reason: outcome });
      return;
    }
    const { pin, fault } = outcome;
    if (fault.fault === 'stale') this.frozenLevel[pin] = this.inputLevel(pin); // as the host last saw it
    this.faults[pin] = fault;
    this.report({ event: 'fault', boardTick: this.counters.boardTicks, pin: pinName(pin), ...fault });
  }

  /** The fault a line asks for, or why it is refused. */
  private parseFault(line: string): { pin: number; fault: PinFault } | string {
    if (Buffer.byteLength(line) > COMMAND_LINE_BYTES_MAX) return `longer than ${COMMAND_LINE_BYTES_MAX} bytes`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      return 'not JSON';
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object';
    const o = value as Record<string, unknown>;
    const kind = o.fault;
    if (kind !== 'none' && kind !== 'stale' && kind !== 'noise' && kind !== 'stuck') return `fault must be 'none', 'stale', 'noise' or 'stuck'`;
    const allowed = ['fault', 'pin', ...(kind === 'noise' ? ['amplitude'] : kind === 'stuck' ? ['raw'] : [])];
    const extra = Object.keys(o).find((k) => !allowed.includes(k));
    if (extra !== undefined) return `${extra} is not a field of a ${kind} fault (fields: ${allowed.join(', ')})`;
    let pin: number;
    try {
      pin = pinNumber({ label: 'pin', value: o.pin });
    } catch (error) {
      return error instanceof UsageError ? error.message : String(error);
    }
    const channel = this.inputOfPin[pin]!;
    if (channel < 0) return `pin ${pinName(pin)} is not an input of the I/O map (${this.inputPinNames()})`;
    const binding = this.config.map.inputs[channel] as Extract<InputBinding, { pin: number }>;
    const whole = (key: string, min: number, max: number): number | string => {
      const v = o[key];
      return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? v : `${key} must be a whole number in ${min}..${max}`;
    };
    switch (kind) {
      case 'none':
      case 'stale':
        return { pin, fault: { fault: kind } };
      case 'noise': {
        if (binding.source !== 'analog') return `noise applies to analog inputs; pin ${pinName(pin)} is digital`;
        const amplitude = whole('amplitude', 1, ANALOG_RAW_MAX);
        return typeof amplitude === 'string' ? amplitude : { pin, fault: { fault: kind, amplitude } };
      }
      case 'stuck': {
        const raw = whole('raw', 0, binding.source === 'analog' ? ANALOG_RAW_MAX : 1);
        return typeof raw === 'string' ? raw : { pin, fault: { fault: kind, raw } };
      }
    }
  }

  private inputPinNames(): string {
    const names: string[] = [];
    for (let pin = 0; pin < PIN_COUNT; pin++) if (this.inputOfPin[pin]! >= 0) names.push(pinName(pin));
    return names.join(', ');
  }

  /** Counters and the plant's state: the process's final status line. */
  status(): Record<string, unknown> {
    return { ...this.counters, samplingIntervalMs: this.samplingIntervalMs, armed: this.deadMan.armed, tripped: this.plant.tripped, commands: this.lastCommands(), plant: this.plant.state() };
  }
}
