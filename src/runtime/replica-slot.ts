/**
 * Everything the real-time shell holds for one replica, in one place: what runs for it now (a
 * process or a board), the link the loop talks to it over, its warm standby, and when a stopped
 * process is to be continued. A restart or a standby taking over replaces what runs and its link
 * together. The replica's health and service status are the pure core's (CoreState), its restart
 * bookkeeping the loop's (Recovery); this is the I/O half.
 */
import type { ReplicaLink } from './replica-link.js';
import type { StartedReplica } from './replica-kinds.js';

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
