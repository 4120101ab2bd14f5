#!/bin/sh
# Draws docs/cache-hit-ratio.svg: the hit ratio of every policy of
# gomap-cachesim (the real cache, column "gomap", among them) on every
# trace and cache size, one panel per trace, from `gomap-cachesim --csv`.
#
# usage: bench/cache/hit_ratio_chart.sh [GOMAP_CACHESIM [OUT.svg]]
#   GOMAP_CACHESIM  default build/release/bench/gomap-cachesim
#   OUT.svg         default docs/cache-hit-ratio.svg
# Needs gnuplot (scripts/install-deps.sh build).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
sim=${1:-$root/build/release/bench/gomap-cachesim}
out=${2:-$root/docs/cache-hit-ratio.svg}
command -v gnuplot >/dev/null || { echo "$0: gnuplot not found (scripts/install-deps.sh build)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$sim" --csv > "$tmp/all.csv"

# One file per trace (gnuplot's panels), and the column names.
awk -F, -v dir="$tmp" 'NR == 1 { next } { print > (dir "/" $1 ".csv") }' "$tmp/all.csv"
traces=$(awk -F, 'NR > 1 && !seen[$1]++ { print $1 }' "$tmp/all.csv")
# Policies: columns 5 .. (before ours-best, if present).
npol=$(head -1 "$tmp/all.csv" | awk -F, '{ n = NF - 4; if ($NF == "ours-best") n--; print n }')
names=$(head -1 "$tmp/all.csv" | cut -d, -f5- | tr ',' ' ')
ntraces=$(echo "$traces" | wc -l)
rows=$(( (ntraces + 3) / 4 ))

{
  echo "set terminal svg size 1400,$((rows * 300 + 60)) dynamic font 'sans,11' background rgb 'white'"
  echo "set output '$out'"
  echo "set datafile separator ','"
  echo "set termoption noenhanced"
  echo "set multiplot layout $rows,4 title 'Hit ratio (%) by trace and cache size (entries): gomap-cachesim --csv; \"gomap\" is the real cache through its API'"
  echo "set key bottom right font ',8' samplen 2"
  echo "set grid ytics"
  echo "set style data linespoints"
  echo "set xtics rotate by -30 font ',8'"
  echo "set yrange [0:*]"
  first=1
  for t in $traces; do
    echo "set title '$t'"
    [ $first -eq 1 ] || echo "unset key"
    first=0
    printf "plot"
    i=0
    for name in $names; do
      i=$((i + 1))
      [ $i -le "$npol" ] || break
      col=$((i + 4))
      lw=1; [ "$name" = gomap ] && lw=3
      [ $i -eq 1 ] || printf ","
      printf " '%s' using 0:%d:xtic(2) title '%s' lw %d pt %d" "$tmp/$t.csv" "$col" "$name" "$lw" "$i"
    done
    echo
  done
  echo "unset multiplot"
} > "$tmp/plot.gp"
gnuplot "$tmp/plot.gp"
echo "$0: wrote $out" >&2
