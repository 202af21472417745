/**
 * The serial transport: the Transport contract on a socat pseudo-terminal pair whose board side is
 * an echo, then what only a serial port has (open errors, a port that vanishes and comes back, DTR
 * reset, bounded buffering both ways).
 *
 * The echo is a separate Node process holding the board end with serialport, as a board would:
 * it writes back every byte it reads, writes what arrives on its stdin (peerWrite: bytes the board
 * sends on its own), and re-opens its end when the pty comes back. killPeer pulls the cable:
 * PtyPair.unplug() SIGKILLs socat, so both ttys vanish under the open ports.
 *
 * Everything started (socat, the echo process, ports) is registered and stopped after each test,
 * by PID, also when the test failed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SerialPortMock } from 'serialport';
import { afterEach, describe, expect, it } from 'vitest';
import { PtyPair } from '../../firmware-sim/pty-pair.js';
import { encodeMessage } from '../../src/protocol/codec.js';
import { LIMITS } from '../../src/protocol/messages.js';
import { SerialOpenError, SerialTransport, type SerialBinding, type SerialTransportOptions } from '../../src/transport/serial-transport.js';
import { QUEUED_BYTES_MAX } from '../../src/transport/transport.js';
import { ROOT } from '../helpers/cli.js';
import { runCleanups } from '../helpers/processes.js';
import { bodyOf, concatBytes, expectOneLine, sleepMs, transportContract, until, UNTIL_TIMEOUT_MS, type ContractLink } from './contract.js';

const BAUD_RATE = 115_200;
/** Back-off for tests that watch re-opening: quick, so a few attempts pass in well under a second. */
const QUICK_REOPEN = { initialDelayMs: 10, maxDelayMs: 40 } as const;

/**
 * The board: an echo on the board end of the pair. Plain CommonJS run by `node -e` from the
 * project root, so require('serialport') finds the project's copy. Prints "open N" each time its
 * end opens; exits when its stdin closes (the test process went away).
 */
const ECHO_BOARD_SCRIPT = `
const { SerialPort } = require('serialport');
let port = null;
let opens = 0;
function open() {
  const p = new SerialPort({ path: process.env.BOARD_PATH, baudRate: ${BAUD_RATE}, autoOpen: false });
  p.on('error', () => {});
  p.open((error) => {
    if (error) { setTimeout(open, 10); return; }
    port = p;
    p.on('data', (bytes) => p.write(bytes));
    p.on('close', () => { if (port === p) port = null; setTimeout(open, 10); });
    process.stdout.write('open ' + ++opens + '\\n');
  });
}
// serialport can miss a hang-up (a 0-byte read retried for ever); a hung-up tty answers EIO.
setInterval(() => {
  const p = port;
  if (p === null || !p.isOpen) return;
  p.get((error) => { if (error && /input\\/output error|no such device|bad file descriptor/i.test(error.message) && p.isOpen) p.close(); });
}, 100);
process.stdin.on('data', (bytes) => {
  if (port !== null) port.write(bytes);
  else process.stderr.write('echo board: ' + bytes.length + ' bytes to send while its port is closed\\n');
});
process.stdin.on('end', () => process.exit(0));
open();
`;

class EchoBoard {
  /** Times the board end has been opened. */
  opens = 0;
  stderr = '';
  private readonly exited: Promise<void>;

  private constructor(readonly child: ChildProcess) {
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.stdout!.on('data', (chunk: Buffer) => {
      this.opens += (chunk.toString().match(/^open \d+$/gm) ?? []).length;
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-2_000);
    });
    child.stdin!.on('error', () => {});
  }

  /** Starts the echo on `boardPath` and waits until its end is open. */
  static async start(boardPath: string): Promise<EchoBoard> {
    const child = spawn(process.execPath, ['-e', ECHO_BOARD_SCRIPT], { cwd: ROOT, env: { ...process.env, BOARD_PATH: boardPath }, stdio: ['pipe', 'pipe', 'pipe'] });
    const board = new EchoBoard(child);
    await board.waitOpens(1);
    return board;
  }

  async waitOpens(count: number): Promise<void> {
    await until(() => this.opens >= count || this.child.exitCode !== null, UNTIL_TIMEOUT_MS, () => `the echo board to open its end ${count} times (stderr: ${this.stderr.trim()})`);
    if (this.opens < count) throw new Error(`the echo board exited (${this.child.exitCode}): ${this.stderr.trim()}`);
  }

  /** The board sends these bytes on its own. */
  write(bytes: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      this.child.stdin!.write(bytes, (error) => (error ? reject(error) : resolve()));
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }
}

