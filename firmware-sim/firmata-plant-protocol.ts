/**
 * The Firmata byte layer of the simulated Firmata boards (the plant, firmata-plant.ts, and the
 * drive it grew from, firmata-drive.ts): a bounded parser that frames what the host sends, one
 * decoder that turns each complete message into a typed HostCommand, the answers every board gives
 * alike (version, firmware name, capabilities, analog mapping), and the encoders of what a board
 * reports. Pure: bytes in, bytes out through a callback, no I/O, no clock.
 *
 * Firmata protocol 2.5 as StandardFirmata speaks it on an Arduino Uno (20 pins: digital 0..13,
 * A0..A5 as 14..19; pins 0 and 1 carry Firmata itself and take no mode):
 *
 *   host → board                                    bytes
 *   REPORT_VERSION query                            F9
 *   SYSTEM_RESET                                    FF
 *   SET_PIN_MODE pin mode                           F4 pin mode
 *   SET_DIGITAL_PIN_VALUE pin level                 F5 pin level
 *   DIGITAL_MESSAGE port (8 pins' levels)           90|port  bits0-6  bit7
 *   ANALOG_MESSAGE pin value (PWM duty, servo µs)   E0|pin   value0-6 value7-13
 *   REPORT_ANALOG channel on/off                    C0|ch    0|1
 *   REPORT_DIGITAL port on/off                      D0|port  0|1
 *   sysex                                           F0 id data… F7
 *     QUERY_FIRMWARE 79, CAPABILITY_QUERY 6B, ANALOG_MAPPING_QUERY 69,
 *     SERVO_CONFIG 70 pin min0-6 min7-13 max0-6 max7-13, SAMPLING_INTERVAL 7A ms0-6 ms7-13,
 *     EXTENDED_ANALOG 6F pin value0-6 [value7-13 [value14-20]]
 *   board → host
 *   REPORT_VERSION                                  F9 2 5
 *   firmware report                                 F0 79 2 5 name (each char as 2 bytes, 7 bits each) F7
 *   CAPABILITY_RESPONSE, ANALOG_MAPPING_RESPONSE    F0 6C … F7, F0 6A … F7
 *   ANALOG_MESSAGE channel value (a 10-bit reading) E0|ch value0-6 value7-13
 *   DIGITAL_MESSAGE port (input pins' levels)       90|port bits0-6 bit7
 *
 * What the parser cannot frame (a data byte with no command, an unknown status byte, a message cut
 * short by the next status byte, a sysex longer than SYSEX_BYTES_MAX) and what the decoder does not
 * know (an unknown or too short sysex) is counted as refused bytes and dropped; it never throws.
 */
import { UNO_ANALOG_PINS, UNO_DIGITAL_PINS, UNO_PWM_PINS, UNO_SERIAL_PINS } from '../src/io/io-map.js';

export const FIRMATA_VERSION = [2, 5] as const;
/** The longest sysex message accepted, bytes including its start and end. */
export const SYSEX_BYTES_MAX = 64;
export const PIN_COUNT = UNO_DIGITAL_PINS + UNO_ANALOG_PINS;
/** Digital ports of 8 pins: 0..7, 8..15, 16..19. */
export const PORT_COUNT = Math.ceil(PIN_COUNT / 8);

export const START_SYSEX = 0xf0;
export const END_SYSEX = 0xf7;
export const REPORT_VERSION = 0xf9;
export const SYSTEM_RESET = 0xff;
export const SET_PIN_MODE = 0xf4;
export const SET_DIGITAL_PIN_VALUE = 0xf5;
export const DIGITAL_MESSAGE = 0x90;
export const ANALOG_MESSAGE = 0xe0;
export const REPORT_ANALOG = 0xc0;
export const REPORT_DIGITAL = 0xd0;
export const QUERY_FIRMWARE = 0x79;
export const CAPABILITY_QUERY = 0x6b;
export const CAPABILITY_RESPONSE = 0x6c;
export const ANALOG_MAPPING_QUERY = 0x69;
export const ANALOG_MAPPING_RESPONSE = 0x6a;
export const SERVO_CONFIG = 0x70;
export const EXTENDED_ANALOG = 0x6f;
export const SAMPLING_INTERVAL = 0x7a;
/** Firmata: a servo value below this is degrees, at or above it microseconds. */
export const SERVO_MICROSECONDS_MIN = 544;
/** A 7-bit data byte's largest value; also "no more modes" / "not an analog pin" in responses. */
const DATA_MAX = 0x7f;

