/*
 * Unit tests for control/apiserver/tables: the Table columns and cells of each
 * resource, compared with what upstream's printers produce, HumanDuration's
 * boundaries, bad input, and (when kubectl 1.32 is installed) kubectl printing
 * our Table served by a loopback fake API server.
 */
#include "test.h"
#include "testsrv.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "control/apiserver/tables.h"
#include "jsonx.h"
#include "ktime.h"
#include "util.h"

/* Every object below is printed as of this instant. */
#define NOW "2024-06-01T12:00:00Z"

static int64_t now_ns(void)
{
	int64_t ns = 0;

	ASSERT_OK(ktime_parse(NOW, &ns));
	return ns;
}

static const int64_t SEC = 1000000000LL;

/*
 * The row of obj_json as compact JSON (strings quoted, integers bare), after
 * checking it has exactly one cell per column. The caller frees the result.
 */
static char *row_at(const char *file, int line, const char *resource, const char *obj_json)
{
	json_error_t jerr;
	json_t *obj = json_loads(obj_json, JSON_DECODE_ANY, &jerr);
	json_t *cells, *cols;
	char *out;

	if (!obj)
		test_fail(file, line, "test object is not JSON: %s (column %d)", jerr.text,
			  jerr.column);
	cells = table_cells(resource, obj, now_ns());
	cols = table_columns(resource);
	json_decref(obj);
	if (!cells || json_array_size(cells) != json_array_size(cols))
		test_fail(file, line, "%zu cells for %zu columns", json_array_size(cells),
			  json_array_size(cols));
	out = jsonx_dumps_compact(cells);
	json_decref(cells);
	json_decref(cols);
	return out;
}

#define EXPECT_ROW(resource, obj_json, expected)                                         \
	do {                                                                             \
		char *got_ = row_at(__FILE__, __LINE__, (resource), (obj_json));         \
		if (strcmp(got_, (expected)) != 0)                                       \
			test_fail(__FILE__, __LINE__, "row\n   got %s\n  want %s", got_, \
				  (expected));                                           \
		free(got_);                                                              \
	} while (0)

/* "Name:0,Ready:0,...": the column names and priorities, for a compact comparison. */
static char *columns_summary(const char *resource)
{
	json_t *cols = table_columns(resource), *c;
	struct buf b = { 0 };
	size_t i;

	json_array_foreach(cols, i, c)
		buf_appendf(&b, "%s%s:%lld", i ? "," : "", jsonx_str(c, "name", "?"),
			    jsonx_int(c, "priority", -1));
	json_decref(cols);
	return b.data;
}

static void expect_columns(const char *file, int line, const char *resource, const char *expected)
{
	char *got = columns_summary(resource);

	if (!got || strcmp(got, expected) != 0)
		test_fail(file, line, "columns of %s\n   got %s\n  want %s",
			  resource ? resource : "(null)", got ? got : "(null)", expected);
	free(got);
}

#define EXPECT_COLUMNS(resource, expected) expect_columns(__FILE__, __LINE__, resource, expected)

/* The column named name of resource (a new reference), failing when absent. */
static json_t *column(const char *resource, const char *name)
{
	json_t *cols = table_columns(resource), *c, *found = NULL;
	size_t i;

	json_array_foreach(cols, i, c)
		if (strcmp(jsonx_str(c, "name", ""), name) == 0)
			found = json_incref(c);
	json_decref(cols);
	ASSERT_MSG(found, "%s has no column %s", resource, name);
	return found;
}

static const char *const resources[] = {
	"pods",	       "services",   "endpoints",      "nodes",		  "namespaces",
	"events",      "configmaps", "secrets",	       "serviceaccounts", "deployments",
	"replicasets", "daemonsets", "endpointslices", "leases",	  "widgets",
};

/* ------------------------------------------------------------------ durations */

TEST(tables_human_duration_boundaries)
{
	static const struct {
		int64_t ns;
		const char *want;
	} cases[] = {
		{ INT64_MIN, "<invalid>" },
		{ -2 * SEC, "<invalid>" },
		{ -2 * SEC + 1, "0s" }, /* truncates to -1s: clock skew, "now" */
		{ -1 * SEC, "0s" },
		{ -1, "0s" },
		{ 0, "0s" },
		{ SEC - 1, "0s" },
		{ 59 * SEC, "59s" },
		{ 119 * SEC + SEC / 2, "119s" },
		{ 120 * SEC, "2m" },
		{ 125 * SEC, "2m5s" },
		{ (9 * 60 + 59) * SEC, "9m59s" },
		{ 10 * 60 * SEC, "10m" },
		{ (10 * 60 + 30) * SEC, "10m" },
		{ (179 * 60 + 59) * SEC, "179m" },
		{ 180 * 60 * SEC, "3h" },
		{ (3 * 3600 + 5 * 60 + 59) * SEC, "3h5m" },
		{ (7 * 3600 + 59 * 60) * SEC, "7h59m" },
		{ 8 * 3600 * SEC, "8h" },
		{ (8 * 3600 + 30 * 60) * SEC, "8h" },
		{ 47 * 3600 * SEC, "47h" },
		{ 48 * 3600 * SEC, "2d" },
		{ (53 * 3600 + 59 * 60) * SEC, "2d5h" },
		{ (7 * 24 + 23) * 3600 * SEC, "7d23h" },
		{ 8 * 24 * 3600 * SEC, "8d" },
		{ (8 * 24 + 5) * 3600 * SEC, "8d" },
		{ 729LL * 24 * 3600 * SEC, "729d" },
		{ 730LL * 24 * 3600 * SEC, "2y" },
		{ (730LL + 125) * 24 * 3600 * SEC, "2y125d" },
		{ (8 * 365LL - 1) * 24 * 3600 * SEC, "7y364d" },
		{ 8 * 365LL * 24 * 3600 * SEC, "8y" },
		{ (8 * 365LL + 100) * 24 * 3600 * SEC, "8y" },
		{ INT64_MAX, "292y" },
	};
	char buf[32];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		table_human_duration(cases[i].ns, buf, sizeof(buf));
		ASSERT_MSG(strcmp(buf, cases[i].want) == 0, "%lld ns: got %s, want %s",
			   (long long)cases[i].ns, buf, cases[i].want);
	}
}

TEST(tables_human_duration_small_buffers)
{
	char buf[3] = "xx";

	table_human_duration(119 * SEC, buf, sizeof(buf));
	ASSERT_STREQ(buf, "11"); /* truncated, still terminated */
	table_human_duration(119 * SEC, buf, 0);
	ASSERT_STREQ(buf, "11"); /* untouched */
	table_human_duration(119 * SEC, NULL, 0);
}

/* ------------------------------------------------------------------ columns */

TEST(tables_columns_per_resource)
{
	EXPECT_COLUMNS("pods", "Name:0,Ready:0,Status:0,Restarts:0,Age:0,IP:1,Node:1,"
			       "Nominated Node:1,Readiness Gates:1");
	EXPECT_COLUMNS("services",
		       "Name:0,Type:0,Cluster-IP:0,External-IP:0,Port(s):0,Age:0,Selector:1");
	EXPECT_COLUMNS("endpoints", "Name:0,Endpoints:0,Age:0");
	EXPECT_COLUMNS("nodes", "Name:0,Status:0,Roles:0,Age:0,Version:0,Internal-IP:1,"
				"External-IP:1,OS-Image:1,Kernel-Version:1,Container-Runtime:1");
	EXPECT_COLUMNS("namespaces", "Name:0,Status:0,Age:0");
	EXPECT_COLUMNS("events", "Last Seen:0,Type:0,Reason:0,Object:0,Subobject:1,Source:1,"
				 "Message:0,First Seen:1,Count:1,Name:1");
	EXPECT_COLUMNS("configmaps", "Name:0,Data:0,Age:0");
	EXPECT_COLUMNS("secrets", "Name:0,Type:0,Data:0,Age:0");
	EXPECT_COLUMNS("serviceaccounts", "Name:0,Secrets:0,Age:0");
	EXPECT_COLUMNS("deployments", "Name:0,Ready:0,Up-to-date:0,Available:0,Age:0,"
				      "Containers:1,Images:1,Selector:1");
	EXPECT_COLUMNS("replicasets", "Name:0,Desired:0,Current:0,Ready:0,Age:0,Containers:1,"
				      "Images:1,Selector:1");
	EXPECT_COLUMNS("daemonsets", "Name:0,Desired:0,Current:0,Ready:0,Up-to-date:0,"
				     "Available:0,Node Selector:0,Age:0,Containers:1,Images:1,"
				     "Selector:1");
	EXPECT_COLUMNS("endpointslices", "Name:0,AddressType:0,Ports:0,Endpoints:0,Age:0");
	EXPECT_COLUMNS("leases", "Name:0,Holder:0,Age:0");
	EXPECT_COLUMNS("widgets", "Name:0,Created At:0");
	EXPECT_COLUMNS("", "Name:0,Created At:0");
	EXPECT_COLUMNS(NULL, "Name:0,Created At:0");
	EXPECT_COLUMNS("Pods", "Name:0,Created At:0"); /* plural resource names are exact */
}

static const struct {
	const char *resource, *column, *type;
} declared_types[] = {
	{ "pods", "Restarts", "string" }, /* "3 (2m ago)" since 1.22 */
	{ "replicasets", "Desired", "integer" },   { "daemonsets", "Up-to-date", "integer" },
	{ "deployments", "Up-to-date", "string" }, /* declared string, integer cells */
	{ "configmaps", "Data", "string" },	   { "widgets", "Created At", "date" },
};

