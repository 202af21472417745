#!/usr/bin/env bash
# Makes sure the Debian packages the tests need are present: socat (pseudo-terminal pairs for the
# simulated boards), the AVR toolchain and emulator library (the Uno firmware in simavr), and etcd
# (the cluster that elects the primary of redundant voters; test/setup/etcd-cluster.ts starts it).
# As root it installs what is missing with apt-get; otherwise it stops with one line naming the
# packages to install. Run by `npm test` and by .ci/run, so nothing has to be installed by hand.
set -euo pipefail

# package name, then the file or command that shows it is installed
checks=(
  "socat cmd:socat"
  "make cmd:make"
  "gcc cmd:cc"
  "pkg-config cmd:pkg-config"
  "gcc-avr cmd:avr-gcc"
  "binutils-avr cmd:avr-objcopy"
  "avr-libc file:/usr/lib/avr/include/avr/io.h"
  "libsimavr-dev file:/usr/include/simavr/sim_avr.h"
  "libelf-dev file:/usr/include/libelf.h"
  "etcd-server cmd:etcd"
  "etcd-client cmd:etcdctl"
  "iproute2 cmd:ip"
)

missing=()
for check in "${checks[@]}"; do
  package=${check%% *}
  probe=${check#* }
  case $probe in
    cmd:*) command -v "${probe#cmd:}" >/dev/null 2>&1 || missing+=("$package") ;;
    file:*) [ -e "${probe#file:}" ] || missing+=("$package") ;;
  esac
done
[ ${#missing[@]} -eq 0 ] && exit 0

# simavr brings the emulator command next to the library; install it with the library.
for p in "${missing[@]}"; do [ "$p" = libsimavr-dev ] && missing+=(simavr); done

if [ "$(id -u)" -ne 0 ]; then
  echo "tests need Debian packages that are not installed: ${missing[*]} (as root: apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "installing Debian packages the tests need: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
install() { apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; }
if ! install; then
  echo "apt-get could not install them from its current lists; running apt-get update and trying again"
  apt-get update >/dev/null
  install
fi
