# gnuplot datapath-2026-12-01.gp (from bench/results): the datapath benchmark's figures
set terminal pngcairo size 1000,800 font ",10"
set datafile missing "?"
set key below vertical Left reverse noenhanced
set format y "%g"
set logscale x
set xlabel "services programmed"
set grid
set xtics ("1" 1, "1000" 1000, "10000" 10000, "30000" 30000)
set output "bench/results/datapath-2026-12-01-cps.png"
set title "New connections per second, ratio to direct (2026-12-01, 2 cores)" noenhanced
set ylabel "ratio to direct (1.00 = direct)"
unset logscale y
plot for [i=2:11] "bench/results/datapath-2026-12-01-cps.dat" using 1:i with linespoints lw 2 title columnhead(i)
set output "bench/results/datapath-2026-12-01-rps.png"
set title "Requests per second on kept connections, ratio to direct (2026-12-01, 2 cores)" noenhanced
set ylabel "ratio to direct (1.00 = direct)"
unset logscale y
plot for [i=2:11] "bench/results/datapath-2026-12-01-rps.dat" using 1:i with linespoints lw 2 title columnhead(i)
set output "bench/results/datapath-2026-12-01-p50.png"
set title "Latency of one request on a new connection, p50 (2026-12-01, 2 cores)" noenhanced
set ylabel "microseconds"
unset logscale y
plot for [i=2:11] "bench/results/datapath-2026-12-01-p50.dat" using 1:i with linespoints lw 2 title columnhead(i)
set output "bench/results/datapath-2026-12-01-p99.png"
set title "Latency of one request on a new connection, p99 (2026-12-01, 2 cores)" noenhanced
set ylabel "microseconds"
unset logscale y
plot for [i=2:11] "bench/results/datapath-2026-12-01-p99.dat" using 1:i with linespoints lw 2 title columnhead(i)
set output "bench/results/datapath-2026-12-01-cpu.png"
set title "CPU time per new connection (whole machine) (2026-12-01, 2 cores)" noenhanced
set ylabel "microseconds"
unset logscale y
plot for [i=2:11] "bench/results/datapath-2026-12-01-cpu.dat" using 1:i with linespoints lw 2 title columnhead(i)
set output "bench/results/datapath-2026-12-01-prog.png"
set title "Time to program N services, and to apply one change (2026-12-01, 2 cores)" noenhanced
set ylabel "seconds (log scale)"
set logscale y
plot for [i=2:13] "bench/results/datapath-2026-12-01-prog.dat" using 1:i with linespoints lw 2 title columnhead(i)
