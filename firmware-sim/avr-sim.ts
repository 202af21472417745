/**
 * Emulated Arduino Unos: our unchanged firmware ELF (boards/uno) running in simavr through the
 * harness in firmware-sim/avr, whose UART0 is bridged to a pseudo-terminal. The host opens
 * `hostPath` with serialport exactly as it would open a real Uno's /dev/ttyACM0.
 *
 * The firmware is built for one law (boards/uno/Makefile, LAW=): an emulated Uno runs a shipped
 * law by name (src/laws/NAME/law.c, built into boards/uno/build/NAME). The launcher builds the
 * firmware and the harness with make when they are missing or stale (make decides; a lock keeps
 * parallel test workers from building at once), reads the board profile, and owns every harness
 * process it starts (stopped by PID).
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { DEFAULT_LAW, isShippedLaw, SHIPPED_LAWS, shippedLawSources, type ShippedLawName } from '../src/law/law-loader.js';
import { OwnedProcess } from './owned-process.js';

const run = promisify(execFile);

export const REPO_ROOT = fileURLToPath(new URL(import.meta.url.includes('/dist/') ? '../../' : '../', import.meta.url));
export const UNO_DIR = join(REPO_ROOT, 'boards', 'uno');
export const HARNESS_DIR = join(REPO_ROOT, 'firmware-sim', 'avr');
export const HARNESS_PATH = join(HARNESS_DIR, 'build', 'tmr-avr-sim');
const BUILD_LOCK = join(tmpdir(), 'tmr-avr-build.lock');
const BUILD_TIMEOUT_MS = 180_000;

/** Debian packages the AVR toolchain and emulator come from. */
export const AVR_PACKAGES = ['gcc-avr', 'avr-libc', 'binutils-avr', 'simavr', 'libsimavr-dev', 'libelf-dev', 'make', 'gcc', 'pkg-config'] as const;

/** Something the emulator needs is not installed; the message names the packages. */
export class AvrToolchainMissing extends Error {
  override readonly name = 'AvrToolchainMissing';
}

/**
 * The board profile (boards/uno/profile.json), as the runtime reads it. An image's `elf` and `hex`
 * are relative to boards/uno, with `{law}` standing for the law's name (the Makefile's build/NAME).
 */
export interface BoardProfile {
  readonly board: string;
  readonly mcu: string;
  readonly clockHz: number;
  readonly images: readonly { baudRate: number; elf: string; hex: string; tickRateHzMax: number }[];
  readonly defaultBaudRate: number;
  readonly resetMethod: string;
  readonly testHooks: { eepromAddress: number; eepromHex: string };
}

export function readUnoProfile(): BoardProfile {
  const path = join(UNO_DIR, 'profile.json');
  const profile = JSON.parse(readFileSync(path, 'utf8')) as BoardProfile;
  if (profile.testHooks.eepromAddress !== 0) throw new Error(`${path}: testHooks.eepromAddress must be 0 (the harness writes from address 0)`);
  return profile;
}

export function unoImage(profile: BoardProfile, baudRate: number, law: ShippedLawName = DEFAULT_LAW): { baudRate: number; elfPath: string; tickRateHzMax: number } {
  const image = profile.images.find((i) => i.baudRate === baudRate);
  if (image === undefined) {
    throw new Error(`board ${profile.board} has no firmware image for ${baudRate} baud (it has ${profile.images.map((i) => i.baudRate).join(', ')})`);
  }
  return { baudRate, elfPath: join(UNO_DIR, image.elf.replaceAll('{law}', law)), tickRateHzMax: image.tickRateHzMax };
}

/** A shipped law's name for the firmware; anything else is refused with the names there are. */
export function firmwareLaw(name: string | undefined): ShippedLawName {
  if (name === undefined) return DEFAULT_LAW;
  if (!isShippedLaw(name)) throw new Error(`the Uno firmware is built for a shipped law (${SHIPPED_LAWS.join(', ')}), got '${name}'`);
  return name;
}

/** Which of the tools and headers the build needs are missing (empty if none). */
export function missingAvrTools(): string[] {
  const missing: string[] = [];
  const onPath = (tool: string): boolean => (process.env.PATH ?? '').split(':').some((dir) => dir !== '' && existsSync(join(dir, tool)));
  for (const tool of ['avr-gcc', 'avr-objcopy', 'avr-size', 'make', 'cc', 'pkg-config']) if (!onPath(tool)) missing.push(tool);
  if (!existsSync('/usr/lib/avr/include/avr/io.h')) missing.push('avr-libc headers');
  if (!existsSync('/usr/include/simavr/sim_avr.h')) missing.push('simavr headers');
  if (!existsSync('/usr/include/libelf.h') && !existsSync('/usr/include/gelf.h')) missing.push('libelf headers');
  return missing;
}

