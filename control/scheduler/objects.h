/*
 * objects.h - the scheduler's parsed view of Pods and Nodes.
 *
 * Every filter and score runs once per (pod, node) pair, thousands of times a second, so
 * nothing on that path may walk JSON or parse a quantity. A pod is parsed once when its
 * watch event arrives: resource requests become integers (milli-CPU, bytes, counts), label
 * selectors of its affinity and spread terms are compiled (lib/selector), tolerations,
 * host ports and node-selector terms become small arrays. A node likewise: allocatable,
 * taints, the unschedulable flag. Strings point into the object's JSON, which the parsed
 * struct keeps a reference to (informer objects are shared and read-only).
 *
 * Resource arithmetic follows upstream's PodRequests: the sum of the regular containers,
 * then each init container in order, where a restartable init container (a sidecar,
 * restartPolicy Always) adds to that sum for good and an ordinary init container needs its
 * own request plus the sidecars started before it; the pod asks for the larger of the two,
 * plus spec.overhead. The "non-zero" variant used by LeastAllocated scoring charges 100m CPU
 * and 200Mi memory for a container that has no such request (an absent key, not an
 * explicit 0), so best-effort pods still spread.
 *
 * A pod whose affinity or spread terms cannot be parsed gets sched_pod.err set: it is not
 * scheduled (the error is reported), and as an existing pod its broken terms match
 * nothing. Malformed quantities count as zero and set err too.
 */
#ifndef CAPSTAN_SCHED_OBJECTS_H
#define CAPSTAN_SCHED_OBJECTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "selector.h"

#define SCHED_DEFAULT_MILLI_CPU 100		   /* non-zero request of a container without one */
#define SCHED_DEFAULT_MEMORY (200ll * 1024 * 1024) /* bytes, idem */
#define SCHED_DEFAULT_SCHEDULER "default-scheduler"

/* ---------------------------------------------------------------- resources */

struct sched_scalar {
	char *name;    /* extended resource, hugepages-*, attachable-volumes-* (owned) */
	int64_t value; /* in units (Quantity.Value()) */
};

struct sched_res {
	int64_t milli_cpu;
	int64_t memory;	   /* bytes */
	int64_t ephemeral; /* bytes */
	int64_t pods;	   /* allocatable pod count (nodes only) */
	size_t nscalar;
	struct sched_scalar *scalar;
};

/* True for names NodeResourcesFit checks beyond cpu/memory/ephemeral-storage/pods. */
bool sched_is_scalar_resource(const char *name);
/* dst += sign * src (sign 1 or -1), scalars merged by name. */
void sched_res_add(struct sched_res *dst, const struct sched_res *src, int sign);
/* The scalar named name in r, 0 when absent. */
int64_t sched_res_scalar(const struct sched_res *r, const char *name);
void sched_res_free(struct sched_res *r);
/*
 * Parse a ResourceList object ({"cpu": "500m", ...}) into out (zeroed first). 0 on
 * success; -EINVAL when a quantity does not parse (the others are still read).
 */
int sched_res_parse(const json_t *list, struct sched_res *out);

/* ---------------------------------------------------------------- pod parts */

enum sched_tol_op { SCHED_TOL_EQUAL, SCHED_TOL_EXISTS, SCHED_TOL_BAD };

struct sched_toleration {
	const char *key; /* "" = every key (with Exists) */
	const char *value;
	const char *effect; /* "" = every effect */
	enum sched_tol_op op;
};

struct sched_taint {
	const char *key, *value, *effect;
};

struct sched_port {
	const char *ip;	   /* "0.0.0.0" when unset */
	const char *proto; /* "TCP" when unset */
	int port;
};

/* One nodeSelectorTerm: matchExpressions on labels AND matchFields on metadata.name. */
struct sched_node_term {
	struct selector *labels; /* NULL when the term has no matchExpressions */
	const json_t *fields;	 /* matchFields array (borrowed), or NULL */
	bool valid;		 /* false: empty or unparsable, matches no node */
	int weight;		 /* preferred terms only */
};

/* A pod (anti-)affinity term, with upstream's namespace rule resolved. */
struct sched_aff_term {
	struct selector *sel;	  /* labelSelector (+matchLabelKeys); "nothing" when absent */
	const json_t *namespaces; /* explicit namespaces (borrowed array) or NULL */
	const char *own_ns;	  /* set when neither namespaces nor namespaceSelector is given */
	struct selector *ns_sel;  /* namespaceSelector, NULL when absent */
	const char *topology_key;
	int weight; /* preferred terms only */
};

