/**
 * Pre-shared key files for authenticated links (secure-channel.ts). A key file holds the key as
 * hexadecimal text (64 to 512 digits: 32 to 256 bytes), surrounding white space ignored, and is
 * readable by its owner alone (mode 0600 or stricter), as ssh asks of a private key. `tmr key FILE`
 * writes a fresh one. The key is never printed: messages name it by its key id.
 */
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { InputFileError, readInputText } from '../loop/input-file.js';
import { KEY_BYTES_MAX, KEY_BYTES_MIN, keyIdHex } from './secure-channel.js';

export class KeyFileError extends Error {
  override readonly name = 'KeyFileError';
}

/** A key read from its file, and its id (what messages print). */
export interface PreSharedKey {
  readonly key: Uint8Array;
  readonly id: string;
  readonly path: string;
}

const KEY_FILE_BYTES_MAX = 4096;
/** Bytes `tmr key` writes. */
export const NEW_KEY_BYTES = 32;

/** Reads and checks a key file; a bad one is a KeyFileError of one line naming `what` and the path. */
export function readKeyFile(path: string, what: string): PreSharedKey {
  let text: string;
  try {
    // The mode is checked on the descriptor that is read, before a byte of the key is.
    text = readInputText(path, what, KEY_FILE_BYTES_MAX, ({ mode }) => {
      if ((mode & 0o077) !== 0) {
        throw new InputFileError(`${what} ${path}: readable or writable by others (mode ${(mode & 0o777).toString(8).padStart(4, '0')}); a key file must be its owner's alone (chmod 600 ${path})`);
      }
    });
  } catch (error) {
    if (error instanceof InputFileError) throw new KeyFileError(error.message);
    throw error;
  }
  const hexText = text.trim();
  if (!/^[0-9a-fA-F]*$/.test(hexText) || hexText.length % 2 !== 0) {
    throw new KeyFileError(`${what} ${path}: not a key (expected ${KEY_BYTES_MIN * 2} to ${KEY_BYTES_MAX * 2} hexadecimal digits; tmr key FILE writes one)`);
  }
  const bytes = hexText.length / 2;
  if (bytes < KEY_BYTES_MIN || bytes > KEY_BYTES_MAX) {
    throw new KeyFileError(`${what} ${path}: a key of ${bytes} bytes; it must have ${KEY_BYTES_MIN} to ${KEY_BYTES_MAX} (${KEY_BYTES_MIN * 2} to ${KEY_BYTES_MAX * 2} hexadecimal digits)`);
  }
  const key = Uint8Array.from(Buffer.from(hexText, 'hex'));
  return { key, id: keyIdHex(key), path };
}

/** Writes a fresh random key to a new file (mode 0600; an existing file is never overwritten). Returns its id. */
export function writeNewKeyFile(path: string): string {
  const key = randomBytes(NEW_KEY_BYTES);
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new KeyFileError(code === 'EEXIST' ? `${path}: already exists; tmr key never overwrites a key file` : `${path}: cannot create (${code ?? String(error)})`);
  }
  try {
    writeSync(fd, `${key.toString('hex')}\n`);
  } finally {
    closeSync(fd);
  }
  return keyIdHex(key);
}