TEST(tables_column_definition_fields)
{
	json_t *c;
	size_t r;

	/* Every column carries all five members, as metav1.TableColumnDefinition does. */
	for (r = 0; r < ARRAY_SIZE(resources); r++) {
		json_t *cols = table_columns(resources[r]);
		size_t i;

		ASSERT(json_array_size(cols) >= 2);
		json_array_foreach(cols, i, c) {
			const char *name = jsonx_str(c, "name", NULL);
			const char *type = jsonx_str(c, "type", NULL);

			ASSERT_EQ(json_object_size(c), 5);
			ASSERT(name && *name && type && jsonx_str(c, "description", NULL));
			ASSERT(strcmp(type, "string") == 0 || strcmp(type, "integer") == 0 ||
			       strcmp(type, "date") == 0);
			ASSERT_STREQ(jsonx_str(c, "format", NULL),
				     strcmp(name, "Name") == 0 ? "name" : "");
			ASSERT(json_is_integer(json_object_get(c, "priority")));
		}
		json_decref(cols);
	}

	/* Upstream's declared types, which kubectl uses to align and sort. */
	for (r = 0; r < ARRAY_SIZE(declared_types); r++) {
		c = column(declared_types[r].resource, declared_types[r].column);
		ASSERT_STREQ(jsonx_str(c, "type", ""), declared_types[r].type);
		json_decref(c);
	}
	c = column("events", "Name");
	ASSERT_STREQ(jsonx_str(c, "format", ""), "name");
	ASSERT_EQ(jsonx_int(c, "priority", 0), 1);
	json_decref(c);
}

TEST(tables_bad_objects_keep_one_cell_per_column)
{
	static const char *const objects[] = {
		"null",
		"[]",
		"\"pod\"",
		"42",
		"{}",
		"{\"metadata\": 5, \"spec\": \"x\", \"status\": []}",
		"{\"metadata\": {\"name\": 7, \"labels\": [1], \"creationTimestamp\": true,"
		" \"deletionTimestamp\": 3},"
		" \"spec\": {\"containers\": {}, \"initContainers\": \"x\", \"ports\": 5,"
		"  \"selector\": \"app=web\", \"template\": [], \"replicas\": \"3\","
		"  \"readinessGates\": [null, 1], \"externalIPs\": [1, null]},"
		" \"status\": {\"containerStatuses\": [null, 1, {\"state\": []},"
		"  {\"state\": {\"terminated\": 5, \"waiting\": \"x\"}, \"restartCount\": \"2\"}],"
		"  \"initContainerStatuses\": [{\"state\": null}], \"conditions\": {},"
		"  \"loadBalancer\": {\"ingress\": [{\"ip\": 5}]}, \"phase\": 1,"
		"  \"addresses\": \"x\", \"nodeInfo\": []},"
		" \"subsets\": [1, {\"addresses\": 5}], \"ports\": [{\"port\": \"x\"}],"
		" \"endpoints\": [{\"addresses\": [1, \"10.0.0.1\"]}], \"series\": 5,"
		" \"involvedObject\": [], \"data\": [], \"secrets\": {}}",
	};
	size_t r, o;

	for (r = 0; r < ARRAY_SIZE(resources); r++)
		for (o = 0; o < ARRAY_SIZE(objects); o++)
			free(row_at(__FILE__, __LINE__, resources[r], objects[o]));

	/* A NULL object and a NULL resource are printed as empty, not refused. */
	for (r = 0; r < ARRAY_SIZE(resources); r++) {
		json_t *cells = table_cells(resources[r], NULL, now_ns());
		json_t *cols = table_columns(resources[r]);

		ASSERT_EQ(json_array_size(cells), json_array_size(cols));
		json_decref(cells);
		json_decref(cols);
	}
	EXPECT_ROW(NULL, "{\"metadata\": {\"name\": \"x\"}}", "[\"x\",\"0001-01-01T00:00:00Z\"]");
}

/* ------------------------------------------------------------------ AGE */

TEST(tables_age_from_creation_timestamp)
{
	EXPECT_ROW("leases",
		   "{\"metadata\": {\"name\": \"a\", \"creationTimestamp\": \"" NOW "\"}}",
		   "[\"a\",\"\",\"0s\"]");
	EXPECT_ROW("leases",
		   "{\"metadata\": {\"name\": \"a\","
		   " \"creationTimestamp\": \"2024-06-01T11:56:55Z\"}}",
		   "[\"a\",\"\",\"3m5s\"]");
	/* Offsets and fractions are instants like any other. */
	EXPECT_ROW("leases",
		   "{\"metadata\": {\"name\": \"a\","
		   " \"creationTimestamp\": \"2024-05-30T07:00:00.5-05:00\"}}",
		   "[\"a\",\"\",\"47h\"]");
	EXPECT_ROW("leases",
		   "{\"metadata\": {\"name\": \"a\","
		   " \"creationTimestamp\": \"2021-05-01T12:00:00Z\"}}",
		   "[\"a\",\"\",\"3y32d\"]");
	/* Up to a second ahead is skew; further ahead HumanDuration says <invalid>. */
	EXPECT_ROW("leases",
		   "{\"metadata\": {\"name\": \"a\","
		   " \"creationTimestamp\": \"2024-06-01T12:00:01Z\"}}",
		   "[\"a\",\"\",\"0s\"]");
	EXPECT_ROW("leases",
		   "{\"metadata\": {\"name\": \"a\","
		   " \"creationTimestamp\": \"2024-06-01T12:00:10Z\"}}",
		   "[\"a\",\"\",\"<invalid>\"]");
	/* Absent, null, not a string or not RFC 3339: Go's zero time, "<unknown>". */
	EXPECT_ROW("leases", "{\"metadata\": {\"name\": \"a\"}}", "[\"a\",\"\",\"<unknown>\"]");
	EXPECT_ROW("leases", "{\"metadata\": {\"name\": \"a\", \"creationTimestamp\": null}}",
		   "[\"a\",\"\",\"<unknown>\"]");
	EXPECT_ROW("leases", "{\"metadata\": {\"name\": \"a\", \"creationTimestamp\": 1717243200}}",
		   "[\"a\",\"\",\"<unknown>\"]");
	EXPECT_ROW("leases",
		   "{\"metadata\": {\"name\": \"a\", \"creationTimestamp\": \"yesterday\"}}",
		   "[\"a\",\"\",\"<unknown>\"]");
	EXPECT_ROW("leases",
		   "{\"metadata\": {\"name\": \"a\","
		   " \"creationTimestamp\": \"0001-01-01T00:00:00Z\"}}",
		   "[\"a\",\"\",\"<unknown>\"]");
}

/* ------------------------------------------------------------------ pods */

/* A pod created 5 minutes before NOW, with the given spec and status members. */
#define POD(spec, status)                                                              \
	"{\"metadata\": {\"name\": \"web\", \"namespace\": \"default\","               \
	"  \"creationTimestamp\": \"2024-06-01T11:55:00Z\"},"                          \
	" \"spec\": {\"nodeName\": \"n1\", \"containers\": [{\"name\": \"app\"}]" spec \
	"}, \"status\": {" status "}}"

#define POD2(spec, status)                                           \
	"{\"metadata\": {\"name\": \"web\", \"creationTimestamp\": " \
	"\"2024-06-01T11:55:00Z\"}, \"spec\": {\"containers\": "     \
	"[{\"name\": \"a\"}, {\"name\": \"b\"}]" spec "}, \"status\": {" status "}}"

#define RUNNING_READY "{\"name\": \"app\", \"ready\": true, \"state\": {\"running\": {}}}"

TEST(tables_pod_running_and_pending)
{
	EXPECT_ROW("pods",
		   POD("", "\"phase\": \"Running\", \"podIP\": \"10.244.1.5\","
			   " \"containerStatuses\": [" RUNNING_READY "]"),
		   "[\"web\",\"1/1\",\"Running\",\"0\",\"5m\",\"10.244.1.5\",\"n1\",\"<none>\","
		   "\"<none>\"]");
	/* Running but the container is not ready: READY 0/1, STATUS stays Running. */
	EXPECT_ROW("pods",
		   POD("", "\"phase\": \"Running\", \"containerStatuses\": [{\"name\": \"app\","
			   " \"ready\": false, \"state\": {\"running\": {}}}]"),
		   "[\"web\",\"0/1\",\"Running\",\"0\",\"5m\",\"<none>\",\"n1\",\"<none>\","
		   "\"<none>\"]");
	/* Unscheduled: nothing but the phase. */
	EXPECT_ROW("pods",
		   "{\"metadata\": {\"name\": \"p\", \"creationTimestamp\": "
		   "\"2024-06-01T11:59:30Z\"}, \"spec\": {\"containers\": [{}, {}]},"
		   " \"status\": {\"phase\": \"Pending\"}}",
		   "[\"p\",\"0/2\",\"Pending\",\"0\",\"30s\",\"<none>\",\"<none>\",\"<none>\","
		   "\"<none>\"]");
	/* No status at all: the phase upstream's create strategy would have set. */
	EXPECT_ROW("pods", "{\"metadata\": {\"name\": \"p\"}, \"spec\": {\"containers\": [{}]}}",
		   "[\"p\",\"0/1\",\"Pending\",\"0\",\"<unknown>\",\"<none>\",\"<none>\","
		   "\"<none>\",\"<none>\"]");
	/* Scheduling gates win over the phase. */
	EXPECT_ROW("pods",
		   POD("", "\"phase\": \"Pending\", \"conditions\": [{\"type\": \"PodScheduled\","
			   " \"status\": \"False\", \"reason\": \"SchedulingGated\"}]"),
		   "[\"web\",\"0/1\",\"SchedulingGated\",\"0\",\"5m\",\"<none>\",\"n1\","
		   "\"<none>\",\"<none>\"]");
}