const built = new Map<ShippedLawName, Promise<void>>();

/**
 * Builds the law's firmware images (boards/uno/build/LAW) and the harness if missing or stale.
 * Safe to call from parallel processes (an flock around make) and repeatedly (once per process
 * and law).
 */
export function ensureAvrBuilt(law: ShippedLawName = DEFAULT_LAW): Promise<void> {
  let done = built.get(law);
  if (done !== undefined) return done;
  done = (async () => {
    const missing = missingAvrTools();
    if (missing.length > 0) {
      throw new AvrToolchainMissing(`the AVR emulator needs ${missing.join(', ')}: install with apt-get install ${AVR_PACKAGES.join(' ')}`);
    }
    const steps: [string, string[]][] = [
      [UNO_DIR, ['firmware', `LAW=${shippedLawSources(law).c}`]],
      [HARNESS_DIR, ['all']],
    ];
    for (const [dir, args] of steps) {
      try {
        await run('flock', ['-w', String(BUILD_TIMEOUT_MS / 1000), BUILD_LOCK, 'make', '-s', '-C', dir, ...args], { timeout: BUILD_TIMEOUT_MS });
      } catch (error) {
        const e = error as { stderr?: string; message: string };
        throw new Error(`building ${dir} (${args.join(' ')}) failed: ${(e.stderr ?? e.message).trim().split('\n').slice(-6).join(' | ')}`);
      }
    }
  })();
  built.set(law, done);
  done.catch(() => built.delete(law));
  return done;
}

export interface AvrSimOptions {
  readonly name?: string;
  /** Baud rate of the firmware image (the profile lists the images); the profile's default if absent. */
  readonly baudRate?: number;
  /** Enable the firmware's fault-injection hooks (the EEPROM magic of the profile). Default true. */
  readonly testHooks?: boolean;
  /** The shipped law the firmware is built with (src/laws/NAME/law.c); pid-q16 if absent. */
  readonly law?: string;
}

/** Layout 1 of the firmware's `tmr_diag` (boards/common/board.h). */
export interface FirmwareDiag {
  testHooks: boolean;
  resetFlags: number;
  configured: boolean;
  tickCyclesMax: number;
  tickCyclesLast: number;
  ticksStepped: number;
  framesAccepted: number;
  framesRefused: number;
  framesOverlong: number;
  rxOverflowBytes: number;
  stackUnusedMinBytes: number;
  bootCount: number;
}

export function decodeFirmwareDiag(bytes: Buffer): FirmwareDiag {
  if (bytes.length < 36 || bytes[0] !== 1) throw new Error(`tmr_diag: expected layout 1 of 36 bytes, got ${bytes.length} bytes, layout ${bytes[0]}`);
  return {
    testHooks: bytes[1] === 1,
    resetFlags: bytes[2]!,
    configured: bytes[3] === 1,
    tickCyclesMax: bytes.readUInt32LE(4),
    tickCyclesLast: bytes.readUInt32LE(8),
    ticksStepped: bytes.readUInt32LE(12),
    framesAccepted: bytes.readUInt32LE(16),
    framesRefused: bytes.readUInt32LE(20),
    framesOverlong: bytes.readUInt32LE(24),
    rxOverflowBytes: bytes.readUInt32LE(28),
    stackUnusedMinBytes: bytes.readUInt16LE(32),
    bootCount: bytes.readUInt16LE(34),
  };
}

const COMMAND_TIMEOUT_MS = 5_000;

/** One emulated Uno: a harness process running the firmware, on its own pseudo-terminal. */
export class AvrSim {
  private replies: { prefix: string; resolve: (line: string) => void; reject: (e: Error) => void }[] = [];
  private stdoutRest = '';

  private constructor(
    readonly name: string,
    readonly baudRate: number,
    /** The law the firmware runs. */
    readonly law: ShippedLawName,
    private readonly harness: OwnedProcess,
    /** Where the host opens the board, as it would open /dev/ttyACM0. */
    readonly hostPath: string,
  ) {
    harness.child.stdout!.on('data', (chunk: Buffer) => this.onStdout(chunk.toString()));
    harness.child.once('exit', () => {
      for (const r of this.replies.splice(0)) r.reject(new Error(`${name}: emulator exited`));
    });
  }

