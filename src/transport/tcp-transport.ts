/**
 * A Transport over TCP with every frame authenticated (secure-channel.ts): the voter's end
 * connects (TcpTransport.connect), a replica server's end accepts (TcpTransport.accept); after the
 * handshake both are the same Transport. A frame whose tag does not match, or a replayed one, is
 * refused and counted (stats.framesRefused), never delivered; a peer with another key is refused
 * at the handshake with a one-line reason naming both key ids.
 *
 * TCP is reliable and ordered, so no frame is lost on a healthy connection; a peer that vanishes
 * without closing (a host powered off, a partition) leaves the link up but silent, and the loop's
 * deadlines find it, as they find a hung process.
 */
import { connect as netConnect, createServer, type Server, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { FrameSplitter } from '../protocol/bounded-delimiter-parser.js';
import { ReplicaHandshake, SEALED_BODY_BYTES_MAX, SealedSession, VoterHandshake, NONCE_BYTES, type HandshakeStep, type SealedSessionStats } from './secure-channel.js';
import { createTransportStats, QUEUED_BYTES_MAX, LinkEvents, type DownHandler, type FrameHandler, type Transport } from './transport.js';

/** Why a connection did not become a link: a named code and a one-line reason. */
export class TcpLinkError extends Error {
  override readonly name = 'TcpLinkError';
  constructor(
    readonly code: 'UNREACHABLE' | 'TIMEOUT' | 'WRONG_KEY' | 'REFUSED' | 'NOT_TMR' | 'VERSION' | 'CLOSED',
    message: string,
  ) {
    super(message);
  }
}

export interface TcpConnectOptions {
  readonly host: string;
  readonly port: number;
  readonly key: Uint8Array;
  /** Prefix for messages, e.g. "replica 1". */
  readonly name: string;
  /** Give up connecting and shaking hands after this long (the replica may still be starting: refused connections are retried). */
  readonly timeoutMs: number;
  /** Test hook: the handshake nonce (random otherwise). */
  readonly nonce?: Uint8Array;
  /** This voter's epoch in a redundant set (its fencing token, claimed in the handshake); 0 or absent: a voter alone. */
  readonly epoch?: number;
}

export interface TcpAcceptOptions {
  readonly key: Uint8Array;
  readonly timeoutMs: number;
  readonly nonce?: Uint8Array;
}

/** Period of connection attempts while nothing listens yet. */
const CONNECT_RETRY_MS = 200;
/** TCP keepalive probes start after this much idle time (the loop's deadlines see a silent peer long before). */
const KEEPALIVE_IDLE_MS = 1_000;

/** host:port as a person writes it ([::1]:7001 for IPv6). */
export function endpointText(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/**
 * A listening server for authenticated links (a replica server, an actuator server); rejects with
 * one line naming the address and why (the port is taken, the address is not this host's). Errors
 * after it listens go to `log`.
 */
export function listenTcp(host: string, port: number, log: (line: string) => void): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer({ noDelay: true });
    server.once('error', (error: NodeJS.ErrnoException) => {
      const why = error.code === 'EADDRINUSE' ? 'the port is in use' : error.code === 'EADDRNOTAVAIL' ? 'the address is not one of this host' : error.code === 'EACCES' ? 'permission denied' : String(error.message);
      reject(new Error(`cannot listen on ${endpointText(host, port)}: ${error.code ?? 'error'}: ${why}`));
    });
    server.listen(port, host, () => {
      server.removeAllListeners('error');
      server.on('error', (error) => log(`server error: ${error.message}`));
      resolve(server);
    });
  });
}

function errnoReason(error: NodeJS.ErrnoException): string {
  switch (error.code) {
    case 'ECONNREFUSED':
      return 'ECONNREFUSED: nothing listens there';
    case 'ECONNRESET':
      return 'ECONNRESET: the connection was reset by the peer';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `${error.code}: no route to the host`;
    case 'ETIMEDOUT':
      return 'ETIMEDOUT: the peer stopped answering';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `${error.code}: the host name does not resolve`;
    case 'EPIPE':
      return 'EPIPE: the connection is closed';
    default:
      return `${error.code ?? 'error'}: ${String(error.message).replace(/\s+/g, ' ')}`;
  }
}

export class TcpTransport implements Transport {
  /** In frames and bytes of the protocol's own frames, as every transport counts them; `wire` has the sealed bytes. */
  readonly stats = createTransportStats();
  /** Bytes on the connection itself: sealed frames, handshake excluded, and anything refused. */
  readonly wire = { bytesIn: 0, bytesOut: 0 };
  private readonly events = new LinkEvents();
  private readonly closed: Promise<void>;

