# Memory of the strategies matrix's contenders: bytes held per entry at the
# end of a read-90 run and the run's peak per entry (left), and the
# reclamation backlog, retired KiB waiting for a grace period, peak and at
# the end of an exchange run, for the contenders that retire memory
# (right). Data: strat_memory.dat, strat_memory_retired.dat.
# size: 1400,600
set termoption noenhanced
set multiplot layout 1,2 title "Strategies matrix: memory\n".title
set grid ytics
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set xtics rotate by -35 font ",9"
set key top left
set yrange [0:*]
set title "bytes per entry (read-90)"
f = datadir."/strat_memory.dat"
plot f using 2:xtic(1) title columnheader(2), '' using 3 title columnheader(3)
set title "retired KiB waiting for a grace period (exchange)"
set logscale y
set yrange [*:*]
r = datadir."/strat_memory_retired.dat"
plot r using 2:xtic(1) title columnheader(2), '' using 3 title columnheader(3)
unset multiplot
