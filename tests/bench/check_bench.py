#!/usr/bin/env python3
"""Checks gomap-bench's output on its tiny profile.

usage: check_bench.py GOMAP_BENCH EXPECTED_IMPLS [no-bytes]

EXPECTED_IMPLS is a comma list of the implementations this build has
(gomap and the peers found at configure time; "tbb" belongs to the
strategies matrix only). "no-bytes" says the build cannot count bytes
(sanitizer builds). The checks:
  - bad usage exits 2; --help exits 0;
  - CSV: the documented header, a full row for every case x implementation,
    numbers where numbers belong, every checksum_ok 1, and within a case every
    implementation reports the same checksum (they did the same work);
  - JSON parses and holds the same rows and checksums as the CSV;
  - the Markdown and table renderings come out with one line per row;
  - the table's header line and the JSON params name the gomap version
    (gomap_version(), checked against include/gomap/version.h).
The concurrent suite (--suite sync --tiny) is checked the same way: CSV
columns and rows for every workload x thread count x contender (gomap-sync,
mutex-map, and go-sync when the Go peer is built), every checked checksum
agreeing and equal to what the workload's loops must give (computed here),
JSON and Markdown parsing, and bad usage exiting 2.
The strategies matrix (--suite strategies --tiny): CSV columns and a row for
every workload x distribution x thread count x contender (shard, shard-1,
shard-auto, snap, sync, shard-batch, sync-batch, tbb and cds_lfht when
built, the delegation map's four, go-sync, go-rwmutex and go-chanpool when
the Go peer is built), the operation counts, the latency, bytes and
reclamation columns, the snapshot map's rows capped and nobody
else's, every one-thread checksum checked against the reference and equal
across all contenders that ran the whole stream, multi-thread checksums not
checked, JSON and Markdown, and bad usage exiting 2.
The cache suite (--suite cache --tiny): CSV columns and a row for every
workload x thread count x contender (gomap-cache, shard, and caffeine,
ristretto and golang-lru when their peers are built), checksums not checked,
the dropped-writes counts present exactly on the one- and two-thread rows
of the workloads that set, zero for the sharded map, and for gomap's cache
and golang-lru on one thread (where nothing comes between a set and its
get); the expiry and
memory figures in JSON and Markdown; bad usage exiting 2.
"""
import csv
import io
import json
import os
import re
import subprocess
import sys

CSV_COLUMNS = [
    "workload", "keys", "n", "impl", "reps", "ops", "ns_per_op_median", "ns_per_op_min",
    "ns_per_op_max", "mops_per_s", "ratio_to_gomap", "bytes_per_entry", "lat_p50_ns",
    "lat_p99_ns", "lat_p999_ns", "lat_max_ns", "lat_over_20us", "lat_over_100us", "checksum",
    "checksum_ok", "seed", "profile",
]
WORKLOADS = ["insert", "insert-presized", "insert-latency", "lookup-hit", "lookup-50",
             "lookup-miss", "lookup-batch", "churn", "iterate"]
N = 1000

SYNC_CSV_COLUMNS = [
    "suite", "workload", "threads", "impl", "reps", "ops", "ns_per_op_median", "ns_per_op_min",
    "ns_per_op_max", "mops_per_s", "ratio_to_gomap_sync", "throughput_vs_base", "base_threads",
    "retired_peak_bytes", "retired_end_bytes", "checksum", "checksum_checked", "checksum_ok",
    "profile",
]
SYNC_WORKLOADS = {  # name: operations per run at scale 1 (bench/sync/sync_bench.c)
    "load-mostly-hits": 2000000, "load-mostly-misses": 2000000,
    "load-or-store-balanced": 200000, "load-or-store-unique": 100000,
    "load-or-store-collision": 2000000, "load-and-delete-balanced": 2000000,
    "load-and-delete-unique": 2000000, "load-and-delete-collision": 2000000,
    "range": 2000, "adversarial-alloc": 500000, "adversarial-delete": 500000,
    "store-overwrite": 2000000,
}
SYNC_TINY_SCALE = 0.01
SYNC_THREADS = [1, 2, 8]

