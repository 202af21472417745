/**
 * Child processes that die with the voter. Whatever the voter starts for a replica (a replica
 * process, socat, a simulated board, an emulator, a noise proxy) is stopped by PID when the run
 * ends in order; when the voter is killed outright (SIGKILL, the OOM killer) nothing of it runs,
 * and a child that only watched its stdin for the end could linger: socat never reads its stdin,
 * and a child stopped by a hang fault (SIGSTOP) cannot see it. So every child is started with a
 * parent-death signal (Linux PR_SET_PDEATHSIG, set by util-linux's `setpriv --pdeathsig KILL`,
 * which then execs the program under the same PID): the kernel SIGKILLs it, stopped or not, when
 * the voter dies. util-linux is an essential package on Debian and in every Linux distribution's
 * base; where setpriv is missing (another OS), the command runs as given.
 *
 * The signal fires when the thread that forked the child ends; Node forks from its main thread.
 */
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

export interface ChildCommand {
  readonly command: string;
  readonly args: readonly string[];
}

const SETPRIV = 'setpriv';

let setprivPath: string | null | undefined;

/** setpriv's path on Linux, or null where it is not available (looked up once). */
function findSetpriv(): string | null {
  if (setprivPath !== undefined) return setprivPath;
  setprivPath = null;
  if (process.platform === 'linux') {
    for (const dir of (process.env.PATH ?? '').split(delimiter)) {
      if (dir !== '' && existsSync(join(dir, SETPRIV))) {
        setprivPath = join(dir, SETPRIV);
        break;
      }
    }
  }
  return setprivPath;
}

/** True when children started through dieWithParent() really get a parent-death signal here. */
export function parentDeathSignalAvailable(): boolean {
  return findSetpriv() !== null;
}

/**
 * The same program, started so that the kernel SIGKILLs it when this process dies. The PID the
 * caller gets from spawn is the program's own (setpriv execs it).
 */
export function dieWithParent(child: ChildCommand): ChildCommand {
  const setpriv = findSetpriv();
  if (setpriv === null) return child;
  return { command: setpriv, args: ['--pdeathsig', 'KILL', '--', child.command, ...child.args] };
}
