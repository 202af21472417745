/* law_shape: the linked law's shape, for sizing the Uno firmware's RAM to the one law it is built
 * with (boards/uno/Makefile runs it before compiling the firmware). Built with the host's compiler
 * over the same law source and SDK; not part of the firmware.
 *
 * Prints one line of compiler flags on stdout:
 *   -DTMR_LAW_STATE_STORAGE_BYTES=N   the law's state struct, as sizeof on this host: no smaller
 *                                     than on the AVR (8-bit alignment, 16-bit int and pointers);
 *                                     the firmware's declaration check holds it to that at boot
 *   -DBOARD_LAW_OUTPUTS_MAX=M         the law's output_count (the fault buffers: board.h)
 * and one line on stderr naming the law and its host self-test hash. Exits 1 with the SDK's
 * reason when the declaration is malformed or the self-test finds an output out of range: a law
 * the board would refuse at every boot does not build.
 *
 *   law_shape
 */
#include <inttypes.h>
#include <stdio.h>

#include "law_runtime.h"
#include "tmr_law.h"

int main(void) {
  tmr_law_failure_t failure = {0, 0, 0, 0};
  uint32_t hash = 0;
  const int error = tmr_law_self_test(&hash, &failure);
  if (error != TMR_LAW_OK) {
    fprintf(stderr,
            "law_shape: the law is refused by the SDK: error %d (law_runtime.h), index %u, segment %u, step %u, "
            "value %" PRId32 "\n",
            error, (unsigned)failure.index, (unsigned)failure.segment, (unsigned)failure.step, failure.value);
    return 1;
  }
  printf("-DTMR_LAW_STATE_STORAGE_BYTES=%u -DBOARD_LAW_OUTPUTS_MAX=%u\n", (unsigned)tmr_law.state_struct_bytes,
         (unsigned)tmr_law.output_count);
  fprintf(stderr,
          "law %s v%u: %u inputs, %u outputs, %u params, state %u bytes (struct %u on the host); self-test hash "
          "%08" PRIx32 " on the host\n",
          tmr_law.name, (unsigned)tmr_law.version, (unsigned)tmr_law.input_count, (unsigned)tmr_law.output_count,
          (unsigned)tmr_law.param_count, (unsigned)tmr_law.state_size_bytes, (unsigned)tmr_law.state_struct_bytes,
          hash);
  return 0;
}
