/* The board logic (src/board.c) built for the host, on stdin/stdout: the same protocol code as
 * the Uno firmware, compiled with the host's compiler and its stricter warnings, so the protocol
 * tests can run it as a replica process without the emulator. Not part of the firmware. */
#define _POSIX_C_SOURCE 200809L
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "board.h"
#include "law_runtime.h"

void hal_send(const uint8_t *bytes, uint8_t length) {
  size_t done = 0;
  while (done < length) {
    const ssize_t n = write(1, bytes + done, length - done);
    if (n <= 0) exit(1);
    done += (size_t)n;
  }
}

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

uint32_t hal_now_us(void) { return (uint32_t)(now_ns() / 1000u); }
uint32_t hal_cycles(void) { return (uint32_t)(now_ns() / 62u); } /* a 16 MHz clock's worth */
void hal_reboot(void) { exit(70); }

int main(int argc, char **argv) {
  const int test_hooks = argc > 1 && strcmp(argv[1], "--test-hooks") == 0;
  uint32_t hash = 0;
  const int law_error = tmr_law_self_test_hash(&hash);
  board_init((uint8_t)test_hooks, law_error, hash);
  uint8_t buffer[256];
  for (;;) {
    struct pollfd in = {0, POLLIN, 0};
    const int ready = poll(&in, 1, 5);
    if (ready > 0) {
      const ssize_t n = read(0, buffer, sizeof buffer);
      if (n <= 0) return 0;
      for (ssize_t i = 0; i < n; i++) board_rx_byte(buffer[i]);
    }
    board_poll();
  }
}