/** Cleanups of everything a test started, run in reverse order after each test whatever happened. */
const cleanups: (() => Promise<void>)[] = [];

async function runAllCleanups(): Promise<void> {
  const errors = await runCleanups(cleanups);
  if (errors.length > 0) throw errors[0];
}

async function openPair(): Promise<PtyPair> {
  const pair = await PtyPair.open({ name: 'board' });
  cleanups.push(() => pair.stop());
  return pair;
}

async function openTransport(options: Partial<SerialTransportOptions> & { path: string }): Promise<SerialTransport> {
  const transport = await SerialTransport.open({ baudRate: BAUD_RATE, name: 'board 0', ...options });
  cleanups.push(() => transport.close());
  return transport;
}

async function startEcho(pair: PtyPair): Promise<EchoBoard> {
  const board = await EchoBoard.start(pair.boardPath);
  cleanups.push(() => board.stop());
  return board;
}

/** A pty pair, the transport on its host end, the echo board on the other. */
async function echoRig(options: Partial<SerialTransportOptions> = {}): Promise<{ pair: PtyPair; transport: SerialTransport; board: EchoBoard }> {
  const pair = await openPair();
  const transport = await openTransport({ path: pair.hostPath, ...options });
  const board = await startEcho(pair);
  return { pair, transport, board };
}

transportContract('serial port on a pty pair, echo board, cable pulled', async (): Promise<ContractLink> => {
  try {
    const { pair, transport, board } = await echoRig();
    return {
      transport,
      peerWrite: (bytes) => board.write(bytes),
      killPeer: () => pair.unplug(),
      cleanup: runAllCleanups,
    };
  } catch (error) {
    await runAllCleanups();
    throw error;
  }
});

const tickFrame = (tick: number): Uint8Array => encodeMessage({ kind: 'tick', tick, inputs: [(tick * 7919) % 500_000, -tick] });
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/** The message of a rejected promise (fails if it resolved). */
async function rejectionOf(attempt: Promise<unknown>): Promise<unknown> {
  return attempt.then(
    () => expect.fail('expected the promise to reject'),
    (error: unknown) => error,
  );
}

function expectOpenError(error: unknown, path: string, problem: SerialOpenError['problem'], words: RegExp): void {
  expect(error).toBeInstanceOf(SerialOpenError);
  const openError = error as SerialOpenError;
  expectOneLine(openError.message, 'open error');
  expect(openError.message).toContain(path);
  expect(openError.message).toMatch(words);
  expect(openError.problem).toBe(problem);
  expect(openError.path).toBe(path);
}

/** A binding whose open() fails with `error` (the seam for what root cannot provoke). */
function failingBinding(error: Error): SerialBinding {
  return {
    list: async () => [],
    open: async () => {
      throw error;
    },
  };
}

/**
 * A binding whose ports never deliver a byte and, once `hungUp`, answer the modem-line request with
 * EIO and refuse to open (the device node is gone): what a hang-up looks like when serialport's
 * read misses it (bindings-cpp 13.0.0 retries a 0-byte read for ever and reports nothing).
 */
class HangUpBinding implements SerialBinding {
  hungUp = false;
  readonly ports: { isOpen: boolean }[] = [];

  async list(): Promise<unknown[]> {
    return [];
  }

  async open(options: { readonly path: string; readonly baudRate: number }): Promise<unknown> {
    if (this.hungUp) throw new Error(`Error: No such file or directory, cannot open ${options.path}`);
    const binding = this;
    let cancelRead: () => void = () => {};
    const port = {
      isOpen: true,
      openOptions: { ...options },
      read: () =>
        new Promise((_resolve, reject) => {
          cancelRead = () => reject(Object.assign(new Error('Canceled'), { canceled: true }));
        }),
      write: async () => {},
      close: async () => {
        port.isOpen = false;
        cancelRead();
      },
      get: async () => {
        if (binding.hungUp) throw new Error('Error: Input/output error, cannot get');
        return { cts: false, dsr: false, dcd: false };
      },
      set: async () => {},
      update: async () => {},
      getBaudRate: async () => ({ baudRate: options.baudRate }),
      flush: async () => {},
      drain: async () => {},
    };
    this.ports.push(port);
    return port;
  }
}

