import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dieWithParent } from './child-lifetime.js';

/** A standby collects the garbage of its self-warm-up before it waits (replica-main). */
const NODE_FLAGS = ['--expose-gc'];

/**
 * How to start a Node replica: compiled JavaScript whenever it is built (a replica that starts
 * through a TypeScript loader takes several times longer, and restarts must be fast); tsx from
 * source only when there is no build (npm test and npm start always build first). It dies with
 * the process that starts it (child-lifetime.ts): a replica stopped by a hang fault would not
 * notice its stdin closing when the voter is killed.
 */
export function nodeReplicaCommand(): { command: string; args: string[] } {
  const { command, args } = dieWithParent(nodeCommand());
  return { command, args: [...args] };
}

function nodeCommand(): { command: string; args: string[] } {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.ts')) {
    const compiled = join(dirname(here), '../../dist/src/replica/replica-main.js');
    if (existsSync(compiled)) return { command: process.execPath, args: [...NODE_FLAGS, compiled] };
    return { command: process.execPath, args: [...NODE_FLAGS, '--import', import.meta.resolve('tsx'), join(dirname(here), '../replica/replica-main.ts')] };
  }
  return { command: process.execPath, args: [...NODE_FLAGS, join(dirname(here), '../replica/replica-main.js')] };
}
