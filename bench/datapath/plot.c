/* plot.c - see plot.h. */
#include "plot.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kproxy.h"
#include "proc.h"
#include "util.h"

/* One plot: a figure of every path (or programming times) against the service count. */
struct figure {
	const char *suffix; /* file name part */
	const char *title, *ylabel;
	enum report_field field;
	bool ratio;
	bool prog;  /* programming times instead of a path figure */
	bool log_y; /* values over orders of magnitude */
};

static const struct figure figures[] = {
	{ "cps", "New connections per second, ratio to direct", "ratio to direct (1.00 = direct)",
	  REPORT_F_CPS, true, false, false },
	{ "rps", "Requests per second on kept connections, ratio to direct",
	  "ratio to direct (1.00 = direct)", REPORT_F_RPS, true, false, false },
	{ "p50", "Latency of one request on a new connection, p50", "microseconds", REPORT_F_P50,
	  false, false, false },
	{ "p99", "Latency of one request on a new connection, p99", "microseconds", REPORT_F_P99,
	  false, false, false },
	{ "cpu", "CPU time per new connection (whole machine)", "microseconds", REPORT_F_CPU_CONN,
	  false, false, false },
	{ "prog", "Time to program N services, and to apply one change", "seconds (log scale)",
	  REPORT_F_CPS, false, true, true },
};

/* Series names must not contain the data file's separators. */
static void column_name(FILE *f, const char *title)
{
	fputc('"', f);
	for (const char *p = title; *p; p++)
		fputc(*p == '"' ? '\'' : *p, f);
	fputc('"', f);
}

/* The data file of one figure: a header row, then a row per service count. 0 or -errno. */
static int write_data(const struct report *r, const struct figure *fig, const char *path,
		      int *ncols)
{
	int n = fig->prog ? PROG__MAX : PATH__MAX, used[PROG__MAX + PATH__MAX], nused = 0;
	FILE *f = fopen(path, "w");

	if (!f)
		return -errno;
	/* Only series with at least one value. */
	for (int s = 0; s < n; s++) {
		bool any = false;
		double v;

		for (int c = 0; c < r->ncounts && !any; c++)
			any = fig->prog ? report_prog_median(r, s, c, &v)
					: report_median(r, s, c, fig->field, fig->ratio, &v);
		if (any)
			used[nused++] = s;
	}
	fputs("services", f);
	for (int i = 0; i < nused; i++) {
		fputc(' ', f);
		column_name(f, fig->prog ? report_prog_title[used[i]] : report_path_title[used[i]]);
	}
	fputc('\n', f);
	for (int c = 0; c < r->ncounts; c++) {
		fprintf(f, "%d", r->counts[c]);
		for (int i = 0; i < nused; i++) {
			double v;
			bool ok = fig->prog ? report_prog_median(r, used[i], c, &v)
					    : report_median(r, used[i], c, fig->field, fig->ratio,
							    &v);

			if (ok && !fig->prog && used[i] == PATH_DIRECT && fig->ratio)
				v = 1.0;
			if (ok)
				fprintf(f, " %.6g", v);
			else
				fputs(" ?", f);
		}
		fputc('\n', f);
	}
	*ncols = nused;
	return fclose(f) == 0 ? 0 : -EIO;
}

int plot_write(const struct report *r, const char *dir, const char *stem, char *err, size_t errlen)
{
	char *gp = xasprintf("%s/%s.gp", dir, stem);
	FILE *f = fopen(gp, "w");
	int rc = 0;

	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", gp, strerror(errno));
		goto out;
	}
	fprintf(f,
		"# gnuplot %s.gp (from %s): the datapath benchmark's figures\n"
		"set terminal pngcairo size 1000,800 font \",10\"\n"
		"set datafile missing \"?\"\n"
		"set key below vertical Left reverse noenhanced\n"
		"set format y \"%%g\"\n"
		"set logscale x\n"
		"set xlabel \"services programmed\"\n"
		"set grid\n"
		"set xtics (",
		stem, dir);
	for (int c = 0; c < r->ncounts; c++)
		fprintf(f, "%s\"%d\" %d", c ? ", " : "", r->counts[c], r->counts[c]);
	fputs(")\n", f);
	for (size_t i = 0; i < ARRAY_SIZE(figures) && !rc; i++) {
		const struct figure *fig = &figures[i];
		char *dat = xasprintf("%s/%s-%s.dat", dir, stem, fig->suffix);
		int ncols = 0;

		rc = write_data(r, fig, dat, &ncols);
		if (rc < 0)
			snprintf(err, errlen, "%s: %s", dat, strerror(-rc));
		else if (ncols > 0) {
			fprintf(f,
				"set output \"%s/%s-%s.png\"\n"
				"set title \"%s (%s, %d cores)\" noenhanced\n"
				"set ylabel \"%s\"\n"
				"%s\n"
				"plot for [i=2:%d] \"%s\" using 1:i with linespoints lw 2 "
				"title columnhead(i)\n",
				dir, stem, fig->suffix, fig->title, r->date, r->cores, fig->ylabel,
				fig->log_y ? "set logscale y" : "unset logscale y", ncols + 1, dat);
		}
		free(dat);
	}
	if (fclose(f) != 0 && !rc) {
		rc = -EIO;
		snprintf(err, errlen, "%s: write failed", gp);
	}
	if (rc < 0)
		goto out;
	if (!kproxy_tool_present("gnuplot")) {
		snprintf(err, errlen,
			 "gnuplot is not installed (Debian: gnuplot-nox): data and %s "
			 "written, no PNGs",
			 gp);
		rc = 1;
		goto out;
	}
	rc = proc_runl(false, NULL, "gnuplot", gp, NULL);
	if (rc != 0) {
		snprintf(err, errlen, "gnuplot %s failed", gp);
		rc = rc < 0 ? rc : -EIO;
	}
out:
	free(gp);
	return rc;
}
