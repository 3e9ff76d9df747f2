/*
 * config.c - see config.h for the fields.
 *
 * Validation happens field by field into a local struct that is copied to the
 * caller only when everything passed, so a failed parse leaves nothing to
 * free and no half-filled configuration to act on.
 */
#include "agent/cni/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonx.h"
#include "util.h"

/* Keys accepted as they are; ours and the spec's well-known ones. */
static const char *const known_keys[] = {
	"cniVersion", "name", "type", "podCIDR",       "gateway",      "dataDir",    "mtu",
	"logLevel",   "dns",  "args", "runtimeConfig", "capabilities", "prevResult", "ipMasq",
};

static const char *const log_levels[] = { "error", "warn", "info", "debug", "trace" };

static bool in_list(const char *s, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s, list[i]) == 0)
			return true;
	return false;
}

static const char *version_of(const json_t *root)
{
	return cni_version_find(jsonx_str(root, "cniVersion", NULL));
}

const char *cni_config_peek_version(const char *json, size_t len)
{
	json_t *root = json ? json_loadb(json, len, 0, NULL) : NULL;
	const char *v = version_of(root);

	json_decref(root);
	return v;
}

/* err for an unknown key: the spec wants its key and value in the message. */
static void unsupported_field(struct cni_error *err, const char *key, const json_t *value,
			      const char *why)
{
	char *dumped = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);

	cni_error_set(err, CNI_ERR_UNSUPPORTED_FIELD, "unsupported field \"%.64s\": %.80s", key,
		      dumped ? dumped : "?");
	cni_error_details(err, "%s", why);
	free(dumped);
}

static int check_keys(const json_t *root, struct cni_error *err)
{
	const char *key;
	json_t *value;

	json_object_foreach((json_t *)root, key, value) {
		if (strcmp(key, "ipam") == 0) {
			unsupported_field(err, key, value,
					  "capstan-cni allocates pod addresses from podCIDR itself "
					  "and calls no IPAM plugin");
			return -EINVAL;
		}
		if (strcmp(key, "ipMasq") == 0 && !json_is_false(value)) {
			unsupported_field(err, key, value,
					  "capstan-cni does not masquerade; pod traffic is routed");
			return -EINVAL;
		}
		if (!in_list(key, known_keys, ARRAY_SIZE(known_keys))) {
			unsupported_field(err, key, value,
					  "known fields: cniVersion, name, type, podCIDR, gateway, "
					  "dataDir, mtu, logLevel, dns");
			return -EINVAL;
		}
	}
	return 0;
}

/* A string field: NULL with err set when absent (and required) or not a string. */
static int get_string(const json_t *root, const char *key, bool required, const char **out,
		      struct cni_error *err)
{
	json_t *v = json_object_get(root, key);

	*out = NULL;
	if (!v) {
		if (!required)
			return 0;
		cni_error_set(err, CNI_ERR_INVALID_CONFIG, "%s is required", key);
		return -EINVAL;
	}
	if (!json_is_string(v)) {
		cni_error_set(err, CNI_ERR_INVALID_CONFIG, "%s must be a string", key);
		return -EINVAL;
	}
	*out = json_string_value(v);
	return 0;
}

static int parse_pod_cidr(const char *s, struct cni_config *cfg, struct cni_error *err)
{
	char net[CNI_IP4_STRLEN];
	uint32_t addr;
	unsigned prefix;

	if (cni_ip4_cidr_parse(s, &addr, &prefix) < 0) {
		cni_error_set(err, CNI_ERR_INVALID_CONFIG,
			      "podCIDR \"%.40s\" is not an IPv4 CIDR like 10.244.1.0/24", s);
		return -EINVAL;
	}
	if (prefix < 8 || prefix > 30) {
		cni_error_set(err, CNI_ERR_INVALID_CONFIG, "podCIDR %s: prefix must be /8 to /30",
			      s);
		cni_error_details(err, "a /30 is the smallest network with a gateway, one pod "
				       "address and a broadcast address");
		return -EINVAL;
	}
	if (addr & ~cni_ip4_mask(prefix)) {
		cni_error_set(err, CNI_ERR_INVALID_CONFIG,
			      "podCIDR %s has host bits set (network %s)", s,
			      cni_ip4_cidr_str(addr & cni_ip4_mask(prefix), prefix, net));
		return -EINVAL;
	}
	cfg->pod_cidr.addr = addr;
	cfg->pod_cidr.prefix = prefix;
	return 0;
}

static int parse_gateway(const char *s, struct cni_config *cfg, struct cni_error *err)
{
	uint32_t mask = cni_ip4_mask(cfg->pod_cidr.prefix), gw;
	char net[CNI_IP4_STRLEN];

	if (!s) {
		cfg->gateway = cfg->pod_cidr.addr + 1;
		return 0;
	}
	cni_ip4_cidr_str(cfg->pod_cidr.addr, cfg->pod_cidr.prefix, net);
	if (cni_ip4_parse(s, &gw) < 0) {
		cni_error_set(err, CNI_ERR_INVALID_CONFIG,
			      "gateway \"%.40s\" is not an IPv4 address", s);
		return -EINVAL;
	}
	if ((gw & mask) != cfg->pod_cidr.addr || gw == cfg->pod_cidr.addr ||
	    gw == (cfg->pod_cidr.addr | ~mask)) {
		cni_error_set(err, CNI_ERR_INVALID_CONFIG,
			      "gateway %s is not a usable address of podCIDR %s", s, net);
		return -EINVAL;
	}
	cfg->gateway = gw;
	return 0;
}

