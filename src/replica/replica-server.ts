/**
 * A Node replica served over authenticated TCP (`tmr replica --listen HOST:PORT`): the replica on
 * another host. One ReplicaEndpoint, the same as a replica process's, holds the law state; the
 * state lives in the endpoint, not in a session, so a session that ends does not end the replica.
 *
 * Sessions. A voter alone (epoch 0 in the handshake) has the replica to itself: a new one takes
 * the session over (the one before is closed, named), and its hello resets the law as a board's
 * does. The voters of a redundant set (epoch > 0, issue 19) share it, up to SESSIONS_MAX:
 *  - a hello asking for the configuration the replica already runs is acknowledged without a
 *    reset (a standby, or a restarted voter, joins a running set; the controller goes on);
 *  - every voter forwards every tick it hears from the actuator, so the same tick comes from each:
 *    the first steps the law, a repeat of the tick just stepped with the same inputs gets the
 *    same reply again (nothing steps twice), and anything else is answered as protocol v3 says
 *    (TICK_GAP): an old voter's stale ticks never step the law;
 *  - replies go to the voter that asked; heartbeats to every session.
 *
 * An injected crash reboots the replica as a board's reset does: every session closes and the law
 * state is gone, and the server listens on (a process supervisor's restart, in one step).
 */
import type { Server, Socket } from 'node:net';
import { FrameSplitter } from '../protocol/bounded-delimiter-parser.js';
import { decodeMessage, encodeMessage } from '../protocol/codec.js';
import type { Message } from '../protocol/messages.js';
import type { LoadedLaw } from '../law/law-runtime.js';
import { INNER_BODY_BYTES_MAX } from '../transport/secure-channel.js';
import { endpointText, listenTcp, TcpTransport } from '../transport/tcp-transport.js';
import type { PreSharedKey } from '../transport/key-file.js';
import { HEARTBEAT_PERIOD_MS, ReplicaEndpoint } from './replica-endpoint.js';
import { NODE_REPLICA_IMPLEMENTATION } from './replica-logic.js';

/** Connections that may be shaking hands at once; more are closed at once (a flood must not cost memory). */
export const PENDING_HANDSHAKES_MAX = 8;
/** Voters of a redundant set served at once; one more is refused (closed at once, counted busy). */
export const SESSIONS_MAX = 8;
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
  /** Hellos of a redundant set's voters acknowledged without a reset (joins). */
  joins: number;
  /** Ticks answered again from the reply already sent for them (the same tick from another voter). */
  repeatsAnswered: number;
}

