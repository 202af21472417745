/**
 * The layers, read off the source tree (README "How it is built"): the deterministic loop
 * (src/loop) stands on core, protocol and law only; the real-time shell (src/runtime) does not
 * reach into the simulator; a replica does not reach into the host's runtime; src/ does not load
 * hil/ or firmware-sim/. A small scanner reads every `from '…'`, `import '…'`, `import('…')` and
 * `new URL('…', import.meta.url)` (the static part of a template) and resolves relative ones to
 * repository paths.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Folders of src/ that files in src/loop may import. */
const LOOP_MAY_IMPORT = ['src/core/', 'src/protocol/', 'src/law/', 'src/loop/'];
/** Anything else a loop file imports, by file: the black-box log writes its file and encodes CBOR. */
const LOOP_EXTRA: Readonly<Record<string, readonly string[]>> = { 'src/loop/black-box.ts': ['node:fs', 'cbor-x'] };
/**
 * Known offenders: src/ loading hil/ and firmware-sim/ (the CLI's `tmr hil`, `--actuator firmata`
 * and the firmware-sim replica kinds). Whoever removes one removes it here.
 */
const KNOWN_SRC_TO_OUTSIDE = [
  'src/cli/tmr.ts -> firmware-sim/replica-kinds',
  'src/cli/tmr.ts -> hil/actuator-path',
  'src/cli/tmr.ts -> hil/hil-cli',
];

const SPECIFIER =
  /\bfrom\s+(['"])([^'"]+)\1|\bimport\s+(['"])([^'"]+)\3|\bimport\s*\(\s*(['"])([^'"]+)\5\s*\)|\bnew URL\(\s*(['"`])([^'"`$]+)[^'"`]*\7\s*,\s*import\.meta\.url/g;

interface Edge {
  readonly from: string;
  /** A repository path without its extension, or a package or node: built-in as written. */
  readonly to: string;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(posix.join(ROOT, dir), { withFileTypes: true })) {
    const path = posix.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(path));
    else if (/\.m?ts$/.test(entry.name)) out.push(path);
  }
  return out.sort();
}

/** Comments out: block comments whole, and lines that are a line comment. */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
}

function importsOf(file: string, text: string): Edge[] {
  const edges: Edge[] = [];
  for (const m of code(text).matchAll(SPECIFIER)) {
    const spec = m[2] ?? m[4] ?? m[6] ?? m[8];
    if (spec === undefined) continue;
    const to = spec.startsWith('.') ? posix.normalize(posix.join(posix.dirname(file), spec)).replace(/\.(m?[jt]s)?$/, '') : spec;
    edges.push({ from: file, to });
  }
  return edges;
}

const EDGES = sourceFiles('src').flatMap((file) => importsOf(file, readFileSync(posix.join(ROOT, file), 'utf8')));
const show = (e: Edge): string => `${e.from} -> ${e.to}`;
const under = (folder: string) => (path: string) => path.startsWith(`${folder}/`);

describe('the import scanner', () => {
  it('reads static, type-only, re-exported, dynamic and URL imports', () => {
    const text = [
      "import { a } from '../core/assert.js';",
      "import type { B } from './b.js';",
      "export { c } from '../protocol/c.js';",
      "import 'node:fs';",
      "// import { d } from '../sim/d.js';",
      "const m = await import('../../hil/e.js');",
      'const n = await import(new URL(`../../firmware-sim/f.${extension}`, import.meta.url).href);',
    ].join('\n');
    expect(importsOf('src/loop/x.ts', text).map((e) => e.to)).toEqual([
      'src/core/assert',
      'src/loop/b',
      'src/protocol/c',
      'node:fs',
      'hil/e',
      'firmware-sim/f',
    ]);
  });

  it('finds the source tree', () => {
    expect(EDGES.some((e) => e.from === 'src/loop/loop-model.ts' && e.to === 'src/core/tmr-core')).toBe(true);
  });
});

describe('the layers', () => {
  it('src/loop imports only core, protocol, law and src/loop (black-box: also node:fs and cbor-x)', () => {
    const outside = EDGES.filter((e) => under('src/loop')(e.from))
      .filter((e) => !LOOP_MAY_IMPORT.some((folder) => e.to.startsWith(folder)) && !(LOOP_EXTRA[e.from] ?? []).includes(e.to))
      .map(show);
    expect(outside).toEqual([]);
  });

  it('src/core imports only src/core', () => {
    expect(EDGES.filter((e) => under('src/core')(e.from) && !under('src/core')(e.to)).map(show)).toEqual([]);
  });

  it('src/runtime imports nothing from src/sim', () => {
    expect(EDGES.filter((e) => under('src/runtime')(e.from) && under('src/sim')(e.to)).map(show)).toEqual([]);
  });

  it('src/replica imports nothing from src/runtime', () => {
    expect(EDGES.filter((e) => under('src/replica')(e.from) && under('src/runtime')(e.to)).map(show)).toEqual([]);
  });

  it('src/ loads hil/ and firmware-sim/ only where known (the CLI, for now)', () => {
    const outside = EDGES.filter((e) => under('hil')(e.to) || under('firmware-sim')(e.to)).map(show);
    expect(outside).toEqual(KNOWN_SRC_TO_OUTSIDE);
  });
});
