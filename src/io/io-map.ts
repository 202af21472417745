/**
 * An I/O map: which pin of a Firmata board each of a law's channels is wired to (`tmr run --io
 * firmata:PATH --io-map FILE`). Every input channel is bound to a source (an analog pin with a
 * linear scaling into the channel's unit, a digital pin, or the host's setpoint profile); every
 * output channel to an actuator (a Servo, a Motor with PWM and direction, a Pin, an Led, a Relay)
 * or, for telemetry, explicitly to none. Plus the drive's heartbeat pin and the sampling interval.
 *
 * Read from JSON with the same readers as the config file: every problem is one line naming the
 * file and the field (`motor-io.json: inputs.positionMilliDeg.pin: ...`), before anything starts.
 * A map is checked against the law it is used with: a channel left unbound, bound twice (the same
 * pin for two channels), an unknown pin or one that cannot do what it is bound for, or a scaling
 * that maps outside the channel's range are all refused.
 *
 * Pure: no I/O here (the file is read by the caller, src/io/open-io.ts).
 */
import type { LoadedLaw } from '../law/law-runtime.js';
import { show, UsageError, wholeNumber, type Field } from '../config/fields.js';

/** An Uno's pins (what StandardFirmata reports): digital 0..13, analog A0..A5 as 14..19. */
export const UNO_DIGITAL_PINS = 14;
export const UNO_ANALOG_PINS = 6;
export const UNO_PWM_PINS: readonly number[] = [3, 5, 6, 9, 10, 11];
/** Pins 0 and 1 are the serial port Firmata itself talks over. */
export const UNO_SERIAL_PINS: readonly number[] = [0, 1];
/** A 10-bit ADC. */
export const ANALOG_RAW_MAX = 1023;
/** Bounds on the map's numbers. */
export const SAMPLING_INTERVAL_MS_MIN = 1;
export const SAMPLING_INTERVAL_MS_MAX = 1_000;
export const SAMPLING_INTERVAL_MS_DEFAULT = 10;
export const STALE_AFTER_MS_MAX = 10_000;
export const HOLD_TICKS_MAX = 10_000;
export const IO_MAP_BYTES_MAX = 64 * 1024;

/** What a stale, missing or out-of-range input does: hold its last good value this many ticks, then the loop goes to its safe state. */
export interface InputFaultPolicy {
  readonly holdTicks: number;
}

export type InputBinding =
  | {
      readonly source: 'analog';
      /** The pin's Firmata number (A0 = 14). */
      readonly pin: number;
      /** Raw ADC readings [low, high] and the channel values they mean; linear between, integer arithmetic. */
      readonly raw: readonly [number, number];
      readonly value: readonly [number, number];
      /** A sample older than this at the tick is SENSOR_STALE. */
      readonly staleAfterMs: number;
      readonly onFault: InputFaultPolicy;
    }
  | {
      readonly source: 'digital';
      readonly pin: number;
      /** The channel is 1 when the pin reads low (a switch to ground with the pull-up on). */
      readonly invert: boolean;
      /** Whether to turn the pin's pull-up on (INPUT_PULLUP). */
      readonly pullUp: boolean;
      readonly onFault: InputFaultPolicy;
    }
  | {
      /** The host's own setpoint: the plant's profile over the run (as `tmr sim` uses). */
      readonly source: 'profile';
    }
  | { readonly source: 'constant'; readonly value: number };

export type OutputBinding =
  | {
      /** johnny-five Servo: the channel's value range [value] maps linearly onto pulses of pwmRangeUs. */
      readonly actuator: 'servo';
      readonly pin: number;
      readonly pwmRangeUs: readonly [number, number];
      readonly value: readonly [number, number];
    }
  | {
      /** johnny-five Motor (PWM + direction pin): |value| / valueMax of full speed, the sign on the direction pin. */
      readonly actuator: 'motor';
      readonly pwmPin: number;
      readonly dirPin: number;
      readonly valueMax: number;
    }
  | {
      /** A digital output through johnny-five (Pin, Led, Relay): high when the value is at or above `onAtOrAbove`. */
      readonly actuator: 'pin' | 'led' | 'relay';
      readonly pin: number;
      readonly onAtOrAbove: number;
    }
  | { readonly actuator: 'none' };

