// Test helpers for tmr-avr-sim: start the harness, talk to its stdin/stdout, read its pty.
// Plain Node ESM; only node builtins and serialport. Every wait is bounded by a timeout.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { SerialPort } from 'serialport';

export const lineBytesMax = 64 * 1024;
export const portBufferBytesMax = 256 * 1024;

export function parseArgs(argv, defaults) {
  const options = { ...defaults };
  for (let i = 2; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '');
    if (!(key in options) || i + 1 >= argv.length) throw new Error(`usage: --harness PATH --elf PATH`);
    options[key] = argv[i + 1];
  }
  return options;
}

export function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
}

export function percentile(sortedValues, fraction) {
  const index = Math.min(sortedValues.length - 1, Math.floor(fraction * sortedValues.length));
  return sortedValues[index];
}

// A started harness: lines from its stdout, commands to its stdin, its exit.
export class Harness {
  constructor(harnessPath, args) {
    this.child = spawn(harnessPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.lines = [];
    this.lineWaiters = [];
    this.stderrText = '';
    this.exited = once(this.child, 'exit').then(([code, signal]) => ({ code, signal }));
    let partial = '';
    this.child.stdout.setEncoding('utf8');
    this.child.stdout.on('data', (text) => {
      partial += text;
      if (partial.length > lineBytesMax) throw new Error('harness stdout line too long');
      let newline;
      while ((newline = partial.indexOf('\n')) >= 0) {
        this.lines.push(partial.slice(0, newline));
        partial = partial.slice(newline + 1);
      }
      this.wakeLineWaiters();
    });
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (text) => {
      if (this.stderrText.length < lineBytesMax) this.stderrText += text;
    });
    this.child.stdin.on('error', () => {}); // EPIPE after the harness exits; the exit code tells
  }

  wakeLineWaiters() {
    const waiters = this.lineWaiters;
    this.lineWaiters = [];
    for (const wake of waiters) wake();
  }

  // Next stdout line matching `predicate` (others are kept for later calls).
  async nextLine(predicate = () => true, timeoutMs = 2000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.lines.findIndex(predicate);
      if (index >= 0) return this.lines.splice(index, 1)[0];
      const leftMs = deadline - Date.now();
      if (leftMs <= 0) throw new Error(`no matching harness line within ${timeoutMs} ms; have ${JSON.stringify(this.lines)}`);
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, leftMs);
        this.lineWaiters.push(() => { clearTimeout(timer); resolve(); });
      });
    }
  }

  async command(line, replyPrefix, timeoutMs = 2000) {
    this.child.stdin.write(`${line}\n`);
    return this.nextLine((l) => l.startsWith(replyPrefix), timeoutMs);
  }

  async ptyPath(timeoutMs = 2000) {
    const line = await this.nextLine((l) => l.startsWith('pty '), timeoutMs);
    check(/^pty \/dev\/pts\/\d+$/.test(line), `ready line format: ${line}`);
    return line.slice(4);
  }

  async waitExit(timeoutMs = 2000) {
    const timeout = new Promise((resolve) => setTimeout(() => resolve(null), timeoutMs).unref());
    const result = await Promise.race([this.exited, timeout]);
    if (result === null) {
      this.kill();
      throw new Error(`harness did not exit within ${timeoutMs} ms`);
    }
    return result;
  }

  kill() {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      try { process.kill(this.child.pid, 'SIGKILL'); } catch { /* already gone */ }
    }
  }
}

// An open serial port with a bounded receive buffer.
export class Port {
  static async open(path, baudRate) {
    const port = new Port(new SerialPort({ path, baudRate, autoOpen: false }));
    await new Promise((resolve, reject) => port.serial.open((error) => (error ? reject(error) : resolve())));
    return port;
  }

  constructor(serial) {
    this.serial = serial;
    this.received = Buffer.alloc(0);
    this.waiters = [];
    serial.on('data', (chunk) => {
      this.received = Buffer.concat([this.received, chunk]);
      if (this.received.length > portBufferBytesMax) throw new Error('port receive buffer overflow');
      const waiters = this.waiters;
      this.waiters = [];
      for (const wake of waiters) wake();
    });
  }

  write(bytes) {
    this.serial.write(bytes);
  }

  // Resolves with exactly `count` bytes, removed from the receive buffer.
  async read(count, timeoutMs = 2000) {
    const deadline = Date.now() + timeoutMs;
    while (this.received.length < count) {
      const leftMs = deadline - Date.now();
      if (leftMs <= 0) throw new Error(`read ${this.received.length}/${count} bytes within ${timeoutMs} ms`);
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, leftMs);
        this.waiters.push(() => { clearTimeout(timer); resolve(); });
      });
    }
    const bytes = this.received.subarray(0, count);
    this.received = this.received.subarray(count);
    return Buffer.from(bytes);
  }

  async readLine(timeoutMs = 2000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const newline = this.received.indexOf(0x0a);
      if (newline >= 0) return (await this.read(newline + 1)).toString('latin1').trimEnd();
      const leftMs = deadline - Date.now();
      if (leftMs <= 0) throw new Error(`no line from port within ${timeoutMs} ms; have ${JSON.stringify(this.received.toString('latin1'))}`);
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, leftMs);
        this.waiters.push(() => { clearTimeout(timer); resolve(); });
      });
    }
  }

  async close() {
    if (!this.serial.isOpen) return;
    await new Promise((resolve, reject) => this.serial.close((error) => (error ? reject(error) : resolve())));
  }
}

// Runs `body`; on any failure prints it, kills the harnesses by PID and exits non-zero.
export async function runChecks(name, harnesses, body) {
  try {
    await body();
    console.log(`${name}: ok`);
  } catch (error) {
    console.error(`${name}: FAILED: ${error.stack ?? error}`);
    for (const harness of harnesses) {
      if (harness.stderrText) console.error(`harness stderr:\n${harness.stderrText}`);
      harness.kill();
    }
    process.exit(1);
  }
  for (const harness of harnesses) harness.kill();
}
