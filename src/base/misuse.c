/*
 * misuse.c — the fatal report for detected misuse, and the fault handler.
 *
 * The report goes to stderr in one write, first line Go's exact message:
 *
 *   fatal error: concurrent map writes
 *
 *   map 0x...: u64 keys, 8-byte values, check mode strict
 *   this thread: 4242 "writer-b", detected in <call site>
 *     #0 ...symbolized backtrace...
 *   other thread: 4241 "writer-a" holds the write mark; it entered the
 *     write at <call site>
 *   header: count=... B=... buckets=... overflow=... growing=...
 *   <compact heatmap>
 *
 * Symbols come from libbacktrace (DWARF, so static functions and file:line
 * too) when the build found it, else from glibc's backtrace_symbols.
 *
 * The report knows nothing of the structure it concerns: its caller passes
 * a subject (misuse.h) that marks the structure, so that the other writer
 * stops at the end of its write, and prints what it is (core/map_fault.c
 * for a core map: header and compact heatmap, read while the other thread
 * may still be writing).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gomap/diag.h>

#if GOMAP_HAVE_LIBBACKTRACE
#include <backtrace.h>
#else
#include <execinfo.h>
#endif

#include "base/assert.h"
#include "base/atomics.h"
#include "base/compiler.h"
#include "base/env.h"
#include "base/misuse.h"

_Thread_local struct gomap__thread gomap__self_rec __attribute__((tls_model("initial-exec")));

void gomap__thread_init(struct gomap__thread *t)
{
    store_relaxed(&t->tid, (uint64_t)gettid());
}

#if GOMAP_CHECK_DEFAULT_STRICT
#define BUILD_CHECK_MODE GOMAP_CHECK_STRICT
#define BUILD_CHECK_NOTE "using the default check mode, strict"
#else
#define BUILD_CHECK_MODE GOMAP_CHECK_FAST
#define BUILD_CHECK_NOTE "using the default check mode, fast"
#endif

static atomic_bool check_warned;

/* GOMAP_CHECK, read at each creation with GOMAP_CHECK_AUTO: a mode name in
 * any case. Anything else keeps the build's default, with a warning printed
 * once per process (a misspelt "strict" must not quietly mean fast). */
int gomap__check_mode_default(void)
{
    static const struct {
        const char *name;
        int mode;
    } names[] = {
        {"off", GOMAP_CHECK_OFF},
        {"fast", GOMAP_CHECK_FAST},
        {"strict", GOMAP_CHECK_STRICT},
    };
    const char *env = getenv("GOMAP_CHECK");
    if (!env)
        return BUILD_CHECK_MODE;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (gomap__env_word_is(env, names[i].name))
            return names[i].mode;
    gomap__env_warn_once(&check_warned, "GOMAP_CHECK", env,
                         "expected off, fast or strict (in any case)", BUILD_CHECK_NOTE);
    return BUILD_CHECK_MODE;
}

/* ---- fault handler -------------------------------------------------------- */

static pthread_mutex_t handler_lock = PTHREAD_MUTEX_INITIALIZER;
static gomap_fault_fn handler_fn;
static void *handler_ctx;

void gomap_set_fault_handler(gomap_fault_fn fn, void *ctx)
{
    pthread_mutex_lock(&handler_lock);
    handler_fn = fn;
    handler_ctx = ctx;
    pthread_mutex_unlock(&handler_lock);
}

typedef struct {
    gomap_fault_fn fn;
    void *ctx;
    const gomap_fault *fault;
} handler_call;

static void *run_handler(void *arg)
{
    handler_call *c = arg;
    c->fn(c->fault, c->ctx);
    return NULL;
}

/* Runs the handler on a thread of its own and waits for it (30 s at most):
 * whatever it does, control never returns to the faulting thread. */
static void call_handler(const gomap_fault *f)
{
    pthread_mutex_lock(&handler_lock);
    handler_call c = {handler_fn, handler_ctx, f};
    pthread_mutex_unlock(&handler_lock);
    if (!c.fn)
        return;
    pthread_t t;
    if (pthread_create(&t, NULL, run_handler, &c) != 0) {
        run_handler(&c); /* no thread to be had: run it here, abort after */
        return;
    }
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 30;
    pthread_timedjoin_np(t, NULL, &until);
}

