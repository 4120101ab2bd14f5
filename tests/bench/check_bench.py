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

    print("gomap-bench output: %s" % ("%d check(s) failed" % len(failures) if failures else "all checks passed"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
