#!/usr/bin/env python3
"""The metrics exporter from the outside: a real Prometheus, and the Grafana
dashboard (run by ctest; docs/testing.md).

usage: metrics_e2e.py prometheus CACHE_SERVER
       metrics_e2e.py dashboard CACHE_SERVER DASHBOARD_JSON

prometheus: starts examples/cache_server on a free port (its load runs for
  a few seconds, then stops), and a Prometheus server on another free port
  of 127.0.0.1 with a generated configuration (scrape_interval 1s) and its
  storage in a temporary directory. Waits until Prometheus is ready and its
  target up; checks through the HTTP API (/api/v1/query) that the series
  of every structure type exist; then, once the example has printed the
  counters its structures' own stats give after the load stopped, that
  Prometheus comes to hold exactly those values (the counters no longer
  move, so the next scrape must carry them).
dashboard: the dashboard is valid JSON in Grafana's current schema, its
  datasource a variable ${DS_PROMETHEUS} of type prometheus, and every
  metric name its queries use is one a real scrape of the running example
  serves.

Every process started is stopped, and the temporary directory removed, on
success, failure, SIGINT and SIGTERM; each runs under `timeout`, so none
outlives the test even if the test itself is killed.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

DEADLINE_S = 120   # the whole test; ctest's timeout is above it
LIFETIME_S = 150   # what `timeout` gives each child
LOAD_S = 4         # the example's load


class Fail(Exception):
    pass


def free_port():
    """A port free now on 127.0.0.1 (bound by the kernel, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.headers.get("Content-Type", ""), r.read().decode()


def wait_for(what, fn, deadline):
    """Calls fn until it returns a true value; fails at the deadline."""
    last = None
    while time.monotonic() < deadline:
        try:
            v = fn()
            if v:
                return v
            last = v
        except (OSError, urllib.error.URLError, ValueError, KeyError) as e:
            last = e
        time.sleep(0.25)
    raise Fail(f"timed out waiting for {what} (last: {last!r})")


class Children:
    """The processes the test started, stopped in reverse order."""

    def __init__(self, tmp):
        self.procs = []
        self.tmp = tmp

    def start(self, name, argv):
        out = open(os.path.join(self.tmp, name + ".out"), "w")
        p = subprocess.Popen(["timeout", "-s", "KILL", str(LIFETIME_S)] + argv,
                             stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        out.close()
        self.procs.append((name, p))
        return p

    def output(self, name):
        with open(os.path.join(self.tmp, name + ".out")) as f:
            return f.read()

    def stop_all(self):
        for name, p in reversed(self.procs):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait()
        self.procs = []


def start_example(children, server, deadline, load_s):
    children.start("cache_server", [server, "0", str(LIFETIME_S - 10), str(load_s)])
    m = wait_for("the example's port",
                 lambda: re.search(r"^port: (\d+)$", children.output("cache_server"), re.M),
                 deadline)
    return int(m.group(1))


def served_names(port):
    """Metric names in a scrape of the exporter (histogram parts included)."""
    status, ctype, body = http_get(f"http://127.0.0.1:{port}/metrics")
    if status != 200 or not ctype.startswith("text/plain; version=0.0.4"):
        raise Fail(f"GET /metrics: {status} {ctype}")
    names = set()
    for line in body.splitlines():
        if line and not line.startswith("#"):
            names.add(re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0))
    return names, body


# ---- prometheus -----------------------------------------------------------------------

def prom_query(port, expr):
    q = urllib.parse.urlencode({"query": expr})
    status, _, body = http_get(f"http://127.0.0.1:{port}/api/v1/query?{q}")
    doc = json.loads(body)
    if status != 200 or doc.get("status") != "success":
        raise Fail(f"query {expr}: {body[:300]}")
    return doc["data"]["result"]


def scalar(port, expr):
    r = prom_query(port, expr)
    return float(r[0]["value"][1]) if r else None


def run_prometheus(tmp, children, server):
    deadline = time.monotonic() + DEADLINE_S
    exporter = start_example(children, server, deadline, LOAD_S)
    prom_port = free_port()
    config = os.path.join(tmp, "prometheus.yml")
    with open(config, "w") as f:
        f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                "scrape_configs:\n  - job_name: gomap\n    static_configs:\n"
                f"      - targets: ['127.0.0.1:{exporter}']\n")
    prom = shutil.which("prometheus")
    if not prom:
        raise Fail("prometheus is not installed (scripts/install-deps.sh test)")
    children.start("prometheus", [
        prom, f"--config.file={config}", f"--storage.tsdb.path={os.path.join(tmp, 'data')}",
        f"--web.listen-address=127.0.0.1:{prom_port}", "--log.level=warn"])
    wait_for("Prometheus to be ready",
             lambda: http_get(f"http://127.0.0.1:{prom_port}/-/ready")[0] == 200, deadline)
    print(f"exporter on {exporter}, Prometheus on {prom_port}: ready")
    wait_for("the target to be up", lambda: scalar(prom_port, 'up{job="gomap"}') == 1, deadline)

    want = ["gomap_cache_hits_total", "gomap_shard_hits_total", "gomap_sync_promotions_total",
            "gomap_snap_versions_total", "gomap_map_load_factor", "gomap_entries",
            "gomap_cache_removed_total", "gomap_metrics_scrape_duration_seconds_bucket"]
    for name in want:
        wait_for(f"series {name}", lambda n=name: prom_query(prom_port, n), deadline)
    kinds = {r["metric"]["type"] for r in prom_query(prom_port, "gomap_info")}
    if kinds != {"cache", "shard", "sync", "snap", "map"}:
        raise Fail(f"gomap_info types: {sorted(kinds)}")
    print("series of every structure type present")

    m = wait_for("the example's counters after its load stopped",
                 lambda: re.search(r"^load stopped: cache_hits=(\d+) cache_misses=(\d+) "
                                   r"shard_hits=(\d+) shard_misses=(\d+)$",
                                   children.output("cache_server"), re.M), deadline)
    expect = {
        'gomap_cache_hits_total{map="cache"}': int(m.group(1)),
        'gomap_cache_misses_total{map="cache"}': int(m.group(2)),
        'sum(gomap_shard_hits_total{map="shard"})': int(m.group(3)),
        'sum(gomap_shard_misses_total{map="shard"})': int(m.group(4)),
    }
    if min(expect.values()) == 0:
        raise Fail(f"the load did nothing: {expect}")
    for expr, value in expect.items():
        wait_for(f"{expr} to reach {value}",
                 lambda e=expr, v=value: scalar(prom_port, e) == v, deadline)
        print(f"{expr} = {value} in Prometheus, as the library's stats say")


