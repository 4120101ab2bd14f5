# The core suite: each peer's time per operation / gomap's, per workload at
# the largest n (above 1: gomap is faster), u64 keys and string keys.
# Data: core_ratio.dat, one block per key type, titled in
# core_ratio.blocks.
# size: 1400,600
set termoption noenhanced
f = datadir."/core_ratio.dat"
stats f using 0 nooutput
blocks = STATS_blocks
ncols = words(system("head -1 '".f."'"))
set multiplot layout 1,blocks title "gomap against its peers: peer's time / gomap's (above 1: gomap is faster)\n".title
set grid ytics
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set xtics rotate by -30 font ",9"
set key top left
set logscale y
set arrow 1 from graph 0, first 1 to graph 1, first 1 nohead lw 2 dt 2 lc rgb "black"
do for [b = 0:blocks - 1] {
    set title system(sprintf("sed -n %dp '%s'", b + 1, datadir."/core_ratio.blocks"))
    plot for [c = 2:ncols] f index b using c:xtic(1) title columnheader(c)
}
unset multiplot
