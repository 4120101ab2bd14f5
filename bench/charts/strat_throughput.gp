# Throughput against threads, one panel per workload of the strategies
# matrix (uniform keys, the largest n): every contender's Mops/s, log scale
# (the capped snapshot map left out).
# Data: strat_throughput.dat (charts_data.py), one block per workload, titled in
# strat_throughput.blocks.
# The driver (scripts/charts.sh) sets the terminal and output, and
# `datadir` and `title`.
# size: 1400,900
set termoption noenhanced
set multiplot layout 2,2 title "Strategies matrix: throughput (Mops/s, all threads) by thread count\n".title
set logscale y
set format y "%g"
set grid ytics
set xlabel "threads"
set ylabel "Mops/s"
set key outside right font ",8" samplen 2
set style data linespoints
f = datadir."/strat_throughput.dat"
stats f using 0 nooutput
blocks = STATS_blocks
ncols = words(system("head -1 '".f."'"))
do for [b = 0:blocks - 1] {
    set title system(sprintf("sed -n %dp '%s'", b + 1, datadir."/strat_throughput.blocks"))
    plot for [c = 2:ncols] f index b using 0:c:xtic(1) title columnheader(c) lt (c - 1)
}
unset multiplot