TEST(tables_pod_waiting_reasons)
{
	static const char *const reasons[] = { "ContainerCreating", "CrashLoopBackOff",
					       "ErrImagePull", "ImagePullBackOff",
					       "CreateContainerConfigError" };
	char obj[1024], want[256];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(reasons); i++) {
		snprintf(obj, sizeof(obj),
			 POD("", "\"phase\": \"Pending\", \"containerStatuses\": [{\"name\": "
				 "\"app\", \"ready\": false, \"state\": {\"waiting\": "
				 "{\"reason\": \"%s\"}}}]"),
			 reasons[i]);
		snprintf(want, sizeof(want),
			 "[\"web\",\"0/1\",\"%s\",\"0\",\"5m\",\"<none>\",\"n1\",\"<none>\","
			 "\"<none>\"]",
			 reasons[i]);
		EXPECT_ROW("pods", obj, want);
	}
	/* A waiting state without a reason leaves the phase. */
	EXPECT_ROW("pods",
		   POD("", "\"phase\": \"Pending\", \"containerStatuses\": [{\"name\": \"app\","
			   " \"state\": {\"waiting\": {}}}]"),
		   "[\"web\",\"0/1\",\"Pending\",\"0\",\"5m\",\"<none>\",\"n1\",\"<none>\","
		   "\"<none>\"]");
	/* With two containers the first one's reason wins (statuses are walked backwards). */
	EXPECT_ROW(
		"pods",
		POD2("",
		     "\"phase\": \"Pending\", \"containerStatuses\": ["
		     "{\"name\": \"a\", \"state\": {\"waiting\": {\"reason\": \"ErrImagePull\"}}},"
		     "{\"name\": \"b\", \"state\": {\"waiting\": {\"reason\": "
		     "\"ContainerCreating\"}}}]"),
		"[\"web\",\"0/2\",\"ErrImagePull\",\"0\",\"5m\",\"<none>\",\"<none>\",\"<none>\","
		"\"<none>\"]");
}

TEST(tables_pod_restarts_with_last_restart_age)
{
	/* CrashLoopBackOff after 5 restarts, the last one 2 minutes ago. */
	EXPECT_ROW("pods",
		   POD("",
		       "\"phase\": \"Running\", \"containerStatuses\": [{\"name\": \"app\","
		       " \"restartCount\": 5, \"state\": {\"waiting\": {\"reason\": "
		       "\"CrashLoopBackOff\"}}, \"lastState\": {\"terminated\": {\"exitCode\": 1,"
		       " \"reason\": \"Error\", \"finishedAt\": \"2024-06-01T11:58:00Z\"}}}]"),
		   "[\"web\",\"0/1\",\"CrashLoopBackOff\",\"5 (2m ago)\",\"5m\",\"<none>\",\"n1\","
		   "\"<none>\",\"<none>\"]");
	/* Restarts are summed over containers; the latest finishedAt gives the age. */
	EXPECT_ROW("pods",
		   POD2("", "\"phase\": \"Running\", \"containerStatuses\": ["
			    "{\"name\": \"a\", \"ready\": true, \"restartCount\": 2,"
			    " \"state\": {\"running\": {}}, \"lastState\": {\"terminated\": "
			    "{\"finishedAt\": \"2024-06-01T11:00:00Z\"}}},"
			    "{\"name\": \"b\", \"ready\": true, \"restartCount\": 1,"
			    " \"state\": {\"running\": {}}, \"lastState\": {\"terminated\": "
			    "{\"finishedAt\": \"2024-06-01T11:59:15Z\"}}}]"),
		   "[\"web\",\"2/2\",\"Running\",\"3 (45s ago)\",\"5m\",\"<none>\",\"<none>\","
		   "\"<none>\",\"<none>\"]");
	/* Restarts without a recorded termination time print the bare count. */
	EXPECT_ROW("pods",
		   POD("", "\"phase\": \"Running\", \"containerStatuses\": [{\"name\": \"app\","
			   " \"ready\": true, \"restartCount\": 4, \"state\": {\"running\": {}}}]"),
		   "[\"web\",\"1/1\",\"Running\",\"4\",\"5m\",\"<none>\",\"n1\",\"<none>\","
		   "\"<none>\"]");
	/* A termination time without restarts is not shown either. */
	EXPECT_ROW("pods",
		   POD("", "\"phase\": \"Running\", \"containerStatuses\": [{\"name\": \"app\","
			   " \"ready\": true, \"state\": {\"running\": {}}, \"lastState\": "
			   "{\"terminated\": {\"finishedAt\": \"2024-06-01T11:58:00Z\"}}}]"),
		   "[\"web\",\"1/1\",\"Running\",\"0\",\"5m\",\"<none>\",\"n1\",\"<none>\","
		   "\"<none>\"]");
}

TEST(tables_pod_terminated_containers)
{
	/* A finished job pod. */
	EXPECT_ROW("pods",
		   POD("", "\"phase\": \"Succeeded\", \"containerStatuses\": [{\"name\": \"app\","
			   " \"state\": {\"terminated\": {\"exitCode\": 0, \"reason\": "
			   "\"Completed\"}}}]"),
		   "[\"web\",\"0/1\",\"Completed\",\"0\",\"5m\",\"<none>\",\"n1\",\"<none>\","
		   "\"<none>\"]");
	EXPECT_ROW("pods",
		   POD("", "\"phase\": \"Failed\", \"containerStatuses\": [{\"name\": \"app\","
			   " \"state\": {\"terminated\": {\"exitCode\": 1, \"reason\": "
			   "\"Error\"}}}]"),
		   "[\"web\",\"0/1\",\"Error\",\"0\",\"5m\",\"<none>\",\"n1\",\"<none>\","
		   "\"<none>\"]");
	EXPECT_ROW("pods",
		   POD("", "\"phase\": \"Failed\", \"containerStatuses\": [{\"name\": \"app\","
			   " \"state\": {\"terminated\": {\"exitCode\": 137, \"signal\": 9}}}]"),
		   "[\"web\",\"0/1\",\"Signal:9\",\"0\",\"5m\",\"<none>\",\"n1\",\"<none>\","
		   "\"<none>\"]");
	EXPECT_ROW("pods",
		   POD("", "\"phase\": \"Failed\", \"containerStatuses\": [{\"name\": \"app\","
			   " \"state\": {\"terminated\": {\"exitCode\": 2}}}]"),
		   "[\"web\",\"0/1\",\"ExitCode:2\",\"0\",\"5m\",\"<none>\",\"n1\",\"<none>\","
		   "\"<none>\"]");
	/* One container completed, the other still running: Running when the pod is Ready... */
	EXPECT_ROW("pods",
		   POD2("", "\"phase\": \"Running\", \"conditions\": [{\"type\": \"Ready\","
			    " \"status\": \"True\"}], \"containerStatuses\": ["
			    "{\"name\": \"a\", \"state\": {\"terminated\": {\"reason\": "
			    "\"Completed\"}}},"
			    "{\"name\": \"b\", \"ready\": true, \"state\": {\"running\": {}}}]"),
		   "[\"web\",\"1/2\",\"Running\",\"0\",\"5m\",\"<none>\",\"<none>\",\"<none>\","
		   "\"<none>\"]");
	/* ...and NotReady when its Ready condition is not True. */
	EXPECT_ROW("pods",
		   POD2("", "\"phase\": \"Running\", \"conditions\": [{\"type\": \"Ready\","
			    " \"status\": \"False\"}], \"containerStatuses\": ["
			    "{\"name\": \"a\", \"state\": {\"terminated\": {\"reason\": "
			    "\"Completed\"}}},"
			    "{\"name\": \"b\", \"ready\": true, \"state\": {\"running\": {}}}]"),
		   "[\"web\",\"1/2\",\"NotReady\",\"0\",\"5m\",\"<none>\",\"<none>\",\"<none>\","
		   "\"<none>\"]");
}

