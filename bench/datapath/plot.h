/*
 * plot.h - the datapath report as PNG plots, one per figure against the
 * service count, drawn by gnuplot.
 *
 * For each figure a whitespace-separated data file (a row per service
 * count, a column per path, "?" where a path has no figure) and one gnuplot
 * script for all of them are written next to the Markdown report; gnuplot
 * is then run on the script when it is installed (Debian: gnuplot-nox), so
 * a machine without it still gets the data and the script to plot
 * elsewhere. Plotted: connection and request rates as ratios to direct
 * (1.00 = as fast as talking to the pod), new-connection latency p50 and
 * p99, CPU time per connection, and the time to program N services (log
 * scale: milliseconds for capstan, seconds for iptables).
 */
#ifndef CAPSTAN_BENCH_PLOT_H
#define CAPSTAN_BENCH_PLOT_H

#include <stddef.h>

#include "report.h"

/*
 * Write dir/stem-*.dat and dir/stem.gp, and run gnuplot on the script to
 * make dir/stem-*.png. 0 when the plots were drawn; 1 when only data and
 * script were written (no gnuplot: err says so); -errno with err set.
 */
int plot_write(const struct report *r, const char *dir, const char *stem, char *err, size_t errlen);

#endif
