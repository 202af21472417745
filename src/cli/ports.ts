/**
 * `tmr ports`: the serial ports this machine has, for choosing `--replica serial:PATH`.
 *
 * serialport enumerates ports through udev (`udevadm info -e`) on Linux. Where udev is missing
 * (containers, CI) SerialPort.list() fails with `spawn udevadm ENOENT` — it rejects, and per our
 * notes it has also thrown uncaught. Listing never crashes the command: a failure is one line
 * saying why, the device nodes found by reading /dev are listed instead, and the exit code stays 0.
 */
import { accessSync, constants, readdirSync, readlinkSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';

/** What SerialPort.list() reports for one port; only `path` is guaranteed. */
export interface PortInfo {
  readonly path: string;
  readonly manufacturer?: string | undefined;
  readonly serialNumber?: string | undefined;
  readonly vendorId?: string | undefined;
  readonly productId?: string | undefined;
  readonly pnpId?: string | undefined;
}

export interface PortListSources {
  /** Enumerates ports; SerialPort.list() by default. */
  readonly list?: () => Promise<readonly PortInfo[]>;
  /** Where device nodes live; /dev by default. */
  readonly devDirectory?: string;
  /** Give up on enumeration after this long. */
  readonly listTimeoutMs?: number;
}

/** udevadm answers in well under a second; a hung one must not hang the command. */
const LIST_TIMEOUT_MS_DEFAULT = 5_000;
/** Device nodes listed from /dev at most (a machine with hundreds of USB adapters is unusual). */
const DEV_NODES_MAX = 256;

type ListResult = { readonly ok: true; readonly ports: readonly PortInfo[] } | { readonly ok: false; readonly reason: string };

/** The text `tmr ports` prints: a table of ports, or one line on why they cannot be listed, then device nodes. */
export async function listPorts(sources: PortListSources = {}): Promise<string> {
  const devDirectory = sources.devDirectory ?? '/dev';
  const result = await enumerate(sources.list ?? defaultList, sources.listTimeoutMs ?? LIST_TIMEOUT_MS_DEFAULT);
  const nodes = deviceNodes(devDirectory);
  const lines: string[] = [];
  if (result.ok) {
    if (result.ports.length === 0) lines.push('serial ports: none found');
    else lines.push('serial ports:', ...table(result.ports));
    const listed = new Set(result.ports.map((port) => port.path));
    const extra = nodes.filter((node) => !listed.has(node.target ?? node.path) && !listed.has(node.path));
    if (extra.length > 0) lines.push(`also in ${devDirectory}:`, ...extra.map(formatNode));
  } else {
    lines.push(`serial ports cannot be listed here: ${result.reason}`);
    if (nodes.length === 0) lines.push(`no ttyACM*, ttyUSB* or serial/by-id/* device nodes in ${devDirectory}`);
    else lines.push(`device nodes in ${devDirectory}:`, ...nodes.map(formatNode));
  }
  return `${lines.join('\n')}\n`;
}

async function defaultList(): Promise<readonly PortInfo[]> {
  // Loaded when listing, not when this module is imported (tests inject their own list).
  const { SerialPort } = await import('serialport');
  if (process.platform === 'linux' && !onPath('udevadm')) {
    throw Object.assign(new Error('udevadm is not installed (spawn udevadm ENOENT)'), { code: 'ENOENT' });
  }
  return SerialPort.list();
}

/**
 * Runs `list` with every way it can fail caught: a synchronous throw, a rejection, a hang (the
 * timeout) and an uncaught exception thrown from inside it while it runs (only errors that name
 * udevadm are taken; anything else is left to the process's own handling).
 */
async function enumerate(list: () => Promise<readonly PortInfo[]>, timeoutMs: number): Promise<ListResult> {
  let timer: NodeJS.Timeout | undefined;
  let onUncaught: ((error: Error) => void) | undefined;
  const failed = new Promise<ListResult>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, reason: `enumeration did not finish within ${timeoutMs} ms` }), timeoutMs);
    onUncaught = (error: Error) => {
      if (/udevadm/.test(String(error.message))) {
        resolve({ ok: false, reason: reasonOf(error) });
        return;
      }
      // Not ours: if nobody else handles uncaught exceptions, crash as the process would have.
      if (process.listenerCount('uncaughtException') === 1) {
        process.off('uncaughtException', onUncaught!);
        process.nextTick(() => {
          throw error;
        });
      }
    };
    process.on('uncaughtException', onUncaught);
  });
  const listed = (async (): Promise<ListResult> => {
    try {
      return { ok: true, ports: await list() };
    } catch (error) {
      return { ok: false, reason: reasonOf(error) };
    }
  })();
  try {
    return await Promise.race([listed, failed]);
  } finally {
    clearTimeout(timer);
    if (onUncaught !== undefined) process.off('uncaughtException', onUncaught);
  }
}

function reasonOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  if (code === 'ENOENT' && /udevadm/.test(message) && !/not installed/.test(message)) return `udevadm is not installed (${message})`;
  return message.replace(/\s+/g, ' ').trim() || 'unknown error';
}

function onPath(command: string): boolean {
  for (const directory of (process.env['PATH'] ?? '').split(delimiter)) {
    if (directory === '') continue;
    try {
      accessSync(join(directory, command), constants.X_OK);
      return true;
    } catch {
      // not here
    }
  }
  return false;
}

interface DeviceNode {
  readonly path: string;
  /** Where a /dev/serial/by-id link points, resolved; null for a plain node. */
  readonly target: string | null;
}

/** /dev/ttyACM*, /dev/ttyUSB* and /dev/serial/by-id/*, read from the directory itself. */
function deviceNodes(devDirectory: string): DeviceNode[] {
  const nodes: DeviceNode[] = [];
  for (const name of readNames(devDirectory).sort(naturalOrder)) {
    if (/^tty(ACM|USB)\d+$/.test(name)) nodes.push({ path: join(devDirectory, name), target: null });
  }
  const byId = join(devDirectory, 'serial', 'by-id');
  for (const name of readNames(byId).sort(naturalOrder)) {
    const path = join(byId, name);
    let target: string | null = null;
    try {
      target = resolve(byId, readlinkSync(path));
    } catch {
      // not a link: listed as it is
    }
    nodes.push({ path, target });
  }
  return nodes.slice(0, DEV_NODES_MAX);
}

function readNames(directory: string): string[] {
  try {
    return readdirSync(directory);
  } catch {
    return [];
  }
}

function naturalOrder(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

function formatNode(node: DeviceNode): string {
  return node.target === null ? `  ${node.path}` : `  ${node.path} -> ${node.target}`;
}

const COLUMNS: readonly { readonly title: string; readonly value: (port: PortInfo) => string | undefined }[] = [
  { title: 'PATH', value: (port) => port.path },
  { title: 'MANUFACTURER', value: (port) => port.manufacturer },
  { title: 'SERIAL NUMBER', value: (port) => port.serialNumber },
  { title: 'VID:PID', value: (port) => (port.vendorId === undefined && port.productId === undefined ? undefined : `${port.vendorId ?? '?'}:${port.productId ?? '?'}`) },
  { title: 'PNP ID', value: (port) => port.pnpId },
];

function table(ports: readonly PortInfo[]): string[] {
  const cell = (text: string | undefined): string => (text === undefined || text === '' ? '-' : text.replace(/\s+/g, ' '));
  const rows = [COLUMNS.map((column) => column.title), ...ports.map((port) => COLUMNS.map((column) => cell(column.value(port))))];
  const widths = COLUMNS.map((_, i) => Math.max(...rows.map((row) => (row[i] as string).length)));
  return rows.map((row) => `  ${row.map((text, i) => (i === row.length - 1 ? text : text.padEnd(widths[i] as number))).join('  ')}`);
}
