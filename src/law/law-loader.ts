/**
 * Finds a law by name or path and loads it: `--law pid-q16` (a shipped law), `--law ./my-law.js`
 * or `--law ./my-law.ts` (a user's module whose default export, or export `law`, is a defineLaw()
 * result). Shipped laws live in examples/NAME/ (law.ts and its C twin law.c), where a user can
 * copy them; the runtime finds them by that convention and never imports examples/ statically.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { LawError } from './law.js';
import { loadLaw, type LoadedLaw } from './law-runtime.js';

export const SHIPPED_LAWS = ['pid-q16', 'tank'] as const;
export type ShippedLawName = (typeof SHIPPED_LAWS)[number];
export const DEFAULT_LAW: ShippedLawName = 'pid-q16';

const LAW_MODULE_EXTENSIONS = ['.js', '.mjs', '.ts', '.mts'];
/** Running from TypeScript source (vitest, tsx): the module loader already takes .ts files. */
const RUNNING_FROM_SOURCE = import.meta.url.endsWith('.ts');

/** The package's root folder (the one holding its package.json), from this module's own place. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 6; depth++) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name === 'tmr') return dir;
    dir = dirname(dir);
  }
  throw new LawError('cannot find the tmr package root from its own modules');
}

export function isShippedLaw(ref: string): ref is ShippedLawName {
  return (SHIPPED_LAWS as readonly string[]).includes(ref);
}

/** The source files of a shipped law: its TypeScript module and its C twin. */
export function shippedLawSources(name: ShippedLawName): { readonly ts: string; readonly c: string } {
  const dir = join(packageRoot(), 'examples', name);
  return { ts: join(dir, 'law.ts'), c: join(dir, 'law.c') };
}

/** The module to import for a shipped law: the compiled one when running compiled code. */
function shippedLawModule(name: ShippedLawName): string {
  if (RUNNING_FROM_SOURCE) return shippedLawSources(name).ts;
  return join(packageRoot(), 'dist', 'examples', name, 'law.js');
}

/** Checks that a law path names a readable module file; returns its absolute path. */
export function lawModulePath(ref: string, cwd = process.cwd()): string {
  const path = resolve(cwd, ref);
  if (!LAW_MODULE_EXTENSIONS.includes(extname(path))) {
    throw new LawError(`--law ${ref}: neither a shipped law (${SHIPPED_LAWS.join(', ')}) nor a .js or .ts file`);
  }
  let stats;
  try {
    stats = statSync(path);
  } catch {
    throw new LawError(`--law ${ref}: no such file (${path})`);
  }
  if (!stats.isFile()) throw new LawError(`--law ${ref}: not a regular file (${path})`);
  return path;
}

async function importModule(path: string): Promise<Record<string, unknown>> {
  const ext = extname(path);
  if ((ext === '.ts' || ext === '.mts') && !RUNNING_FROM_SOURCE) {
    // Compiled tmr and a TypeScript law: tsx loads it (and the tmr it imports) without a build step.
    const { tsImport } = await import('tsx/esm/api');
    return (await tsImport(pathToFileURL(path).href, import.meta.url)) as Record<string, unknown>;
  }
  return (await import(pathToFileURL(path).href)) as Record<string, unknown>;
}

export interface LawReference {
  /** What the user typed. */
  readonly ref: string;
  /** The module file loaded. */
  readonly path: string;
  /** The shipped law's name, or null for a user's file. */
  readonly shipped: ShippedLawName | null;
}

export function resolveLawReference(ref: string, cwd = process.cwd()): LawReference {
  if (isShippedLaw(ref)) return { ref, path: shippedLawModule(ref), shipped: ref };
  return { ref, path: lawModulePath(ref, cwd), shipped: null };
}

/**
 * Imports and loads a law (NAME or PATH). Every failure is a LawError with one line naming the
 * law or file and what is wrong: a missing file, a module that throws while loading, no law
 * exported, a malformed declaration, or a law that fails its load-time checks.
 */
export async function importLaw(ref: string, cwd = process.cwd()): Promise<LoadedLaw & { readonly reference: LawReference }> {
  const reference = resolveLawReference(ref, cwd);
  let module: Record<string, unknown>;
  try {
    module = await importModule(reference.path);
  } catch (error) {
    const detail = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new LawError(`--law ${ref}: the module failed to load: ${detail}`);
  }
  const candidate = module.default ?? module.law;
  const loaded = loadLaw(candidate, `--law ${ref}`);
  return Object.assign(loaded, { reference });
}
