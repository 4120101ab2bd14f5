#!/usr/bin/env python3
"""Turns gomap-bench's JSON into the data files of the charts in
bench/charts/*.gp (docs/bench.md, "Charts").

usage: charts_data.py DATA_DIR [--core CORE.json] [--strategies STRATEGIES.json]

Writes, for each JSON given, the .dat files its charts read (gnuplot's
whitespace-separated columns, a "columnhead" line first, NaN where a
contender has no figure; blocks separated by two blank lines, their titles
in NAME.blocks, one a line), and NAME.title, the machine line, for each:
  core.json        core_ratio.dat: each peer's time / gomap's per workload
                   at the largest n, u64 keys then string keys (two blocks)
  strategies.json  strat_throughput.dat: Mops/s by thread count, one block
                   per workload (uniform keys, the largest n; capped
                   contenders left out);
                   strat_latency.dat: p50, p99, p99.9 per contender
                   (read-90, uniform, largest n, 2 threads or the base);
                   strat_memory.dat: bytes per entry at the end and peak
                   (same case); strat_memory_retired.dat: retired KiB peak
                   and end (exchange, same n and threads), for the
                   contenders that retire memory.
Standard library only.
"""
import json
import math
import os
import sys


def fmt(v):
    return "NaN" if v is None or (isinstance(v, float) and math.isnan(v)) else "%.6g" % v


def write(path, header, rows, block=None):
    """rows: lists of cells; the first cell is a label (quoted). block: the
    title of this block, appended to NAME.blocks (one line a block)."""
    if block is not None:
        with open(path[:-len(".dat")] + ".blocks", "a") as f:
            f.write(block + "\n")
    with open(path, "a") as f:
        if os.path.getsize(path):
            f.write("\n\n")  # a new block (gnuplot's index)
        f.write(" ".join('"%s"' % h for h in header) + "\n")
        for r in rows:
            f.write('"%s" ' % r[0] + " ".join(fmt(c) for c in r[1:]) + "\n")


def fresh(data, name, title):
    path = os.path.join(data, name + ".dat")
    for ext in (".dat", ".blocks"):
        open(os.path.join(data, name + ext), "w").close()
    with open(os.path.join(data, name + ".title"), "w") as f:
        f.write(title + "\n")
    return path


def size_name(n):
    """1000000 -> "1e6", as gomap-bench prints sizes."""
    e = 0
    while n >= 10 and n % 10 == 0:
        n, e = n // 10, e + 1
    return "1e%d" % e if n == 1 and e >= 3 else str(n * 10 ** e)


def impls_in_order(rows):
    seen = []
    for r in rows:
        if r["impl"] not in seen:
            seen.append(r["impl"])
    return seen


def core(doc, data):
    rows, p = doc["rows"], doc["params"]
    peers = [i for i in impls_in_order(rows) if i != "gomap"]
    path = fresh(data, "core_ratio", "%s; profile %s, %d repetitions, medians"
                 % (p["machine"], p["profile"], p["reps"]))
    for keys in ("u64", "str"):
        mine = [r for r in rows if r["keys"] == keys]
        if not mine:
            continue
        n = max(r["n"] for r in mine)
        table = []
        for wl in dict.fromkeys(r["workload"] for r in mine if r["n"] == n):
            by = {r["impl"]: r for r in mine if r["n"] == n and r["workload"] == wl}
            table.append([wl] + [by[i].get("ratio_to_gomap") if i in by else None for i in peers])
        write(path, ["workload"] + peers, table, "%s keys, n=%s" % (keys, size_name(n)))


def strategies(doc, data):
    rows, p = doc["rows"], doc["params"]
    who = impls_in_order(rows)
    n = max(r["n"] for r in rows)
    threads = sorted({r["threads"] for r in rows})
    base = 2 if 2 in threads else threads[0]
    title = "%s; n=%s, profile %s, %d repetitions, medians" % (p["machine"], size_name(n),
                                                               p["profile"], p["reps"])

    # The capped contender (snap: every write copies the map) runs 10^4-10^6
    # times slower on these mixes; it would squash every other line.
    capped = {r["impl"] for r in rows if r.get("capped")}
    path = fresh(data, "strat_throughput", title + "; capped (%s) left out"
                 % ", ".join(sorted(capped)) if capped else title)
    for wl in dict.fromkeys(r["workload"] for r in rows):
        table = []
        for t in threads:
            by = {r["impl"]: r for r in rows if r["workload"] == wl and r["dist"] == "uniform"
                  and r["n"] == n and r["threads"] == t}
            if by:
                table.append([str(t)] + [by[i]["mops_per_s"] if i in by else None
                                         for i in who if i not in capped])
        if table:
            write(path, ["threads"] + [i for i in who if i not in capped], table, wl)

    def case(wl):
        return {r["impl"]: r for r in rows if r["workload"] == wl and r["dist"] == "uniform"
                and r["n"] == n and r["threads"] == base}

    read = case("read-90")
    table = [[i] + [read[i]["latency_ns"][q] for q in ("p50", "p99", "p999")]
             for i in who if i in read and read[i].get("latency_ns", {}).get("p50")]
    if table:
        write(fresh(data, "strat_latency", title + "; read-90, uniform, %d threads" % base),
              ["contender", "p50", "p99", "p99.9"], table)
    table = [[i, read[i]["memory"]["bytes_per_entry"], read[i]["memory"]["peak_bytes_per_entry"]]
             for i in who if i in read and read[i].get("memory", {}).get("bytes_per_entry")]
    if table:
        write(fresh(data, "strat_memory", title + "; read-90 and exchange, uniform, %d threads"
                    % base), ["contender", "end of run", "peak"], table)
    ex = case("exchange")
    table = [[i, ex[i]["retired_bytes"]["peak"] / 1024, ex[i]["retired_bytes"]["end"] / 1024]
             for i in who if i in ex and "retired_bytes" in ex[i]]
    if table:
        path = os.path.join(data, "strat_memory_retired.dat")
        open(path, "w").close()
        write(path, ["contender", "peak", "end of run"], table)


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    data, args = argv[1], argv[2:]
    os.makedirs(data, exist_ok=True)
    for flag, convert in (("--core", core), ("--strategies", strategies)):
        if flag in args:
            with open(args[args.index(flag) + 1]) as f:
                convert(json.load(f), data)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
