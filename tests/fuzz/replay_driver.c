/*
 * replay_driver.c — runs a fuzz target without libFuzzer, so every build
 * (including the ASan and TSan ones) exercises it.
 *
 * With no arguments: 2000 random inputs (500 under ThreadSanitizer) of
 * 0..2048 bytes, generated from
 * test_seed() (GOMAP_TEST_SEED reproduces a run). With file arguments: each
 * file is run as one input (for example a crash file saved by libFuzzer).
 * If an input fails, the target aborts; the driver's abort handler first
 * names the input (index and length) and writes its bytes to
 * replay-failure.bin in the current directory.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* write() */
#endif
#include "check.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define INPUTS (2000 / WORK_DIV)
#define MAX_LEN 2048

static uint8_t input[MAX_LEN];
static volatile size_t input_len;
static volatile long input_index = -1;

/* Output for the abort handler. It runs once, on the way down after a
 * failed check; write() is async-signal-safe, saving the input with stdio is
 * best effort. */
static void put(const char *s)
{
    ssize_t r = write(2, s, strlen(s));
    (void)r;
}

static void put_num(unsigned long v)
{
    char buf[24];
    size_t i = sizeof buf;
    buf[--i] = 0;
    do {
        buf[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v && i > 0);
    put(buf + i);
}

static void on_abort(int sig)
{
    (void)sig;
    if (input_index >= 0) {
        put("replay: failing input #");
        put_num((unsigned long)input_index);
        put(", ");
        put_num((unsigned long)input_len);
        put(" bytes, saved to replay-failure.bin\n");
        FILE *f = fopen("replay-failure.bin", "wb");
        if (f) {
            fwrite(input, 1, input_len, f);
            fclose(f);
        }
    }
    signal(SIGABRT, SIG_DFL);
    raise(SIGABRT);
}

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return 1;
    }
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    CHECK(buf != NULL);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            CHECK(buf != NULL);
        }
    }
    fclose(f);
    printf("replay %s (%zu bytes)\n", path, n);
    fflush(stdout);
    LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        int rc = 0;
        for (int i = 1; i < argc; i++)
            rc |= run_file(argv[i]);
        return rc;
    }
    uint64_t rng = test_seed();
    signal(SIGABRT, on_abort);
    size_t total = 0;
    for (long i = 0; i < INPUTS; i++) {
        size_t len = (size_t)test_rand_below(&rng, MAX_LEN + 1);
        for (size_t j = 0; j < len; j++)
            input[j] = (uint8_t)test_rand(&rng);
        input_len = len;
        input_index = i;
        LLVMFuzzerTestOneInput(input, len);
        total += len;
    }
    printf("replayed %d random inputs (%zu bytes)\n", (int)INPUTS, total);
    return 0;
}
