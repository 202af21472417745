/**
 * Everything the real-time shell holds for one replica, in one place: what runs for it now (a
 * process or a board), the link the loop talks to it over, its warm standby, and when a stopped
 * process is to be continued. A restart or a standby taking over replaces what runs and its link
 * together. The replica's health and service status are the pure core's (CoreState), its restart
 * bookkeeping the loop's (Recovery); this is the I/O half.
 */
import type { ReplicaLink } from './replica-link.js';
import type { StartedReplica } from './replica-kinds.js';
import { createTransportStats, type Transport } from '../transport/transport.js';

/** What a replica is, in messages: its provider's name for it, else its process, else its link. */
export function replicaName(replica: StartedReplica): string {
  return replica.name ?? (replica.pid !== undefined ? `pid ${replica.pid}` : replica.transport.description);
}

/**
 * What a slot holds for a replica that could not be started (a port that is not there, a program
 * that would not run) when the run starts without it: a link that is down from the outset, for a
 * replica that is out from tick 0 and cannot be restarted.
 */
export function notStartedReplica(name: string, reason: string): StartedReplica {
  const stats = createTransportStats();
  const transport: Transport = {
    description: `${name} (not started)`,
    stats,
    isUp: false,
    onFrame: () => {},
    onDown: (handler) => handler(reason),
    send: () => {
      stats.sendsDropped++;
      return false;
    },
    close: async () => {},
  };
  return { transport, name, pid: undefined, dataPathPids: [], signal: () => false, isolate: () => {}, onLinkUp: () => {}, stop: async () => {} };
}

/** A warm standby: started, handshaken and warmed up, ready to take a restart over at once. */
export interface Spare {
  readonly replica: StartedReplica;
  readonly link: ReplicaLink;
}

export class ReplicaSlot {
  /** Warm standby (Node replicas only); null while none is ready. */
  spare: Spare | null = null;
  /** Ticks at which this replica's stopped process is continued (a hang or a stall it was stopped for). */
  private resumeTicks: number[] = [];

  constructor(
    readonly index: number,
    private running: StartedReplica,
    private currentLink: ReplicaLink,
  ) {}

  /** What runs for this replica now. */
  get replica(): StartedReplica {
    return this.running;
  }

  get link(): ReplicaLink {
    return this.currentLink;
  }

  /** What runs for this replica now, in messages (replicaName): a restart may change it. */
  get name(): string {
    return replicaName(this.running);
  }

  /** A restart or a standby replaced what runs for this replica, and with it the link. */
  replace(replica: StartedReplica, link: ReplicaLink): void {
    this.running = replica;
    this.currentLink = link;
  }

  /** Stops the process until `tick` (SIGSTOP); false if there is no process to stop (a board). */
  stopUntil(tick: number | null): boolean {
    if (!this.running.signal('SIGSTOP')) return false;
    if (tick !== null) this.resumeTicks.push(tick);
    return true;
  }

  /** Continues the process when the loop reaches a tick it was stopped until (one SIGCONT, whatever stopped it). */
  resumeIfDue(tick: number): void {
    if (!this.resumeTicks.includes(tick)) return;
    this.resumeTicks = this.resumeTicks.filter((t) => t !== tick);
    this.running.signal('SIGCONT');
  }
}
