/**
 * The child-process transport: the Transport contract against a plain-JS echo child, then what
 * only a process has (start failures, reaping, stopped children, stderr and stdout floods).
 *
 * peerWrite goes through the transport itself: the echo child returns the bytes unchanged, so
 * they arrive exactly as if the child had sent them (split or joined however the pipes deliver
 * them). Such writes also count in the outgoing stats; the contract only checks outgoing stats
 * around plain send() calls.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeMessage } from '../../src/protocol/codec.js';
import { LIMITS } from '../../src/protocol/messages.js';
import { ChildProcessTransport, STDERR_TAIL_BYTES_MAX, type ChildProcessTransportOptions } from '../../src/transport/child-process-transport.js';
import { bodyOf, expectOneLine, transportContract, until, UNTIL_TIMEOUT_MS, type ContractLink } from './contract.js';
import { processExists, stopTransport } from '../helpers/processes.js';

const ECHO_CHILD_PATH = fileURLToPath(new URL('../fixtures/echo-child.mjs', import.meta.url));

const echoOptions: ChildProcessTransportOptions = { command: process.execPath, args: [ECHO_CHILD_PATH], name: 'echo' };


function pidOf(transport: ChildProcessTransport): number {
  const pid = transport.pid;
  expect(pid, `${transport.description} has no pid`).toBeTypeOf('number');
  return pid!;
}

const stop = stopTransport;

transportContract('child process (echo)', async (): Promise<ContractLink> => {
  const transport = await ChildProcessTransport.start(echoOptions);
  return {
    transport,
    peerWrite: (bytes) => {
      if (!transport.send(bytes)) throw new Error(`peerWrite: ${transport.description} refused the bytes (down or queue full)`);
    },
    killPeer: () => {
      process.kill(pidOf(transport), 'SIGKILL');
    },
    cleanup: () => stop(transport),
  };
});

describe('child-process transport', () => {
  const started: ChildProcessTransport[] = [];
  const start = async (options: ChildProcessTransportOptions): Promise<ChildProcessTransport> => {
    const transport = await ChildProcessTransport.start(options);
    started.push(transport);
    return transport;
  };
  /** A child running `script` (plain JS) under node, with extra environment. */
  const startScript = (script: string, env: Record<string, string> = {}): Promise<ChildProcessTransport> =>
    start({ command: process.execPath, args: ['-e', script], name: 'script', env: { ...process.env, ...env } });

  afterEach(async () => {
    const all = started.splice(0);
    const results = await Promise.allSettled(all.map(stop));
    for (const result of results) if (result.status === 'rejected') throw result.reason;
  });

  it('start() of a nonexistent command rejects with a one-line message naming it', async () => {
    const command = '/nonexistent/tmr-no-such-replica';
    const attempt = ChildProcessTransport.start({ command, args: [], name: 'replica 7' });
    await expect(attempt).rejects.toThrow(command);
    const message = await attempt.then(
      () => '',
      (error: unknown) => (error as Error).message,
    );
    expectOneLine(message, 'start() failure');
    expect(message).toContain('replica 7');
  });

  it('names the process and its pid in its description', async () => {
    const transport = await start(echoOptions);
    expect(transport.description).toBe(`echo (pid ${pidOf(transport)})`);
  });

  it('close() reaps the process', async () => {
    const transport = await start(echoOptions);
    const pid = pidOf(transport);
    expect(processExists(pid)).toBe(true);
    await transport.close();
    expect(processExists(pid), `pid ${pid} after close()`).toBe(false);
  });

  it('close() reaps a SIGSTOPped process', async () => {
    const transport = await start(echoOptions);
    const pid = pidOf(transport);
    expect(transport.signal('SIGSTOP')).toBe(true);
    await until(() => processState(pid) === 'T', UNTIL_TIMEOUT_MS, () => `pid ${pid} to stop (state ${processState(pid)})`);
    await transport.close();
    expect(processExists(pid), `pid ${pid} after close()`).toBe(false);
  });

  it('close() reaps a process that ignores SIGTERM and its stdin closing', async () => {
    const transport = await startScript(
      "process.on('SIGTERM', () => {}); process.stdin.on('end', () => {}); setInterval(() => {}, 1000); process.stderr.write('handlers installed');",
    );
    const pid = pidOf(transport);
    await until(() => transport.stderr.includes('handlers installed'), UNTIL_TIMEOUT_MS, 'the script to install its handlers');
    await transport.close();
    expect(processExists(pid), `pid ${pid} after close()`).toBe(false);
    expect(transport.child.signalCode).toBe('SIGKILL');
  });

  it('names the signal that killed the process in the down reason', async () => {
    const transport = await start(echoOptions);
    const reasons: string[] = [];
    transport.onDown((reason) => reasons.push(reason));
    process.kill(pidOf(transport), 'SIGKILL');
    await until(() => reasons.length > 0, UNTIL_TIMEOUT_MS, 'the down handler');
    expect(reasons).toEqual(['process killed by SIGKILL']);
  });

  it('names the signal even when a send hits the dead pipe before the exit is noticed', async () => {
    const transport = await start(echoOptions);
    const reasons: string[] = [];
    transport.onDown((r) => reasons.push(r));
    const pid = pidOf(transport);
    process.kill(pid, 'SIGKILL');
    // Dead to the kernel (a zombie) but not yet reaped by Node: the write meets a broken pipe.
    // The wait is synchronous on purpose; giving the event loop a turn would let Node reap it.
    const deadline = Date.now() + UNTIL_TIMEOUT_MS;
    while (processState(pid) !== 'Z') expect(Date.now(), `pid ${pid} never became a zombie`).toBeLessThan(deadline);
    transport.send(Uint8Array.of(1, 0));
    await until(() => reasons.length > 0, UNTIL_TIMEOUT_MS, 'the link to go down');
    expect(reasons).toEqual(['process killed by SIGKILL']);
  });

  it('names the exit code in the down reason when the process exits by itself', async () => {
    const transport = await startScript('process.exit(3)');
    const reasons: string[] = [];
    transport.onDown((reason) => reasons.push(reason));
    await until(() => reasons.length > 0, UNTIL_TIMEOUT_MS, 'the down handler');
    expect(reasons).toEqual(['process exited with code 3']);
  });

  it('refuses and counts sends while a stopped child lets its queue fill; the accepted frames come back in order', async () => {
    const transport = await start(echoOptions);
    const received: Uint8Array[] = [];
    transport.onFrame((frame) => received.push(Uint8Array.from(frame)));
    expect(transport.signal('SIGSTOP')).toBe(true);
    await until(() => processState(pidOf(transport)) === 'T', UNTIL_TIMEOUT_MS, 'the echo to stop');
    const frame = (i: number): Uint8Array => encodeMessage({ kind: 'state', tick: i, stateBytes: new Uint8Array(LIMITS.stateBytesMax).fill(i & 0xff), stateDigest: i });
    const accepted: Uint8Array[] = [];
    let refused = 0;
    // Bounded: the pipe (64 KiB on Linux) plus QUEUED_BYTES_MAX fill long before 10 000 frames.
    for (let i = 0; i < 10_000 && refused < 100; i++) {
      const bytes = frame(i);
      if (transport.send(bytes)) accepted.push(bytes);
      else refused++;
    }
    expect(refused, 'sends refused while the child is stopped').toBe(100);
    expect(transport.stats.sendsDropped).toBe(refused);
    expect(transport.stats.framesOut).toBe(accepted.length);
    expect(transport.isUp).toBe(true);
    expect(transport.signal('SIGCONT')).toBe(true);
    await until(() => received.length >= accepted.length, UNTIL_TIMEOUT_MS, () => `${accepted.length} echoed frames, got ${received.length}`);
    expect(received.length).toBe(accepted.length);
    received.forEach((body, i) => expect(body, `frame ${i}`).toEqual(bodyOf(accepted[i]!)));
  });

  it('keeps a bounded stderr tail when the child floods stderr', async () => {
    // 1 MiB of ASCII, then 64 KiB of 3-byte characters, then a marker; then idles until stdin ends.
    const transport = await startScript(
      "const a = 'x'.repeat(1 << 16); for (let i = 0; i < 16; i++) process.stderr.write(a);" +
        "process.stderr.write('\\u20ac'.repeat(1 << 14)); process.stderr.write('END-OF-FLOOD'); process.stdin.resume();",
    );
    await until(() => transport.stderr.endsWith('END-OF-FLOOD'), UNTIL_TIMEOUT_MS, () => `the end of the flood (tail: ${transport.stderr.slice(-40)})`);
    expect(Buffer.byteLength(transport.stderr, 'utf8'), 'stderr tail in UTF-8 bytes').toBeLessThanOrEqual(STDERR_TAIL_BYTES_MAX);
    expect(transport.stderr).toMatch(/\u20ac{100}END-OF-FLOOD$/u);
    expect(transport.isUp).toBe(true);
  });

  it('does not grow its buffer when the child floods stdout without delimiters; the overlong run is counted once', async () => {
    const floodBytes = 4 << 20;
    const frame = encodeMessage({ kind: 'heartbeat', lastTick: 1, stateDigest: 2 });
    // Writes the flood at once, then on any stdin byte a resync 0x00 and one valid frame.
    const transport = await startScript(
      "const chunk = Buffer.alloc(1 << 16, 0x5a); for (let i = 0; i < Number(process.env.FLOOD_BYTES) >> 16; i++) process.stdout.write(chunk);" +
        "process.stdin.once('data', () => { process.stdout.write(Buffer.from([0])); process.stdout.write(Buffer.from(process.env.FRAME_HEX, 'hex')); });",
      { FLOOD_BYTES: String(floodBytes), FRAME_HEX: Buffer.from(frame).toString('hex') },
    );
    const received: Uint8Array[] = [];
    transport.onFrame((f) => received.push(Uint8Array.from(f)));
    let bufferedBytesMax = 0;
    await until(
      () => {
        bufferedBytesMax = Math.max(bufferedBytesMax, parserBufferedBytes(transport));
        return transport.stats.bytesIn >= floodBytes;
      },
      UNTIL_TIMEOUT_MS,
      () => `${floodBytes} flood bytes, got ${transport.stats.bytesIn}`,
    );
    expect(transport.stats.bytesIn).toBe(floodBytes);
    expect(transport.stats.overlongFramesDropped).toBe(1);
    expect(received).toHaveLength(0);
    expect(bufferedBytesMax, 'bytes the parser held during the flood').toBeLessThanOrEqual(LIMITS.frameBytesMax);

    expect(transport.send(Uint8Array.of(1, 0))).toBe(true);
    await until(() => received.length > 0, UNTIL_TIMEOUT_MS, 'the frame after the flood');
    expect(received).toEqual([bodyOf(frame)]);
    expect(transport.stats.overlongFramesDropped).toBe(1);
  });
});

/** The state letter from /proc/PID/stat ('R', 'S', 'T' stopped, 'Z' zombie), or '?' if unreadable. */
function processState(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return '?';
  }
}

/**
 * White-box: the bytes the transport's parser holds waiting for a delimiter (BoundedDelimiterParser
 * keeps them in `buffer`). The only way to see "does not grow" without timing or heap sampling.
 */
function parserBufferedBytes(transport: ChildProcessTransport): number {
  return transport.bufferedBytes;
}
