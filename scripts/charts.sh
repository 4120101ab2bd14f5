#!/bin/sh
# Draws the benchmark charts (docs/bench.md, "Charts") into SVG and PNG:
# every bench/charts/NAME.gp whose data, NAME.dat, is in the data
# directory; the others are skipped with a message. gomap-bench's JSON is
# turned into data by bench/charts/charts_data.py (the core suite's ratio
# chart and the strategies matrix's throughput, latency and memory charts);
# a chart with data of its own is drawn when its NAME.dat is put in the
# data directory (--data) before this runs.
#
# usage: scripts/charts.sh [--quick] [--json-dir DIR] [--data DIR] [--out DIR]
#   (default)      run build/release/bench/gomap-bench --json: the core
#                  suite and the strategies matrix, default profile (several
#                  minutes), and keep their JSON in the data directory
#   --quick        the same with --quick (about a minute)
#   --json-dir DIR take DIR/core.json and DIR/strategies.json instead of
#                  running gomap-bench (either may be missing)
#   --data DIR     where the data files go and are looked for (default:
#                  build/charts/data)
#   --out DIR      where the charts go (default: docs/charts)
# Needs gnuplot and python3: installs them (scripts/install-deps.sh build)
# when missing. GOMAP_BENCH overrides the gomap-bench program.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
bench=${GOMAP_BENCH:-$root/build/release/bench/gomap-bench}
profile="" json_dir="" data="$root/build/charts/data" out="$root/docs/charts"
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) profile=--quick ;;
    --json-dir) json_dir=$2; shift ;;
    --data) data=$2; shift ;;
    --out) out=$2; shift ;;
    *) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
  esac
  shift
done

if ! command -v gnuplot >/dev/null || ! command -v python3 >/dev/null; then
  "$root/scripts/install-deps.sh" build
fi
mkdir -p "$data" "$out"

# The JSON: given, or run now.
if [ -z "$json_dir" ]; then
  json_dir=$data
  for suite in single strategies; do
    name=$suite; [ "$suite" = single ] && name=core
    echo "charts: gomap-bench --suite $suite $profile --json" >&2
    "$bench" --suite "$suite" $profile --json > "$data/$name.json"
  done
fi
set --
[ -f "$json_dir/core.json" ] && set -- "$@" --core "$json_dir/core.json"
[ -f "$json_dir/strategies.json" ] && set -- "$@" --strategies "$json_dir/strategies.json"
python3 "$root/bench/charts/charts_data.py" "$data" "$@"

# Every chart whose data is there, as SVG and PNG.
drawn=0
for gp in "$root"/bench/charts/*.gp; do
  name=$(basename "$gp" .gp)
  case "$name" in _*) continue ;; esac
  if [ ! -f "$data/$name.dat" ]; then
    echo "charts: $name skipped: no $data/$name.dat" >&2
    continue
  fi
  size=$(sed -n 's/^# size: *//p' "$gp")
  title=$(cat "$data/$name.title" 2>/dev/null || true)
  for term in "svg size ${size:-1200,600} dynamic background rgb 'white' font 'sans,11'" \
              "pngcairo size ${size:-1200,600} background rgb 'white' font 'sans,10'"; do
    ext=svg; case "$term" in pngcairo*) ext=png ;; esac
    gnuplot -e "datadir='$data'; title='$title'" \
            -e "set terminal $term; set output '$out/$name.$ext'" \
            "$root/bench/charts/_style.gp" "$gp"
  done
  echo "charts: $out/$name.svg, $out/$name.png" >&2
  drawn=$((drawn + 1))
done
[ "$drawn" -gt 0 ] || { echo "charts: nothing drawn (no data)" >&2; exit 1; }