  static async start(options: AvrSimOptions = {}): Promise<AvrSim> {
    const law = firmwareLaw(options.law);
    await ensureAvrBuilt(law);
    const profile = readUnoProfile();
    const image = unoImage(profile, options.baudRate ?? profile.defaultBaudRate, law);
    const name = options.name ?? 'avr-sim';
    const args = ['--elf', image.elfPath, '--mcu', profile.mcu, '--freq-hz', String(profile.clockHz)];
    if (options.testHooks ?? true) args.push('--eeprom-hex', profile.testHooks.eepromHex);
    const harness = await OwnedProcess.start(name, { command: HARNESS_PATH, args }, /^pty \/dev\//);
    const hostPath = harness.readyLine.slice('pty '.length).trim();
    return new AvrSim(name, image.baudRate, law, harness, hostPath);
  }

  get pid(): number | undefined {
    return this.harness.child.pid;
  }

  get stderr(): string {
    return this.harness.stderr;
  }

  private onStdout(text: string): void {
    this.stdoutRest += text;
    let newline: number;
    while ((newline = this.stdoutRest.indexOf('\n')) >= 0) {
      const line = this.stdoutRest.slice(0, newline);
      this.stdoutRest = this.stdoutRest.slice(newline + 1);
      const at = this.replies.findIndex((r) => line.startsWith(r.prefix) || line.startsWith('error '));
      if (at >= 0) {
        const [reply] = this.replies.splice(at, 1);
        if (line.startsWith('error ')) reply!.reject(new Error(`${this.name}: ${line}`));
        else reply!.resolve(line);
      }
    }
  }

  private command(text: string, replyPrefix: string): Promise<string> {
    if (!this.harness.running) return Promise.reject(new Error(`${this.name}: emulator not running`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name}: no answer to '${text}' within ${COMMAND_TIMEOUT_MS} ms`)), COMMAND_TIMEOUT_MS);
      this.replies.push({
        prefix: replyPrefix,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.harness.child.stdin!.write(`${text}\n`);
    });
  }

  /** Presses the reset button: the MCU restarts from its reset vector (EEPROM kept). */
  async reset(): Promise<void> {
    await this.command('reset', 'ok reset');
  }

  /** Reads the firmware's diagnostic counters from its RAM. */
  async diag(): Promise<FirmwareDiag> {
    const line = await this.command('peek tmr_diag', 'peek tmr_diag ');
    const hex = line.split(' ')[4] ?? '';
    return decodeFirmwareDiag(Buffer.from(hex, 'hex'));
  }

  /**
   * The diagnostic counters once the firmware has set them up after a reset (layout 1), polled:
   * how much wall time a boot takes depends on how fast a busy machine runs the emulator.
   */
  async diagWhenBooted(timeoutMs = 10_000): Promise<FirmwareDiag> {
    const deadlineMs = Date.now() + timeoutMs;
    // Bounded by timeoutMs: past it, the bytes read are decoded as they are (a named error).
    for (;;) {
      const bytes = Buffer.from(await this.peek('tmr_diag'), 'hex');
      if (bytes[0] === 1 || Date.now() >= deadlineMs) return decodeFirmwareDiag(bytes);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** The bytes of a data symbol in the firmware's RAM, as hex (little-endian, as stored). */
  async peek(symbol: string): Promise<string> {
    const line = await this.command(`peek ${symbol}`, `peek ${symbol} `);
    return line.split(' ')[4] ?? '';
  }

  /** Test hook: overwrites a data symbol's RAM with `hex` (its exact size), as an upset would. */
  async poke(symbol: string, hex: string): Promise<void> {
    await this.command(`poke ${symbol} ${hex}`, `ok poke ${symbol}`);
  }

  /** The lowest stack pointer the emulator has seen since it started (an SRAM address). */
  async lowestStackPointer(): Promise<number> {
    const line = await this.command('stack', 'stack ');
    return Number(line.split(' ')[1]);
  }

  signal(signal: NodeJS.Signals): boolean {
    return this.harness.signal(signal);
  }

  async stop(): Promise<void> {
    if (this.harness.running) this.harness.child.stdin!.write('quit\n');
    await this.harness.stop();
  }
}
