# One operation's latency per contender of the strategies matrix (read-90,
# uniform keys, the largest n, 2 threads): p50, p99 and p99.9 of the
# operations sampled (1 in 64), log scale. Data: strat_latency.dat.
# size: 1200,600
set termoption noenhanced
set title "Strategies matrix: latency of one operation (ns, 1 in 64 sampled)\n".title
set logscale y
set grid ytics
set ylabel "ns"
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set xtics rotate by -35 font ",9"
set key top left
f = datadir."/strat_latency.dat"
plot f using 2:xtic(1) title columnheader(2), '' using 3 title columnheader(3), \
     '' using 4 title columnheader(4)