struct sched_spread {
	int max_skew;
	const char *topology_key;
	bool hard;	      /* whenUnsatisfiable DoNotSchedule */
	struct selector *sel; /* labelSelector (+matchLabelKeys) */
	int min_domains;      /* 0 when unset */
	bool honor_affinity;  /* nodeAffinityPolicy (default Honor) */
	bool honor_taints;    /* nodeTaintsPolicy (default Ignore) */
};

struct sched_node;

/*
 * A parsed pod. Shared by the queue and the cache through a reference count (the
 * scheduler's loop is single-threaded, so a plain counter). Fields below `cache` belong to
 * the cache.
 */
struct sched_pod {
	int refs;
	json_t *obj; /* the pod (a reference) */
	char *key;   /* "namespace/name" */
	const char *ns, *name, *uid, *node_name, *scheduler_name, *owner_uid;
	const json_t *labels;
	int32_t priority;
	int64_t created_ns;
	bool terminating; /* metadata.deletionTimestamp set */
	bool finished;	  /* status.phase Succeeded or Failed */
	bool gated;	  /* spec.schedulingGates not empty */

	struct sched_res req;		 /* PodRequests: what NodeResourcesFit charges */
	int64_t nz_milli_cpu, nz_memory; /* non-zero requests, for LeastAllocated */

	struct sched_port *ports;
	size_t nports;
	struct sched_toleration *tols;
	size_t ntols;
	struct selector *node_selector;	  /* spec.nodeSelector, NULL when absent */
	struct sched_node_term *node_req; /* required node affinity terms (ORed) */
	size_t nnode_req;
	bool has_node_req; /* requiredDuringScheduling... present (even with 0 terms) */
	struct sched_node_term *node_pref;
	size_t nnode_pref;
	struct sched_aff_term *aff_req, *aff_pref, *anti_req, *anti_pref;
	size_t naff_req, naff_pref, nanti_req, nanti_pref;
	struct sched_spread *spread;
	size_t nspread;
	char *err; /* first parse problem, or NULL */

	/* cache state */
	struct sched_node *node; /* node it is bound or assumed to */
	bool assumed;
	bool binding_done;    /* the binding call returned; the watch has not confirmed */
	uint64_t deadline_ns; /* monotonic; assumption dropped after it when binding_done */
};

/*
 * Parse a Pod. 0 on success with *out (refs 1); -EINVAL without a name or namespace
 * (message in err). Problems inside the spec do not fail the parse: see sched_pod.err.
 */
int sched_pod_parse(json_t *obj, struct sched_pod **out, char *err, size_t errlen);
struct sched_pod *sched_pod_get(struct sched_pod *p);
void sched_pod_put(struct sched_pod *p);

/* True when the toleration tolerates the taint (upstream ToleratesTaint). */
bool sched_toleration_matches(const struct sched_toleration *t, const struct sched_taint *taint);
/* True when one of the pod's tolerations tolerates taint. */
bool sched_pod_tolerates(const struct sched_pod *p, const struct sched_taint *taint);
/* True when the term matches the node (labels and matchFields). */
bool sched_node_term_matches(const struct sched_node_term *t, const struct sched_node *n);
/* nodeSelector and required node affinity both hold (NodeAffinity's filter). */
bool sched_pod_matches_node_affinity(const struct sched_pod *p, const struct sched_node *n);
/*
 * True when the affinity term selects pod `other`: its namespace is one the term covers
 * (ns_labels are the labels of other's namespace, for namespaceSelector; may be NULL) and
 * its labels match.
 */
bool sched_aff_term_matches(const struct sched_aff_term *t, const struct sched_pod *other,
			    const json_t *ns_labels);

/* ---------------------------------------------------------------- nodes */

struct sched_node {
	json_t *obj; /* the node, NULL for a placeholder that only holds pods */
	char *name;  /* owned: placeholders have no object */
	const json_t *labels;
	bool unschedulable;
	struct sched_taint *taints;
	size_t ntaints;
	struct sched_res alloc;

	/* accounting by the cache: bound and assumed pods */
	struct sched_res requested;
	int64_t nz_milli_cpu, nz_memory;
	struct sched_pod **pods;
	size_t npods, podcap;
	size_t n_ports;	   /* pods with host ports */
	size_t n_affinity; /* pods with any pod (anti-)affinity term */
	size_t n_anti_req; /* pods with required anti-affinity */
	size_t index;	   /* position in the cache's list of live nodes */
};

/*
 * (Re)read a Node object into n, keeping the accounting fields. 0 on success; -EINVAL
 * without a name (message in err); a malformed quantity counts as zero and gives -EINVAL
 * too, with n updated.
 */
int sched_node_set(struct sched_node *n, json_t *obj, char *err, size_t errlen);
/* The node's label value, or NULL. */
const char *sched_node_label(const struct sched_node *n, const char *key);
/* Free a node struct and what it owns (not its pods). */
void sched_node_free(struct sched_node *n);

#endif