TEST(tables_pod_status_reason_and_deletion)
{
	/* status.reason replaces the phase (Evicted pods keep their containers' state). */
	EXPECT_ROW("pods",
		   POD("", "\"phase\": \"Failed\", \"reason\": \"Evicted\", \"message\": "
			   "\"The node was low on resource: memory.\""),
		   "[\"web\",\"0/1\",\"Evicted\",\"0\",\"5m\",\"<none>\",\"n1\",\"<none>\","
		   "\"<none>\"]");
	EXPECT_ROW("pods",
		   "{\"metadata\": {\"name\": \"web\", \"creationTimestamp\": "
		   "\"2024-06-01T11:55:00Z\", \"deletionTimestamp\": \"2024-06-01T11:59:00Z\"},"
		   " \"spec\": {\"containers\": [{}]}, \"status\": {\"phase\": \"Running\","
		   " \"containerStatuses\": [" RUNNING_READY "]}}",
		   "[\"web\",\"1/1\",\"Terminating\",\"0\",\"5m\",\"<none>\",\"<none>\",\"<none>\","
		   "\"<none>\"]");
	/* A pod that already finished does not show Terminating. */
	EXPECT_ROW("pods",
		   "{\"metadata\": {\"name\": \"web\", \"deletionTimestamp\": "
		   "\"2024-06-01T11:59:00Z\"}, \"spec\": {\"containers\": [{}]},"
		   " \"status\": {\"phase\": \"Succeeded\", \"containerStatuses\": [{\"state\": "
		   "{\"terminated\": {\"reason\": \"Completed\"}}}]}}",
		   "[\"web\",\"0/1\",\"Completed\",\"0\",\"<unknown>\",\"<none>\",\"<none>\","
		   "\"<none>\",\"<none>\"]");
	/* Lost node: NodeLost (ready containers do not override it), Unknown once deleted. */
	EXPECT_ROW("pods",
		   POD("", "\"phase\": \"Running\", \"reason\": \"NodeLost\", "
			   "\"containerStatuses\": [" RUNNING_READY "]"),
		   "[\"web\",\"1/1\",\"NodeLost\",\"0\",\"5m\",\"<none>\",\"n1\",\"<none>\","
		   "\"<none>\"]");
	EXPECT_ROW("pods", POD("", "\"phase\": \"Running\", \"reason\": \"NodeLost\""),
		   "[\"web\",\"0/1\",\"NodeLost\",\"0\",\"5m\",\"<none>\",\"n1\",\"<none>\","
		   "\"<none>\"]");
	EXPECT_ROW("pods",
		   "{\"metadata\": {\"name\": \"web\", \"deletionTimestamp\": "
		   "\"2024-06-01T11:59:00Z\"}, \"spec\": {\"containers\": [{}]},"
		   " \"status\": {\"phase\": \"Running\", \"reason\": \"NodeLost\"}}",
		   "[\"web\",\"0/1\",\"Unknown\",\"0\",\"<unknown>\",\"<none>\",\"<none>\","
		   "\"<none>\",\"<none>\"]");
}

/* Two init containers; the status members follow. */
#define POD_INIT(status)                                                                        \
	"{\"metadata\": {\"name\": \"web\", \"creationTimestamp\": \"2024-06-01T11:55:00Z\"},"  \
	" \"spec\": {\"initContainers\": [{\"name\": \"i1\"}, {\"name\": \"i2\"}],"             \
	" \"containers\": [{\"name\": \"app\"}]}, \"status\": {\"phase\": \"Pending\", " status \
	"}}"

#define INIT_DONE                                                                       \
	"{\"name\": \"i1\", \"state\": {\"terminated\": {\"exitCode\": 0, \"reason\": " \
	"\"Completed\"}}}"
#define APP_WAIT_INIT                                                                  \
	"\"containerStatuses\": [{\"name\": \"app\", \"restartCount\": 7, \"state\": " \
	"{\"waiting\": {\"reason\": \"PodInitializing\"}}}]"

TEST(tables_pod_init_containers)
{
	static const struct {
		const char *init_statuses;
		const char *want_status;
	} cases[] = {
		/* The first init container runs: Init:0/2. */
		{ "{\"name\": \"i1\", \"state\": {\"running\": {}}}", "Init:0/2" },
		{ "{\"name\": \"i1\", \"state\": {\"waiting\": {\"reason\": \"PodInitializing\"}}}",
		  "Init:0/2" },
		{ "{\"name\": \"i1\", \"state\": {}}", "Init:0/2" },
		/* The first is done, the second runs: Init:1/2. */
		{ INIT_DONE ", {\"name\": \"i2\", \"state\": {\"running\": {}}}", "Init:1/2" },
		{ "{\"name\": \"i1\", \"state\": {\"waiting\": {\"reason\": "
		  "\"CrashLoopBackOff\"}}}",
		  "Init:CrashLoopBackOff" },
		{ INIT_DONE ", {\"name\": \"i2\", \"state\": {\"waiting\": {\"reason\": "
			    "\"ImagePullBackOff\"}}}",
		  "Init:ImagePullBackOff" },
		{ "{\"name\": \"i1\", \"state\": {\"terminated\": {\"exitCode\": 1, \"reason\": "
		  "\"Error\"}}}",
		  "Init:Error" },
		{ "{\"name\": \"i1\", \"state\": {\"terminated\": {\"exitCode\": 3}}}",
		  "Init:ExitCode:3" },
		{ "{\"name\": \"i1\", \"state\": {\"terminated\": {\"exitCode\": 143, "
		  "\"signal\": 15}}}",
		  "Init:Signal:15" },
	};
	char obj[2048], want[256];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		snprintf(obj, sizeof(obj), POD_INIT("\"initContainerStatuses\": [%s], %s"),
			 cases[i].init_statuses, APP_WAIT_INIT);
		/* While initializing, only init containers' restarts count (app's 7 do not). */
		snprintf(want, sizeof(want),
			 "[\"web\",\"0/1\",\"%s\",\"0\",\"5m\",\"<none>\",\"<none>\",\"<none>\","
			 "\"<none>\"]",
			 cases[i].want_status);
		EXPECT_ROW("pods", obj, want);
	}

	/* Every init container done: the regular containers decide. */
	EXPECT_ROW("pods",
		   POD_INIT("\"initContainerStatuses\": [" INIT_DONE ", {\"name\": \"i2\", "
			    "\"state\": {\"terminated\": {\"exitCode\": 0}}}],"
			    " \"containerStatuses\": [{\"name\": \"app\", \"state\": {\"waiting\": "
			    "{\"reason\": \"ContainerCreating\"}}}]"),
		   "[\"web\",\"0/1\",\"ContainerCreating\",\"0\",\"5m\",\"<none>\",\"<none>\","
		   "\"<none>\",\"<none>\"]");

	/* Init restarts count while initializing, with the last restart's age. */
	EXPECT_ROW("pods",
		   POD_INIT("\"initContainerStatuses\": [{\"name\": \"i1\", \"restartCount\": 3,"
			    " \"state\": {\"waiting\": {\"reason\": \"CrashLoopBackOff\"}},"
			    " \"lastState\": {\"terminated\": {\"exitCode\": 1, \"finishedAt\": "
			    "\"2024-06-01T11:59:00Z\"}}}], " APP_WAIT_INIT),
		   "[\"web\",\"0/1\",\"Init:CrashLoopBackOff\",\"3 (60s ago)\",\"5m\",\"<none>\","
		   "\"<none>\",\"<none>\",\"<none>\"]");

	/*
	 * An Initialized=True condition makes the containers count even mid-way:
	 * their readiness and restarts show, the init status stays.
	 */
	EXPECT_ROW("pods",
		   POD_INIT("\"conditions\": [{\"type\": \"Initialized\", \"status\": \"True\"}],"
			    " \"initContainerStatuses\": [{\"name\": \"i1\", \"restartCount\": 2,"
			    " \"state\": {\"running\": {}}}],"
			    " \"containerStatuses\": [{\"name\": \"app\", \"ready\": true,"
			    " \"restartCount\": 1, \"state\": {\"running\": {}}}]"),
		   "[\"web\",\"1/1\",\"Init:0/2\",\"1\",\"5m\",\"<none>\",\"<none>\",\"<none>\","
		   "\"<none>\"]");
}

TEST(tables_pod_sidecar_init_containers)
{
	/* A started sidecar (restartPolicy Always) counts in READY and keeps its restarts. */
	EXPECT_ROW("pods",
		   "{\"metadata\": {\"name\": \"web\", \"creationTimestamp\": "
		   "\"2024-06-01T11:55:00Z\"}, \"spec\": {\"initContainers\": [{\"name\": "
		   "\"proxy\", \"restartPolicy\": \"Always\"}], \"containers\": [{\"name\": "
		   "\"app\"}]}, \"status\": {\"phase\": \"Running\", \"conditions\": "
		   "[{\"type\": \"Initialized\", \"status\": \"True\"}], "
		   "\"initContainerStatuses\": [{\"name\": \"proxy\", \"started\": true, "
		   "\"ready\": true, \"restartCount\": 2, \"state\": {\"running\": {}}, "
		   "\"lastState\": {\"terminated\": {\"finishedAt\": \"2024-06-01T11:57:00Z\"}}}],"
		   " \"containerStatuses\": [" RUNNING_READY "]}}",
		   "[\"web\",\"2/2\",\"Running\",\"2 (3m ago)\",\"5m\",\"<none>\",\"<none>\","
		   "\"<none>\",\"<none>\"]");
	/* A sidecar that has not started yet holds the pod in Init:0/1. */
	EXPECT_ROW("pods",
		   "{\"metadata\": {\"name\": \"web\", \"creationTimestamp\": "
		   "\"2024-06-01T11:55:00Z\"}, \"spec\": {\"initContainers\": [{\"name\": "
		   "\"proxy\", \"restartPolicy\": \"Always\"}], \"containers\": [{\"name\": "
		   "\"app\"}]}, \"status\": {\"phase\": \"Pending\", \"initContainerStatuses\": "
		   "[{\"name\": \"proxy\", \"started\": false, \"state\": {\"running\": {}}}]}}",
		   "[\"web\",\"0/2\",\"Init:0/1\",\"0\",\"5m\",\"<none>\",\"<none>\",\"<none>\","
		   "\"<none>\"]");
}

