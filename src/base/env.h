/*
 * env.h — reading gomap's environment variables (GOMAP_HASH_SEED in rand.c,
 * GOMAP_CHECK in misuse.c).
 *
 * Values are parsed strictly: a value that is not exactly one of the
 * accepted forms is ignored as a whole (never half-read), the safe default
 * is kept, and one line on stderr says so, once per variable per process
 * whichever thread meets the value first:
 *
 *   gomap: ignoring NAME="VALUE": <what was expected>; <what is used instead>
 *
 * VALUE is printed with bytes outside printable ASCII, '"' and '\' escaped
 * (\xNN, \", \\) and cut after 64 bytes ("..."), so the line stays one line.
 */
#ifndef GOMAP_ENV_H
#define GOMAP_ENV_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* Parses s as a whole: a decimal number (leading zeros allowed) or "0x" /
 * "0X" and hexadecimal digits (either case), with a value below 2^64.
 * Nothing else: no sign, no space, no suffix, not empty. Stores the value
 * in *out and returns true, or returns false and leaves *out alone. */
bool gomap__env_parse_u64(const char *s, uint64_t *out);

/* True if s equals word (lower-case ASCII) ignoring ASCII case, whatever
 * the locale. */
bool gomap__env_word_is(const char *s, const char *word);

/* The warning for a value that was ignored, printed only by the call that
 * turns *once (a static flag per variable, initially false) to true.
 * `expected` and `instead` complete the line (see above). */
void gomap__env_warn_once(atomic_bool *once, const char *name, const char *value,
                          const char *expected, const char *instead);

#endif /* GOMAP_ENV_H */