describe('serial transport', () => {
  afterEach(runAllCleanups);

  describe('open() errors: one line naming the path and the problem', () => {
    it('no such port', async () => {
      const path = '/dev/tmr-no-such-port';
      const error = await rejectionOf(SerialTransport.open({ path, baudRate: BAUD_RATE, name: 'board 3' }));
      expectOpenError(error, path, 'noSuchPort', /no such port/);
      expect((error as SerialOpenError).code).toBe('ENOENT');
      expect((error as Error).message).toBe(`board 3: cannot open ${path}: no such port (ENOENT)`);
    });

    it('a dangling link (a board unplugged) is no such port', async () => {
      const pair = await openPair();
      await pair.unplug();
      expectOpenError(await rejectionOf(SerialTransport.open({ path: pair.hostPath, baudRate: BAUD_RATE, name: 'board 0' })), pair.hostPath, 'noSuchPort', /no such port/);
    });

    // Tests run as root in CI, and root opens a mode-000 device anyway, so EACCES cannot be
    // provoked for real: it goes through the binding seam, in bindings-cpp's wording (a message,
    // no code) and with a Node-style code.
    it('permission denied (through an injected binding: root cannot be denied)', async () => {
      const path = '/dev/ttyACM7';
      const bindingsCppError = new Error(`Error: Permission denied, cannot open ${path}`);
      const nodeStyleError = Object.assign(new Error(`EACCES: permission denied, open '${path}'`), { code: 'EACCES', errno: -13 });
      for (const cause of [bindingsCppError, nodeStyleError]) {
        const error = await rejectionOf(SerialTransport.open({ path, baudRate: BAUD_RATE, name: 'board 1', binding: failingBinding(cause) }));
        expectOpenError(error, path, 'permissionDenied', /permission denied/);
        expect((error as SerialOpenError).code).toBe('EACCES');
      }
    });

    it('port busy: the same pty opened twice, the first holds the lock', async () => {
      const pair = await openPair();
      await openTransport({ path: pair.hostPath });
      const error = await rejectionOf(SerialTransport.open({ path: pair.hostPath, baudRate: BAUD_RATE, name: 'board 2' }));
      expectOpenError(error, pair.hostPath, 'busy', /busy/);
    });

    it('port busy, as EBUSY from a binding', async () => {
      const path = '/dev/ttyUSB0';
      const error = await rejectionOf(SerialTransport.open({ path, baudRate: BAUD_RATE, name: 'b', binding: failingBinding(new Error(`Error: Device or resource busy, cannot open ${path}`)) }));
      expectOpenError(error, path, 'busy', /busy/);
      expect((error as SerialOpenError).code).toBe('EBUSY');
    });

    it('not a serial port: a regular file, /dev/null, a directory', async () => {
      const pair = await openPair();
      const file = join(pair.directory, 'not-a-tty');
      writeFileSync(file, 'x');
      chmodSync(file, 0o600);
      for (const path of [file, '/dev/null', pair.directory]) {
        expectOpenError(await rejectionOf(SerialTransport.open({ path, baudRate: BAUD_RATE, name: 'b' })), path, 'notSerialPort', /not a serial port/);
      }
    });

    it('anything else says what failed and the OS code when there is one', async () => {
      const path = '/dev/ttyS9';
      const io = await rejectionOf(SerialTransport.open({ path, baudRate: BAUD_RATE, name: 'b', binding: failingBinding(new Error(`Error: Input/output error, cannot open ${path}`)) }));
      expectOpenError(io, path, 'other', /failed: Input\/output error, cannot open .* \(EIO\)$/);
      const odd = await rejectionOf(SerialTransport.open({ path, baudRate: BAUD_RATE, name: 'b', binding: failingBinding(new Error('Error baud rate of 7 is not\nsupported on your platform')) }));
      expectOpenError(odd, path, 'other', /failed: baud rate of 7 is not supported on your platform$/);
    });
  });

  it('describes itself as name (path@baud)', async () => {
    const pair = await openPair();
    const transport = await openTransport({ path: pair.hostPath, name: 'replica 2' });
    expect(transport.description).toBe(`replica 2 (${pair.hostPath}@${BAUD_RATE})`);
  });

  it('works on an injected mock binding (SerialPortMock.binding, echo on)', async () => {
    const binding = SerialPortMock.binding;
    const path = '/dev/tmr-mock-echo';
    binding.createPort(path, { echo: true });
    cleanups.push(async () => binding.reset());
    const transport = await openTransport({ path, binding });
    const received: Uint8Array[] = [];
    transport.onFrame((frame) => received.push(Uint8Array.from(frame)));
    const frame = tickFrame(5);
    expect(transport.send(frame)).toBe(true);
    await until(() => received.length > 0, UNTIL_TIMEOUT_MS, 'the frame back from the mock echo');
    expect(received.map(hex)).toEqual([hex(bodyOf(frame))]);
  });

  it('resetBoard() on a pty (no modem lines) says unsupported and never throws; so does a closed port', async () => {
    const { transport } = await echoRig();
    expect(await transport.resetBoard()).toBe('unsupported');
    expect(transport.isUp).toBe(true);
    await transport.close();
    expect(await transport.resetBoard()).toBe('unsupported');
  });

  it('unplugged: down once with the path, re-opens in the background without blocking; plugged in: up, frames flow; again', async () => {
    const { pair, transport, board } = await echoRig({ reopen: QUICK_REOPEN });
    const events: string[] = [];
    const reasons: string[] = [];
    transport.onDown((reason) => {
      reasons.push(reason);
      events.push(`down isUp=${transport.isUp}`);
    });
    transport.onUp(() => events.push(`up isUp=${transport.isUp}`));
    const received: Uint8Array[] = [];
    transport.onFrame((frame) => received.push(Uint8Array.from(frame)));
    const roundTrip = async (tick: number): Promise<void> => {
      received.length = 0;
      const frame = tickFrame(tick);
      expect(transport.send(frame), `send of tick ${tick}`).toBe(true);
      await until(() => received.length > 0, UNTIL_TIMEOUT_MS, `tick ${tick} back from the board`);
      expect(received.map(hex)).toEqual([hex(bodyOf(frame))]);
    };
    // The test's own timer keeps ticking while the transport retries: nothing blocks the loop.
    let intervalTicks = 0;
    const interval = setInterval(() => intervalTicks++, 2);
    cleanups.push(async () => clearInterval(interval));

    for (let cycle = 1; cycle <= 2; cycle++) {
      await roundTrip(cycle * 100);
      await pair.unplug();
      await until(() => reasons.length === cycle, UNTIL_TIMEOUT_MS, `down #${cycle} after the unplug`);
      expectOneLine(reasons[cycle - 1], 'down reason');
      expect(reasons[cycle - 1]).toContain(pair.hostPath);
      expect(transport.isUp).toBe(false);
      expect(transport.send(tickFrame(1)), 'send while unplugged').toBe(false);

      const attemptsBefore = transport.reopenAttempts;
      const ticksBefore = intervalTicks;
      await until(() => transport.reopenAttempts >= attemptsBefore + 5, UNTIL_TIMEOUT_MS, () => `5 re-open attempts (made ${transport.reopenAttempts - attemptsBefore})`);
      expect(intervalTicks - ticksBefore, 'interval ticks while re-opening').toBeGreaterThan(5);
      expect(transport.lastReopenError).toMatch(/no such port/);
      expect(transport.isUp).toBe(false);

      await pair.plugIn();
      await until(() => transport.reconnects === cycle, UNTIL_TIMEOUT_MS, () => `re-open #${cycle} (last failure: ${transport.lastReopenError})`);
      expect(transport.isUp).toBe(true);
      // The board's own end re-opens too; frames sent before that would be flushed by its open.
      await board.waitOpens(cycle + 1);
    }
    await roundTrip(300);
    expect(events).toEqual(['down isUp=false', 'up isUp=true', 'down isUp=false', 'up isUp=true']);

    await transport.close();
    expect(reasons).toHaveLength(3);
    expect(reasons[2]).toMatch(/closed by the host/);
  });

  it('notices a hang-up that serialport misses (the liveness probe), closes the port and re-opens it', async () => {
    const binding = new HangUpBinding();
    const path = '/dev/tmr-hang-up';
    const transport = await openTransport({ path, binding, reopen: QUICK_REOPEN });
    const reasons: string[] = [];
    transport.onDown((reason) => reasons.push(reason));
    let ups = 0;
    transport.onUp(() => ups++);
    binding.hungUp = true;
    await until(() => reasons.length > 0, UNTIL_TIMEOUT_MS, 'the down handler after the hang-up');
    expectOneLine(reasons[0], 'down reason');
    expect(reasons[0]).toContain(path);
    expect(reasons[0]).toContain('EIO');
    await until(() => !binding.ports[0]!.isOpen, UNTIL_TIMEOUT_MS, 'the hung-up port to be closed');
    await until(() => transport.reopenAttempts >= 3, UNTIL_TIMEOUT_MS, 're-open attempts');
    expect(transport.lastReopenError).toMatch(/no such port/);
    binding.hungUp = false;
    await until(() => ups === 1, UNTIL_TIMEOUT_MS, 'the up handler');
    expect(transport.reconnects).toBe(1);
    expect(transport.isUp).toBe(true);
    expect(binding.ports).toHaveLength(2);
    expect(reasons).toHaveLength(1);
  });

  it('notices the cable pulled while the board floods it (a read in flight at the hang-up), every time', async () => {
    const { pair, transport, board } = await echoRig({ reopen: QUICK_REOPEN });
    const reasons: string[] = [];
    transport.onDown((reason) => reasons.push(reason));
    const flood = new Uint8Array(256 * 1024).fill(0x5a);
    for (let cycle = 1; cycle <= 3; cycle++) {
      const bytesInBefore = transport.stats.bytesIn;
      void board.write(flood).catch(() => {});
      await until(() => transport.stats.bytesIn - bytesInBefore > 16 * 1024, UNTIL_TIMEOUT_MS, 'the flood to be arriving');
      await pair.unplug();
      await until(() => reasons.length === cycle, UNTIL_TIMEOUT_MS, `down #${cycle} while flooded`);
      expect(reasons[cycle - 1]).toContain(pair.hostPath);
      await pair.plugIn();
      await until(() => transport.reconnects === cycle, UNTIL_TIMEOUT_MS, `re-open #${cycle}`);
      await board.waitOpens(cycle + 1);
    }
    expect(transport.stats.overlongFramesDropped).toBeGreaterThan(0);
  });

  it('close() while unplugged stops re-opening; a later plug-in does not bring it back', async () => {
    const { pair, transport } = await echoRig({ reopen: QUICK_REOPEN });
    let ups = 0;
    transport.onUp(() => ups++);
    const reasons: string[] = [];
    transport.onDown((reason) => reasons.push(reason));
    await pair.unplug();
    await until(() => transport.reopenAttempts >= 3, UNTIL_TIMEOUT_MS, 'a few re-open attempts');
    await transport.close();
    const attemptsAtClose = transport.reopenAttempts;
    await pair.plugIn();
    // Many back-off periods (at most 40 ms each): attempts would show if any were still scheduled.
    await sleepMs(400);
    expect(transport.reopenAttempts).toBe(attemptsAtClose);
    expect(ups).toBe(0);
    expect(transport.isUp).toBe(false);
    expect(reasons).toHaveLength(1);
    // The port is free: nobody kept it open (or locked).
    const again = await openTransport({ path: pair.hostPath });
    expect(again.isUp).toBe(true);
  });

  it('close() releases the port: it can be opened again at once', async () => {
    const pair = await openPair();
    const first = await openTransport({ path: pair.hostPath });
    await first.close();
    const second = await openTransport({ path: pair.hostPath });
    expect(second.isUp).toBe(true);
  });

  it('2,000 back-to-back tick frames come back intact and in order, one at a time and as a stream', async () => {
    const { transport } = await echoRig();
    const received: Uint8Array[] = [];
    const frames = Array.from({ length: 2_000 }, (_, i) => tickFrame(i));

    // Ping-pong: each frame goes when the previous one is back.
    let frameArrived: () => void = () => {};
    transport.onFrame((frame) => {
      received.push(Uint8Array.from(frame));
      frameArrived();
    });
    for (let i = 0; i < frames.length; i++) {
      const back = new Promise<void>((resolve) => (frameArrived = resolve));
      expect(transport.send(frames[i]!)).toBe(true);
      await Promise.race([back, until(() => received.length > i, UNTIL_TIMEOUT_MS, () => `ping-pong frame ${i}`)]);
    }
    expect(received.map(hex)).toEqual(frames.map((frame) => hex(bodyOf(frame))));

    // Streamed: as fast as the queue bound allows, never refused.
    received.length = 0;
    let queuedBytesMax = 0;
    for (const frame of frames) {
      // Bounded: the queue drains as the OS takes the bytes (or the until() gives up).
      if (transport.queuedBytes + frame.length > QUEUED_BYTES_MAX) {
        await until(() => transport.queuedBytes + frame.length <= QUEUED_BYTES_MAX, UNTIL_TIMEOUT_MS, 'the outgoing queue to drain');
      }
      expect(transport.send(frame)).toBe(true);
      queuedBytesMax = Math.max(queuedBytesMax, transport.queuedBytes);
    }
    await until(() => received.length >= frames.length, UNTIL_TIMEOUT_MS, () => `2000 streamed frames, got ${received.length}`);
    expect(received.map(hex)).toEqual(frames.map((frame) => hex(bodyOf(frame))));
    expect(queuedBytesMax).toBeLessThanOrEqual(QUEUED_BYTES_MAX);
    expect(transport.stats.sendsDropped).toBe(0);
  });

  it('refuses and counts sends over the queue bound instead of growing the queue', async () => {
    const { transport } = await echoRig();
    const frame = encodeMessage({ kind: 'state', tick: 1, stateBytes: new Uint8Array(LIMITS.stateBytesMax).fill(7), stateDigest: 1 });
    let accepted = 0;
    let refused = 0;
    // Synchronous: nothing drains in between. Bounded by the iteration count.
    for (let i = 0; i < 5_000 && refused < 10; i++) {
      if (transport.send(frame)) accepted++;
      else refused++;
      expect(transport.queuedBytes).toBeLessThanOrEqual(QUEUED_BYTES_MAX);
    }
    expect(refused).toBe(10);
    expect(accepted * frame.length).toBeLessThanOrEqual(QUEUED_BYTES_MAX);
    expect(transport.stats.sendsDropped).toBe(10);
    expect(transport.isUp).toBe(true);
  });

  it('drops a 10,000-byte burst without a delimiter from the board, counts it, holds at most a frame, and delivers the next frame intact', async () => {
    const { transport, board } = await echoRig();
    const received: Uint8Array[] = [];
    transport.onFrame((frame) => received.push(Uint8Array.from(frame)));
    const burst = Uint8Array.from({ length: 10_000 }, (_, i) => 1 + (i % 255));
    const frame = encodeMessage({ kind: 'heartbeat', lastTick: 10_000, stateDigest: 0xdead_beef });
    const bytesInBefore = transport.stats.bytesIn;
    await board.write(burst);
    let bufferedBytesMax = 0;
    await until(
      () => {
        bufferedBytesMax = Math.max(bufferedBytesMax, transport.bufferedBytes);
        return transport.stats.bytesIn - bytesInBefore >= burst.length;
      },
      UNTIL_TIMEOUT_MS,
      () => `the burst to arrive (${transport.stats.bytesIn - bytesInBefore} of ${burst.length} bytes)`,
    );
    expect(transport.stats.overlongFramesDropped).toBe(1);
    expect(bufferedBytesMax, 'bytes held waiting for a delimiter').toBeLessThanOrEqual(LIMITS.frameBytesMax);
    expect(received).toHaveLength(0);

    await board.write(concatBytes([Uint8Array.of(0), frame]));
    await until(() => received.length > 0, UNTIL_TIMEOUT_MS, 'the frame after the burst');
    expect(received.map(hex)).toEqual([hex(bodyOf(frame))]);
    expect(transport.stats.overlongFramesDropped).toBe(1);
    expect(transport.bufferedBytes).toBe(0);
  });
});