TEST(tables_pod_wide_columns)
{
	/* status.podIP first, then podIPs[0]; nominated node; readiness gates 1 of 2. */
	EXPECT_ROW("pods",
		   POD(", \"readinessGates\": [{\"conditionType\": \"example.com/lb\"},"
		       " {\"conditionType\": \"example.com/dns\"}]",
		       "\"phase\": \"Running\", \"podIPs\": [{\"ip\": \"fd00::5\"}, {\"ip\": "
		       "\"10.244.1.5\"}], \"nominatedNodeName\": \"n2\", \"conditions\": ["
		       "{\"type\": \"example.com/lb\", \"status\": \"True\"},"
		       "{\"type\": \"example.com/dns\", \"status\": \"False\"}],"
		       " \"containerStatuses\": [" RUNNING_READY "]"),
		   "[\"web\",\"1/1\",\"Running\",\"0\",\"5m\",\"fd00::5\",\"n1\",\"n2\",\"1/2\"]");
	EXPECT_ROW("pods",
		   POD(", \"readinessGates\": [{\"conditionType\": \"example.com/lb\"}]",
		       "\"phase\": \"Running\", \"podIP\": \"10.244.1.9\", \"podIPs\": [{\"ip\": "
		       "\"10.244.1.5\"}], \"containerStatuses\": [" RUNNING_READY "]"),
		   "[\"web\",\"1/1\",\"Running\",\"0\",\"5m\",\"10.244.1.9\",\"n1\",\"<none>\","
		   "\"0/1\"]");
}

TEST(tables_pod_odd_fields)
{
	/* Wrong types read as absent: no crash, sensible cells. */
	EXPECT_ROW("pods",
		   "{\"metadata\": {\"name\": \"web\"}, \"spec\": {\"containers\": [{}],"
		   " \"initContainers\": 5}, \"status\": {\"phase\": \"Running\","
		   " \"containerStatuses\": [{\"restartCount\": \"9\", \"ready\": \"true\","
		   " \"state\": {\"running\": true}}, 7, null], \"podIP\": 10}}",
		   "[\"web\",\"0/1\",\"Running\",\"0\",\"<unknown>\",\"<none>\",\"<none>\","
		   "\"<none>\",\"<none>\"]");
	/* More statuses than containers, unknown names: counted as upstream counts them. */
	EXPECT_ROW("pods",
		   POD("", "\"phase\": \"Running\", \"containerStatuses\": [" RUNNING_READY
			   "," RUNNING_READY "]"),
		   "[\"web\",\"2/1\",\"Running\",\"0\",\"5m\",\"<none>\",\"n1\",\"<none>\","
		   "\"<none>\"]");
}

/* ------------------------------------------------------------------ services */

#define SVC(spec, status)                                                                      \
	"{\"metadata\": {\"name\": \"web\", \"creationTimestamp\": \"2024-06-01T11:55:00Z\"}," \
	" \"spec\": {" spec "}, \"status\": {" status "}}"

TEST(tables_service_cluster_ip_and_ports)
{
	EXPECT_ROW("services",
		   SVC("\"type\": \"ClusterIP\", \"clusterIP\": \"10.96.0.10\", \"clusterIPs\": "
		       "[\"10.96.0.10\"], \"selector\": {\"tier\": \"fe\", \"app\": \"web\"},"
		       " \"ports\": [{\"port\": 80, \"protocol\": \"TCP\", \"targetPort\": 8080}]",
		       ""),
		   "[\"web\",\"ClusterIP\",\"10.96.0.10\",\"<none>\",\"80/TCP\",\"5m\","
		   "\"app=web,tier=fe\"]");
	/* externalIPs on a ClusterIP service; several ports; UDP; protocol defaulted. */
	EXPECT_ROW("services",
		   SVC("\"clusterIP\": \"10.96.0.11\", \"externalIPs\": [\"192.0.2.1\", "
		       "\"192.0.2.2\"], \"ports\": [{\"port\": 53, \"protocol\": \"UDP\"},"
		       " {\"port\": 53, \"protocol\": \"TCP\"}, {\"port\": 9153}]",
		       ""),
		   "[\"web\",\"ClusterIP\",\"10.96.0.11\",\"192.0.2.1,192.0.2.2\","
		   "\"53/UDP,53/TCP,9153/TCP\",\"5m\",\"<none>\"]");
	/* Headless, no ports. */
	EXPECT_ROW("services",
		   SVC("\"type\": \"ClusterIP\", \"clusterIP\": \"None\", \"selector\": "
		       "{\"app\": \"db\"}",
		       ""),
		   "[\"web\",\"ClusterIP\",\"None\",\"<none>\",\"<none>\",\"5m\",\"app=db\"]");
	/* Only clusterIPs set (dual-stack writers): the first family. */
	EXPECT_ROW("services",
		   SVC("\"type\": \"ClusterIP\", \"clusterIPs\": [\"fd00:10:96::a\", "
		       "\"10.96.0.12\"], \"ports\": [{\"port\": 443, \"protocol\": \"TCP\"}]",
		       ""),
		   "[\"web\",\"ClusterIP\",\"fd00:10:96::a\",\"<none>\",\"443/TCP\",\"5m\","
		   "\"<none>\"]");
}

TEST(tables_service_node_port_load_balancer_external_name)
{
	EXPECT_ROW(
		"services",
		SVC("\"type\": \"NodePort\", \"clusterIP\": \"10.96.1.1\", \"ports\": "
		    "[{\"port\": 80, \"nodePort\": 30080, \"protocol\": \"TCP\"}, {\"port\": 443,"
		    " \"nodePort\": 30443, \"protocol\": \"TCP\"}], \"selector\": {\"app\": "
		    "\"web\"}",
		    ""),
		"[\"web\",\"NodePort\",\"10.96.1.1\",\"<none>\",\"80:30080/TCP,443:30443/TCP\","
		"\"5m\",\"app=web\"]");
	/* A LoadBalancer with no ingress yet is pending. */
	EXPECT_ROW("services",
		   SVC("\"type\": \"LoadBalancer\", \"clusterIP\": \"10.96.1.2\", \"ports\": "
		       "[{\"port\": 80, \"nodePort\": 31000, \"protocol\": \"TCP\"}]",
		       "\"loadBalancer\": {}"),
		   "[\"web\",\"LoadBalancer\",\"10.96.1.2\",\"<pending>\",\"80:31000/TCP\",\"5m\","
		   "\"<none>\"]");
	/* Ingress points sorted and unique (IP before hostname per entry), then externalIPs. */
	EXPECT_ROW(
		"services",
		SVC("\"type\": \"LoadBalancer\", \"clusterIP\": \"10.96.1.3\", \"externalIPs\": "
		    "[\"192.0.2.9\"], \"ports\": [{\"port\": 80, \"nodePort\": 31001, "
		    "\"protocol\": \"TCP\"}]",
		    "\"loadBalancer\": {\"ingress\": [{\"ip\": \"203.0.113.7\"}, {\"hostname\": "
		    "\"lb.example.com\"}, {\"ip\": \"203.0.113.5\", \"hostname\": \"x.example\"},"
		    " {\"ip\": \"203.0.113.7\"}, {}]}"),
		"[\"web\",\"LoadBalancer\",\"10.96.1.3\","
		"\"203.0.113.5,203.0.113.7,lb.example.com,192.0.2.9\",\"80:31001/TCP\",\"5m\","
		"\"<none>\"]");
	EXPECT_ROW("services",
		   SVC("\"type\": \"LoadBalancer\", \"clusterIP\": \"10.96.1.4\", \"externalIPs\": "
		       "[\"192.0.2.9\"]",
		       ""),
		   "[\"web\",\"LoadBalancer\",\"10.96.1.4\",\"192.0.2.9\",\"<none>\",\"5m\","
		   "\"<none>\"]");
	EXPECT_ROW("services",
		   SVC("\"type\": \"ExternalName\", \"externalName\": \"db.example.com\"", ""),
		   "[\"web\",\"ExternalName\",\"<none>\",\"db.example.com\",\"<none>\",\"5m\","
		   "\"<none>\"]");
	EXPECT_ROW("services", SVC("\"type\": \"Magic\", \"clusterIP\": \"10.96.1.5\"", ""),
		   "[\"web\",\"Magic\",\"10.96.1.5\",\"<unknown>\",\"<none>\",\"5m\",\"<none>\"]");
	/* No spec: the defaulted type, nothing else. */
	EXPECT_ROW("services", "{\"metadata\": {\"name\": \"web\"}}",
		   "[\"web\",\"ClusterIP\",\"<none>\",\"<none>\",\"<none>\",\"<unknown>\","
		   "\"<none>\"]");
}

/* ------------------------------------------------------------------ endpoints */

#define EP(subsets)                                                                            \
	"{\"metadata\": {\"name\": \"web\", \"creationTimestamp\": \"2024-06-01T11:55:00Z\"}," \
	" \"subsets\": " subsets "}"

