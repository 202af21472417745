/**
 * A Node replica served over authenticated TCP (`tmr replica --listen HOST:PORT`): the replica on
 * another host. One ReplicaEndpoint, the same as a replica process's, talks to one voter session
 * at a time; a voter that connects and proves the key takes the session over (the one before is
 * closed, named). The law state lives in the endpoint, not in the session: a session that ends
 * does not end the replica.
 *
 * An injected crash reboots the replica as a board's reset does: the session closes and the law
 * state is gone, and the server listens on (a process supervisor's restart, in one step).
 */
import { createServer, type Server, type Socket } from 'node:net';
import { FrameSplitter } from '../protocol/bounded-delimiter-parser.js';
import type { LoadedLaw } from '../law/law-runtime.js';
import { INNER_BODY_BYTES_MAX } from '../transport/secure-channel.js';
import { endpointText, TcpTransport } from '../transport/tcp-transport.js';
import type { PreSharedKey } from '../transport/key-file.js';
import { HEARTBEAT_PERIOD_MS, ReplicaEndpoint } from './replica-endpoint.js';
import { NODE_REPLICA_IMPLEMENTATION } from './replica-logic.js';

/** Connections that may be shaking hands at once; more are closed at once (a flood must not cost memory). */
export const PENDING_HANDSHAKES_MAX = 8;
/** A connection that has not finished the handshake by then is closed. */
export const SERVER_HANDSHAKE_TIMEOUT_MS = 5_000;

export interface ReplicaServerOptions {
  readonly host: string;
  /** 0: any free port (see address). */
  readonly port: number;
  readonly key: PreSharedKey;
  readonly law: LoadedLaw;
  /** One line per session event (stderr in the CLI). */
  readonly log: (line: string) => void;
  readonly handshakeTimeoutMs?: number;
}

export interface ReplicaServerStats {
  sessionsAccepted: number;
  /** Connections refused at the handshake, by why. */
  refusedWrongKey: number;
  refusedOther: number;
  /** Connections closed because PENDING_HANDSHAKES_MAX were already shaking hands. */
  refusedBusy: number;
  /** Frames refused in sessions (forged or replayed), over all sessions. */
  framesRefused: number;
  crashes: number;
}

export class ReplicaServer {
  readonly stats: ReplicaServerStats = { sessionsAccepted: 0, refusedWrongKey: 0, refusedOther: 0, refusedBusy: 0, framesRefused: 0, crashes: 0 };
  readonly #endpoint: ReplicaEndpoint;
  #active: TcpTransport | null = null;
  #pending = 0;
  readonly #sockets = new Set<Socket>();
  readonly #heartbeat: NodeJS.Timeout;
  /** Splits what the endpoint writes into frames to seal (a babble fault writes garbage that is not one). */
  readonly #outgoing = new FrameSplitter(INNER_BODY_BYTES_MAX);
  #closing = false;

  private constructor(
    private readonly server: Server,
    private readonly options: ReplicaServerOptions,
  ) {
    this.#endpoint = new ReplicaEndpoint(
      { write: (bytes) => this.#write(bytes), crash: () => this.#crash() },
      { law: options.law, implementation: NODE_REPLICA_IMPLEMENTATION },
    );
    this.#heartbeat = setInterval(() => {
      if (this.#active !== null) this.#endpoint.heartbeatIfIdle(Date.now());
    }, HEARTBEAT_PERIOD_MS);
    server.on('connection', (socket) => this.#onConnection(socket));
  }

  /** Listens; rejects with a one-line reason if it cannot (the port is taken, the address is not ours). */
  static start(options: ReplicaServerOptions): Promise<ReplicaServer> {
    return new Promise((resolve, reject) => {
      const server = createServer({ noDelay: true });
      server.once('error', (error: NodeJS.ErrnoException) => {
        const why = error.code === 'EADDRINUSE' ? 'the port is in use' : error.code === 'EADDRNOTAVAIL' ? 'the address is not one of this host' : error.code === 'EACCES' ? 'permission denied' : String(error.message);
        reject(new Error(`cannot listen on ${endpointText(options.host, options.port)}: ${error.code ?? 'error'}: ${why}`));
      });
      server.listen(options.port, options.host, () => {
        server.removeAllListeners('error');
        server.on('error', (error) => options.log(`server error: ${error.message}`));
        resolve(new ReplicaServer(server, options));
      });
    });
  }

  /** Where it listens (the port the system chose for port 0). */
  get address(): { host: string; port: number; text: string } {
    const a = this.server.address();
    if (a === null || typeof a === 'string') return { host: this.options.host, port: this.options.port, text: endpointText(this.options.host, this.options.port) };
    return { host: a.address, port: a.port, text: endpointText(a.address, a.port) };
  }

  async close(): Promise<void> {
    this.#closing = true;
    clearInterval(this.#heartbeat);
    const active = this.#active;
    this.#active = null;
    await active?.close();
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  #onConnection(socket: Socket): void {
    const from = endpointText(socket.remoteAddress ?? '?', socket.remotePort ?? 0);
    if (this.#closing || this.#pending >= PENDING_HANDSHAKES_MAX) {
      this.stats.refusedBusy++;
      socket.destroy();
      return;
    }
    this.#pending++;
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    void TcpTransport.accept(socket, { key: this.options.key.key, timeoutMs: this.options.handshakeTimeoutMs ?? SERVER_HANDSHAKE_TIMEOUT_MS }, `voter ${from}`).then((outcome) => {
      this.#pending--;
      if (!outcome.ok) {
        if (outcome.code === 'WRONG_KEY') this.stats.refusedWrongKey++;
        else this.stats.refusedOther++;
        this.options.log(`refused ${from} at the handshake: ${outcome.reason}`);
        return;
      }
      if (this.#closing) {
        void outcome.transport.close();
        return;
      }
      this.#adopt(outcome.transport, from);
    });
  }

  #adopt(transport: TcpTransport, from: string): void {
    const previous = this.#active;
    if (previous !== null) {
      this.options.log(`session from ${previous.remote} replaced by one from ${from}`);
      this.#retire(previous);
    }
    this.#active = transport;
    this.stats.sessionsAccepted++;
    this.options.log(`session from ${from} (key ${this.options.key.id})`);
    transport.onFrame((frame) => {
      if (this.#active === transport) this.#endpoint.pushFrame(frame);
    });
    transport.onDown((reason) => {
      if (this.#active !== transport) return;
      this.#active = null;
      this.#retire(transport);
      this.options.log(`session from ${from} ended: ${reason}`);
    });
  }

  #retire(transport: TcpTransport): void {
    this.stats.framesRefused += transport.stats.framesRefused;
    if (transport.stats.framesRefused > 0) {
      const a = transport.authStats;
      this.options.log(`session from ${transport.remote}: refused ${transport.stats.framesRefused} frames (${a.refusedBadTag} bad tag, ${a.refusedReplayed} replayed, ${a.refusedMalformed} malformed)`);
    }
    void transport.close();
  }

  #write(bytes: Uint8Array): void {
    const active = this.#active;
    if (active === null) return;
    this.#outgoing.push(bytes, (body) => {
      const frame = new Uint8Array(body.length + 1);
      frame.set(body, 0);
      active.send(frame);
    });
  }

  #crash(): void {
    this.stats.crashes++;
    this.options.log('crash (injected): the replica reboots, its session closes and its law state is gone');
    this.#endpoint.reset();
    const active = this.#active;
    this.#active = null;
    if (active !== null) this.#retire(active);
  }
}
