/**
 * A simulated motor drive behind a Firmata microcontroller: what stands in for the actuator board
 * a user wires to the voter's host. The host drives it with johnny-five over Firmata (a Servo on
 * the command pin, a Pin toggled every tick on the dead-man heartbeat pin), exactly as it would a
 * board running StandardFirmata; the drive runs the actuator model (src/sim/actuator.ts) on its
 * own clock, so its watchdog keeps counting when the host is gone.
 *
 * This file is the device's logic, free of I/O: bytes from the host go in through `receive`,
 * bytes to the host come out through the `send` callback, and `driveTick` is called at the
 * drive's own rate. The process around it is firmata-drive-main.ts.
 *
 * Firmata subset (protocol 2.5, what firmata-io and johnny-five use for Servo and Pin):
 *   host → drive: REPORT_VERSION query (0xF9), sysex QUERY_FIRMWARE (0x79), CAPABILITY_QUERY
 *     (0x6B), ANALOG_MAPPING_QUERY (0x69), SERVO_CONFIG (0x70), EXTENDED_ANALOG (0x6F),
 *     SAMPLING_INTERVAL (0x7A, ignored); SET_PIN_MODE (0xF4), SET_DIGITAL_PIN_VALUE (0xF5),
 *     DIGITAL_MESSAGE (0x90|port), ANALOG_MESSAGE (0xE0|pin), REPORT_ANALOG/REPORT_DIGITAL
 *     (0xC0/0xD0, ignored), SYSTEM_RESET (0xFF: also re-arms a tripped drive, as a drive's
 *     enable input would).
 *   drive → host: REPORT_VERSION, the firmware report, the capability and analog mapping responses.
 * Anything else is counted as refused and dropped; a sysex longer than SYSEX_BYTES_MAX is dropped.
 */
import { assert } from '../src/core/assert.js';
import { Actuator, type ActuatorConfig } from '../src/sim/actuator.js';

export const FIRMATA_VERSION = [2, 5] as const;
export const DRIVE_FIRMWARE_NAME = 'tmr-sim-drive';
/** The longest sysex message accepted, bytes including its start and end. */
export const SYSEX_BYTES_MAX = 64;

const START_SYSEX = 0xf0;
const END_SYSEX = 0xf7;
const REPORT_VERSION = 0xf9;
const SYSTEM_RESET = 0xff;
const SET_PIN_MODE = 0xf4;
const SET_DIGITAL_PIN_VALUE = 0xf5;
const QUERY_FIRMWARE = 0x79;
const CAPABILITY_QUERY = 0x6b;
const CAPABILITY_RESPONSE = 0x6c;
const ANALOG_MAPPING_QUERY = 0x69;
const ANALOG_MAPPING_RESPONSE = 0x6a;
const SERVO_CONFIG = 0x70;
const EXTENDED_ANALOG = 0x6f;
const SAMPLING_INTERVAL = 0x7a;
/** Firmata: a servo value below this is degrees, at or above it microseconds. */
const SERVO_MICROSECONDS_MIN = 544;

/** Pin modes (Firmata numbering) and an Uno's pins: digital 0..13, A0..A5 as 14..19. */
const MODE = { INPUT: 0, OUTPUT: 1, ANALOG: 2, PWM: 3, SERVO: 4 } as const;
const DIGITAL_PINS = 14;
const PIN_COUNT = 20;
const PWM_PINS: readonly number[] = [3, 5, 6, 9, 10, 11];

export interface DriveBoardConfig {
  /** The drive's command input (servo pulses) and its dead-man heartbeat input. */
  readonly commandPin: number;
  readonly heartbeatPin: number;
  /** Pulse widths for −supply and +supply, µs (the host's Servo maps commands onto them). */
  readonly pwmRangeUs: readonly [number, number];
  readonly actuator: ActuatorConfig;
}