/* ---- symbols ------------------------------------------------------------------ */

typedef struct {
    FILE *out;
    bool found;
} sym_ctx;

#if GOMAP_HAVE_LIBBACKTRACE
static struct backtrace_state *bt_state;

static void bt_error(void *data, const char *msg, int errnum)
{
    (void)data;
    (void)msg;
    (void)errnum; /* a missing symbol is not worth a line in the report */
}

static struct backtrace_state *symbolizer(void)
{
    if (!bt_state)
        bt_state = backtrace_create_state(NULL, 1, bt_error, NULL);
    return bt_state;
}

static int print_pc(void *data, uintptr_t pc, const char *file, int line, const char *fn)
{
    sym_ctx *c = data;
    if (!fn)
        return 0;
    c->found = true;
    if (file)
        fprintf(c->out, "%s (%s:%d)", fn, file, line);
    else
        fprintf(c->out, "%s", fn);
    (void)pc;
    return 1; /* innermost inline frame is enough for one address */
}

static void print_sym(void *data, uintptr_t pc, const char *symname, uintptr_t symval,
                      uintptr_t symsize)
{
    sym_ctx *c = data;
    (void)symsize;
    if (symname) {
        c->found = true;
        fprintf(c->out, "%s+%#lx", symname, (unsigned long)(pc - symval));
    }
}
#endif

/* Prints the function (and file:line when known) of a code address. */
void gomap__print_site(FILE *out, const void *site)
{
    if (!site) {
        fputs("an unknown place", out);
        return;
    }
    sym_ctx c = {out, false};
#if GOMAP_HAVE_LIBBACKTRACE
    uintptr_t pc = (uintptr_t)site - 1; /* a return address is after the call */
    if (symbolizer()) {
        backtrace_pcinfo(bt_state, pc, print_pc, bt_error, &c);
        if (!c.found)
            backtrace_syminfo(bt_state, pc, print_sym, bt_error, &c);
    }
#else
    void *addr = (void *)(uintptr_t)site;
    char **names = backtrace_symbols(&addr, 1);
    if (names) {
        fputs(names[0], out);
        c.found = true;
        free(names);
    }
#endif
    if (!c.found)
        fprintf(out, "%p", site);
}

#if GOMAP_HAVE_LIBBACKTRACE
#define MAX_FRAMES 32

typedef struct {
    int n;
    struct {
        uintptr_t pc;
        const char *file, *fn;
        int line;
    } f[MAX_FRAMES];
} frames;

static int collect_frame(void *data, uintptr_t pc, const char *file, int line, const char *fn)
{
    frames *fr = data;
    if (pc == (uintptr_t)-1 || fr->n == MAX_FRAMES)
        return fr->n == MAX_FRAMES; /* the end-of-stack marker, or full */
    fr->f[fr->n].pc = pc;
    fr->f[fr->n].file = file;
    fr->f[fr->n].fn = fn;
    fr->f[fr->n].line = line;
    fr->n++;
    return 0;
}

/* A public entry point: where the user's call entered the library. */
static bool is_public_fn(const char *fn)
{
    return fn && strncmp(fn, "gomap_", 6) == 0 && strncmp(fn, "gomap__", 7) != 0;
}
#endif

/* Prints the stack from the public gomap call down to the thread's start
 * (the library's own internal frames above it are left out). */
static void print_backtrace(FILE *out)
{
#if GOMAP_HAVE_LIBBACKTRACE
    static frames fr;
    fr.n = 0;
    if (!symbolizer())
        return;
    backtrace_full(bt_state, 1, collect_frame, bt_error, &fr);
    int first = 0;
    while (first < fr.n && !is_public_fn(fr.f[first].fn))
        first++;
    if (first == fr.n)
        first = 0; /* no public frame found (no symbols): show everything */
    for (int i = first; i < fr.n; i++) {
        fprintf(out, "    #%-2d %s", i - first, fr.f[i].fn ? fr.f[i].fn : "??");
        if (fr.f[i].file)
            fprintf(out, " (%s:%d)\n", fr.f[i].file, fr.f[i].line);
        else
            fprintf(out, " [%#lx]\n", (unsigned long)fr.f[i].pc);
    }
#else
    void *pcs[24];
    int n = backtrace(pcs, 24);
    char **names = backtrace_symbols(pcs, n);
    for (int i = 1; names && i < n; i++)
        fprintf(out, "    #%-2d %s\n", i - 1, names[i]);
    free(names);
#endif
}

