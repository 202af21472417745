/**
 * Finds a law by name or path and loads it: `--law pid-q16` (a shipped law), `--law ./my-law.js`
 * or `--law ./my-law.ts` (a user's module whose default export, or export `law`, is a defineLaw()
 * result). Shipped laws live in src/laws/NAME/ (law.ts and its C twin law.c, in the package too),
 * where a user can copy them: change the import of defineLaw to 'tmr'.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pidQ16 from '../laws/pid-q16/law.js';
import tank from '../laws/tank/law.js';
import { LawError, type LawDefinition } from './law.js';
import { loadLaw, type LoadedLaw } from './law-runtime.js';

const SHIPPED: Readonly<Record<string, LawDefinition<never>>> = { 'pid-q16': pidQ16 as LawDefinition<never>, tank: tank as LawDefinition<never> };
export const SHIPPED_LAWS = ['pid-q16', 'tank'] as const;
export type ShippedLawName = (typeof SHIPPED_LAWS)[number];
export const DEFAULT_LAW: ShippedLawName = 'pid-q16';
const loadedShipped = new Map<string, LoadedLaw>();

/** A shipped law, loaded once (its load-time checks run on first use). */
export function shippedLaw(name: ShippedLawName): LoadedLaw {
  let law = loadedShipped.get(name);
  if (law === undefined) {
    law = loadLaw(SHIPPED[name], `law ${name}`);
    loadedShipped.set(name, law);
  }
  return law;
}

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
  const dir = join(packageRoot(), 'src', 'laws', name);
  return { ts: join(dir, 'law.ts'), c: join(dir, 'law.c') };
}

/** Checks that a law path names a readable module file; returns its absolute path. */
export function lawModulePath(ref: string, cwd = process.cwd(), label = '--law'): string {
  const path = resolve(cwd, ref);
  if (!LAW_MODULE_EXTENSIONS.includes(extname(path))) {
    throw new LawError(`${label} ${ref}: neither a shipped law (${SHIPPED_LAWS.join(', ')}) nor a .js or .ts file`);
  }
  let stats;
  try {
    stats = statSync(path);
  } catch {
    throw new LawError(`${label} ${ref}: no such file (${path})`);
  }
  if (!stats.isFile()) throw new LawError(`${label} ${ref}: not a regular file (${path})`);
  return path;
}

/** Imports a .js or .ts module file (a law, a plant): tsx loads TypeScript when tmr runs compiled. */
export async function importModule(path: string): Promise<Record<string, unknown>> {
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

export function resolveLawReference(ref: string, cwd = process.cwd(), label = '--law'): LawReference {
  if (isShippedLaw(ref)) return { ref, path: shippedLawSources(ref).ts, shipped: ref };
  return { ref, path: lawModulePath(ref, cwd, label), shipped: null };
}

/**
 * Imports and loads a law (NAME or PATH). Every failure is a LawError with one line naming the
 * law or file and what is wrong: a missing file, a module that throws while loading, no law
 * exported, a malformed declaration, or a law that fails its load-time checks.
 */
/** `label` names where the reference came from in errors: '--law' or 'run.json: law'. */
export async function importLaw(ref: string, cwd = process.cwd(), label = '--law'): Promise<LoadedLaw & { readonly reference: LawReference }> {
  const reference = resolveLawReference(ref, cwd, label);
  if (reference.shipped !== null) return Object.assign(shippedLaw(reference.shipped), { reference });
  let module: Record<string, unknown>;
  try {
    module = await importModule(reference.path);
  } catch (error) {
    const detail = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new LawError(`${label} ${ref}: the module failed to load: ${detail}`);
  }
  const candidate = module.default ?? module.law;
  const loaded = loadLaw(candidate, `${label} ${ref}`);
  loaded.source = reference.path;
  loaded.moduleExports = module;
  return Object.assign(loaded, { reference });
}