  private constructor(
    private readonly socket: Socket,
    private readonly splitter: FrameSplitter,
    private readonly session: SealedSession,
    readonly description: string,
    pending: readonly Uint8Array[],
    /** On a replica server's end: the epoch the voter claimed in the handshake (0: a voter alone). */
    readonly peerEpoch = 0,
  ) {
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    // Frames that came in the handshake's last chunk, behind it: delivered once the caller has its handler on.
    if (pending.length > 0) {
      setImmediate(() => {
        for (const body of pending) {
          this.wire.bytesIn += body.length + 1;
          if (!this.events.isDown) this.deliver(body);
        }
      });
    }
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => {
      this.markDown('connection closed by the peer');
      socket.destroy();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => this.markDown(errnoReason(error)));
    socket.on('close', () => this.markDown('connection closed'));
  }

  /**
   * Connects to a replica server and shakes hands; rejects with a TcpLinkError (its message the
   * reason alone: the caller names the replica) once `timeoutMs` has passed or the peer is refused.
   */
  static async connect(options: TcpConnectOptions): Promise<TcpTransport> {
    const where = endpointText(options.host, options.port);
    const deadlineMs = Date.now() + options.timeoutMs;
    let lastReason = 'no attempt';
    // Bounded by the deadline: refused and reset connections are retried until then.
    for (;;) {
      const remainingMs = deadlineMs - Date.now();
      if (remainingMs <= 0) throw new TcpLinkError(/^E[A-Z]+:/.test(lastReason) ? 'UNREACHABLE' : 'TIMEOUT', `${lastReason} (tried for ${options.timeoutMs} ms)`);
      const attempt = await attemptConnect(options, remainingMs);
      if (attempt.ok) {
        const handshake = new VoterHandshake(options.key, options.nonce ?? randomBytes(NONCE_BYTES), options.epoch ?? 0);
        const outcome = await runHandshake(attempt.socket, handshake.open(), (body) => handshake.receive(body), deadlineMs - Date.now());
        if (outcome.ok) return new TcpTransport(attempt.socket, outcome.splitter, outcome.session, `${options.name} (tcp:${where})`, outcome.pending);
        attempt.socket.destroy();
        // Only a connection closed mid-handshake (a server still starting, or restarting) is tried again.
        if (outcome.code === 'TIMEOUT') throw new TcpLinkError('TIMEOUT', `${outcome.reason} (tried for ${options.timeoutMs} ms)`);
        if (outcome.code !== 'CLOSED') throw new TcpLinkError(outcome.code, outcome.reason);
        lastReason = outcome.reason;
      } else {
        lastReason = attempt.reason;
        if (!attempt.retry) throw new TcpLinkError('UNREACHABLE', attempt.reason);
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(CONNECT_RETRY_MS, Math.max(0, deadlineMs - Date.now()))));
    }
  }

  /**
   * A replica server's end: shakes hands on an accepted socket. Resolves with the link, or with a
   * refusal (the peer was told why when it could be, and the socket is closed).
   */
  static async accept(socket: Socket, options: TcpAcceptOptions, name: string): Promise<{ ok: true; transport: TcpTransport } | { ok: false; code: TcpLinkError['code']; reason: string }> {
    socket.setNoDelay(true);
    socket.setKeepAlive(true, KEEPALIVE_IDLE_MS);
    const handshake = new ReplicaHandshake(options.key, options.nonce ?? randomBytes(NONCE_BYTES));
    const outcome = await runHandshake(socket, null, (body) => handshake.receive(body), options.timeoutMs, () => handshake.closedReason());
    if (!outcome.ok) {
      socket.end();
      setTimeout(() => socket.destroy(), 1_000).unref();
      return { ok: false, code: outcome.code, reason: outcome.reason };
    }
    return { ok: true, transport: new TcpTransport(socket, outcome.splitter, outcome.session, name, outcome.pending, outcome.peerEpoch) };
  }

  get isUp(): boolean {
    return !this.events.isDown;
  }

  /** The session's refusal counts by cause (stats.framesRefused is their sum). */
  get authStats(): Readonly<SealedSessionStats> {
    return this.session.stats;
  }

  /** The peer's address as "host:port". */
  get remote(): string {
    return endpointText(this.socket.remoteAddress ?? '?', this.socket.remotePort ?? 0);
  }

  onFrame(handler: FrameHandler): void {
    this.events.onFrame(handler);
  }

  onDown(handler: DownHandler): void {
    this.events.onDown(handler);
  }

  send(frame: Uint8Array): boolean {
    if (this.events.isDown || this.socket.destroyed || this.socket.writableLength > QUEUED_BYTES_MAX) {
      this.stats.sendsDropped++;
      return false;
    }
    if (!this.session.canSend) {
      this.stats.sendsDropped++;
      this.markDown('the session used every frame counter');
      this.socket.destroy();
      return false;
    }
    const sealed = this.session.seal(frame);
    this.socket.write(sealed);
    this.wire.bytesOut += sealed.length;
    this.stats.bytesOut += frame.length;
    this.stats.framesOut++;
    return true;
  }

  /** Seals a frame for this session without sending it (tests: to put it on the wire in pieces, or twice). */
  sealOnly(frame: Uint8Array): Uint8Array {
    return this.session.seal(frame);
  }

  /** Writes raw bytes on the connection, as they are (tests: frames a forger or a replayer sends). */
  writeRaw(bytes: Uint8Array): void {
    if (!this.events.isDown) this.socket.write(bytes);
  }

  async close(): Promise<void> {
    this.markDown('closed by the host');
    if (!this.socket.destroyed) {
      this.socket.end();
      const timer = setTimeout(() => this.socket.destroy(), 500);
      await this.closed;
      clearTimeout(timer);
    }
  }

  private readonly deliver = (sealed: Uint8Array): void => {
    const opened = this.session.open(sealed);
    if (typeof opened === 'string') {
      this.stats.framesRefused++;
      return;
    }
    this.stats.framesIn++;
    this.stats.bytesIn += opened.length + 1;
    this.events.frame(opened);
  };

  private onData(chunk: Buffer): void {
    this.wire.bytesIn += chunk.length;
    if (this.events.isDown) return;
    this.splitter.push(chunk, this.deliver);
    this.stats.overlongFramesDropped = this.splitter.overlongFramesDropped;
  }

  private markDown(reason: string): void {
    this.events.markDown(reason);
  }
}