# ---- dashboard ------------------------------------------------------------------------

def exprs(panels):
    for p in panels:
        yield from exprs(p.get("panels", []))
        for t in p.get("targets", []):
            yield p["title"], t["expr"]


def check_dashboard(dash):
    if not isinstance(dash.get("schemaVersion"), int) or dash["schemaVersion"] < 36:
        raise Fail(f"schemaVersion {dash.get('schemaVersion')}: not current Grafana's")
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    ds = variables.get("DS_PROMETHEUS")
    if not ds or ds["type"] != "datasource" or ds["query"] != "prometheus":
        raise Fail("no datasource variable DS_PROMETHEUS of type prometheus")
    ids = [p["id"] for p in dash["panels"]]
    if len(ids) != len(set(ids)):
        raise Fail(f"panel ids repeat: {ids}")
    titles = set()
    for p in dash["panels"]:
        if p["type"] == "row":
            continue
        titles.add(p["title"])
        for obj in [p] + p["targets"]:
            if obj.get("datasource") != {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}:
                raise Fail(f"panel {p['title']}: datasource {obj.get('datasource')}")
        if not p["targets"]:
            raise Fail(f"panel {p['title']} has no query")
    for need in ["Hit rate per shard", "Operations per second by kind", "Latency quantiles",
                 "Memory held", "Memory waiting for reclamation", "Lock contention",
                 "Wheel drift and maintenance", "Evictions and expirations by cause"]:
        if need not in titles:
            raise Fail(f"no panel {need!r}")
    if not any("histogram_quantile" in e for _, e in exprs(dash["panels"])):
        raise Fail("no latency quantile from a histogram")


def dashboard_names(dash):
    """Every metric name the dashboard's queries and variables use."""
    found = {}
    texts = list(exprs(dash["panels"]))
    for v in dash["templating"]["list"]:
        if v["type"] == "query":
            texts.append((f"variable {v['name']}", v["definition"]))
    for where, expr in texts:
        for name in re.findall(r"\bgomap_[a-zA-Z0-9_:]*", expr):
            found.setdefault(name, where)
    return found


def run_dashboard(tmp, children, server, path):
    with open(path) as f:
        dash = json.load(f)
    check_dashboard(dash)
    deadline = time.monotonic() + DEADLINE_S
    port = start_example(children, server, deadline, LIFETIME_S)
    time.sleep(1)  # some load, so that every family has samples
    served, _ = served_names(port)
    used = dashboard_names(dash)
    missing = {n: w for n, w in used.items() if n not in served}
    if missing:
        raise Fail("the dashboard uses metrics the exporter does not serve: " +
                   ", ".join(f"{n} ({w})" for n, w in sorted(missing.items())))
    print(f"{len(dash['panels'])} panels; the {len(used)} metric names they use are all served")


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("prometheus", "dashboard"):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    tmp = tempfile.mkdtemp(prefix="gomap-metrics-")
    children = Children(tmp)

    def on_signal(sig, frame):
        raise Fail(f"signal {sig}")
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        if sys.argv[1] == "prometheus":
            run_prometheus(tmp, children, sys.argv[2])
        else:
            run_dashboard(tmp, children, sys.argv[2], sys.argv[3])
        print("ok")
        return 0
    except Fail as e:
        print(f"FAIL: {e}", file=sys.stderr)
        for name in ("cache_server", "prometheus"):
            p = os.path.join(tmp, name + ".out")
            if os.path.exists(p):
                with open(p) as f:
                    print(f"--- {name} output:\n{f.read()[-3000:]}", file=sys.stderr)
        return 1
    finally:
        children.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