STRAT_BASE_COLUMNS = [
    "suite", "workload", "dist", "n", "threads", "impl", "reps", "ops", "ns_per_op_median",
    "ns_per_op_min", "ns_per_op_max", "mops_per_s", "ratio_to_shard", "throughput_vs_base",
    "base_threads", "retired_peak_bytes", "retired_end_bytes", "checksum", "checksum_checked",
    "checksum_ok", "capped",
]
STRAT_FIGURE_COLUMNS = [
    "lat_p50_ns", "lat_p99_ns", "lat_p999_ns", "lat_max_ns", "bytes_per_entry",
    "peak_bytes_per_entry", "bytes_counted_by", "grace_periods", "writer_pause_max_ns",
]
STRAT_CSV_COLUMNS = STRAT_BASE_COLUMNS + STRAT_FIGURE_COLUMNS + ["profile"]
STRAT_RCU = {"shard", "shard-1", "shard-auto", "snap", "sync", "shard-batch", "sync-batch",
             "cds_lfht"}  # grace periods counted
STRAT_RETIRING = {"snap", "sync", "sync-batch", "cds_lfht"}  # retired bytes measured
STRAT_WORKLOADS = ["read-90", "read-98", "exchange", "rapid-grow"]
STRAT_DISTS = ["uniform", "zipf"]
STRAT_TINY_N = 10000
STRAT_TINY_OPS = 3000            # 300 000 at scale 1, tiny's scale 0.01 (bench/strategies/strat_bench.c)
STRAT_ONLY = {"tbb", "cds_lfht"} # peers of the strategies matrix only
CACHE_ONLY = {"caffeine", "ristretto", "golang-lru"}  # peers of the cache suite only

CACHE_CSV_COLUMNS = STRAT_BASE_COLUMNS + [
    "dropped_writes", "refused_writes", "drop_ops", "profile"]
CACHE_CSV_COLUMNS[CACHE_CSV_COLUMNS.index("ratio_to_shard")] = "ratio_to_gomap_cache"
CACHE_WORKLOADS = ["read-100", "read-75", "insert-evict"]
CACHE_TINY_N = 10000             # the key universe at tiny (bench/gomap_bench.c)
CACHE_METRICS = ["reclaim-idle p50", "reclaim-idle p99.9", "reclaim-busy p99.9",
                 "get-mass-expiry p99.9", "get-no-expiry p99.9"]

failures = []


def header_version():
    """GOMAP_VERSION_STRING from include/gomap/version.h."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "include",
                        "gomap", "version.h")
    with open(path) as f:
        m = re.search(r'^#define GOMAP_VERSION_STRING "([^"]+)"$', f.read(), re.M)
    return m.group(1) if m else None


VERSION = header_version()


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def run(bench, *args):
    p = subprocess.run([bench, *args], capture_output=True, text=True, timeout=600)
    return p.returncode, p.stdout, p.stderr


def check_version(out, doc, what):
    """The table's first line and the JSON params name gomap's version."""
    first = out.splitlines()[0] if out else ""
    check(VERSION is not None and first.startswith("# gomap-bench  gomap %s  " % VERSION),
          "%s table header names gomap %s: %r" % (what, VERSION, first))
    check(doc.get("params", {}).get("gomap_version") == VERSION,
          "%s JSON params name gomap_version %s" % (what, VERSION))


def check_bad_usage(bench, *commands):
    """Every command line must exit 2."""
    for bad in commands:
        rc, _, _ = run(bench, *bad)
        check(rc == 2, "%s exits 2 (got %d)" % (" ".join(bad), rc))


def csv_records(bench, columns, what, *args):
    """Runs gomap-bench with args (a --csv run) and checks its exit status,
    the header and that every row is complete; returns the rows as dicts."""
    rc, out, err = run(bench, *args)
    check(rc == 0, "%s CSV run exits 0 (got %d): %s" % (what, rc, err.strip()))
    rows = list(csv.reader(io.StringIO(out)))
    check(rows and rows[0] == columns, "%s CSV header is %s" % (what, rows[0] if rows else None))
    check(all(len(r) == len(columns) for r in rows[1:]), "every %s CSV row is complete" % what)
    return [dict(zip(columns, r)) for r in rows[1:]]


def suite_records(bench, columns, suite, rows):
    """A concurrent suite's tiny CSV run: csv_records, and a row for every
    case and contender (`rows` of them)."""
    records = csv_records(bench, columns, suite, "--suite", suite, "--tiny", "--csv", "--quiet")
    check(len(records) == rows, "one %s CSV row per case and contender (%d rows, want %d)"
          % (suite, len(records), rows))
    return records


def check_table(bench, suite, workload, want, doc, *args):
    """A concurrent suite's aligned table for one workload: `want` lines
    (one per thread count and contender), and the version in its header
    and in doc, the suite's JSON."""
    rc, out, _ = run(bench, "--suite", suite, "--tiny", "--quiet", "--workloads", workload, *args)
    lines = [l for l in out.splitlines() if l.startswith(workload + " ")]
    check(rc == 0 and len(lines) == want,
          "%s table has one line per thread count and contender" % suite)
    check_version(out, doc, suite)


