/*
 * peer_go.h — the client side of the Go peer (bench/peers/go/peer.go): a
 * child process running Go's own map on the same key streams (and Go's
 * sync.Map and a locked map for the concurrent suites), driven over a pipe
 * one run at a time so its runs interleave with the in-process ones.
 */
#ifndef GOMAP_BENCH_PEER_GO_H
#define GOMAP_BENCH_PEER_GO_H

#include "common/bench.h"

typedef struct go_peer go_peer;

/* Starts the peer program at `path` and waits for its greeting. Returns NULL
 * (with a message on stderr) if it cannot be started. */
go_peer *go_peer_start(const char *path);

/* "go1.19.8": the Go runtime the peer was built with. */
const char *go_peer_version(const go_peer *p);

/* One run, as the in-process runner does it. Returns 0, or -1 if the peer
 * failed (message on stderr). */
int go_peer_run(go_peer *p, bench_workload wl, bench_key_type type, size_t n, uint64_t seed,
                size_t min_ops, bench_result *r);

/* One run of a concurrent suite: the command printf(fmt, ...) (without its
 * newline), e.g. "sync load-mostly-hits 8 2000000" for Go's sync.Map
 * benchmark with GOMAXPROCS = threads, or "strat go-sync <file> 8 62500 1"
 * for the strategies matrix (bench/peers/go/README.md). Returns 0 with the
 * wall time, the operations done and the checksum, or -1 if the peer failed
 * (message on stderr). */
int go_peer_parallel(go_peer *p, double *ns_out, uint64_t *ops_out, uint64_t *checksum_out,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* The whole reply line of the last go_peer_parallel that succeeded, for
 * the fields a suite adds after the checksum (the strategies matrix's
 * latency, bytes and collections). Valid until the next call on p. */
const char *go_peer_reply(const go_peer *p);

/* Sends a command without waiting for its reply, so that the peer works
 * while the caller does something else; go_peer_await reads the reply. */
void go_peer_send(go_peer *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Reads the reply to a go_peer_send: 0 if it is "ok ...", else -1 (message
 * on stderr). */
int go_peer_await(go_peer *p);

void go_peer_stop(go_peer *p);

#endif /* GOMAP_BENCH_PEER_GO_H */
