/*
 * env.c — strict parsing of gomap's environment variables, and the one-line
 * warning for a value that is ignored (see env.h).
 */
#include "base/env.h"

#include <stdio.h>
#include <string.h>

#include "base/atomics.h"

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool gomap__env_parse_u64(const char *s, uint64_t *out)
{
    unsigned base = 10;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    if (*s == '\0')
        return false;
    uint64_t v = 0;
    for (; *s; s++) {
        int d = hex_digit(*s);
        if (d < 0 || (unsigned)d >= base)
            return false;
        if (v > (UINT64_MAX - (unsigned)d) / base)
            return false; /* v * base + d would pass 2^64 - 1 */
        v = v * base + (unsigned)d;
    }
    *out = v;
    return true;
}

bool gomap__env_word_is(const char *s, const char *word)
{
    for (; *s && *word; s++, word++) {
        char c = *s;
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != *word)
            return false;
    }
    return *s == '\0' && *word == '\0';
}

/* Bytes of the value shown; the rest is replaced by "...". */
#define SHOWN_MAX 64

/* value as it is printed in the warning: escaped, cut, NUL-terminated. */
static void quote_value(const char *value, char *buf, size_t len)
{
    size_t o = 0, i = 0;
    for (; i < SHOWN_MAX && value[i] && o + 5 < len; i++) {
        unsigned char c = (unsigned char)value[i];
        if (c == '"' || c == '\\')
            o += (size_t)snprintf(buf + o, len - o, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            o += (size_t)snprintf(buf + o, len - o, "\\x%02x", c);
        else
            buf[o++] = (char)c;
    }
    if (value[i] && o + 4 <= len)
        o += (size_t)snprintf(buf + o, len - o, "...");
    buf[o] = '\0';
}

void gomap__env_warn_once(atomic_bool *once, const char *name, const char *value,
                          const char *expected, const char *instead)
{
    /* Relaxed: the flag only decides which thread prints; nothing else is
     * published through it. */
    if (exchange_relaxed(once, true))
        return;
    char shown[SHOWN_MAX * 4 + 8];
    quote_value(value, shown, sizeof shown);
    /* One buffer and one fputs, so the line is not interleaved with other
     * threads' output. */
    char line[512];
    snprintf(line, sizeof line, "gomap: ignoring %s=\"%s\": %s; %s\n", name, shown, expected,
             instead);
    fputs(line, stderr);
}
