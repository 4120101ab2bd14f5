# Loaded by scripts/charts.sh before every chart (files starting with "_"
# are not charts): 16 line types of distinct colours, so that the
# strategies matrix's contenders stay apart (gnuplot's default cycles 8).
colours = "#1f77b4 #ff7f0e #2ca02c #d62728 #9467bd #8c564b #e377c2 #7f7f7f #bcbd22 #17becf #393b79 #e6550d #31a354 #756bb1 #843c39 #000000"
do for [i = 1:16] {
    dash = i > 8 ? 2 : 1
    set linetype i lc rgb word(colours, i) lw 2 pt i dashtype dash
}
set linetype cycle 16