/** Pin modes, Firmata numbering. */
export const MODE = { INPUT: 0, OUTPUT: 1, ANALOG: 2, PWM: 3, SERVO: 4, PULLUP: 0x0b } as const;
/** ADC and PWM resolutions an Uno reports, bits. */
const ANALOG_RESOLUTION_BITS = 10;
const PWM_RESOLUTION_BITS = 8;
const SERVO_RESOLUTION_BITS = 14;

/** StandardFirmata's digital pins on an Uno: every pin but the serial link's. */
export function isDigitalPin(pin: number): boolean {
  return Number.isInteger(pin) && pin >= 0 && pin < PIN_COUNT && !UNO_SERIAL_PINS.includes(pin);
}

export function isAnalogPin(pin: number): boolean {
  return Number.isInteger(pin) && pin >= UNO_DIGITAL_PINS && pin < PIN_COUNT;
}

/** The modes a pin takes, as its capability response lists them. */
export function pinModes(pin: number): readonly number[] {
  if (!isDigitalPin(pin)) return [];
  const modes: number[] = [MODE.INPUT, MODE.PULLUP, MODE.OUTPUT];
  if (isAnalogPin(pin)) modes.push(MODE.ANALOG);
  if (UNO_PWM_PINS.includes(pin)) modes.push(MODE.PWM);
  modes.push(MODE.SERVO);
  return modes;
}

function resolutionBits(mode: number): number {
  if (mode === MODE.ANALOG) return ANALOG_RESOLUTION_BITS;
  if (mode === MODE.PWM) return PWM_RESOLUTION_BITS;
  if (mode === MODE.SERVO) return SERVO_RESOLUTION_BITS;
  return 1;
}

/** A complete host message, decoded (what StandardFirmata's callbacks receive). */
export type HostCommand =
  | { readonly kind: 'reset' }
  | { readonly kind: 'pinMode'; readonly pin: number; readonly mode: number }
  /** SET_DIGITAL_PIN_VALUE: any value >= 1 is high. */
  | { readonly kind: 'pinValue'; readonly pin: number; readonly level: 0 | 1 }
  | { readonly kind: 'port'; readonly port: number; readonly bits: number }
  /** ANALOG_MESSAGE or EXTENDED_ANALOG: a PWM duty or a servo pulse (µs) or angle (degrees). */
  | { readonly kind: 'analogWrite'; readonly pin: number; readonly value: number }
  | { readonly kind: 'reportAnalog'; readonly channel: number; readonly on: boolean }
  | { readonly kind: 'reportDigital'; readonly port: number; readonly on: boolean }
  | { readonly kind: 'servoConfig'; readonly pin: number; readonly minUs: number; readonly maxUs: number }
  | { readonly kind: 'samplingInterval'; readonly ms: number };

const NOT_A_COMMAND = -2;
const SYSEX_OPEN = -1;

/** Data bytes after a status byte; SYSEX_OPEN: a sysex, up to END_SYSEX; NOT_A_COMMAND: unknown. */
function dataBytesFor(status: number): number {
  if (status === START_SYSEX) return SYSEX_OPEN;
  if (status === REPORT_VERSION || status === SYSTEM_RESET) return 0;
  if (status === SET_PIN_MODE || status === SET_DIGITAL_PIN_VALUE) return 2;
  const command = status & 0xf0;
  if (command === DIGITAL_MESSAGE || command === ANALOG_MESSAGE) return 2;
  if (command === REPORT_ANALOG || command === REPORT_DIGITAL) return 1;
  return NOT_A_COMMAND;
}

/**
 * Frames the host's byte stream into complete messages, whatever the chunks it arrives in. Holds
 * at most one message (SYSEX_BYTES_MAX bytes); allocates nothing per byte.
 */
export class FirmataParser {
  private readonly message = new Uint8Array(SYSEX_BYTES_MAX);
  private messageLength = 0;
  /** Data bytes the message being parsed still needs (a fixed-length one), or SYSEX_OPEN. */
  private dataBytesNeeded = 0;
  private discardingSysex = false;