def json_run(bench, what, *args):
    """Runs gomap-bench with args (a --json run); the document, or one with
    no rows if the run failed or its output does not parse."""
    rc, out, err = run(bench, *args)
    check(rc == 0, "%s JSON run exits 0: %s" % (what, err.strip()))
    try:
        return json.loads(out)
    except ValueError as e:
        check(False, "%s JSON parses: %s" % (what, e))
        return {"rows": []}


def check_figures(r, integers, positive=()):
    """A row's integer columns hold integers, its time and throughput (and
    the columns `positive`) are positive, and min <= median <= max."""
    for col in integers:
        check(r[col].isdigit(), "%s is an integer in %s" % (col, r))
    for col in ("ns_per_op_median", "ns_per_op_min", "ns_per_op_max", "mops_per_s") + positive:
        check(float(r[col]) > 0, "%s > 0 in %s" % (col, r))
    check(float(r["ns_per_op_min"]) <= float(r["ns_per_op_median"]) <= float(r["ns_per_op_max"]),
          "min <= median <= max in %s" % r)


def expected_checksum(workload):
    """What every implementation must report for n = 1000 (tiny profile)."""
    if workload.startswith("insert"):
        return N                      # the map's length
    if workload == "iterate":
        return N * (N + 1) // 2       # values are 1..n
    if workload == "churn":
        return max(N, 20000) + N      # every delete found + final length
    return None                       # lookups: compared across implementations