/** What the drive tells whoever runs it; firmata-drive-main prints these as JSON lines. */
export type DriveEvent =
  | { readonly event: 'hostConnected'; readonly driveTick: number }
  /** The first heartbeat edge: from here on the watchdog counts (a drive powers up disabled). */
  | { readonly event: 'armed'; readonly driveTick: number }
  | { readonly event: 'firstCommand'; readonly driveTick: number; readonly commandMv: number }
  | {
      readonly event: 'watchdogTripped';
      readonly driveTick: number;
      /** Drive ticks since the last heartbeat edge (the watchdog's count when it tripped). */
      readonly ticksWithoutHeartbeat: number;
      /** The last command the host sent, mV, and what the drive applies now. */
      readonly lastCommandMv: number | null;
      readonly appliedMv: number;
      readonly brakeEngaged: boolean;
    }
  | { readonly event: 'rearmed'; readonly driveTick: number };

export interface DriveCounters {
  bytesIn: number;
  commandWrites: number;
  heartbeatEdges: number;
  refusedBytes: number;
  driveTicks: number;
}

export class FirmataDrive {
  readonly actuator: Actuator;
  readonly counters: DriveCounters = { bytesIn: 0, commandWrites: 0, heartbeatEdges: 0, refusedBytes: 0, driveTicks: 0 };
  private readonly message = new Uint8Array(SYSEX_BYTES_MAX);
  private messageLength = 0;
  /** Data bytes the message being parsed still needs (non-sysex), or -1 inside a sysex. */
  private dataBytesNeeded = 0;
  private discardingSysex = false;
  private readonly pinModes = new Int8Array(PIN_COUNT).fill(-1);
  private heartbeatLevel = -1;
  private edgesThisTick = 0;
  private ticksWithoutEdge = 0;
  private commandMv: number | null = null;
  private hostSeen = false;
  private armed = false;
  private tripReported = false;

  constructor(
    readonly config: DriveBoardConfig,
    private readonly send: (bytes: Uint8Array) => void,
    private readonly report: (event: DriveEvent) => void,
  ) {
    assert(PWM_PINS.includes(config.commandPin), `command pin ${config.commandPin} cannot make pulses`);
    assert(config.heartbeatPin >= 0 && config.heartbeatPin < DIGITAL_PINS && config.heartbeatPin !== config.commandPin, 'heartbeat pin');
    assert(config.pwmRangeUs[0] >= SERVO_MICROSECONDS_MIN && config.pwmRangeUs[1] > config.pwmRangeUs[0], 'pulse range');
    this.actuator = new Actuator(config.actuator);
  }

  /** True once the host has sent anything (until then the drive announces itself). */
  get connected(): boolean {
    return this.hostSeen;
  }

  get lastCommandMv(): number | null {
    return this.commandMv;
  }

  /** What StandardFirmata sends at boot: its protocol version and its firmware name. */
  announce(): void {
    this.sendVersion();
    this.sendFirmware();
  }

  receive(bytes: Uint8Array): void {
    this.counters.bytesIn += bytes.length;
    if (!this.hostSeen && bytes.length > 0) {
      this.hostSeen = true;
      this.report({ event: 'hostConnected', driveTick: this.counters.driveTicks });
    }
    for (const byte of bytes) this.receiveByte(byte);
  }

  /**
   * One tick of the drive's own clock: a heartbeat edge since the last tick delivers the latest
   * command to the actuator; a tick without one counts towards its watchdog. Until the first
   * edge the drive is disabled (applies nothing) and its watchdog does not count.
   */
  driveTick(): void {
    this.counters.driveTicks++;
    const alive = this.edgesThisTick > 0;
    this.edgesThisTick = 0;
    if (!this.armed) {
      if (!alive) return;
      this.armed = true;
      this.report({ event: 'armed', driveTick: this.counters.driveTicks });
    }
    this.ticksWithoutEdge = alive ? 0 : this.ticksWithoutEdge + 1;
    this.actuator.tick(alive ? this.commandMv : null);
    if (this.actuator.watchdogTripped && !this.tripReported) {
      this.tripReported = true;
      this.report({
        event: 'watchdogTripped',
        driveTick: this.counters.driveTicks,
        ticksWithoutHeartbeat: this.ticksWithoutEdge,
        lastCommandMv: this.commandMv,
        appliedMv: this.actuator.appliedMv,
        brakeEngaged: this.actuator.brakeEngaged,
      });
    }
  }

