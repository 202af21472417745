/**
 * Hosts for tests that spread voters and replicas over a network: Linux network namespaces made
 * by the test itself, each with one veth into a bridge in a "switch" namespace, every address
 * inside them (10.77.0.0/24; nothing is added to the machine's own namespace). Without the
 * privileges for that (not root, no netns), the same hosts are all 127.0.0.1.
 *
 * Every namespace is named tmr-PID-NAME (PID: the test process). cleanup() kills what was started
 * in them and deletes them; a sweep at the next makeHosts() deletes any left by a test process
 * that is gone (killed before its cleanup ran).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dieWithParent } from '../../src/runtime/child-lifetime.js';
import { killTree } from './cli.js';
import { processExists } from './processes.js';

export interface Hosts {
  /** 'netns': real namespaces; 'loopback': every host is this one. */
  readonly kind: 'netns' | 'loopback';
  /** The address a host is reached at. */
  address(host: string): string;
  /** argv prefix that runs a command on `host` (empty on loopback). */
  prefix(host: string): readonly string[];
  /** Starts `node ARGV` on a host; the process is killed by cleanup() if still running. */
  spawnNode(host: string, argv: readonly string[]): ChildProcess;
  /** Cuts `host` off from `peer` (both directions) until heal(); a no-op on loopback (returns false). */
  partition(host: string, peer: string): boolean;
  heal(host: string, peer: string): void;
  cleanup(): Promise<void>;
}

const SUBNET = '10.77.0';
const PREFIX = 'tmr-';

