/**
 * The parts of johnny-five 2.1 and firmata-io 2.3 the bench uses (neither ships types). Kept
 * narrow on purpose: the bench reaches johnny-five only through hil/actuator-path.ts.
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
  const five: { Board: typeof Board; Servo: typeof Servo; Pin: typeof Pin };
  export default five;
  export type { Board, Servo, Pin };
}

declare module 'firmata-io' {
  import type { EventEmitter } from 'node:events';

  class Firmata extends EventEmitter {
    constructor(transport: unknown, options?: { reportVersionTimeout?: number; skipCapabilities?: boolean });
    isReady: boolean;
    reportVersionTimeoutId: NodeJS.Timeout | undefined;
  }
  const bindTransport: { Firmata: typeof Firmata };
  export default bindTransport;
}