type Attempt = { ok: true; socket: Socket } | { ok: false; retry: boolean; reason: string };

function attemptConnect(options: TcpConnectOptions, timeoutMs: number): Promise<Attempt> {
  return new Promise((resolve) => {
    const socket = netConnect({ host: options.host, port: options.port, noDelay: true, keepAlive: true, keepAliveInitialDelay: KEEPALIVE_IDLE_MS });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ ok: false, retry: true, reason: 'the connection was not accepted in time' });
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve({ ok: true, socket });
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      socket.destroy();
      const retry = error.code === 'ECONNREFUSED' || error.code === 'ECONNRESET' || error.code === 'EHOSTUNREACH' || error.code === 'ENETUNREACH' || error.code === 'EAI_AGAIN';
      resolve({ ok: false, retry, reason: errnoReason(error) });
    });
  });
}

type HandshakeOutcome = { ok: true; session: SealedSession; splitter: FrameSplitter; pending: readonly Uint8Array[]; peerEpoch: number } | { ok: false; code: TcpLinkError['code']; reason: string };

/**
 * Runs one side of the handshake on a connected socket: sends `first` (the voter's OPEN), then
 * feeds every frame to `receive` until it yields a session or fails. Whole frames that arrive
 * behind the handshake's last one in the same chunk are returned as pending, and the splitter,
 * which may hold the start of the next, goes on in the transport.
 */
function runHandshake(
  socket: Socket,
  first: Uint8Array | null,
  receive: (body: Uint8Array) => HandshakeStep,
  timeoutMs: number,
  closedReason: () => string = () => 'the peer closed the connection during the handshake',
): Promise<HandshakeOutcome> {
  return new Promise((resolve) => {
    const splitter = new FrameSplitter(SEALED_BODY_BYTES_MAX);
    let done = false;
    /** Frames after the session was agreed, in the same chunk: handed to the session's transport. */
    const after: Uint8Array[] = [];
    let session: SealedSession | null = null;
    let peerEpoch = 0;
    const finish = (outcome: HandshakeOutcome): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
      resolve(outcome);
    };
    const timer = setTimeout(() => finish({ ok: false, code: 'TIMEOUT', reason: `no handshake within ${timeoutMs} ms` }), Math.max(1, timeoutMs));
    const onFrame = (body: Uint8Array): void => {
      if (session !== null) {
        after.push(Uint8Array.from(body));
        return;
      }
      if (done) return;
      const step = receive(body);
      if (step.send !== undefined) socket.write(step.send);
      if (step.kind === 'continue') return;
      if (step.kind === 'session') {
        session = step.session;
        peerEpoch = step.peerEpoch;
        return;
      }
      const code = step.refusal === 'MALFORMED' ? 'NOT_TMR' : step.refusal === 'REFUSED' ? 'REFUSED' : step.refusal;
      finish({ ok: false, code, reason: step.reason });
    };
    const onData = (chunk: Buffer): void => {
      splitter.push(chunk, onFrame);
      if (splitter.overlongFramesDropped > 0 && session === null) finish({ ok: false, code: 'NOT_TMR', reason: 'the peer does not speak tmr authenticated links (an over-long handshake frame)' });
      if (session !== null) finish({ ok: true, session, splitter, pending: after, peerEpoch });
    };
    const onError = (error: NodeJS.ErrnoException): void => finish({ ok: false, code: 'CLOSED', reason: error.code === 'ECONNRESET' || error.code === 'EPIPE' ? closedReason() : errnoReason(error) });
    const onClose = (): void => finish({ ok: false, code: 'CLOSED', reason: closedReason() });
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
    if (first !== null) socket.write(first);
  });
}