export class ReplicaServer {
  readonly stats: ReplicaServerStats = { sessionsAccepted: 0, refusedWrongKey: 0, refusedOther: 0, refusedBusy: 0, framesRefused: 0, crashes: 0, joins: 0, repeatsAnswered: 0 };
  readonly #endpoint: ReplicaEndpoint;
  /** Live sessions and the epoch each claimed (0: a voter alone, which has the replica to itself). */
  readonly #sessions = new Map<TcpTransport, { readonly epoch: number; readonly from: string }>();
  /** The session whose frame is being handled: what the endpoint writes goes there (null: to all). */
  #serving: TcpTransport | null = null;
  /** The reply sent for the last tick stepped, and its inputs: a repeat of that tick gets it again. */
  #lastReply: { tick: number; inputs: Int32Array; frames: Uint8Array[] } | null = null;
  #capture: Uint8Array[] | null = null;
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
      if (this.#sessions.size > 0) this.#endpoint.heartbeatIfIdle(Date.now());
    }, HEARTBEAT_PERIOD_MS);
    server.on('connection', (socket) => this.#onConnection(socket));
  }

  /** Listens; rejects with a one-line reason if it cannot (the port is taken, the address is not ours). */
  static async start(options: ReplicaServerOptions): Promise<ReplicaServer> {
    return new ReplicaServer(await listenTcp(options.host, options.port, options.log), options);
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
    const sessions = [...this.#sessions.keys()];
    this.#sessions.clear();
    await Promise.all(sessions.map((session) => session.close()));
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
    const epoch = transport.peerEpoch;
    // A voter alone takes the replica over; a redundant set's voter shares it with the set's
    // others but replaces a voter alone (a set taking over from a single voter).
    for (const [previous, info] of this.#sessions) {
      if (epoch !== 0 && info.epoch !== 0) continue;
      this.options.log(`session from ${info.from} replaced by one from ${from}`);
      this.#sessions.delete(previous);
      this.#retire(previous);
    }
    if (this.#sessions.size >= SESSIONS_MAX) {
      this.stats.refusedBusy++;
      this.options.log(`refused ${from}: ${SESSIONS_MAX} voters are served already`);
      void transport.close();
      return;
    }
    this.#sessions.set(transport, { epoch, from });
    this.stats.sessionsAccepted++;
    this.options.log(`session from ${from}${epoch === 0 ? '' : ` (voter epoch ${epoch})`} (key ${this.options.key.id})`);
    transport.onFrame((frame) => {
      if (this.#sessions.has(transport)) this.#onFrame(transport, epoch, frame);
    });
    transport.onDown((reason) => {
      if (!this.#sessions.delete(transport)) return;
      this.#retire(transport);
      this.options.log(`session from ${from} ended: ${reason}`);
    });
  }

  #onFrame(transport: TcpTransport, epoch: number, frame: Uint8Array): void {
    this.#serving = transport;
    try {
      // A set's frames are read here once (a join, a repeat, the tick to remember); the endpoint reads them too.
      const decoded = epoch === 0 ? null : decodeMessage(frame);
      const message = decoded?.ok === true ? decoded.message : null;
      if (message !== null && this.#answeredForTheSet(transport, message)) return;
      const stepped = this.#endpoint.logic.lastTick;
      const capture: Uint8Array[] = [];
      this.#capture = capture;
      this.#endpoint.pushFrame(frame);
      this.#capture = null;
      const logic = this.#endpoint.logic;
      if (message?.kind === 'tick' && logic.lastTick !== stepped && !logic.anyTickNext && message.tick === logic.lastTick) {
        this.#lastReply = { tick: logic.lastTick, inputs: Int32Array.from(message.inputs), frames: capture };
      }
    } finally {
      this.#serving = null;
      this.#capture = null;
    }
  }

  /** A join (a hello for the running configuration) or a repeated tick, answered here; false: the endpoint's business. */
  #answeredForTheSet(transport: TcpTransport, message: Message): boolean {
    const logic = this.#endpoint.logic;
    if (message.kind === 'hello') {
      const ack = logic.joinAck(message);
      if (ack === null) return false;
      this.stats.joins++;
      this.#write(encodeMessage(ack));
      return true;
    }
    if (message.kind === 'tick') {
      const last = this.#lastReply;
      if (last === null || message.tick !== last.tick || message.tick !== logic.lastTick || logic.anyTickNext) return false;
      if (message.inputs.length !== last.inputs.length) return false;
      for (let i = 0; i < last.inputs.length; i++) if (message.inputs[i] !== last.inputs[i]) return false;
      this.stats.repeatsAnswered++;
      for (const reply of last.frames) this.#sendTo(transport, reply);
      return true;
    }
    return false;
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
    if (this.#sessions.size === 0) return;
    this.#outgoing.push(bytes, (body) => {
      const frame = new Uint8Array(body.length + 1);
      frame.set(body, 0);
      this.#capture?.push(frame);
      const serving = this.#serving;
      if (serving !== null) this.#sendTo(serving, frame);
      else for (const session of this.#sessions.keys()) this.#sendTo(session, frame);
    });
  }

  #sendTo(transport: TcpTransport, frame: Uint8Array): void {
    if (this.#sessions.has(transport)) transport.send(frame);
  }

  #crash(): void {
    this.stats.crashes++;
    this.options.log('crash (injected): the replica reboots, its sessions close and its law state is gone');
    this.#endpoint.reset();
    this.#lastReply = null;
    const sessions = [...this.#sessions.keys()];
    this.#sessions.clear();
    for (const session of sessions) this.#retire(session);
  }
}