export interface IoMap {
  /** Where it was read from, for messages. */
  readonly source: string;
  readonly samplingIntervalMs: number;
  /** The drive's dead-man input: toggled every tick the loop is alive. */
  readonly heartbeatPin: number;
  /** By law input channel, in the law's order. */
  readonly inputs: readonly InputBinding[];
  /** By law output channel, in the law's order. */
  readonly outputs: readonly OutputBinding[];
}

/** A pin as written: a number (0..19) or 'A0'..'A5'. Returns its Firmata number. */
export function pinNumber(field: Field): number {
  const { value, label } = field;
  if (typeof value === 'string') {
    const match = /^A([0-5])$/.exec(value);
    if (match === null) throw new UsageError(`${label}: ${show(value)} is not a pin of an Uno (0..13, or A0..A5)`);
    return UNO_DIGITAL_PINS + Number(match[1]);
  }
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value >= UNO_DIGITAL_PINS + UNO_ANALOG_PINS) {
    throw new UsageError(`${label}: ${show(value)} is not a pin of an Uno (0..13, or A0..A5)`);
  }
  return value;
}

/** How a pin is named in messages: 9, A0. */
export function pinName(pin: number): string {
  return pin >= UNO_DIGITAL_PINS ? `A${pin - UNO_DIGITAL_PINS}` : String(pin);
}

function objectAt(value: unknown, label: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new UsageError(`${label} must be a JSON object, got ${show(value)}`);
  return value as Record<string, unknown>;
}

function onlyKeys(object: Record<string, unknown>, allowed: readonly string[], label: string): void {
  for (const key of Object.keys(object)) {
    if (!allowed.includes(key)) throw new UsageError(`${label}.${key} is not a field here (fields: ${allowed.join(', ')})`);
  }
}

function pair(value: unknown, label: string, min: number, max: number): readonly [number, number] {
  if (!Array.isArray(value) || value.length !== 2) throw new UsageError(`${label} must be a pair [low, high] of whole numbers, got ${show(value)}`);
  const low = wholeNumber({ label: `${label}[0]`, value: value[0] }, 0, min, max);
  const high = wholeNumber({ label: `${label}[1]`, value: value[1] }, 0, min, max);
  if (low === high) throw new UsageError(`${label} must span a range (low and high differ), got [${low}, ${high}]`);
  return [low, high];
}

function required(object: Record<string, unknown>, key: string, label: string): unknown {
  if (object[key] === undefined) throw new UsageError(`${label}.${key} is missing`);
  return object[key];
}

function faultPolicy(object: Record<string, unknown>, label: string): InputFaultPolicy {
  if (object.onFault === undefined) return { holdTicks: 0 };
  const policy = objectAt(object.onFault, `${label}.onFault`);
  onlyKeys(policy, ['holdTicks'], `${label}.onFault`);
  return { holdTicks: wholeNumber({ label: `${label}.onFault.holdTicks`, value: policy.holdTicks }, 0, 0, HOLD_TICKS_MAX) };
}

/** Pins in use and what for, so a second use of one is refused naming both. */
class PinLedger {
  private readonly uses = new Map<number, string>();
  constructor(private readonly source: string) {}

  take(pin: number, label: string): void {
    const other = this.uses.get(pin);
    if (other !== undefined) throw new UsageError(`${label}: pin ${pinName(pin)} is already bound at ${other}`);
    if (UNO_SERIAL_PINS.includes(pin)) throw new UsageError(`${label}: pin ${pinName(pin)} carries the board's serial link to the host (Firmata itself)`);
    this.uses.set(pin, label.slice(this.source.length + 2));
  }
}

