/* The project's seeded PRNG, bit-identical to src/core/prng.ts: xoshiro128** whose state is
 * seeded by a textbook splitmix32 stream. Used by the law's self-test and the test vectors;
 * the control path never draws. */
#ifndef TMR_PRNG_H
#define TMR_PRNG_H
#include <stdint.h>

typedef struct {
  uint32_t s[4];
} prng_t;

void prng_seed(prng_t *prng, uint32_t seed);
uint32_t prng_next_u32(prng_t *prng);
/* Uniform-ish in [0, bound) for 1 <= bound <= 2^21: (next * bound) >> 32. */
uint32_t prng_next_below(prng_t *prng, uint32_t bound);
/* lo + next_below(hi - lo + 1), both inclusive, hi - lo < 2^21. */
int32_t prng_next_int(prng_t *prng, int32_t lo, int32_t hi);

/* deriveSeed of src/core/prng.ts: an independent seed for stream `stream` of `seed` (faults use
 * prng_derive_seed(param, start_tick)). */
uint32_t prng_derive_seed(uint32_t seed, uint32_t stream);

#endif
