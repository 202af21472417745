#!/bin/sh
# Prints flash and RAM use of each ELF against the part's limits, and fails past them.
# usage: size-report.sh AVR_SIZE FLASH_BYTES RAM_BYTES ELF...
set -eu
size_tool=$1 flash_max=$2 ram_max=$3
shift 3
status=0
for elf in "$@"; do
  # Berkeley format: text data bss dec hex filename
  set -- $($size_tool -B "$elf" | tail -n 1)
  text=$1 data=$2 bss=$3
  flash=$((text + data))
  ram=$((data + bss))
  printf '%s: flash %d of %d bytes (%d%%), static RAM %d of %d bytes (%d%%), %d bytes left for the stack\n' \
    "$(basename "$elf")" "$flash" "$flash_max" $((flash * 100 / flash_max)) "$ram" "$ram_max" \
    $((ram * 100 / ram_max)) $((ram_max - ram))
  if [ "$flash" -gt "$flash_max" ] || [ "$ram" -gt "$ram_max" ]; then status=1; fi
done
exit $status
