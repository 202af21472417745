#include "prng.h"

static uint32_t fmix32(uint32_t z) {
  z = (z ^ (z >> 16)) * 0x85ebca6bu;
  z = (z ^ (z >> 13)) * 0xc2b2ae35u;
  return z ^ (z >> 16);
}

static uint32_t rotl32(uint32_t x, unsigned k) { return (x << k) | (x >> (32u - k)); }

void prng_seed(prng_t *prng, uint32_t seed) {
  uint32_t x = seed;
  for (unsigned i = 0; i < 4; i++) {
    x += 0x9e3779b9u;
    prng->s[i] = fmix32(x);
  }
  if ((prng->s[0] | prng->s[1] | prng->s[2] | prng->s[3]) == 0) prng->s[0] = 1;
}

uint32_t prng_next_u32(prng_t *prng) {
  uint32_t *s = prng->s;
  const uint32_t result = rotl32(s[1] * 5u, 7) * 9u;
  const uint32_t t = s[1] << 9;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl32(s[3], 11);
  return result;
}

uint32_t prng_next_below(prng_t *prng, uint32_t bound) {
  return (uint32_t)(((uint64_t)prng_next_u32(prng) * bound) >> 32);
}

int32_t prng_next_int(prng_t *prng, int32_t lo, int32_t hi) {
  return lo + (int32_t)prng_next_below(prng, (uint32_t)(hi - lo) + 1u);
}

static uint32_t splitmix32(uint32_t x) { return fmix32(x + 0x9e3779b9u); }

uint32_t prng_derive_seed(uint32_t seed, uint32_t stream) {
  return splitmix32(splitmix32(seed) ^ (stream * 0x9e3779b1u));
}