function ip(args: readonly string[]): void {
  execFileSync('ip', [...args], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
}

function namespaces(): string[] {
  try {
    return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8', timeout: 10_000 })
      .split('\n')
      .map((line) => line.split(' ')[0] ?? '')
      .filter((name) => name.startsWith(PREFIX));
  } catch {
    return [];
  }
}

/** Deletes namespaces of ours whose test process is gone. */
export function sweepStaleNamespaces(): string[] {
  const removed: string[] = [];
  for (const name of namespaces()) {
    const pid = Number(/^tmr-(\d+)-/.exec(name)?.[1]);
    if (!Number.isInteger(pid) || pid === process.pid || processExists(pid)) continue;
    killIn(name);
    try {
      ip(['netns', 'del', name]);
      removed.push(name);
    } catch {
      // someone else removed it
    }
  }
  return removed;
}

/** Kills every process inside a namespace (by the PIDs `ip netns pids` names). */
function killIn(name: string): void {
  try {
    const pids = execFileSync('ip', ['netns', 'pids', name], { encoding: 'utf8', timeout: 10_000 }).split(/\s+/).filter(Boolean).map(Number);
    for (const pid of pids) killTree(pid);
  } catch {
    // gone
  }
}

function canMakeNamespaces(): boolean {
  if (process.getuid?.() !== 0) return false;
  const probe = `${PREFIX}${process.pid}-probe`;
  try {
    ip(['netns', 'add', probe]);
    ip(['netns', 'del', probe]);
    return true;
  } catch {
    return false;
  }
}

/** Hosts named `names` (letters and digits, at most 8 characters each); `loopback`: all this one, even where namespaces could be made. */
export function makeHosts(names: readonly string[], options: { readonly loopback?: boolean } = {}): Hosts {
  for (const name of names) if (!/^[a-z0-9]{1,8}$/.test(name)) throw new Error(`test bug: host name '${name}'`);
  if (names.length > 200) throw new Error('test bug: too many hosts');
  const started: ChildProcess[] = [];
  const spawnWith = (prefix: readonly string[], argv: readonly string[]): ChildProcess => {
    // It dies with this process (setpriv --pdeathsig, exec'd in place by `ip netns exec`): a test
    // killed outright leaves no server behind.
    const node = dieWithParent({ command: process.execPath, args: argv });
    const [command, ...args] = [...prefix, node.command, ...node.args];
    const child = spawn(command as string, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    started.push(child);
    return child;
  };
  const stopStarted = async (): Promise<void> => {
    for (const child of started) if (child.exitCode === null && child.signalCode === null) killTree(child.pid);
    await Promise.all(started.map((child) => (child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', resolve)))));
  };
  sweepStaleNamespaces();
  if (options.loopback === true || !canMakeNamespaces()) {
    return {
      kind: 'loopback',
      address: () => '127.0.0.1',
      prefix: () => [],
      spawnNode: (_host, argv) => spawnWith([], argv),
      partition: () => false,
      heal: () => {},
      cleanup: stopStarted,
    };
  }
  const tag = `${PREFIX}${process.pid}`;
  const ns = (host: string): string => `${tag}-${host}`;
  const switchNs = `${tag}-sw`;
  const made: string[] = [];
  const addresses = new Map<string, string>();
  const cleanup = async (): Promise<void> => {
    await stopStarted();
    for (const name of made.splice(0).reverse()) {
      killIn(name);
      try {
        ip(['netns', 'del', name]);
      } catch {
        // already gone
      }
    }
  };
  try {
    ip(['netns', 'add', switchNs]);
    made.push(switchNs);
    ip(['-n', switchNs, 'link', 'add', 'br0', 'type', 'bridge']);
    ip(['-n', switchNs, 'link', 'set', 'br0', 'up']);
    names.forEach((host, i) => {
      ip(['netns', 'add', ns(host)]);
      made.push(ns(host));
      // Interface names: at most 15 characters; the peer in the switch is renamed there.
      const inHost = `v${process.pid % 100_000}h${i}`;
      const inSwitch = `v${process.pid % 100_000}s${i}`;
      ip(['link', 'add', inHost, 'netns', ns(host), 'type', 'veth', 'peer', 'name', inSwitch, 'netns', switchNs]);
      ip(['-n', switchNs, 'link', 'set', inSwitch, 'master', 'br0']);
      ip(['-n', switchNs, 'link', 'set', inSwitch, 'up']);
      ip(['-n', ns(host), 'link', 'set', inHost, 'name', 'eth0']);
      const address = `${SUBNET}.${i + 1}`;
      ip(['-n', ns(host), 'addr', 'add', `${address}/24`, 'dev', 'eth0']);
      ip(['-n', ns(host), 'link', 'set', 'eth0', 'up']);
      ip(['-n', ns(host), 'link', 'set', 'lo', 'up']);
      addresses.set(host, address);
    });
  } catch (error) {
    void cleanup();
    throw new Error(`making network namespaces failed: ${(error as { stderr?: Buffer }).stderr?.toString().trim() ?? String(error)}`);
  }
  const addressOf = (host: string): string => {
    const address = addresses.get(host);
    if (address === undefined) throw new Error(`test bug: no host '${host}'`);
    return address;
  };
  return {
    kind: 'netns',
    address: addressOf,
    prefix: (host) => ['ip', 'netns', 'exec', ns(host)],
    spawnNode: (host, argv) => spawnWith(['ip', 'netns', 'exec', ns(host)], argv),
    partition(host, peer) {
      ip(['-n', ns(host), 'route', 'add', 'blackhole', `${addressOf(peer)}/32`]);
      ip(['-n', ns(peer), 'route', 'add', 'blackhole', `${addressOf(host)}/32`]);
      return true;
    },
    heal(host, peer) {
      ip(['-n', ns(host), 'route', 'del', 'blackhole', `${addressOf(peer)}/32`]);
      ip(['-n', ns(peer), 'route', 'del', 'blackhole', `${addressOf(host)}/32`]);
    },
    cleanup,
  };
}

/** Waits for a line matching `pattern` on a child's stdout (or stderr); rejects with what it printed if it exits or `timeoutMs` passes. */
export function lineFrom(child: ChildProcess, pattern: RegExp, timeoutMs: number, stream: 'stdout' | 'stderr' = 'stdout'): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const text = { stdout: '', stderr: '' };
    const timer = setTimeout(() => reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms; stdout: ${text.stdout}; stderr: ${text.stderr}`)), timeoutMs);
    for (const name of ['stdout', 'stderr'] as const) {
      child[name]?.on('data', (c: Buffer) => {
        text[name] += c.toString();
        if (name !== stream) return;
        const match = pattern.exec(text[name]);
        if (match !== null) {
          clearTimeout(timer);
          resolve(match);
        }
      });
    }
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`exited (${signal ?? code}) before a line matching ${pattern}; stderr: ${text.stderr}`));
    });
  });
}

/** The process's command name (/proc/PID/comm), or null once it is gone. */
export function commandOf(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return null;
  }
}

/** A free TCP port on 127.0.0.1: bound and released (another process may take it in between, rarely). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