static int parse_fields(const json_t *root, struct cni_config *cfg, struct cni_error *err)
{
	const char *name, *type, *cidr, *gw, *dir, *level;
	json_t *v;

	if (get_string(root, "name", true, &name, err) < 0 ||
	    get_string(root, "type", true, &type, err) < 0 ||
	    get_string(root, "podCIDR", true, &cidr, err) < 0 ||
	    get_string(root, "gateway", false, &gw, err) < 0 ||
	    get_string(root, "dataDir", false, &dir, err) < 0 ||
	    get_string(root, "logLevel", false, &level, err) < 0)
		return -EINVAL;

	/* The name becomes a directory under dataDir/ipam. */
	if (!cni_container_id_is_valid(name) || strlen(name) > CNI_NETWORK_NAME_MAX) {
		cni_error_set(err, CNI_ERR_INVALID_CONFIG,
			      "name \"%.64s\" is not a valid network name", name);
		cni_error_details(err,
				  "a letter or digit, then letters, digits, '_', '.' or '-'; "
				  "at most %d characters",
				  CNI_NETWORK_NAME_MAX);
		return -EINVAL;
	}
	snprintf(cfg->name, sizeof(cfg->name), "%s", name);

	if (parse_pod_cidr(cidr, cfg, err) < 0 || parse_gateway(gw, cfg, err) < 0)
		return -EINVAL;

	if (dir && (dir[0] != '/' || strlen(dir) >= sizeof(cfg->data_dir) - 64)) {
		cni_error_set(err, CNI_ERR_INVALID_CONFIG,
			      "dataDir \"%.64s\" must be an absolute path", dir);
		return -EINVAL;
	}
	snprintf(cfg->data_dir, sizeof(cfg->data_dir), "%s", dir ? dir : CNI_DEFAULT_DATA_DIR);

	cfg->mtu = CNI_DEFAULT_MTU;
	v = json_object_get(root, "mtu");
	if (v) {
		if (!json_is_integer(v) || json_integer_value(v) < 576 ||
		    json_integer_value(v) > 65535) {
			cni_error_set(err, CNI_ERR_INVALID_CONFIG,
				      "mtu must be an integer from 576 to 65535");
			return -EINVAL;
		}
		cfg->mtu = (int)json_integer_value(v);
	}

	if (level && !in_list(level, log_levels, ARRAY_SIZE(log_levels))) {
		cni_error_set(err, CNI_ERR_INVALID_CONFIG,
			      "logLevel \"%.16s\": want error, warn, info, debug or trace", level);
		return -EINVAL;
	}
	snprintf(cfg->log_level, sizeof(cfg->log_level), "%s", level ? level : "info");

	v = json_object_get(root, "dns");
	if (v && !json_is_object(v)) {
		cni_error_set(err, CNI_ERR_INVALID_CONFIG, "dns must be an object");
		return -EINVAL;
	}
	cfg->dns = json_incref(v);
	return 0;
}

int cni_config_parse(const char *json, size_t len, bool loopback, struct cni_config *out,
		     struct cni_error *err)
{
	struct cni_config cfg = { 0 };
	json_error_t jerr;
	json_t *root = NULL, *prev;
	const char *version;
	int ret = -EINVAL;

	root = json ? json_loadb(json, len, 0, &jerr) : NULL;
	if (!root) {
		cni_error_set(err, CNI_ERR_DECODE, "network configuration is not valid JSON");
		if (json)
			cni_error_details(err, "line %d column %d: %s", jerr.line, jerr.column,
					  jerr.text);
		goto out;
	}
	if (!json_is_object(root)) {
		cni_error_set(err, CNI_ERR_DECODE, "network configuration is not a JSON object");
		goto out;
	}
	version = version_of(root);
	if (!version) {
		const char *v = jsonx_str(root, "cniVersion", NULL);

		if (v)
			cni_error_set(err, CNI_ERR_INCOMPATIBLE_VERSION,
				      "cniVersion \"%.16s\" is not supported", v);
		else
			cni_error_set(err, CNI_ERR_INVALID_CONFIG, "cniVersion is required");
		cni_error_details(err, "supported versions: 0.3.0, 0.3.1, 0.4.0, 1.0.0");
		goto out;
	}
	snprintf(cfg.cni_version, sizeof(cfg.cni_version), "%s", version);

	prev = json_object_get(root, "prevResult");
	if (prev && !json_is_object(prev)) {
		cni_error_set(err, CNI_ERR_INVALID_CONFIG, "prevResult must be an object");
		goto out;
	}
	if (!loopback && (check_keys(root, err) < 0 || parse_fields(root, &cfg, err) < 0))
		goto out;
	cfg.prev_result = json_incref(prev);
	*out = cfg;
	ret = 0;
out:
	if (ret < 0)
		json_decref(cfg.dns);
	json_decref(root);
	return ret;
}

void cni_config_free(struct cni_config *cfg)
{
	json_decref(cfg->dns);
	json_decref(cfg->prev_result);
	cfg->dns = NULL;
	cfg->prev_result = NULL;
}
