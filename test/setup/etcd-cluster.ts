/**
 * A real etcd cluster for tests and the failover trials: Debian's etcd-server (installed by
 * test/setup/system-packages.sh), N members (3 by default) on loopback or, given hosts made by
 * test/helpers/netns.ts, one member per network namespace. Each member has its own data
 * directory under one temporary directory, is started with a parent-death signal (it dies with
 * the test) and is stopped by PID; stop() removes the directory.
 *
 * Timing: heartbeat 50 ms and election timeout 500 ms, so a lease of 1 s is granted as asked
 * (with etcd's defaults the minimum is 2 s; ../shared/notes/redundant-voter.md).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dieWithParent } from '../../src/runtime/child-lifetime.js';
import { freePort, type Hosts } from '../helpers/netns.js';

export const ETCD_HEARTBEAT_MS = 50;
export const ETCD_ELECTION_TIMEOUT_MS = 500;
const START_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 2_000;

export interface EtcdMember {
  readonly name: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  /** The host it runs on (netns), or null on loopback. */
  readonly host: string | null;
  process: ChildProcess | null;
  stderrTail: string;
}

export interface EtcdClusterOptions {
  readonly members?: number;
  /** One member per host, in order (netns); absent: every member on 127.0.0.1. */
  readonly hosts?: { readonly hosts: Hosts; readonly names: readonly string[] };
}

export class EtcdCluster {
  private constructor(
    readonly members: EtcdMember[],
    private readonly dir: string,
    private readonly initialCluster: string,
    private readonly hosts: EtcdClusterOptions['hosts'],
  ) {}

  /** The client URLs of every member, for a client. */
  get endpoints(): string[] {
    return this.members.map((m) => m.clientUrl);
  }

  static async start(options: EtcdClusterOptions = {}): Promise<EtcdCluster> {
    const count = options.hosts?.names.length ?? options.members ?? 3;
    if (!(count >= 1 && count <= 7)) throw new Error(`test bug: an etcd cluster of ${count} members`);
    const dir = mkdtempSync(join(tmpdir(), 'tmr-etcd-'));
    const members: EtcdMember[] = [];
    for (let i = 0; i < count; i++) {
      const host = options.hosts?.names[i] ?? null;
      const address = host === null ? '127.0.0.1' : options.hosts!.hosts.address(host);
      // In a namespace of its own every port is free; on loopback, ask the system.
      const clientPort = host === null ? await freePort() : 2379;
      const peerPort = host === null ? await freePort() : 2380;
      members.push({ name: `m${i}`, clientUrl: `http://${address}:${clientPort}`, peerUrl: `http://${address}:${peerPort}`, host, process: null, stderrTail: '' });
    }
    const initialCluster = members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
    const cluster = new EtcdCluster(members, dir, initialCluster, options.hosts);
    try {
      members.forEach((_, i) => cluster.startMember(i, 'new'));
      await cluster.waitHealthy(START_TIMEOUT_MS);
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  /** Starts member i (again, after kill(): with its data directory, state 'existing'). */
  startMember(i: number, state: 'new' | 'existing' = 'existing'): void {
    const m = this.members[i]!;
    if (m.process !== null) throw new Error(`test bug: etcd member ${m.name} is running`);
    const args = [
      '--name', m.name,
      '--data-dir', join(this.dir, m.name),
      '--listen-client-urls', m.clientUrl,
      '--advertise-client-urls', m.clientUrl,
      '--listen-peer-urls', m.peerUrl,
      '--initial-advertise-peer-urls', m.peerUrl,
      '--initial-cluster', this.initialCluster,
      '--initial-cluster-state', state,
      '--initial-cluster-token', `tmr-${process.pid}`,
      '--heartbeat-interval', String(ETCD_HEARTBEAT_MS),
      '--election-timeout', String(ETCD_ELECTION_TIMEOUT_MS),
      '--log-level', 'error',
    ];
    const command = dieWithParent({ command: 'etcd', args });
    const prefix = m.host === null ? [] : this.hosts!.hosts.prefix(m.host);
    const [file, ...rest] = [...prefix, command.command, ...command.args];
    const child = spawn(file as string, rest, { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr!.on('data', (c: Buffer) => (m.stderrTail = (m.stderrTail + c.toString()).slice(-2048)));
    child.once('exit', () => {
      if (m.process === child) m.process = null;
    });
    m.process = child;
  }

  /** SIGKILLs member i (it can be started again with startMember(i)). */
  async kill(i: number): Promise<void> {
    const child = this.members[i]!.process;
    if (child === null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
  }

  /** Waits until every running member answers its health endpoint. */
  async waitHealthy(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const running = this.members.filter((m) => m.process !== null);
      const healthy = await Promise.all(running.map((m) => this.healthy(m)));
      if (running.length > 0 && healthy.every(Boolean)) return;
      const dead = this.members.find((m) => m.process === null);
      if (Date.now() > deadline || (dead !== undefined && running.length === 0)) {
        throw new Error(`etcd cluster not healthy within ${timeoutMs} ms: ${this.members.map((m) => `${m.name}: ${m.process === null ? 'exited' : 'running'} ${m.stderrTail.trim().split('\n').pop() ?? ''}`).join('; ')}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  private async healthy(m: EtcdMember): Promise<boolean> {
    // The health endpoint is HTTP; from a namespace it is reached through `ip netns exec … etcdctl`.
    if (m.host !== null) {
      return new Promise((resolve) => {
        const [file, ...rest] = [...this.hosts!.hosts.prefix(m.host!), 'etcdctl', '--endpoints', m.clientUrl, '--dial-timeout', '1s', 'endpoint', 'health'];
        const child = spawn(file as string, rest, { stdio: 'ignore', env: { ...process.env, ETCDCTL_API: '3' } });
        child.once('exit', (code) => resolve(code === 0));
        child.once('error', () => resolve(false));
      });
    }
    try {
      const response = await fetch(`${m.clientUrl}/health`, { signal: AbortSignal.timeout(1_000) });
      return response.ok && ((await response.json()) as { health?: string }).health === 'true';
    } catch {
      return false;
    }
  }

  /** Stops every member (SIGTERM, SIGKILL after a grace) and removes the data directories. */
  async stop(): Promise<void> {
    await Promise.all(
      this.members.map(async (m) => {
        const child = m.process;
        if (child === null) return;
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
        await exited;
        clearTimeout(timer);
      }),
    );
    rmSync(this.dir, { recursive: true, force: true });
  }
}