  private receiveByte(byte: number): void {
    if (this.discardingSysex) {
      if (byte === END_SYSEX) this.discardingSysex = false;
      this.counters.refusedBytes++;
      return;
    }
    if (byte >= 0x80 && !(this.dataBytesNeeded < 0 && byte === END_SYSEX)) {
      // A status byte starts a new message; one that interrupts another drops what was pending.
      if (this.messageLength > 0) this.counters.refusedBytes += this.messageLength;
      this.messageLength = 0;
      this.dataBytesNeeded = dataBytesFor(byte);
      if (this.dataBytesNeeded === NOT_A_COMMAND) {
        this.counters.refusedBytes++;
        this.dataBytesNeeded = 0;
        return;
      }
      this.message[this.messageLength++] = byte;
      if (this.dataBytesNeeded === 0) this.complete();
      return;
    }
    if (this.messageLength === 0) {
      this.counters.refusedBytes++; // a data byte with no command before it
      return;
    }
    if (this.messageLength >= SYSEX_BYTES_MAX) {
      this.counters.refusedBytes += this.messageLength + 1;
      this.messageLength = 0;
      this.discardingSysex = byte !== END_SYSEX;
      return;
    }
    this.message[this.messageLength++] = byte;
    if (this.dataBytesNeeded < 0) {
      if (byte === END_SYSEX) this.complete();
    } else if (--this.dataBytesNeeded === 0) this.complete();
  }

  private complete(): void {
    const m = this.message.subarray(0, this.messageLength);
    this.messageLength = 0;
    const status = m[0]!;
    const command = status < 0xf0 ? status & 0xf0 : status;
    switch (command) {
      case REPORT_VERSION:
        this.sendVersion();
        return;
      case SYSTEM_RESET:
        this.pinModes.fill(-1);
        if (this.actuator.watchdogTripped) {
          this.actuator.rearm();
          this.tripReported = false;
          this.report({ event: 'rearmed', driveTick: this.counters.driveTicks });
        }
        return;
      case SET_PIN_MODE:
        if (m[1]! < PIN_COUNT) this.pinModes[m[1]!] = m[2]!;
        return;
      case SET_DIGITAL_PIN_VALUE:
        this.digitalWrite(m[1]!, m[2]! !== 0 ? 1 : 0);
        return;
      case 0x90: {
        const port = status & 0x0f;
        const bits = m[1]! | (m[2]! << 7);
        for (let bit = 0; bit < 8; bit++) {
          const pin = port * 8 + bit;
          if (pin < DIGITAL_PINS && this.pinModes[pin] === MODE.OUTPUT) this.digitalWrite(pin, (bits >> bit) & 1);
        }
        return;
      }
      case 0xe0:
        this.analogWrite(status & 0x0f, m[1]! | (m[2]! << 7));
        return;
      case 0xc0:
      case 0xd0:
        return;
      case START_SYSEX:
        this.sysex(m);
        return;
      default:
        this.counters.refusedBytes += m.length;
    }
  }

