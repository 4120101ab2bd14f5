# growth_latency.gp — the latency of every insert while a u64 -> u64 map
# grows from empty (gomap-bench's insert-latency workload), as a
# complementary CDF: the fraction of inserts taking at least x, log-log,
# one line per implementation. Self-contained:
#
#   gnuplot -e "data='FILE'; out='docs/charts/growth-latency.svg'" bench/charts/growth_latency.gp
#
# data: a file written by `gomap-bench --workloads insert-latency --ccdf FILE`
#       (its first case is plotted; columns: latency_ns, then one per
#       implementation, named in the header line).
# out:  the picture; .svg or .png by its extension (default: growth-latency.svg).
if (!exists("data")) print "usage: gnuplot -e \"data='FILE'; out='OUT.svg'\" growth_latency.gp"; exit
if (!exists("out")) out = "growth-latency.svg"

if (out[strlen(out)-3:] eq ".png") {
    set terminal pngcairo size 900,560 font "sans,11"
} else {
    set terminal svg size 900,560 dynamic font "sans,11"
}
set output out

# How many columns the data has (the first line names them).
set datafile columnheaders
stats data index 0 nooutput
set title "Insert latency while growing from empty: fraction of inserts slower than x"
set xlabel "insert latency (ns)"
set ylabel "fraction of inserts taking at least x"
set logscale xy
set format x "10^{%T}"
set format y "10^{%T}"
set xrange [100:*]
set yrange [1e-8:1]
set grid xtics ytics mxtics mytics lc rgb "#dddddd"
set key top right
set arrow from 20000, graph 0 to 20000, graph 1 nohead dt 2 lc rgb "#888888"
set arrow from 100000, graph 0 to 100000, graph 1 nohead dt 2 lc rgb "#888888"
set label "20 us" at 20000, graph 0.97 offset 0.5,0 tc rgb "#666666"
set label "100 us" at 100000, graph 0.97 offset 0.5,0 tc rgb "#666666"
set style data steps

ncols = STATS_columns
plot for [c=2:ncols] data index 0 using 1:(column(c) > 0 ? column(c) : NaN) \
     title columnheader(c) lw 2
