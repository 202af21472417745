#!/bin/sh
# Prints flash and RAM use of each ELF against the part's limits, and fails past them. RAM counts
# .data, .bss and .noinit (what the stack cannot have).
# usage: size-report.sh AVR_SIZE FLASH_BYTES RAM_BYTES LAW ELF...
set -eu
size_tool=$1 flash_max=$2 ram_max=$3 law=$4
shift 4
status=0
for elf in "$@"; do
  # System V format: one line per section, name then size.
  sections=$($size_tool -A "$elf")
  flash=$(echo "$sections" | awk '$1 == ".text" || $1 == ".data" { s += $2 } END { print s + 0 }')
  ram=$(echo "$sections" | awk '$1 == ".data" || $1 == ".bss" || $1 == ".noinit" { s += $2 } END { print s + 0 }')
  printf '%s (law %s): flash %d of %d bytes (%d%%), static RAM %d of %d bytes (%d%%), %d bytes left for the stack\n' \
    "$(basename "$elf")" "$law" "$flash" "$flash_max" $((flash * 100 / flash_max)) "$ram" "$ram_max" \
    $((ram * 100 / ram_max)) $((ram_max - ram))
  if [ "$flash" -gt "$flash_max" ] || [ "$ram" -gt "$ram_max" ]; then status=1; fi
done
exit $status