  private sysex(m: Uint8Array): void {
    const id = m.length > 2 ? m[1]! : -1;
    switch (id) {
      case QUERY_FIRMWARE:
        this.sendFirmware();
        return;
      case CAPABILITY_QUERY:
        this.sendCapabilities();
        return;
      case ANALOG_MAPPING_QUERY: {
        const out = [START_SYSEX, ANALOG_MAPPING_RESPONSE];
        for (let pin = 0; pin < PIN_COUNT; pin++) out.push(pin >= DIGITAL_PINS ? pin - DIGITAL_PINS : 0x7f);
        out.push(END_SYSEX);
        this.send(Uint8Array.from(out));
        return;
      }
      case SERVO_CONFIG:
        // As StandardFirmata: configuring a servo attaches it and puts its pin in servo mode.
        if (m.length > 3 && m[2]! < PIN_COUNT) this.pinModes[m[2]!] = MODE.SERVO;
        return;
      case SAMPLING_INTERVAL:
        return;
      case EXTENDED_ANALOG: {
        let value = 0;
        for (let i = 3; i < m.length - 1; i++) value |= m[i]! << (7 * (i - 3));
        this.analogWrite(m[2]!, value);
        return;
      }
      default:
        this.counters.refusedBytes += m.length;
    }
  }

  private digitalWrite(pin: number, level: number): void {
    if (pin !== this.config.heartbeatPin) return;
    if (this.heartbeatLevel !== -1 && level !== this.heartbeatLevel) {
      this.edgesThisTick++;
      this.counters.heartbeatEdges++;
    }
    this.heartbeatLevel = level;
  }

  private analogWrite(pin: number, value: number): void {
    if (pin !== this.config.commandPin || this.pinModes[pin] !== MODE.SERVO) {
      this.counters.refusedBytes += 3;
      return;
    }
    this.counters.commandWrites++;
    const mv = this.pulseToMv(value);
    if (this.commandMv === null) this.report({ event: 'firstCommand', driveTick: this.counters.driveTicks, commandMv: mv });
    this.commandMv = mv;
  }

  /** Pulse width to command, mV: the inverse of the host Servo's map of ±supply onto pwmRangeUs. */
  pulseToMv(valueUs: number): number {
    const [lowUs, highUs] = this.config.pwmRangeUs;
    const supply = this.config.actuator.supplyMvMax;
    if (valueUs < SERVO_MICROSECONDS_MIN) return Number.NaN; // degrees: not how this drive is wired
    return Math.round(-supply + ((valueUs - lowUs) * 2 * supply) / (highUs - lowUs));
  }

  private sendVersion(): void {
    this.send(Uint8Array.from([REPORT_VERSION, FIRMATA_VERSION[0], FIRMATA_VERSION[1]]));
  }

  private sendFirmware(): void {
    const out = [START_SYSEX, QUERY_FIRMWARE, FIRMATA_VERSION[0], FIRMATA_VERSION[1]];
    for (const ch of Buffer.from(DRIVE_FIRMWARE_NAME, 'ascii')) out.push(ch & 0x7f, ch >> 7);
    out.push(END_SYSEX);
    this.send(Uint8Array.from(out));
  }

  private sendCapabilities(): void {
    const out = [START_SYSEX, CAPABILITY_RESPONSE];
    for (let pin = 0; pin < PIN_COUNT; pin++) {
      out.push(MODE.INPUT, 1, MODE.OUTPUT, 1);
      if (pin >= DIGITAL_PINS) out.push(MODE.ANALOG, 10);
      if (PWM_PINS.includes(pin)) out.push(MODE.PWM, 8, MODE.SERVO, 14);
      out.push(0x7f);
    }
    out.push(END_SYSEX);
    this.send(Uint8Array.from(out));
  }
}

const NOT_A_COMMAND = -2;

/** Data bytes after a status byte; -1: a sysex, up to END_SYSEX. */
function dataBytesFor(status: number): number {
  if (status === START_SYSEX) return -1;
  if (status === REPORT_VERSION || status === SYSTEM_RESET) return 0;
  if (status === SET_PIN_MODE || status === SET_DIGITAL_PIN_VALUE) return 2;
  const command = status & 0xf0;
  if (command === 0x90 || command === 0xe0) return 2;
  if (command === 0xc0 || command === 0xd0) return 1;
  return NOT_A_COMMAND;
}
