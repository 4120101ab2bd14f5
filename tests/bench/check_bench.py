#!/usr/bin/env python3
"""Checks gomap-bench's output on its tiny profile.

usage: check_bench.py GOMAP_BENCH EXPECTED_IMPLS [no-bytes]

EXPECTED_IMPLS is a comma list of the implementations this build has
(gomap and the peers found at configure time). "no-bytes" says the build
cannot count bytes (sanitizer builds). The checks:
  - bad usage exits 2; --help exits 0;
  - CSV: the documented header, a full row for every case x implementation,
    numbers where numbers belong, every checksum_ok 1, and within a case every
    implementation reports the same checksum (they did the same work);
  - JSON parses and holds the same rows and checksums as the CSV;
  - the Markdown and table renderings come out with one line per row.
The concurrent suite (--suite sync --tiny) is checked the same way: CSV
columns and rows for every workload x thread count x contender (gomap-sync,
mutex-map, and go-sync when the Go peer is built), every checked checksum
agreeing and equal to what the workload's loops must give (computed here),
JSON and Markdown parsing, and bad usage exiting 2.
"""
import csv
import io
import json
import subprocess
import sys

CSV_COLUMNS = [
    "workload", "keys", "n", "impl", "reps", "ops", "ns_per_op_median", "ns_per_op_min",
    "ns_per_op_max", "mops_per_s", "ratio_to_gomap", "bytes_per_entry", "lat_p50_ns",
    "lat_p99_ns", "lat_p999_ns", "lat_max_ns", "checksum", "checksum_ok", "seed", "profile",
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
SYNC_WORKLOADS = {  # name: operations per run at scale 1 (bench/sync_bench.c)
    "load-mostly-hits": 2000000, "load-mostly-misses": 2000000,
    "load-or-store-balanced": 200000, "load-or-store-unique": 100000,
    "load-or-store-collision": 2000000, "load-and-delete-balanced": 2000000,
    "load-and-delete-unique": 2000000, "load-and-delete-collision": 2000000,
    "range": 2000, "adversarial-alloc": 500000, "adversarial-delete": 500000,
}
SYNC_TINY_SCALE = 0.01
SYNC_THREADS = [1, 2, 8]

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def run(bench, *args):
    p = subprocess.run([bench, *args], capture_output=True, text=True, timeout=600)
    return p.returncode, p.stdout, p.stderr


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
    for bad in (["--suite", "sync", "--threads", "0"], ["--suite", "sync", "--workloads", "nope"],
                ["--suite", "sync", "--sizes", "1e3"], ["--threads", "2"], ["--suite", "both"],
                ["--suite", "sync", "--scale", "0"]):
        rc, _, _ = run(bench, *bad)
        check(rc == 2, "%s exits 2 (got %d)" % (" ".join(bad), rc))

    rc, out, err = run(bench, "--suite", "sync", "--tiny", "--csv", "--quiet")
    check(rc == 0, "sync tiny CSV run exits 0 (got %d): %s" % (rc, err.strip()))
    rows = list(csv.reader(io.StringIO(out)))
    check(rows and rows[0] == SYNC_CSV_COLUMNS, "sync CSV header is %s" % (rows[0] if rows else None))
    check(all(len(r) == len(SYNC_CSV_COLUMNS) for r in rows[1:]), "every sync CSV row is complete")
    records = [dict(zip(SYNC_CSV_COLUMNS, r)) for r in rows[1:]]
    check(len(records) == len(SYNC_WORKLOADS) * len(SYNC_THREADS) * len(who),
          "one sync CSV row per workload, thread count and contender (%d rows)" % len(records))
    cases = {}
    for r in records:
        for col in ("threads", "reps", "ops", "checksum", "checksum_checked", "checksum_ok"):
            check(r[col].isdigit(), "%s is an integer in %s" % (col, r))
        for col in ("ns_per_op_median", "ns_per_op_min", "ns_per_op_max", "mops_per_s",
                    "throughput_vs_base"):
            check(float(r[col]) > 0, "%s > 0 in %s" % (col, r))
        check(float(r["ns_per_op_min"]) <= float(r["ns_per_op_median"]) <= float(r["ns_per_op_max"]),
              "min <= median <= max in %s" % r)
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

    rc, out, err = run(bench, "--suite", "sync", "--tiny", "--json", "--quiet",
                       "--workloads", "LoadMostlyHits,range", "--threads", "1,2")
    check(rc == 0, "sync JSON run exits 0: %s" % err.strip())
    try:
        doc = json.loads(out)
    except ValueError as e:
        doc = {"rows": []}
        check(False, "sync JSON parses: %s" % e)
    params = doc.get("params", {})
    check(params.get("suite") == "sync" and params.get("threads") == [1, 2],
          "sync JSON params name the suite and threads")
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
    rc, out, _ = run(bench, "--suite", "sync", "--tiny", "--quiet", "--workloads", "range")
    lines = [l for l in out.splitlines() if l.startswith("range ")]
    check(rc == 0 and len(lines) == len(SYNC_THREADS) * len(who),
          "sync table has one line per thread count and contender")


def main():
    bench, impls = sys.argv[1], sys.argv[2].split(",")
    count_bytes = len(sys.argv) < 4 or sys.argv[3] != "no-bytes"

    rc, _, _ = run(bench, "--no-such-option")
    check(rc == 2, "bad usage exits 2 (got %d)" % rc)
    rc, out, _ = run(bench, "--help")
    check(rc == 0 and "usage" in out, "--help exits 0 with usage")

    rc, out, err = run(bench, "--tiny", "--csv", "--quiet")
    check(rc == 0, "tiny CSV run exits 0 (got %d): %s" % (rc, err.strip()))
    rows = list(csv.reader(io.StringIO(out)))
    check(rows and rows[0] == CSV_COLUMNS, "CSV header is %s" % (rows[0] if rows else None))
    records = [dict(zip(CSV_COLUMNS, r)) for r in rows[1:]]
    check(all(len(r) == len(CSV_COLUMNS) for r in rows[1:]), "every CSV row is complete")
    check(len(records) == len(WORKLOADS) * 2 * len(impls),
          "one CSV row per case and implementation (%d rows)" % len(records))
    cases = {}
    for r in records:
        for col in ("n", "reps", "ops", "checksum", "checksum_ok", "seed"):
            check(r[col].isdigit(), "%s is an integer in %s" % (col, r))
        for col in ("ns_per_op_median", "ns_per_op_min", "ns_per_op_max", "mops_per_s"):
            check(float(r[col]) > 0, "%s > 0 in %s" % (col, r))
        check(float(r["ns_per_op_min"]) <= float(r["ns_per_op_median"]) <= float(r["ns_per_op_max"]),
              "min <= median <= max in %s" % r)
        check(r["checksum_ok"] == "1", "checksum_ok for %s %s %s" % (r["impl"], r["workload"], r["keys"]))
        cases.setdefault((r["workload"], r["keys"], r["n"]), {})[r["impl"]] = int(r["checksum"])
        want = expected_checksum(r["workload"])
        if want is not None:
            check(int(r["checksum"]) == want, "%s %s %s checksum %s, want %d"
                  % (r["impl"], r["workload"], r["keys"], r["checksum"], want))
        if r["workload"] == "insert-latency":
            check(0 < float(r["lat_p50_ns"]) <= float(r["lat_p99_ns"]) <= float(r["lat_p999_ns"])
                  <= float(r["lat_max_ns"]), "latency percentiles ordered in %s" % r)
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

    rc, out, err = run(bench, "--tiny", "--json", "--quiet")
    check(rc == 0, "tiny JSON run exits 0: %s" % err.strip())
    try:
        doc = json.loads(out)
    except ValueError as e:
        doc = {"rows": []}
        check(False, "JSON parses: %s" % e)
    check(doc.get("params", {}).get("profile") == "tiny", "JSON params name the profile")
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

    check_sync(bench, impls)

    print("gomap-bench output: %s" % ("%d check(s) failed" % len(failures) if failures else "all checks passed"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
