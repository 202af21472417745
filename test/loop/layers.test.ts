/**
 * The layers, read off the source tree (README "How it is built"): the deterministic loop
 * (src/loop) stands on core, protocol and law only; the real-time shell (src/runtime) does not
 * reach into the simulator; a replica does not reach into the host's runtime; src/ does not load
 * hil/ or firmware-sim/ (they register themselves with the CLI: src/cli/extensions.ts); bin/, the
 * composition root, may import anything and nothing imports it. A small scanner reads every
 * `from '…'`, `import '…'`, `import('…')` and `new URL('…', import.meta.url)` (the static part of
 * a template) and resolves relative ones to repository paths.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Folders of src/ that files in src/loop may import. */
const LOOP_MAY_IMPORT = ['src/core/', 'src/protocol/', 'src/law/', 'src/loop/'];
/** Anything else a loop file imports, by file: the black-box log writes its file and encodes CBOR; an input file is opened. */
const LOOP_EXTRA: Readonly<Record<string, readonly string[]>> = { 'src/loop/black-box.ts': ['node:fs', 'node:zlib', 'cbor-x'], 'src/loop/black-box-reader.ts': ['node:fs', 'node:zlib', 'cbor-x'], 'src/loop/input-file.ts': ['node:fs'] };

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

const edgesOf = (dir: string): Edge[] => sourceFiles(dir).flatMap((file) => importsOf(file, readFileSync(posix.join(ROOT, file), 'utf8')));
const EDGES = edgesOf('src');
/** Everything else that ships: the composition root and the two folders that register themselves. */
const OUTSIDE_EDGES = ['bin', 'firmware-sim', 'hil'].flatMap(edgesOf);
const show = (e: Edge): string => `${e.from} -> ${e.to}`;
const under = (folder: string) => (path: string) => path.startsWith(`${folder}/`);

/** src/ loading hil/ or firmware-sim/ in any way (static, dynamic, by URL). */
const srcLoadingOutside = (edges: readonly Edge[]): string[] => edges.filter((e) => under('src')(e.from) && (under('hil')(e.to) || under('firmware-sim')(e.to))).map(show);
/** Anything but bin/ importing bin/. */
const importingBin = (edges: readonly Edge[]): string[] => edges.filter((e) => !under('bin')(e.from) && under('bin')(e.to)).map(show);

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
    expect(OUTSIDE_EDGES.some((e) => e.from === 'hil/bench.ts' && e.to === 'firmware-sim/replica-kinds')).toBe(true);
  });

  it('the rules below catch what they are about (the checks are not vacuous)', () => {
    const reaching = [
      ...importsOf('src/cli/x.ts', "const m = await import('../../hil/hil-cli.js');"),
      ...importsOf('src/cli/y.ts', 'const n = await import(new URL(`../../firmware-sim/replica-kinds.${extension}`, import.meta.url).href);'),
      ...importsOf('src/cli/z.ts', "import type { A } from '../../firmware-sim/a.js';"),
    ];
    expect(srcLoadingOutside(reaching)).toEqual(['src/cli/x.ts -> hil/hil-cli', 'src/cli/y.ts -> firmware-sim/replica-kinds', 'src/cli/z.ts -> firmware-sim/a']);
    expect(importingBin([...importsOf('hil/x.ts', "import '../bin/tmr.js';"), ...importsOf('bin/y.ts', "import './tmr.js';")])).toEqual(['hil/x.ts -> bin/tmr']);
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

  it('src/ never loads hil/ or firmware-sim/ (they register themselves through bin/)', () => {
    expect(srcLoadingOutside(EDGES)).toEqual([]);
  });

  it('bin/ is the composition root: it may import anything, here both extensions and the CLI', () => {
    const fromBin = OUTSIDE_EDGES.filter((e) => under('bin')(e.from)).map((e) => e.to);
    expect(fromBin).toEqual(expect.arrayContaining(['firmware-sim/extension', 'hil/extension', 'src/cli/tmr']));
  });

  it('nothing imports bin/: not firmware-sim/, hil/ or src/', () => {
    expect(importingBin([...EDGES, ...OUTSIDE_EDGES])).toEqual([]);
  });
});
