import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** How to start a Node replica: compiled JavaScript when we are compiled, tsx when run from source. */
export function nodeReplicaCommand(): { command: string; args: string[] } {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.ts')) {
    return { command: process.execPath, args: ['--import', import.meta.resolve('tsx'), join(dirname(here), '../replica/replica-main.ts')] };
  }
  return { command: process.execPath, args: [join(dirname(here), '../replica/replica-main.js')] };
}
