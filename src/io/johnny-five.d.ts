/**
 * The parts of johnny-five 2.1 and firmata-io 2.3 tmr uses (neither ships types): the real I/O
 * world (src/io/firmata-world.ts) and the HIL bench's actuator path (hil/actuator-path.ts). Kept
 * narrow on purpose; no exported signature of tmr mentions them.
 */
declare module 'johnny-five' {
  import type { EventEmitter } from 'node:events';

  interface BoardOptions {
    io: unknown;
    repl: false;
    debug: false;
    sigint: false;
    /** Milliseconds johnny-five waits for "ready" after "connect" before it emits an error. */
    timeout?: number;
    id?: string;
  }
  class Board extends EventEmitter {
    constructor(options: BoardOptions);
    isReady: boolean;
    timer: NodeJS.Timeout | null;
    io: unknown;
  }
  /** The io-plugins contract, as far as tmr calls it directly (firmata-io implements it). */
  interface IoPlugin extends EventEmitter {
    readonly MODES: { readonly INPUT: number; readonly OUTPUT: number; readonly ANALOG: number; readonly PWM: number; readonly SERVO: number; readonly PULLUP?: number };
    pinMode(pin: number, mode: number): unknown;
    /** `channel`: the analog channel (A0 = 0) for Firmata. */
    analogRead(channel: number, handler: (value: number) => void): void;
    digitalRead(pin: number, handler: (value: number) => void): void;
    setSamplingInterval?(ms: number): void;
    servoWrite?(pin: number, value: number): unknown;
    digitalWrite(pin: number, value: number): unknown;
    analogWrite?(pin: number, value: number): unknown;
    pwmWrite?(pin: number, value: number): unknown;
  }
  interface ServoOptions {
    pin: number;
    board: Board;
    pwmRange: [number, number];
    degreeRange: [number, number];
    range: [number, number];
  }
  class Servo {
    constructor(options: ServoOptions);
    to(degrees: number): Servo;
    readonly pin: number;
  }
  class Pin {
    constructor(options: { pin: number; board: Board; type: 'digital' });
    high(): Pin;
    low(): Pin;
  }
  class Sensor extends EventEmitter {
    constructor(options: { pin: string | number; board: Board; freq?: number });
    readonly value: number;
    readonly raw: number;
  }
  class Motor {
    constructor(options: { pins: { pwm: number; dir: number }; board: Board });
    forward(speed: number): Motor;
    reverse(speed: number): Motor;
    stop(): Motor;
  }
  class Led {
    constructor(options: { pin: number; board: Board });
    on(): Led;
    off(): Led;
  }
  class Relay {
    constructor(options: { pin: number; board: Board; type: 'NO' | 'NC' });
    /** NO: energised, the contact closed (pin high). */
    close(): Relay;
    open(): Relay;
  }
  const five: { Board: typeof Board; Servo: typeof Servo; Pin: typeof Pin; Motor: typeof Motor; Led: typeof Led; Relay: typeof Relay; Sensor: typeof Sensor };
  export default five;
  export type { Board, Servo, Pin, Motor, Led, Relay, Sensor, IoPlugin };
}

declare module 'firmata-io' {
  import type { EventEmitter } from 'node:events';

  class Firmata extends EventEmitter {
    constructor(transport: unknown, options?: { reportVersionTimeout?: number; skipCapabilities?: boolean; samplingInterval?: number });
    isReady: boolean;
    reportVersionTimeoutId: NodeJS.Timeout | undefined;
    /** Asks the board for its firmware name and version; `callback` runs on the answer. */
    queryFirmware(callback: () => void): void;
  }
  const bindTransport: { Firmata: typeof Firmata };
  export default bindTransport;
}