def sync_expected(workload, threads, total):
    """The checksum every contender must report (docs/bench.md): the sum of
    value + 1 over every value found, plus the keys left at the end. Thread
    t runs keys t*total .. t*total + total//threads - 1. None: not checked."""
    per = total // threads
    ranges = [range(t * total, t * total + per) for t in range(threads)]
    if workload in ("load-mostly-hits", "load-mostly-misses"):
        hits = 1023 if workload == "load-mostly-hits" else 1
        return sum(i % 1024 + 1 for r in ranges for i in r if i % 1024 < hits) + hits
    if workload == "load-or-store-balanced":
        # Keys 0..127 are there (value = key); the others are new, stored once.
        loaded = sum(i % 256 + 1 for r in ranges for i in r if i % 256 < 128)
        stored = sum(1 for r in ranges for i in r if i % 256 >= 128)
        return loaded + 128 + stored
    if workload == "load-or-store-unique":
        return threads * per
    if workload == "load-or-store-collision":
        return threads * per + 1
    if workload == "load-and-delete-balanced":
        seen = {i % 256 for r in ranges for i in r if i % 256 < 128}
        return sum(j + 1 for j in seen) + 128 - len(seen)
    if workload == "load-and-delete-unique":
        return 0
    if workload == "load-and-delete-collision":
        return 1
    if workload == "range":
        return threads * per * (1024 * 1025 // 2) + 1024
    if workload == "store-overwrite":
        return 128
    if workload == "adversarial-alloc":
        stores = 0
        for r in ranges:
            done, since = 0, 0
            for _ in r:
                since += 1
                if since > done:
                    since, done = 0, done + 1
            stores += done
        return stores
    return None


def check_sync(bench, impls):
    who = ["gomap-sync", "mutex-map"] + (["go-sync"] if "go" in impls else [])
    check_bad_usage(bench, ["--suite", "sync", "--threads", "0"],
                    ["--suite", "sync", "--workloads", "nope"],
                    ["--suite", "sync", "--sizes", "1e3"], ["--threads", "2"], ["--suite", "both"],
                    ["--suite", "sync", "--scale", "0"])

    records = suite_records(bench, SYNC_CSV_COLUMNS, "sync",
                            len(SYNC_WORKLOADS) * len(SYNC_THREADS) * len(who))
    cases = {}
    for r in records:
        check_figures(r, ("threads", "reps", "ops", "checksum", "checksum_checked", "checksum_ok"),
                      ("throughput_vs_base",))
        check((int(r["retired_peak_bytes"]) >= 0) == (r["impl"] == "gomap-sync"),
              "retired bytes measured for gomap-sync only: %s" % r)
        check(r["base_threads"] == "2", "scaling is against 2 threads in %s" % r)
        threads, total = int(r["threads"]), round(SYNC_WORKLOADS[r["workload"]] * SYNC_TINY_SCALE)
        check(int(r["ops"]) == total // threads * threads, "ops of %s" % r)
        want = sync_expected(r["workload"], threads, total)
        check(r["checksum_checked"] == ("1" if want is not None else "0"),
              "checked exactly where deterministic: %s" % r)
        if want is not None:
            check(r["checksum_ok"] == "1", "sync checksum_ok for %s %s %s"
                  % (r["impl"], r["workload"], r["threads"]))
            check(int(r["checksum"]) == want, "%s %s threads=%s checksum %s, want %d"
                  % (r["impl"], r["workload"], r["threads"], r["checksum"], want))
        cases.setdefault((r["workload"], r["threads"]), {})[r["impl"]] = r
    for case, by in cases.items():
        check(sorted(by) == sorted(who), "sync %s ran on %s, want %s" % (case, sorted(by), who))

    doc = json_run(bench, "sync", "--suite", "sync", "--tiny", "--json", "--quiet",
                   "--workloads", "LoadMostlyHits,range", "--threads", "1,2")
    params = doc.get("params", {})
    check(params.get("suite") == "sync" and params.get("threads") == [1, 2],
          "sync JSON params name the suite and threads")
    sync_doc = doc
    jrows = doc.get("rows", [])
    check(len(jrows) == 2 * 2 * len(who), "sync JSON has a row per case and contender")
    for j in jrows:
        check(cases.get((j["workload"], str(j["threads"])), {}).get(j["impl"], {}).get("checksum")
              == str(j["checksum"]), "sync JSON checksum matches CSV for %s" % j)

    rc, out, _ = run(bench, "--suite", "sync", "--tiny", "--markdown", "--quiet")
    check(rc == 0 and out.count("\n| load-mostly-hits | 8 |") == 1
          and out.count("\n| adversarial-delete | 8 | ") == 1 and "not checked" in out
          and "**Scaling**" in out and out.count("\n| range | ") == 4,
          "sync Markdown has the rows and the scaling table")
    check_table(bench, "sync", "range", len(SYNC_THREADS) * len(who), sync_doc)


def strat_ops(workload, threads):
    """Operations a contender that runs the whole stream does at the tiny
    profile: the stream (n operations for rapid-grow) split into equal
    slices, one a thread."""
    nops = STRAT_TINY_N if workload == "rapid-grow" else STRAT_TINY_OPS
    return nops // threads * threads


def check_strat_figures(r, count_bytes):
    """A strategies row's latency, bytes and reclamation columns: latency
    percentiles ordered; bytes per entry measured (the allocator's count,
    mallinfo2 for cds_lfht when the build can, the Go heap for the Go
    contenders); grace periods and pauses for the RCU maps and Go, empty
    (none) for the others."""
    lat = [float(r[c]) for c in ("lat_p50_ns", "lat_p99_ns", "lat_p999_ns", "lat_max_ns")]
    check(0 < lat[0] <= lat[1] <= lat[2] <= lat[3], "latency percentiles ordered in %s" % r)
    go = r["impl"].startswith("go-")
    want = "go-heap" if go else "mallinfo2" if r["impl"] == "cds_lfht" else "allocator"
    if count_bytes or want == "allocator" or go:
        check(r["bytes_counted_by"] == want and float(r["bytes_per_entry"]) > 0
              and float(r["peak_bytes_per_entry"]) >= float(r["bytes_per_entry"]),
              "bytes per entry counted by %s in %s" % (want, r))
    reclaims = go or r["impl"] in STRAT_RCU
    check((r["grace_periods"] != "") == reclaims and (r["writer_pause_max_ns"] != "") == reclaims,
          "grace periods and pauses exactly for the RCU maps and Go: %s" % r)


def check_strategies(bench, impls, count_bytes):
    who = ["shard", "shard-1", "shard-auto", "snap", "sync", "shard-batch", "sync-batch"] \
        + (["tbb"] if "tbb" in impls else []) \
        + (["cds_lfht"] if "cds_lfht" in impls else []) \
        + ["deleg-comb", "deleg-1w", "deleg-comb-batch", "deleg-1w-batch"] \
        + (["go-sync", "go-rwmutex", "go-chanpool"] if "go" in impls else [])
    check_bad_usage(bench, ["--suite", "strategies", "--keys", "u64"],
                    ["--suite", "strategies", "--dists", "x"],
                    ["--suite", "strategies", "--workloads", "read-50"], ["--dists", "zipf"],
                    ["--suite", "strategies", "--min-ops", "5"],
                    ["--suite", "sync", "--dists", "zipf"], ["--suite", "strategies", "--threads", "0"])

    records = suite_records(bench, STRAT_CSV_COLUMNS, "strategies",
                            len(STRAT_WORKLOADS) * len(STRAT_DISTS) * len(SYNC_THREADS) * len(who))
    cases = {}
    for r in records:
        check_figures(r, ("n", "threads", "reps", "ops", "checksum", "checksum_checked",
                          "checksum_ok", "capped"), ("throughput_vs_base",))
        check((float(r["ratio_to_shard"]) > 0) == (r["impl"] != "shard"),
              "ratio to shard in %s" % r)
        check((int(r["retired_peak_bytes"]) >= 0) == (r["impl"] in STRAT_RETIRING),
              "retired bytes measured for the maps that retire memory only: %s" % r)
        check_strat_figures(r, count_bytes)
        check(r["n"] == str(STRAT_TINY_N) and r["base_threads"] == "2", "n and base in %s" % r)
        threads = int(r["threads"])
        check(r["capped"] == ("1" if r["impl"] == "snap" else "0"),
              "only the snapshot map is capped at tiny: %s" % r)
        if r["capped"] == "0":
            check(int(r["ops"]) == strat_ops(r["workload"], threads), "ops of %s" % r)
        else:
            check(0 < int(r["ops"]) < strat_ops(r["workload"], threads), "capped ops of %s" % r)
        check(r["checksum_checked"] == ("1" if threads == 1 else "0"),
              "checked exactly at one thread: %s" % r)
        check(r["checksum_ok"] == "1", "strategies checksum_ok for %s %s %s %s"
              % (r["impl"], r["workload"], r["dist"], threads))
        cases.setdefault((r["workload"], r["dist"], threads), {})[r["impl"]] = r
    for (workload, dist, threads), by in cases.items():
        check(sorted(by) == sorted(who), "strategies %s %s %d ran on %s, want %s"
              % (workload, dist, threads, sorted(by), who))
        whole = {impl: int(r["checksum"]) for impl, r in by.items() if r["capped"] == "0"}
        if threads == 1:
            check(len(set(whole.values())) == 1 and next(iter(whole.values())) > 0,
                  "one-thread checksums of %s %s agree: %s" % (workload, dist, whole))

    doc = json_run(bench, "strategies", "--suite", "strategies", "--tiny", "--json", "--quiet",
                   "--workloads", "read-90,rapid-grow", "--dists", "zipf", "--threads", "1,2")
    params = doc.get("params", {})
    check(params.get("suite") == "strategies" and params.get("threads") == [1, 2]
          and params.get("sizes") == [STRAT_TINY_N] and params.get("base") == "shard",
          "strategies JSON params name the suite, threads, sizes and base: %s" % params)
    strat_doc = doc
    jrows = doc.get("rows", [])
    check(len(jrows) == 2 * 2 * len(who), "strategies JSON has a row per case and contender")
    for j in jrows:
        c = cases.get((j["workload"], j["dist"], j["threads"]), {}).get(j["impl"], {})
        check(j["capped"] == (j["impl"] == "snap") and j["checksum_checked"] == (j["threads"] == 1),
              "strategies JSON rows capped and checked as the CSV's: %s" % j)
        check(all(k in j for k in ("latency_ns", "memory", "reclamation"))
              and (j["reclamation"]["grace_periods"] is None) == (j["impl"] in ("tbb",)
                                                                  or j["impl"].startswith("deleg")),
              "strategies JSON rows carry latency, memory and reclamation: %s" % j)
        if j["threads"] == 1:  # deterministic: the same as in the CSV run
            check(c.get("checksum") == str(j["checksum"]), "strategies JSON checksum matches CSV "
                  "for %s %s %s" % (j["workload"], j["dist"], j["impl"]))

    rc, out, _ = run(bench, "--suite", "strategies", "--tiny", "--markdown", "--quiet",
                     "--workloads", "exchange")
    check(rc == 0 and out.count("\n| exchange | zipf | 1e4 | 8 |") == 1
          and len(re.findall(r"\n\| exchange \| uniform \| 1e4 \| \d+ \|", out)) == 3
          and "**Scaling**" in out and "capped" in out,
          "strategies Markdown has the rows and the scaling table")
    check(len(re.findall(r"\n\| exchange \| uniform \| 1e4 \| [a-z]", out)) == len(who)
          and "**Latency, memory and reclamation** at 2 threads" in out,
          "strategies Markdown has a latency, memory and reclamation line per contender")
    check_table(bench, "strategies", "read-98", len(SYNC_THREADS) * len(who), strat_doc,
                "--dists", "uniform")


def check_cache(bench, impls):
    who = ["gomap-cache", "shard"] + [i for i in ("caffeine", "ristretto", "golang-lru")
                                      if i in impls]
    check_bad_usage(bench, ["--suite", "cache", "--dists", "zipf"],
                    ["--suite", "cache", "--workloads", "read-90"],
                    ["--suite", "cache", "--sizes", "1e4"], ["--suite", "cache", "--threads", "0"])
    records = suite_records(bench, CACHE_CSV_COLUMNS, "cache",
                            len(CACHE_WORKLOADS) * len(SYNC_THREADS) * len(who))
    cases = {}
    for r in records:
        check_figures(r, ("n", "threads", "reps", "ops", "checksum", "checksum_checked",
                          "checksum_ok", "capped", "drop_ops"))
        check(r["n"] == str(CACHE_TINY_N) and r["dist"] == "zipf" and r["capped"] == "0"
              and r["checksum_checked"] == "0", "cache row's case and checks: %s" % r)
        check((float(r["ratio_to_gomap_cache"]) > 0) == (r["impl"] != "gomap-cache"),
              "ratio to gomap-cache in %s" % r)
        measured = r["threads"] in ("1", "2") and r["workload"] != "read-100"
        check((int(r["dropped_writes"]) >= 0) == measured
              and (int(r["refused_writes"]) >= 0) == measured
              and (int(r["drop_ops"]) > 0) == measured,
              "dropped writes measured on the 1- and 2-thread rows of workloads that set: %s" % r)
        if measured and (r["impl"] == "shard" or (r["threads"] == "1" and r["impl"] in
                                                  ("gomap-cache", "golang-lru"))):
            check(r["dropped_writes"] == "0" and r["refused_writes"] == "0",
                  "%s drops no write: %s" % (r["impl"], r))
        cases.setdefault((r["workload"], r["threads"]), []).append(r["impl"])
    for case, by in cases.items():
        check(sorted(by) == sorted(who), "cache %s ran on %s, want %s" % (case, by, who))

    doc = json_run(bench, "cache", "--suite", "cache", "--tiny", "--json", "--quiet",
                   "--workloads", "read-75,expiry", "--threads", "2")
    params = doc.get("params", {})
    check(params.get("suite") == "cache" and params.get("base") == "gomap-cache"
          and params.get("threads") == [2], "cache JSON params: %s" % params)
    rows = doc.get("rows", [])
    check(len(rows) == len(who) and all(j.get("dropped_writes", -1) >= 0 for j in rows),
          "cache JSON has a row per contender, each with its dropped writes")
    names = {m.get("name"): m for m in doc.get("metrics", [])}
    for name in CACHE_METRICS:
        check(name in names and names[name]["value"] >= 0,
              "cache JSON metric %s: %s" % (name, sorted(names)))
    check(any(n.startswith("metadata n=") and m["unit"] == "B/entry" for n, m in names.items()),
          "cache JSON has the metadata per entry")

    rc, out, _ = run(bench, "--suite", "cache", "--tiny", "--markdown", "--quiet",
                     "--workloads", "insert-evict,expiry", "--threads", "1,2")
    check(rc == 0 and out.count("\n| insert-evict | zipf | 1e4 | ") == 2
          and "**Throughput**" in out and "**Dropped writes**" in out
          and "**Expiry and memory**" in out and "| reclaim-busy p99.9 |" in out,
          "cache Markdown has the rows, throughput, dropped writes and expiry tables")
    check_table(bench, "cache", "read-100", len(SYNC_THREADS) * len(who), doc)


def check_floor(bench):
    """The machine's floor: opt-in, insert-latency only, each insert spins
    200 ns (so none is faster than that, calibration error aside)."""
    rows = csv_records(bench, CSV_COLUMNS, "floor", "--tiny", "--csv", "--quiet", "--keys", "u64",
                       "--workloads", "insert-latency", "--impls", "floor,floor-mem")
    check(sorted(r["impl"] for r in rows) == ["floor", "floor-mem", "gomap"],
          "floor and floor-mem ran beside gomap: %s" % [r["impl"] for r in rows])
    for r in rows:
        check(r["checksum_ok"] == "1" and int(r["checksum"]) == int(r["n"]),
              "every insert of %s counted" % r["impl"])
        if r["impl"] != "gomap":
            check(float(r["lat_p50_ns"]) >= 150, "%s spins about 200 ns an insert: %s"
                  % (r["impl"], r["lat_p50_ns"]))
    rc, _, err = run(bench, "--tiny", "--quiet", "--keys", "u64", "--workloads", "insert",
                     "--impls", "floor")
    check(rc != 0 and "floor cannot run" in err, "floor refuses other workloads (rc %d)" % rc)


def main():
    bench, impls = sys.argv[1], sys.argv[2].split(",")
    strat_impls = impls
    impls = [i for i in impls if i not in STRAT_ONLY and i not in CACHE_ONLY]
    count_bytes = len(sys.argv) < 4 or sys.argv[3] != "no-bytes"

    rc, _, _ = run(bench, "--no-such-option")
    check(rc == 2, "bad usage exits 2 (got %d)" % rc)
    rc, out, _ = run(bench, "--help")
    check(rc == 0 and "usage" in out, "--help exits 0 with usage")

    records = csv_records(bench, CSV_COLUMNS, "tiny", "--tiny", "--csv", "--quiet")
    check(len(records) == len(WORKLOADS) * 2 * len(impls),
          "one CSV row per case and implementation (%d rows)" % len(records))
    cases = {}
    for r in records:
        check_figures(r, ("n", "reps", "ops", "checksum", "checksum_ok", "seed"))
        check(r["checksum_ok"] == "1", "checksum_ok for %s %s %s" % (r["impl"], r["workload"], r["keys"]))
        cases.setdefault((r["workload"], r["keys"], r["n"]), {})[r["impl"]] = int(r["checksum"])
        want = expected_checksum(r["workload"])
        if want is not None:
            check(int(r["checksum"]) == want, "%s %s %s checksum %s, want %d"
                  % (r["impl"], r["workload"], r["keys"], r["checksum"], want))
        if r["workload"] == "insert-latency":
            check(0 < float(r["lat_p50_ns"]) <= float(r["lat_p99_ns"]) <= float(r["lat_p999_ns"])
                  <= float(r["lat_max_ns"]), "latency percentiles ordered in %s" % r)
            slow, very_slow = int(r["lat_over_20us"]), int(r["lat_over_100us"])
            check(0 <= very_slow <= slow <= int(r["ops"]),
                  "inserts over 100 us <= over 20 us <= all in %s" % r)
        if r["workload"] in ("insert", "insert-presized") and (count_bytes or r["impl"] == "go"):
            check(float(r["bytes_per_entry"]) > 0, "bytes per entry measured in %s" % r)
    check(len(cases) == len(WORKLOADS) * 2, "every workload ran for u64 and str")
    for case, sums in cases.items():
        check(sorted(sums) == sorted(impls), "%s ran on %s, want %s" % (case, sorted(sums), impls))
        check(len(set(sums.values())) == 1, "%s checksums agree: %s" % (case, sums))
        if case[0].startswith("lookup") and case[0] != "lookup-miss":
            check(next(iter(sums.values())) > 0, "%s found something" % (case,))
        if case[0] == "lookup-miss":
            check(next(iter(sums.values())) == 0, "lookup-miss finds nothing")

    doc = json_run(bench, "tiny", "--tiny", "--json", "--quiet")
    check(doc.get("params", {}).get("profile") == "tiny", "JSON params name the profile")
    map_doc = doc
    jrows = doc.get("rows", [])
    check(len(jrows) == len(records), "JSON has as many rows as CSV")
    for j in jrows:
        key = (j["workload"], j["keys"], str(j["n"]))
        check(cases.get(key, {}).get(j["impl"]) == j["checksum"],
              "JSON checksum matches CSV for %s %s" % (key, j["impl"]))

    rc, out, _ = run(bench, "--tiny", "--markdown", "--quiet", "--keys", "u64")
    check(rc == 0 and out.count("\n| lookup-50 | 1e3 |") == 1, "Markdown has the lookup-50 row")
    rc, out, _ = run(bench, "--tiny", "--quiet", "--keys", "str", "--workloads", "insert")
    lines = [l for l in out.splitlines() if l.startswith("insert ")]
    check(rc == 0 and len(lines) == len(impls), "table has one insert line per implementation")
    check_version(out, map_doc, "map")
    check_floor(bench)

    check_sync(bench, impls)
    check_strategies(bench, strat_impls, count_bytes)
    check_cache(bench, strat_impls)

    print("gomap-bench output: %s" % ("%d check(s) failed" % len(failures) if failures else "all checks passed"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