TEST(tables_endpoints)
{
	EXPECT_ROW("endpoints",
		   EP("[{\"addresses\": [{\"ip\": \"10.244.1.5\"}, {\"ip\": \"10.244.1.6\"}],"
		      " \"ports\": [{\"port\": 80, \"protocol\": \"TCP\"}]}]"),
		   "[\"web\",\"10.244.1.5:80,10.244.1.6:80\",\"5m\"]");
	/* More than three: the first three and how many more. */
	EXPECT_ROW("endpoints",
		   EP("[{\"addresses\": [{\"ip\": \"10.0.0.1\"}, {\"ip\": \"10.0.0.2\"},"
		      " {\"ip\": \"10.0.0.3\"}, {\"ip\": \"10.0.0.4\"}, {\"ip\": \"10.0.0.5\"}],"
		      " \"ports\": [{\"port\": 80}]}]"),
		   "[\"web\",\"10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 2 more...\",\"5m\"]");
	/* Ports outer, addresses inner; several subsets add up. */
	EXPECT_ROW("endpoints",
		   EP("[{\"addresses\": [{\"ip\": \"10.0.0.1\"}, {\"ip\": \"10.0.0.2\"}],"
		      " \"ports\": [{\"name\": \"http\", \"port\": 80}, {\"name\": \"https\","
		      " \"port\": 443}]}, {\"addresses\": [{\"ip\": \"10.0.1.1\"}], \"ports\": "
		      "[{\"port\": 8080}]}]"),
		   "[\"web\",\"10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 2 more...\",\"5m\"]");
	EXPECT_ROW("endpoints",
		   EP("[{\"addresses\": [{\"ip\": \"fd00::1\"}], \"ports\": [{\"port\": 80}]}]"),
		   "[\"web\",\"[fd00::1]:80\",\"5m\"]");
	/* Headless without ports: bare IPs. */
	EXPECT_ROW("endpoints",
		   EP("[{\"addresses\": [{\"ip\": \"10.0.0.1\"}, {\"ip\": \"10.0.0.2\"}]}]"),
		   "[\"web\",\"10.0.0.1,10.0.0.2\",\"5m\"]");
	EXPECT_ROW("endpoints", EP("[]"), "[\"web\",\"<none>\",\"5m\"]");
	EXPECT_ROW("endpoints", "{\"metadata\": {\"name\": \"web\"}}",
		   "[\"web\",\"<none>\",\"<unknown>\"]");
	/* Subsets with only not-ready addresses print an empty cell, as upstream does. */
	EXPECT_ROW("endpoints",
		   EP("[{\"notReadyAddresses\": [{\"ip\": \"10.0.0.1\"}], \"ports\": "
		      "[{\"port\": 80}]}]"),
		   "[\"web\",\"\",\"5m\"]");
}

TEST(tables_endpointslices)
{
	EXPECT_ROW(
		"endpointslices",
		"{\"metadata\": {\"name\": \"web-x7k2p\", \"creationTimestamp\": "
		"\"2024-06-01T11:55:00Z\"}, \"addressType\": \"IPv4\", \"ports\": [{\"name\": "
		"\"http\", \"port\": 80, \"protocol\": \"TCP\"}, {\"port\": 443}], \"endpoints\": "
		"[{\"addresses\": [\"10.244.1.5\"], \"conditions\": {\"ready\": true}},"
		" {\"addresses\": [\"10.244.2.7\"]}]}",
		"[\"web-x7k2p\",\"IPv4\",\"80,443\",\"10.244.1.5,10.244.2.7\",\"5m\"]");
	EXPECT_ROW(
		"endpointslices",
		"{\"metadata\": {\"name\": \"e\"}, \"addressType\": \"IPv6\", \"ports\": "
		"[{\"name\": \"dns\"}, {}, {\"port\": 1}, {\"port\": 2}, {\"port\": 3}],"
		" \"endpoints\": [{\"addresses\": [\"fd00::1\", \"fd00::2\"]}, {\"addresses\": "
		"[\"fd00::3\", \"fd00::4\"]}]}",
		"[\"e\",\"IPv6\",\"dns,*,1 + 2 more...\",\"fd00::1,fd00::2,fd00::3 + 1 more...\","
		"\"<unknown>\"]");
	EXPECT_ROW("endpointslices", "{\"metadata\": {\"name\": \"e\"}, \"addressType\": \"FQDN\"}",
		   "[\"e\",\"FQDN\",\"<unset>\",\"<unset>\",\"<unknown>\"]");
}

/* ------------------------------------------------------------------ nodes */

#define NODE(labels, spec, conditions)                                                             \
	"{\"metadata\": {\"name\": \"n1\", \"creationTimestamp\": \"2024-05-30T12:00:00Z\","       \
	" \"labels\": {" labels "}}, \"spec\": {" spec                                             \
	"}, \"status\": {\"conditions\": [" conditions                                             \
	"], \"addresses\": [{\"type\": \"Hostname\", \"address\": \"n1\"},"                        \
	" {\"type\": \"InternalIP\", \"address\": \"192.168.49.2\"}, {\"type\": \"InternalIP\","   \
	" \"address\": \"192.168.49.3\"}], \"nodeInfo\": {\"kubeletVersion\": \"v1.32.0\","        \
	" \"osImage\": \"Debian GNU/Linux 12 (bookworm)\", \"kernelVersion\": \"6.1.0-18-amd64\"," \
	" \"containerRuntimeVersion\": \"containerd://1.6.20\"}}}"

#define NODE_WIDE                                                         \
	"\"192.168.49.2\",\"<none>\",\"Debian GNU/Linux 12 (bookworm)\"," \
	"\"6.1.0-18-amd64\",\"containerd://1.6.20\"]"

TEST(tables_node_status_and_roles)
{
	EXPECT_ROW("nodes",
		   NODE("\"node-role.kubernetes.io/control-plane\": \"\", "
			"\"kubernetes.io/hostname\": \"n1\"",
			"",
			"{\"type\": \"MemoryPressure\", \"status\": \"False\"}, "
			"{\"type\": \"Ready\", \"status\": \"True\"}"),
		   "[\"n1\",\"Ready\",\"control-plane\",\"2d\",\"v1.32.0\"," NODE_WIDE);
	/* Roles from both label forms, sorted, unique; empty role names ignored. */
	EXPECT_ROW(
		"nodes",
		NODE("\"node-role.kubernetes.io/worker\": \"true\", "
		     "\"node-role.kubernetes.io/control-plane\": \"\", "
		     "\"node-role.kubernetes.io/\": \"\", \"kubernetes.io/role\": \"worker\", "
		     "\"node-role.kubernetes.io/master\": \"\"",
		     "", "{\"type\": \"Ready\", \"status\": \"True\"}"),
		"[\"n1\",\"Ready\",\"control-plane,master,worker\",\"2d\",\"v1.32.0\"," NODE_WIDE);
	EXPECT_ROW("nodes",
		   NODE("\"kubernetes.io/role\": \"edge\"", "",
			"{\"type\": \"Ready\", \"status\": \"True\"}"),
		   "[\"n1\",\"Ready\",\"edge\",\"2d\",\"v1.32.0\"," NODE_WIDE);
	EXPECT_ROW("nodes",
		   NODE("\"kubernetes.io/role\": \"\"", "",
			"{\"type\": \"Ready\", \"status\": \"True\"}"),
		   "[\"n1\",\"Ready\",\"<none>\",\"2d\",\"v1.32.0\"," NODE_WIDE);
	/* Ready False and Unknown both print NotReady; no Ready condition prints Unknown. */
	EXPECT_ROW("nodes", NODE("", "", "{\"type\": \"Ready\", \"status\": \"False\"}"),
		   "[\"n1\",\"NotReady\",\"<none>\",\"2d\",\"v1.32.0\"," NODE_WIDE);
	EXPECT_ROW("nodes", NODE("", "", "{\"type\": \"Ready\", \"status\": \"Unknown\"}"),
		   "[\"n1\",\"NotReady\",\"<none>\",\"2d\",\"v1.32.0\"," NODE_WIDE);
	EXPECT_ROW("nodes", NODE("", "", "{\"type\": \"DiskPressure\", \"status\": \"False\"}"),
		   "[\"n1\",\"Unknown\",\"<none>\",\"2d\",\"v1.32.0\"," NODE_WIDE);
	/* Cordoned. */
	EXPECT_ROW(
		"nodes",
		NODE("", "\"unschedulable\": true", "{\"type\": \"Ready\", \"status\": \"True\"}"),
		"[\"n1\",\"Ready,SchedulingDisabled\",\"<none>\",\"2d\",\"v1.32.0\"," NODE_WIDE);
	EXPECT_ROW(
		"nodes", NODE("", "\"unschedulable\": true", ""),
		"[\"n1\",\"Unknown,SchedulingDisabled\",\"<none>\",\"2d\",\"v1.32.0\"," NODE_WIDE);
}

TEST(tables_node_wide_columns)
{
	EXPECT_ROW("nodes",
		   "{\"metadata\": {\"name\": \"n2\", \"creationTimestamp\": "
		   "\"2024-06-01T09:00:00Z\"},"
		   " \"status\": {\"addresses\": [{\"type\": \"ExternalIP\", \"address\": "
		   "\"203.0.113.4\"}, {\"type\": \"InternalIP\", \"address\": \"10.0.0.4\"}],"
		   " \"conditions\": [{\"type\": \"Ready\", \"status\": \"True\"}]}}",
		   "[\"n2\",\"Ready\",\"<none>\",\"3h\",\"\",\"10.0.0.4\",\"203.0.113.4\","
		   "\"<unknown>\",\"<unknown>\",\"<unknown>\"]");
	EXPECT_ROW("nodes", "{\"metadata\": {\"name\": \"n3\"}}",
		   "[\"n3\",\"Unknown\",\"<none>\",\"<unknown>\",\"\",\"<none>\",\"<none>\","
		   "\"<unknown>\",\"<unknown>\",\"<unknown>\"]");
}

/* ------------------------------------------------------------------ namespaces, events */

TEST(tables_namespaces)
{
	EXPECT_ROW("namespaces",
		   "{\"metadata\": {\"name\": \"default\", \"creationTimestamp\": "
		   "\"2024-04-01T12:00:00Z\"}, \"status\": {\"phase\": \"Active\"}}",
		   "[\"default\",\"Active\",\"61d\"]");
	EXPECT_ROW("namespaces",
		   "{\"metadata\": {\"name\": \"old\", \"creationTimestamp\": "
		   "\"2024-06-01T11:00:00Z\", \"deletionTimestamp\": \"2024-06-01T11:59:00Z\"},"
		   " \"status\": {\"phase\": \"Terminating\"}}",
		   "[\"old\",\"Terminating\",\"60m\"]");
	EXPECT_ROW("namespaces", "{\"metadata\": {\"name\": \"new\"}}",
		   "[\"new\",\"Active\",\"<unknown>\"]");
}

