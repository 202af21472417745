/**
 * Opening a file a user names as input (a config, a black-box log, a scenario): it must be a
 * regular file, and its size is checked before anything is read, so a device (/dev/zero), a FIFO
 * or a directory is one named error instead of an unbounded read or a hang.
 *
 * Loop layer (src/loop/): node:fs only.
 */
import { closeSync, constants, fstatSync, openSync, readSync, statSync } from 'node:fs';

export class InputFileError extends Error {
  override readonly name = 'InputFileError';
}

/** What an errno means to a person, for the errors an input file can give. */
function errnoText(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOENT':
      return 'no such file (ENOENT)';
    case 'EACCES':
    case 'EPERM':
      return `permission denied (${code})`;
    case 'EISDIR':
      return 'a directory, not a file (EISDIR)';
    case 'ENOTDIR':
      return 'a part of the path is not a directory (ENOTDIR)';
    default:
      return `cannot read (${code ?? (error instanceof Error ? error.message : String(error))})`;
  }
}

function kindOf(stats: { isDirectory(): boolean; isFIFO(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isSocket(): boolean }): string {
  if (stats.isDirectory()) return 'a directory';
  if (stats.isFIFO()) return 'a FIFO';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  if (stats.isSocket()) return 'a socket';
  return 'not a regular file';
}

export interface OpenedInput {
  readonly fd: number;
  readonly sizeBytes: number;
  /** Its mode bits (permissions included), from the same fstat. */
  readonly mode: number;
}

/**
 * Opens `path` for reading if it is a regular file of at most `maxBytes`. The type is checked by
 * stat before the open (opening a FIFO would block until a writer came) and again by fstat on the
 * descriptor (the name could have been swapped in between); O_NONBLOCK keeps even that open from
 * blocking. `what` names the input in errors ("--config", "log").
 */
export function openInputFile(path: string, what: string, maxBytes: number): OpenedInput {
  let fd: number;
  try {
    const before = statSync(path);
    if (!before.isFile()) throw new InputFileError(`${what} ${path}: ${kindOf(before)}, not a regular file`);
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    if (error instanceof InputFileError) throw error;
    throw new InputFileError(`${what} ${path}: ${errnoText(error)}`);
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw new InputFileError(`${what} ${path}: ${kindOf(stats)}, not a regular file`);
    if (stats.size > maxBytes) throw new InputFileError(`${what} ${path}: ${stats.size} bytes, more than the ${maxBytes} allowed`);
    return { fd, sizeBytes: stats.size, mode: stats.mode };
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}

/**
 * Reads a whole regular file of at most `maxBytes` (checked before reading) as UTF-8. `check`, if
 * given, sees the opened file before anything is read and may refuse it (an InputFileError).
 */
export function readInputText(path: string, what: string, maxBytes: number, check?: (opened: OpenedInput) => void): string {
  const opened = openInputFile(path, what, maxBytes);
  const { fd, sizeBytes } = opened;
  try {
    check?.(opened);
    const buffer = Buffer.alloc(sizeBytes);
    let used = 0;
    // Bounded: the file was at most maxBytes when opened; a file that grows is read to that size.
    while (used < sizeBytes) {
      const n = readSync(fd, buffer, used, sizeBytes - used, null);
      if (n === 0) break;
      used += n;
    }
    return buffer.toString('utf8', 0, used);
  } catch (error) {
    if (error instanceof InputFileError) throw error;
    throw new InputFileError(`${what} ${path}: ${errnoText(error)}`);
  } finally {
    closeSync(fd);
  }
}
