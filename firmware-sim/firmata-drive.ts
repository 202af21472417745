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
 * The byte layer (framing, decoding, the query answers) is shared with the plant board:
 * firmata-plant-protocol.ts.
 */
import { assert } from '../src/core/assert.js';
import { Actuator, type ActuatorConfig } from '../src/sim/actuator.js';
import { UNO_DIGITAL_PINS, UNO_PWM_PINS } from '../src/io/io-map.js';
import { DeadManInput } from './firmata-plant-models.js';
import { FirmataDevice, MODE, PIN_COUNT, SERVO_MICROSECONDS_MIN, type HostCommand } from './firmata-plant-protocol.js';

export { FIRMATA_VERSION, SYSEX_BYTES_MAX } from './firmata-plant-protocol.js';
export const DRIVE_FIRMWARE_NAME = 'tmr-sim-drive';
/** A write to a pin that is not the drive's command input in servo mode: the 3 bytes of an ANALOG_MESSAGE. */
const REFUSED_WRITE_BYTES = 3;

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
  bytesOut: number;
  commandWrites: number;
  heartbeatEdges: number;
  refusedBytes: number;
  driveTicks: number;
}

export class FirmataDrive extends FirmataDevice {
  readonly actuator: Actuator;
  readonly counters: DriveCounters = { bytesIn: 0, bytesOut: 0, commandWrites: 0, heartbeatEdges: 0, refusedBytes: 0, driveTicks: 0 };
  /** -1 until the host sets a mode: the drive takes nothing on a pin the host has not configured. */
  private readonly pinModes = new Int8Array(PIN_COUNT).fill(-1);
  /** The heartbeat pin's level is unknown until the host first writes it. */
  private readonly deadMan = new DeadManInput(-1);
  private commandMv: number | null = null;
  private tripReported = false;

  constructor(
    readonly config: DriveBoardConfig,
    send: (bytes: Uint8Array) => void,
    private readonly report: (event: DriveEvent) => void,
  ) {
    super(DRIVE_FIRMWARE_NAME, send);
    assert(UNO_PWM_PINS.includes(config.commandPin), `command pin ${config.commandPin} cannot make pulses`);
    assert(config.heartbeatPin >= 0 && config.heartbeatPin < UNO_DIGITAL_PINS && config.heartbeatPin !== config.commandPin, 'heartbeat pin');
    assert(config.pwmRangeUs[0] >= SERVO_MICROSECONDS_MIN && config.pwmRangeUs[1] > config.pwmRangeUs[0], 'pulse range');
    this.actuator = new Actuator(config.actuator);
  }

  get lastCommandMv(): number | null {
    return this.commandMv;
  }

  protected hostConnected(): void {
    this.report({ event: 'hostConnected', driveTick: this.counters.driveTicks });
  }

  /**
   * One tick of the drive's own clock: a heartbeat edge since the last tick delivers the latest
   * command to the actuator; a tick without one counts towards its watchdog. Until the first
   * edge the drive is disabled (applies nothing) and its watchdog does not count.
   */
  driveTick(): void {
    this.counters.driveTicks++;
    const wasArmed = this.deadMan.armed;
    const delivery = this.deadMan.tick();
    if (delivery === 'disabled') return;
    if (!wasArmed) this.report({ event: 'armed', driveTick: this.counters.driveTicks });
    this.actuator.tick(delivery === 'deliver' ? this.commandMv : null);
    if (this.actuator.watchdogTripped && !this.tripReported) {
      this.tripReported = true;
      this.report({
        event: 'watchdogTripped',
        driveTick: this.counters.driveTicks,
        ticksWithoutHeartbeat: this.deadMan.ticksWithoutEdge,
        lastCommandMv: this.commandMv,
        appliedMv: this.actuator.appliedMv,
        brakeEngaged: this.actuator.brakeEngaged,
      });
    }
  }

  protected apply(command: HostCommand): void {
    switch (command.kind) {
      case 'reset':
        this.pinModes.fill(-1);
        if (this.actuator.watchdogTripped) {
          this.actuator.rearm();
          this.tripReported = false;
          this.report({ event: 'rearmed', driveTick: this.counters.driveTicks });
        }
        return;
      case 'pinMode':
        if (command.pin < PIN_COUNT) this.pinModes[command.pin] = command.mode;
        return;
      case 'pinValue':
        this.digitalWrite(command.pin, command.level);
        return;
      case 'port':
        for (let bit = 0; bit < 8; bit++) {
          const pin = command.port * 8 + bit;
          if (pin < UNO_DIGITAL_PINS && this.pinModes[pin] === MODE.OUTPUT) this.digitalWrite(pin, (command.bits >> bit) & 1);
        }
        return;
      case 'analogWrite':
        this.analogWrite(command.pin, command.value);
        return;
      case 'servoConfig':
        // As StandardFirmata: configuring a servo attaches it and puts its pin in servo mode.
        if (command.pin < PIN_COUNT) this.pinModes[command.pin] = MODE.SERVO;
        return;
      case 'reportAnalog':
      case 'reportDigital':
      case 'samplingInterval':
        return; // the drive reports nothing
    }
  }

  private digitalWrite(pin: number, level: number): void {
    if (pin !== this.config.heartbeatPin) return;
    this.deadMan.write(level);
    this.counters.heartbeatEdges = this.deadMan.edges;
  }

  private analogWrite(pin: number, value: number): void {
    if (pin !== this.config.commandPin || this.pinModes[pin] !== MODE.SERVO) {
      this.refuse(REFUSED_WRITE_BYTES);
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
}