  constructor(
    /** A complete message; the view is valid only during the call. */
    private readonly onMessage: (message: Uint8Array) => void,
    private readonly onRefused: (byteCount: number) => void,
  ) {}

  receive(bytes: Uint8Array): void {
    for (const byte of bytes) this.receiveByte(byte);
  }

  private receiveByte(byte: number): void {
    if (this.discardingSysex) {
      if (byte === END_SYSEX) this.discardingSysex = false;
      this.onRefused(1);
      return;
    }
    if (byte > DATA_MAX && !(this.dataBytesNeeded === SYSEX_OPEN && byte === END_SYSEX)) {
      // A status byte starts a new message; one that interrupts another drops what was pending.
      if (this.messageLength > 0) this.onRefused(this.messageLength);
      this.messageLength = 0;
      this.dataBytesNeeded = dataBytesFor(byte);
      if (this.dataBytesNeeded === NOT_A_COMMAND) {
        this.onRefused(1);
        this.dataBytesNeeded = 0;
        return;
      }
      this.message[this.messageLength++] = byte;
      if (this.dataBytesNeeded === 0) this.complete();
      return;
    }
    if (this.messageLength === 0) {
      this.onRefused(1); // a data byte with no command before it
      return;
    }
    if (this.messageLength >= SYSEX_BYTES_MAX) {
      this.onRefused(this.messageLength + 1);
      this.messageLength = 0;
      this.discardingSysex = byte !== END_SYSEX;
      return;
    }
    this.message[this.messageLength++] = byte;
    if (this.dataBytesNeeded === SYSEX_OPEN) {
      if (byte === END_SYSEX) this.complete();
    } else if (--this.dataBytesNeeded === 0) this.complete();
  }

  private complete(): void {
    const length = this.messageLength;
    this.messageLength = 0;
    this.dataBytesNeeded = 0;
    this.onMessage(this.message.subarray(0, length));
  }
}

/** Two 7-bit data bytes as one 14-bit value, low byte first. */
function value14(message: Uint8Array, at: number): number {
  return message[at]! | (message[at + 1]! << 7);
}

/**
 * What a complete non-query message asks for, or null when no board here knows it (an unknown
 * sysex, or one too short for its fields: StandardFirmata ignores those as well).
 */
export function decodeHostCommand(m: Uint8Array): HostCommand | null {
  const status = m[0]!;
  if (status === SYSTEM_RESET) return { kind: 'reset' };
  if (status === SET_PIN_MODE) return { kind: 'pinMode', pin: m[1]!, mode: m[2]! };
  if (status === SET_DIGITAL_PIN_VALUE) return { kind: 'pinValue', pin: m[1]!, level: m[2]! >= 1 ? 1 : 0 };
  if (status === START_SYSEX) return decodeSysex(m);
  const low = status & 0x0f;
  switch (status & 0xf0) {
    case DIGITAL_MESSAGE:
      return { kind: 'port', port: low, bits: value14(m, 1) };
    case ANALOG_MESSAGE:
      return { kind: 'analogWrite', pin: low, value: value14(m, 1) };
    case REPORT_ANALOG:
      return { kind: 'reportAnalog', channel: low, on: m[1] !== 0 };
    case REPORT_DIGITAL:
      return { kind: 'reportDigital', port: low, on: m[1] !== 0 };
    default:
      return null;
  }
}

function decodeSysex(m: Uint8Array): HostCommand | null {
  // Data bytes between the id and END_SYSEX.
  const argc = m.length - 3;
  switch (argc >= 0 ? m[1] : -1) {
    case SERVO_CONFIG:
      return argc > 4 ? { kind: 'servoConfig', pin: m[2]!, minUs: value14(m, 3), maxUs: value14(m, 5) } : null;
    case SAMPLING_INTERVAL:
      return argc > 1 ? { kind: 'samplingInterval', ms: value14(m, 2) } : null;
    case EXTENDED_ANALOG: {
      if (argc < 2) return null;
      // As StandardFirmata: up to three value bytes (21 bits); more are ignored.
      let value = 0;
      for (let i = 0; i < Math.min(argc - 1, 3); i++) value |= m[3 + i]! << (7 * i);
      return { kind: 'analogWrite', pin: m[2]!, value };
    }
    default:
      return null;
  }
}

