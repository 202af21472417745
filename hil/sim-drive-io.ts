/**
 * A johnny-five IO plugin whose "board" is the simulated drive: what johnny-five's Servo writes
 * to the command pin, and what its Pin toggles on the heartbeat pin, is what the actuator model
 * receives. The bench's code is the same whether it is handed this plugin or a Firmata board.
 *
 * The wiring models an industrial drive with a dead-man input:
 *   - the command pin (servo mode) carries the command. johnny-five writes a value only when it
 *     changes, so the drive latches the last one, as a PWM input holds its last pulse width;
 *   - the heartbeat pin must change level every tick the host is alive (a charge-pump / watchdog
 *     input). A tick without an edge counts as "no command" for the drive's watchdog, which takes
 *     it to its safe state after watchdogTicks of them.
 *
 * Implements the io-plugins contract johnny-five's Board, Servo and Pin use: `ready`/`connect`
 * events, isReady, MODES, pins, analogPins, pinMode, servoConfig, servoWrite, digitalWrite,
 * analogWrite/pwmWrite, digitalRead, analogRead. A write to a pin that is not in a mode for it is
 * a wiring bug and throws.
 */
import { EventEmitter } from 'node:events';
import { assert } from '../src/core/assert.js';

export const PIN_MODE = { INPUT: 0, OUTPUT: 1, ANALOG: 2, PWM: 3, SERVO: 4 } as const;
type PinMode = (typeof PIN_MODE)[keyof typeof PIN_MODE];

/** An Uno-shaped pin map: digital 0..13, then A0..A5 as 14..19. */
const DIGITAL_PIN_COUNT = 14;
const ANALOG_PIN_COUNT = 6;
/** Pins that can make PWM / servo pulses on an Uno. */
const PWM_PINS: readonly number[] = [3, 5, 6, 9, 10, 11];

interface PinState {
  supportedModes: PinMode[];
  mode: PinMode | undefined;
  value: number;
  report: number;
  analogChannel: number;
}

export interface DriveWiring {
  /** The drive's command input (a PWM pin, driven by johnny-five's Servo). */
  readonly commandPin: number;
  /** The drive's dead-man input (a digital pin, toggled by johnny-five's Pin every tick). */
  readonly heartbeatPin: number;
}

export const DEFAULT_WIRING: DriveWiring = { commandPin: 9, heartbeatPin: 8 };

export class SimDriveIo extends EventEmitter {
  readonly name = 'tmr-sim-drive';
  readonly MODES = PIN_MODE;
  readonly RESOLUTION = { ADC: 1023, DAC: null, PWM: 255 };
  readonly pins: PinState[] = [];
  readonly analogPins: number[] = [];
  readonly defaultLed = 13;
  isReady = false;
  /** Last value written to the command pin, in Servo units (see hil/actuator-path.ts); null before any. */
  private commandValue: number | null = null;
  private heartbeatLevel = -1;
  private heartbeatEdges = 0;
  /** Every write to the command pin, for tests: how many arrived. */
  commandWrites = 0;

  constructor(readonly wiring: DriveWiring = DEFAULT_WIRING) {
    super();
    for (let pin = 0; pin < DIGITAL_PIN_COUNT + ANALOG_PIN_COUNT; pin++) {
      const analog = pin >= DIGITAL_PIN_COUNT;
      const modes: PinMode[] = [PIN_MODE.INPUT, PIN_MODE.OUTPUT];
      if (analog) modes.push(PIN_MODE.ANALOG);
      if (PWM_PINS.includes(pin)) modes.push(PIN_MODE.PWM, PIN_MODE.SERVO);
      this.pins.push({ supportedModes: modes, mode: undefined, value: 0, report: 0, analogChannel: analog ? pin - DIGITAL_PIN_COUNT : 127 });
      if (analog) this.analogPins.push(pin);
    }
    assert(PWM_PINS.includes(wiring.commandPin), `command pin ${wiring.commandPin} cannot make pulses`);
    assert(wiring.heartbeatPin !== wiring.commandPin && wiring.heartbeatPin >= 0 && wiring.heartbeatPin < DIGITAL_PIN_COUNT, 'heartbeat pin');
    // The contract: announce readiness asynchronously, as a real board would.
    process.nextTick(() => {
      this.isReady = true;
      this.emit('connect');
      this.emit('ready');
    });
  }

  pinMode(pin: number, mode: number): this {
    const state = this.pinState(pin);
    if (!state.supportedModes.includes(mode as PinMode)) throw new Error(`sim drive: pin ${pin} does not support mode ${mode}`);
    state.mode = mode as PinMode;
    return this;
  }

  servoConfig(pin: number, _minUs: number, _maxUs: number): this {
    return this.pinMode(pin, PIN_MODE.SERVO);
  }

  servoWrite(pin: number, value: number): this {
    const state = this.pinState(pin);
    if (state.mode !== PIN_MODE.SERVO) throw new Error(`sim drive: servoWrite on pin ${pin}, which is not in servo mode`);
    assert(Number.isInteger(value), 'servo value is not an integer');
    state.value = value;
    if (pin === this.wiring.commandPin) {
      this.commandValue = value;
      this.commandWrites++;
    }
    return this;
  }

  digitalWrite(pin: number, value: number): this {
    const state = this.pinState(pin);
    if (state.mode === undefined) state.mode = PIN_MODE.OUTPUT;
    if (state.mode !== PIN_MODE.OUTPUT) throw new Error(`sim drive: digitalWrite on pin ${pin}, which is not an output`);
    const level = value ? 1 : 0;
    if (pin === this.wiring.heartbeatPin && level !== this.heartbeatLevel) {
      this.heartbeatLevel = level;
      this.heartbeatEdges++;
    }
    state.value = level;
    return this;
  }

  analogWrite(pin: number, value: number): this {
    const state = this.pinState(pin);
    if (state.mode !== PIN_MODE.PWM) this.pinMode(pin, PIN_MODE.PWM);
    state.value = value;
    return this;
  }

  pwmWrite(pin: number, value: number): this {
    return this.analogWrite(pin, value);
  }

  /** Inputs read nothing on the simulated drive: the bench reads the sensor model directly. */
  digitalRead(pin: number, _handler: (value: number) => void): void {
    this.pinState(pin);
  }

  analogRead(pin: number, _handler: (value: number) => void): void {
    this.pinState(pin);
  }

  /**
   * What the drive took from its inputs for this tick: the latched command value if the heartbeat
   * moved since the last call, null if not (the host is dead or stalled).
   */
  takeTick(): number | null {
    const alive = this.heartbeatEdges > 0;
    this.heartbeatEdges = 0;
    return alive ? this.commandValue : null;
  }

  private pinState(pin: number): PinState {
    const state = this.pins[pin];
    if (state === undefined) throw new Error(`sim drive: there is no pin ${String(pin)}`);
    return state;
  }
}