/* ---- the report ---------------------------------------------------------------- */

static void thread_name(uint64_t tid, char *buf, size_t len)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%llu/comm", (unsigned long long)tid);
    buf[0] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = read(fd, buf, len - 1);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    char *nl = strchr(buf, '\n');
    if (nl)
        *nl = '\0';
}

static _Atomic int faulting;

_Noreturn void gomap__report(const struct gomap__fault_subject *subject, const char *message,
                             uintptr_t other, const void *site, const char *held,
                             const void *held_site)
{
    if (exchange_relaxed(&faulting, 1)) {
        for (;;)
            pause(); /* another thread is reporting; the abort is coming */
    }
    const gomap_t *m = subject ? subject->map : NULL;
    if (subject && subject->mark)
        store_relaxed(subject->mark, FAULT_MARK); /* the other writer stops at its end */

    static char self_name[32], other_name[32];
    gomap_fault f = {.message = message, .map = m, .call_site = site,
                     .thread_name = self_name, .other_thread_name = other_name};
    f.thread_id = load_relaxed(&gomap__self()->tid);
    thread_name(f.thread_id, self_name, sizeof self_name);
    const struct gomap__thread *ot = NULL;
    if (other > FAULT_MARK && other != (uintptr_t)gomap__self()) {
        ot = (const struct gomap__thread *)other;
        f.other_thread_id = load_relaxed(&ot->tid);
        f.other_call_site = load_relaxed(&ot->site);
        thread_name(f.other_thread_id, other_name, sizeof other_name);
    }

    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (!out)
        out = stderr; /* no memory for the text: print as we go */
    fprintf(out, "fatal error: %s\n\n", message);
    if (subject && subject->describe)
        subject->describe(out, subject->map, &f);
    fprintf(out, "this thread: %llu \"%s\", detected in ", (unsigned long long)f.thread_id,
            self_name);
    gomap__print_site(out, site);
    fputc('\n', out);
    print_backtrace(out);
    if (held) {
        fprintf(out, "held: %s, taken at ", held);
        gomap__print_site(out, held_site);
        fputc('\n', out);
    }
    if (ot) {
        fprintf(out, "other thread: %llu \"%s\" holds the write mark; it entered the write at ",
                (unsigned long long)f.other_thread_id, other_name);
        gomap__print_site(out, f.other_call_site);
        fputc('\n', out);
    } else if (strstr(message, "concurrent")) {
        fputs("other thread: unknown (the write mark was cleared or replaced by another "
              "writer before this thread looked)\n", out);
    }
    if (out != stderr) {
        fclose(out);
        f.report = text;
        fwrite(text, 1, len, stderr);
    } else {
        f.report = "";
    }
    fflush(stderr);
    call_handler(&f);
    abort();
}

/* The part of a source path from its last "src/" on: the report names the
 * file as the tree does, wherever the build ran. */
static const char *tree_path(const char *file)
{
    const char *from = file;
    for (const char *p = strstr(file, "src/"); p; p = strstr(p + 1, "src/"))
        from = p;
    return from;
}

/* The site is this call's return address: in the function that checked.
 * The message lives on this stack, which stays put: report never returns
 * (the fault handler reads it from a thread of its own meanwhile). */
__attribute__((noinline, cold)) _Noreturn void gomap__assert_fail(const char *cond,
                                                                  const char *file, int line)
{
    char message[512];
    snprintf(message, sizeof message, "assertion failed: %s (%s:%d)", cond, tree_path(file), line);
    gomap__report(NULL, message, 0, GOMAP_CALLER, NULL, NULL);
}