function inputBinding(raw: unknown, label: string, channel: { min: number; max: number }, pins: PinLedger): InputBinding {
  const o = objectAt(raw, label);
  const source = required(o, 'source', label);
  switch (source) {
    case 'analog': {
      onlyKeys(o, ['source', 'pin', 'raw', 'value', 'staleAfterMs', 'onFault'], label);
      const pin = pinNumber({ label: `${label}.pin`, value: required(o, 'pin', label) });
      if (pin < UNO_DIGITAL_PINS) throw new UsageError(`${label}.pin: pin ${pin} is not an analog input (A0..A5)`);
      pins.take(pin, `${label}.pin`);
      const rawRange = o.raw === undefined ? ([0, ANALOG_RAW_MAX] as const) : pair(o.raw, `${label}.raw`, 0, ANALOG_RAW_MAX);
      const value = pair(required(o, 'value', label), `${label}.value`, -(2 ** 31), 2 ** 31 - 1);
      for (const v of value) {
        if (v < channel.min || v > channel.max) throw new UsageError(`${label}.value: ${v} is outside the channel's range ${channel.min}..${channel.max}`);
      }
      const staleAfterMs = wholeNumber({ label: `${label}.staleAfterMs`, value: o.staleAfterMs }, 100, 1, STALE_AFTER_MS_MAX);
      return { source, pin, raw: rawRange, value, staleAfterMs, onFault: faultPolicy(o, label) };
    }
    case 'digital': {
      onlyKeys(o, ['source', 'pin', 'invert', 'pullUp', 'onFault'], label);
      const pin = pinNumber({ label: `${label}.pin`, value: required(o, 'pin', label) });
      pins.take(pin, `${label}.pin`);
      if (channel.min > 0 || channel.max < 1) throw new UsageError(`${label}: a digital input gives 0 or 1, outside the channel's range ${channel.min}..${channel.max}`);
      const flag = (key: string): boolean => {
        const v = o[key];
        if (v === undefined) return false;
        if (typeof v !== 'boolean') throw new UsageError(`${label}.${key} must be true or false, got ${show(v)}`);
        return v;
      };
      return { source, pin, invert: flag('invert'), pullUp: flag('pullUp'), onFault: faultPolicy(o, label) };
    }
    case 'profile':
      onlyKeys(o, ['source'], label);
      return { source };
    case 'constant': {
      onlyKeys(o, ['source', 'value'], label);
      const value = wholeNumber({ label: `${label}.value`, value: required(o, 'value', label) }, 0, channel.min, channel.max);
      return { source, value };
    }
    default:
      throw new UsageError(`${label}.source must be 'analog', 'digital', 'profile' or 'constant', got ${show(source)}`);
  }
}

function outputBinding(raw: unknown, label: string, channel: { min: number; max: number }, pins: PinLedger): OutputBinding {
  const o = objectAt(raw, label);
  const actuator = required(o, 'actuator', label);
  switch (actuator) {
    case 'servo': {
      onlyKeys(o, ['actuator', 'pin', 'pwmRangeUs', 'value'], label);
      const pin = pinNumber({ label: `${label}.pin`, value: required(o, 'pin', label) });
      if (!UNO_PWM_PINS.includes(pin)) throw new UsageError(`${label}.pin: pin ${pinName(pin)} cannot make servo pulses (PWM pins: ${UNO_PWM_PINS.join(', ')})`);
      pins.take(pin, `${label}.pin`);
      const pwmRangeUs = o.pwmRangeUs === undefined ? ([1000, 2000] as const) : pair(o.pwmRangeUs, `${label}.pwmRangeUs`, 544, 2_400);
      if (pwmRangeUs[0] > pwmRangeUs[1]) throw new UsageError(`${label}.pwmRangeUs must be [low, high] with low < high, got [${pwmRangeUs.join(', ')}]`);
      const value = o.value === undefined ? ([channel.min, channel.max] as const) : pair(o.value, `${label}.value`, channel.min, channel.max);
      return { actuator, pin, pwmRangeUs, value };
    }
    case 'motor': {
      onlyKeys(o, ['actuator', 'pwmPin', 'dirPin', 'valueMax'], label);
      const pwmPin = pinNumber({ label: `${label}.pwmPin`, value: required(o, 'pwmPin', label) });
      if (!UNO_PWM_PINS.includes(pwmPin)) throw new UsageError(`${label}.pwmPin: pin ${pinName(pwmPin)} cannot make PWM (PWM pins: ${UNO_PWM_PINS.join(', ')})`);
      pins.take(pwmPin, `${label}.pwmPin`);
      const dirPin = pinNumber({ label: `${label}.dirPin`, value: required(o, 'dirPin', label) });
      pins.take(dirPin, `${label}.dirPin`);
      const limit = Math.max(Math.abs(channel.min), Math.abs(channel.max));
      const valueMax = wholeNumber({ label: `${label}.valueMax`, value: o.valueMax }, limit, 1, limit);
      return { actuator, pwmPin, dirPin, valueMax };
    }
    case 'pin':
    case 'led':
    case 'relay': {
      onlyKeys(o, ['actuator', 'pin', 'onAtOrAbove'], label);
      const pin = pinNumber({ label: `${label}.pin`, value: required(o, 'pin', label) });
      pins.take(pin, `${label}.pin`);
      const onAtOrAbove = wholeNumber({ label: `${label}.onAtOrAbove`, value: o.onAtOrAbove }, 1, channel.min + 1, channel.max);
      return { actuator, pin, onAtOrAbove };
    }
    case 'none':
      onlyKeys(o, ['actuator'], label);
      return { actuator };
    default:
      throw new UsageError(`${label}.actuator must be 'servo', 'motor', 'pin', 'led', 'relay' or 'none', got ${show(actuator)}`);
  }
}