TEST(tables_events)
{
	/* A core/v1 event seen three times. */
	EXPECT_ROW("events",
		   "{\"metadata\": {\"name\": \"web.17d\", \"creationTimestamp\": "
		   "\"2024-06-01T11:00:00Z\"}, \"involvedObject\": {\"kind\": \"Pod\", \"name\": "
		   "\"web\", \"fieldPath\": \"spec.containers{app}\"}, \"reason\": \"BackOff\","
		   " \"message\": \"  Back-off restarting failed container\\n\", \"type\": "
		   "\"Warning\", \"count\": 3, \"firstTimestamp\": \"2024-06-01T11:00:00Z\","
		   " \"lastTimestamp\": \"2024-06-01T11:58:00Z\", \"source\": {\"component\": "
		   "\"kubelet\", \"host\": \"n1\"}}",
		   "[\"2m\",\"Warning\",\"BackOff\",\"pod/web\",\"spec.containers{app}\","
		   "\"kubelet, n1\",\"Back-off restarting failed container\",\"60m\",3,"
		   "\"web.17d\"]");
	/*
	 * An events.k8s.io event: eventTime, series, reporting controller/instance.
	 * Micro-second times just short of 10s / 10m truncate down, as Go does.
	 */
	EXPECT_ROW("events",
		   "{\"metadata\": {\"name\": \"d.1\"}, \"involvedObject\": {\"kind\": "
		   "\"Deployment\", \"name\": \"web\"}, \"reason\": \"ScalingReplicaSet\","
		   " \"message\": \"Scaled up\", \"type\": \"Normal\", \"eventTime\": "
		   "\"2024-06-01T11:50:00.123456Z\", \"series\": {\"count\": 4, "
		   "\"lastObservedTime\": \"2024-06-01T11:59:50.000001Z\"}, "
		   "\"reportingController\": \"deployment-controller\", \"reportingInstance\": "
		   "\"cp-1\", \"source\": {}}",
		   "[\"9s\",\"Normal\",\"ScalingReplicaSet\",\"deployment/web\",\"\","
		   "\"deployment-controller, cp-1\",\"Scaled up\",\"9m59s\",4,\"d.1\"]");
	/* Singleton without count, no timestamps, involved object without a name. */
	EXPECT_ROW("events",
		   "{\"metadata\": {\"name\": \"n.1\"}, \"involvedObject\": {\"kind\": \"Node\"},"
		   " \"reason\": \"Starting\", \"type\": \"Normal\", \"source\": {\"component\": "
		   "\"kube-proxy\"}}",
		   "[\"<unknown>\",\"Normal\",\"Starting\",\"node\",\"\",\"kube-proxy\",\"\","
		   "\"<unknown>\",1,\"n.1\"]");
	/* Only firstTimestamp: LAST SEEN repeats it. */
	EXPECT_ROW("events",
		   "{\"metadata\": {\"name\": \"e\"}, \"firstTimestamp\": \"2024-06-01T11:30:00Z\","
		   " \"lastTimestamp\": null, \"count\": 1}",
		   "[\"30m\",\"\",\"\",\"\",\"\",\"\",\"\",\"30m\",1,\"e\"]");
}

/* ------------------------------------------------------------------ config, identity */

TEST(tables_configmaps_secrets_serviceaccounts_leases)
{
	EXPECT_ROW("configmaps",
		   "{\"metadata\": {\"name\": \"cfg\", \"creationTimestamp\": "
		   "\"2024-06-01T11:55:00Z\"}, \"data\": {\"a\": \"1\", \"b\": \"2\"},"
		   " \"binaryData\": {\"c\": \"AA==\"}}",
		   "[\"cfg\",3,\"5m\"]");
	EXPECT_ROW("configmaps", "{\"metadata\": {\"name\": \"kube-root-ca.crt\"}}",
		   "[\"kube-root-ca.crt\",0,\"<unknown>\"]");
	EXPECT_ROW("secrets",
		   "{\"metadata\": {\"name\": \"tls\", \"creationTimestamp\": "
		   "\"2024-06-01T11:55:00Z\"}, \"type\": \"kubernetes.io/tls\", \"data\": "
		   "{\"tls.crt\": \"AA==\", \"tls.key\": \"AA==\"}}",
		   "[\"tls\",\"kubernetes.io/tls\",2,\"5m\"]");
	EXPECT_ROW("secrets", "{\"metadata\": {\"name\": \"s\"}, \"stringData\": {\"a\": \"b\"}}",
		   "[\"s\",\"Opaque\",0,\"<unknown>\"]");
	EXPECT_ROW("serviceaccounts",
		   "{\"metadata\": {\"name\": \"default\", \"creationTimestamp\": "
		   "\"2024-06-01T11:55:00Z\"}, \"secrets\": [{\"name\": \"default-token\"}]}",
		   "[\"default\",1,\"5m\"]");
	EXPECT_ROW("serviceaccounts", "{\"metadata\": {\"name\": \"default\"}}",
		   "[\"default\",0,\"<unknown>\"]");
	EXPECT_ROW("leases",
		   "{\"metadata\": {\"name\": \"kube-scheduler\", \"creationTimestamp\": "
		   "\"2024-06-01T11:55:00Z\"}, \"spec\": {\"holderIdentity\": \"cp-1_4f2a\","
		   " \"leaseDurationSeconds\": 15}}",
		   "[\"kube-scheduler\",\"cp-1_4f2a\",\"5m\"]");
}

/* ------------------------------------------------------------------ workloads */

#define TEMPLATE                                                                          \
	"\"template\": {\"metadata\": {\"labels\": {\"app\": \"web\"}}, \"spec\": "       \
	"{\"containers\": [{\"name\": \"nginx\", \"image\": \"nginx:1.25\"}, {\"name\": " \
	"\"sidecar\", \"image\": \"busybox\"}]}}"

TEST(tables_deployments)
{
	EXPECT_ROW("deployments",
		   "{\"metadata\": {\"name\": \"web\", \"creationTimestamp\": "
		   "\"2024-06-01T11:55:00Z\"}, \"spec\": {\"replicas\": 3, \"selector\": "
		   "{\"matchLabels\": {\"app\": \"web\"}}, " TEMPLATE "}, \"status\": "
		   "{\"replicas\": 3, \"readyReplicas\": 2, \"updatedReplicas\": 3, "
		   "\"availableReplicas\": 2}}",
		   "[\"web\",\"2/3\",3,2,\"5m\",\"nginx,sidecar\",\"nginx:1.25,busybox\","
		   "\"app=web\"]");
	/* Expressions, keys sorted, values sorted; a fresh deployment without status. */
	EXPECT_ROW("deployments",
		   "{\"metadata\": {\"name\": \"web\"}, \"spec\": {\"replicas\": 2, \"selector\": "
		   "{\"matchLabels\": {\"tier\": \"fe\"}, \"matchExpressions\": [{\"key\": "
		   "\"track\", \"operator\": \"In\", \"values\": [\"stable\", \"canary\"]},"
		   " {\"key\": \"app\", \"operator\": \"Exists\"}, {\"key\": \"legacy\","
		   " \"operator\": \"DoesNotExist\"}]}, \"template\": {\"spec\": {\"containers\": "
		   "[{\"name\": \"c\", \"image\": \"i\"}]}}}}",
		   "[\"web\",\"0/2\",0,0,\"<unknown>\",\"c\",\"i\","
		   "\"app,!legacy,tier=fe,track in (canary,stable)\"]");
	/* replicas defaults to 1; a selector that does not convert is <invalid>. */
	EXPECT_ROW("deployments",
		   "{\"metadata\": {\"name\": \"web\"}, \"spec\": {\"selector\": "
		   "{\"matchExpressions\": [{\"key\": \"app\", \"operator\": \"Near\"}]}}}",
		   "[\"web\",\"0/1\",0,0,\"<unknown>\",\"\",\"\",\"<invalid>\"]");
	/* An absent selector prints empty (upstream's Nothing selector). */
	EXPECT_ROW("deployments",
		   "{\"metadata\": {\"name\": \"web\"}, \"spec\": {\"replicas\": 0}}",
		   "[\"web\",\"0/0\",0,0,\"<unknown>\",\"\",\"\",\"\"]");
}