export function versionReport(): Uint8Array {
  return Uint8Array.from([REPORT_VERSION, FIRMATA_VERSION[0], FIRMATA_VERSION[1]]);
}

export function firmwareReport(name: string): Uint8Array {
  const out = [START_SYSEX, QUERY_FIRMWARE, FIRMATA_VERSION[0], FIRMATA_VERSION[1]];
  for (const ch of Buffer.from(name, 'ascii')) out.push(ch & DATA_MAX, ch >> 7);
  out.push(END_SYSEX);
  return Uint8Array.from(out);
}

/** Each pin's modes and their resolutions, then 7F; pins 0 and 1 list none. */
export function capabilityResponse(): Uint8Array {
  const out = [START_SYSEX, CAPABILITY_RESPONSE];
  for (let pin = 0; pin < PIN_COUNT; pin++) {
    for (const mode of pinModes(pin)) out.push(mode, resolutionBits(mode));
    out.push(DATA_MAX);
  }
  out.push(END_SYSEX);
  return Uint8Array.from(out);
}

/** Each pin's analog channel, 7F for a pin with none. */
export function analogMappingResponse(): Uint8Array {
  const out = [START_SYSEX, ANALOG_MAPPING_RESPONSE];
  for (let pin = 0; pin < PIN_COUNT; pin++) out.push(isAnalogPin(pin) ? pin - UNO_DIGITAL_PINS : DATA_MAX);
  out.push(END_SYSEX);
  return Uint8Array.from(out);
}

/** ANALOG_MESSAGE for a channel's reading (0..2^14-1). */
export function analogMessage(channel: number, value: number): Uint8Array {
  return Uint8Array.from([ANALOG_MESSAGE | channel, value & DATA_MAX, (value >> 7) & DATA_MAX]);
}

/** DIGITAL_MESSAGE for a port's 8 pin levels. */
export function digitalMessage(port: number, bits: number): Uint8Array {
  return Uint8Array.from([DIGITAL_MESSAGE | port, bits & DATA_MAX, (bits >> 7) & DATA_MAX]);
}

/** Bytes a board has taken in, sent and refused. */
export interface WireCounters {
  bytesIn: number;
  bytesOut: number;
  refusedBytes: number;
}

/**
 * A board that speaks Firmata: frames what the host sends, answers the queries every board answers
 * alike (version, firmware name, capabilities, analog mapping) and hands every other message to
 * `apply`, decoded. A message nobody knows is refused and counted.
 */
export abstract class FirmataDevice {
  abstract readonly counters: WireCounters;
  private readonly parser = new FirmataParser(
    (m) => this.message(m),
    (count) => this.refuse(count),
  );
  private hostSeen = false;

  protected constructor(
    private readonly firmwareName: string,
    private readonly sendBytes: (bytes: Uint8Array) => void,
  ) {}

  /** True once the host has sent anything (until then the board announces itself). */
  get connected(): boolean {
    return this.hostSeen;
  }

  /** What StandardFirmata sends at boot: its protocol version and its firmware name. */
  announce(): void {
    this.send(versionReport());
    this.send(firmwareReport(this.firmwareName));
  }

  receive(bytes: Uint8Array): void {
    this.counters.bytesIn += bytes.length;
    if (!this.hostSeen && bytes.length > 0) {
      this.hostSeen = true;
      this.hostConnected();
    }
    this.parser.receive(bytes);
  }

  protected send(bytes: Uint8Array): void {
    this.counters.bytesOut += bytes.length;
    this.sendBytes(bytes);
  }

  protected refuse(byteCount: number): void {
    this.counters.refusedBytes += byteCount;
  }

  /** The host's first byte. */
  protected abstract hostConnected(): void;

  /** A decoded message that is not a query. */
  protected abstract apply(command: HostCommand): void;

  private message(m: Uint8Array): void {
    if (m[0] === REPORT_VERSION) return this.send(versionReport());
    if (m[0] === START_SYSEX && m.length >= 3) {
      if (m[1] === QUERY_FIRMWARE) return this.send(firmwareReport(this.firmwareName));
      if (m[1] === CAPABILITY_QUERY) return this.send(capabilityResponse());
      if (m[1] === ANALOG_MAPPING_QUERY) return this.send(analogMappingResponse());
    }
    const command = decodeHostCommand(m);
    if (command === null) this.refuse(m.length);
    else this.apply(command);
  }
}