/**
 * Checks a parsed map (the JSON value read from `source`) against `law`: every channel bound once,
 * nothing else. Throws UsageError naming `source` and the field.
 */
export function checkIoMap(value: unknown, source: string, law: LoadedLaw): IoMap {
  const map = objectAt(value, source);
  onlyKeys(map, ['samplingIntervalMs', 'heartbeatPin', 'inputs', 'outputs', 'description'], source);
  const pins = new PinLedger(source);
  const samplingIntervalMs = wholeNumber({ label: `${source}: samplingIntervalMs`, value: map.samplingIntervalMs }, SAMPLING_INTERVAL_MS_DEFAULT, SAMPLING_INTERVAL_MS_MIN, SAMPLING_INTERVAL_MS_MAX);
  const heartbeatPin = pinNumber({ label: `${source}: heartbeatPin`, value: required(map, 'heartbeatPin', `${source}:`) });
  if (heartbeatPin >= UNO_DIGITAL_PINS) throw new UsageError(`${source}: heartbeatPin: pin ${pinName(heartbeatPin)} is not a digital output (0..13)`);
  pins.take(heartbeatPin, `${source}: heartbeatPin`);
  const section = (key: 'inputs' | 'outputs', channels: readonly { name: string; min: number; max: number }[]): Record<string, unknown> => {
    const s = objectAt(required(map, key, `${source}:`), `${source}: ${key}`);
    for (const name of Object.keys(s)) {
      if (!channels.some((c) => c.name === name)) throw new UsageError(`${source}: ${key}.${name}: law '${law.name}' has no ${key === 'inputs' ? 'input' : 'output'} channel ${name} (it has ${channels.map((c) => c.name).join(', ')})`);
    }
    for (const c of channels) {
      if (s[c.name] === undefined) throw new UsageError(`${source}: ${key}.${c.name}: law '${law.name}' channel ${c.name} is not bound (bind it${key === 'outputs' ? ', or say { "actuator": "none" }' : ''})`);
    }
    return s;
  };
  const inputsRaw = section('inputs', law.definition.inputs);
  const outputsRaw = section('outputs', law.definition.outputs);
  const inputs = law.definition.inputs.map((c) => inputBinding(inputsRaw[c.name], `${source}: inputs.${c.name}`, c, pins));
  const outputs = law.definition.outputs.map((c) => outputBinding(outputsRaw[c.name], `${source}: outputs.${c.name}`, c, pins));
  if (!outputs.some((o) => o.actuator !== 'none')) throw new UsageError(`${source}: outputs: no channel drives an actuator`);
  return { source, samplingIntervalMs, heartbeatPin, inputs, outputs };
}

/** An analog reading in the channel's unit: linear from raw[0]→value[0] to raw[1]→value[1], rounded half away from zero, integers only. */
export function scaleAnalog(rawReading: number, raw: readonly [number, number], value: readonly [number, number]): number {
  const numerator = (rawReading - raw[0]) * (value[1] - value[0]);
  const denominator = raw[1] - raw[0];
  // |numerator| < 2^10 · 2^32: exact in a double.
  const q = numerator / denominator;
  return value[0] + (q < 0 ? -Math.round(-q) : Math.round(q));
}

/** The raw ADC reading nearest a channel value (the inverse of scaleAnalog), clamped to the ADC: what a simulated board reports. */
export function rawForValue(channelValue: number, raw: readonly [number, number], value: readonly [number, number]): number {
  const r = raw[0] + ((channelValue - value[0]) * (raw[1] - raw[0])) / (value[1] - value[0]);
  return Math.max(0, Math.min(ANALOG_RAW_MAX, Math.round(r)));
}