TEST(tables_replicasets_and_daemonsets)
{
	EXPECT_ROW(
		"replicasets",
		"{\"metadata\": {\"name\": \"web-5d4f8\", \"creationTimestamp\": "
		"\"2024-06-01T11:55:00Z\"}, \"spec\": {\"replicas\": 3, \"selector\": "
		"{\"matchLabels\": {\"app\": \"web\", \"pod-template-hash\": \"5d4f8\"}}, " TEMPLATE
		"}, \"status\": {\"replicas\": 3, \"readyReplicas\": 1}}",
		"[\"web-5d4f8\",3,3,1,\"5m\",\"nginx,sidecar\",\"nginx:1.25,busybox\","
		"\"app=web,pod-template-hash=5d4f8\"]");
	EXPECT_ROW("replicasets", "{\"metadata\": {\"name\": \"rs\"}, \"spec\": {}}",
		   "[\"rs\",1,0,0,\"<unknown>\",\"\",\"\",\"<none>\"]");
	EXPECT_ROW("replicasets",
		   "{\"metadata\": {\"name\": \"rs\"}, \"spec\": {\"replicas\": 0, \"selector\": "
		   "{\"matchExpressions\": [{\"key\": \"app\", \"operator\": \"In\"}]}}}",
		   "[\"rs\",0,0,0,\"<unknown>\",\"\",\"\",\"<error>\"]");
	EXPECT_ROW("daemonsets",
		   "{\"metadata\": {\"name\": \"agent\", \"creationTimestamp\": "
		   "\"2024-06-01T11:55:00Z\"}, \"spec\": {\"selector\": {\"matchLabels\": "
		   "{\"app\": \"agent\"}}, \"template\": {\"spec\": {\"nodeSelector\": "
		   "{\"kubernetes.io/os\": \"linux\", \"disk\": \"ssd\"}, \"containers\": "
		   "[{\"name\": \"agent\", \"image\": \"capstan/agent:0.1\"}]}}}, \"status\": "
		   "{\"desiredNumberScheduled\": 3, \"currentNumberScheduled\": 3, "
		   "\"numberReady\": 2, \"updatedNumberScheduled\": 3, \"numberAvailable\": 2}}",
		   "[\"agent\",3,3,2,3,2,\"disk=ssd,kubernetes.io/os=linux\",\"5m\",\"agent\","
		   "\"capstan/agent:0.1\",\"app=agent\"]");
	EXPECT_ROW("daemonsets", "{\"metadata\": {\"name\": \"ds\"}}",
		   "[\"ds\",0,0,0,0,0,\"<none>\",\"<unknown>\",\"\",\"\",\"<none>\"]");
}

/* ------------------------------------------------------------------ default */

TEST(tables_default_table)
{
	EXPECT_ROW("widgets",
		   "{\"metadata\": {\"name\": \"w1\", \"creationTimestamp\": "
		   "\"2024-06-01T11:55:00Z\"}}",
		   "[\"w1\",\"2024-06-01T11:55:00Z\"]");
	/* Printed in UTC, whole seconds. */
	EXPECT_ROW("customresourcedefinitions",
		   "{\"metadata\": {\"name\": \"w2\", \"creationTimestamp\": "
		   "\"2024-06-01T13:55:00.75+02:00\"}}",
		   "[\"w2\",\"2024-06-01T11:55:00Z\"]");
	/* Missing: Go's zero time in RFC 3339. */
	EXPECT_ROW("widgets", "{\"metadata\": {\"name\": \"w3\"}}",
		   "[\"w3\",\"0001-01-01T00:00:00Z\"]");
}

/* ------------------------------------------------------------------ kubectl */

/*
 * A fake API server that answers discovery and serves one pod list as the
 * Table our functions build, so real kubectl 1.32 prints it. Loopback only.
 */
static const char *kubectl_pod_json =
	POD(", \"readinessGates\": [{\"conditionType\": \"example.com/lb\"}]",
	    "\"phase\": \"Running\", \"podIP\": \"10.244.1.5\", \"conditions\": [{\"type\": "
	    "\"example.com/lb\", \"status\": \"True\"}], \"containerStatuses\": [{\"name\": "
	    "\"app\", \"ready\": true, \"restartCount\": 3, \"state\": {\"running\": {}}, "
	    "\"lastState\": {\"terminated\": {\"finishedAt\": \"2024-06-01T11:58:00Z\"}}}]");

static char *kubectl_table_body(void)
{
	json_t *pod = json_loads(kubectl_pod_json, 0, NULL);
	json_t *table = json_pack(
		"{s:s, s:s, s:{s:s}, s:o, s:[{s:o, s:{s:s, s:s, s:O}}]}", "kind", "Table",
		"apiVersion", "meta.k8s.io/v1", "metadata", "resourceVersion", "1",
		"columnDefinitions", table_columns("pods"), "rows", "cells",
		table_cells("pods", pod, now_ns()), "object", "kind", "PartialObjectMetadata",
		"apiVersion", "meta.k8s.io/v1", "metadata", json_object_get(pod, "metadata"));
	char *body = json_dumps(table, JSON_COMPACT);

	json_decref(table);
	json_decref(pod);
	return body;
}

/* Discovery answers: just enough for kubectl to resolve "pods" to /api/v1. */
static const struct {
	const char *path;
	const char *body;
} discovery[] = {
	{ "/version", "{\"major\": \"1\", \"minor\": \"32\", \"gitVersion\": \"v1.32.0\"}" },
	{ "/api", "{\"kind\": \"APIVersions\", \"versions\": [\"v1\"], "
		  "\"serverAddressByClientCIDRs\": [{\"clientCIDR\": \"0.0.0.0/0\", "
		  "\"serverAddress\": \"127.0.0.1\"}]}" },
	{ "/apis", "{\"kind\": \"APIGroupList\", \"apiVersion\": \"v1\", \"groups\": []}" },
	{ "/api/v1", "{\"kind\": \"APIResourceList\", \"groupVersion\": \"v1\", "
		     "\"resources\": [{\"name\": \"pods\", \"singularName\": \"pod\", "
		     "\"namespaced\": true, \"kind\": \"Pod\", \"verbs\": [\"get\", \"list\"], "
		     "\"shortNames\": [\"po\"]}]}" },
};

/* ctx is the Table served for the pod list. */
static enum MHD_Result fake_apiserver(void *ctx, const struct testsrv_request *req)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(discovery); i++)
		if (strcmp(req->url, discovery[i].path) == 0)
			return testsrv_reply(req->conn, 200, "application/json", discovery[i].body);
	if (strcmp(req->url, "/api/v1/namespaces/default/pods") == 0)
		return testsrv_reply(req->conn, 200, "application/json", ctx);
	return testsrv_reply(req->conn, 404, "application/json",
			     "{\"kind\": \"Status\", \"apiVersion\": \"v1\", \"status\": "
			     "\"Failure\", \"reason\": \"NotFound\", \"code\": 404}");
}

/* A kubeconfig pointing at url, in the test's scratch directory; returns its path. */
static const char *write_kubeconfig(const char *url)
{
	static char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/kubeconfig", test_tmpdir());
	f = fopen(path, "w");
	ASSERT_NOT_NULL(f);
	fprintf(f,
		"apiVersion: v1\nkind: Config\n"
		"clusters: [{name: fake, cluster: {server: \"%s\"}}]\n"
		"users: [{name: u, user: {}}]\n"
		"contexts: [{name: c, context: {cluster: fake, user: u, namespace: default}}]\n"
		"current-context: c\n",
		url);
	ASSERT_OK(fclose(f));
	return path;
}

/* Run `kubectl get pods [-o wide]`; its stdout, or NULL when it failed (stderr kept aside). */
static char *run_kubectl(const char *kubectl, const char *kubeconfig, bool wide)
{
	char out_path[512], err_path[512], cache_arg[512], config_arg[600];
	const char *argv[] = { kubectl, config_arg, cache_arg,		"--request-timeout=20s",
			       "get",	"pods",	    wide ? "-o" : NULL, "wide",
			       NULL };
	static char output[8192];
	int status, fd, efd;
	ssize_t n;
	pid_t pid;

	snprintf(out_path, sizeof(out_path), "%s/out", test_tmpdir());
	snprintf(err_path, sizeof(err_path), "%s/err", test_tmpdir());
	snprintf(cache_arg, sizeof(cache_arg), "--cache-dir=%s/cache", test_tmpdir());
	snprintf(config_arg, sizeof(config_arg), "--kubeconfig=%s", kubeconfig);
	pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		efd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || efd < 0 || dup2(fd, 1) < 0 || dup2(efd, 2) < 0)
			_exit(127);
		execv(kubectl, (char *const *)argv);
		_exit(127);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return NULL;
	fd = open(out_path, O_RDONLY);
	ASSERT(fd >= 0);
	n = read(fd, output, sizeof(output) - 1);
	close(fd);
	ASSERT(n >= 0);
	output[n] = '\0';
	return output;
}

/* Collapse runs of spaces so the check does not depend on kubectl's column widths. */
static void squeeze_spaces(char *s)
{
	char *out = s, *start = s;

	for (; *s; s++)
		if (*s != ' ' || out == start || out[-1] != ' ')
			*out++ = *s;
	*out = '\0';
}

TEST(tables_kubectl_prints_pod_table)
{
	static const char *const candidates[] = {
		"/usr/lib/google-cloud-sdk/bin/kubectl.1.32",
		"/usr/bin/kubectl.1.32",
		"/usr/local/bin/kubectl.1.32",
	};
	const char *kubectl = NULL, *config;
	struct testsrv *srv;
	char *body, *out;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(candidates) && !kubectl; i++)
		if (access(candidates[i], X_OK) == 0)
			kubectl = candidates[i];
	if (!kubectl)
		SKIP("kubectl.1.32 is not installed");

	body = kubectl_table_body();
	ASSERT_NOT_NULL(body);
	srv = testsrv_start(fake_apiserver, body);
	ASSERT_NOT_NULL(srv);
	config = write_kubeconfig(testsrv_url(srv));

	out = run_kubectl(kubectl, config, false);
	ASSERT_MSG(out, "kubectl get pods failed");
	squeeze_spaces(out);
	ASSERT_STREQ(out, "NAME READY STATUS RESTARTS AGE\n"
			  "web 1/1 Running 3 (2m ago) 5m\n");

	out = run_kubectl(kubectl, config, true);
	ASSERT_MSG(out, "kubectl get pods -o wide failed");
	squeeze_spaces(out);
	ASSERT_STREQ(out, "NAME READY STATUS RESTARTS AGE IP NODE NOMINATED NODE READINESS GATES\n"
			  "web 1/1 Running 3 (2m ago) 5m 10.244.1.5 n1 <none> 1/1\n");

	testsrv_stop(srv);
	free(body);
}
