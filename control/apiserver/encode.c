/* encode.c - see encode.h. */
#include "control/apiserver/encode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/apiserver/tables.h"
#include "util.h"

/*
 * Accept may list several media types, e.g.
 * "application/json;as=Table;v=v1;g=meta.k8s.io,application/json". A Table
 * is served when one of them asks for meta.k8s.io/v1 Table.
 */
static bool accepts_table(const char *accept)
{
	char buf[1024];
	char *save = NULL;

	if (!accept || strlen(accept) >= sizeof(buf))
		return false;
	strcpy(buf, accept);
	for (char *mt = strtok_r(buf, ",", &save); mt; mt = strtok_r(NULL, ",", &save)) {
		bool as_table = false, v1 = false, meta = false;
		char *psave = NULL;

		for (char *p = strtok_r(mt, ";", &psave); p; p = strtok_r(NULL, ";", &psave)) {
			while (*p == ' ')
				p++;
			as_table |= strcmp(p, "as=Table") == 0;
			v1 |= strcmp(p, "v=v1") == 0;
			meta |= strcmp(p, "g=meta.k8s.io") == 0;
		}
		if (as_table && v1 && meta)
			return true;
	}
	return false;
}

void encode_format(const struct api_req *req, struct out_format *fmt)
{
	const char *inc = api_query(req, "includeObject");

	fmt->table = accepts_table(api_header(req, "Accept"));
	fmt->include = INCLUDE_METADATA;
	if (inc && strcmp(inc, "None") == 0)
		fmt->include = INCLUDE_NONE;
	else if (inc && strcmp(inc, "Object") == 0)
		fmt->include = INCLUDE_OBJECT;
}

void encode_list_kind(const struct resource *r, char *buf, size_t len)
{
	snprintf(buf, len, "%sList", r ? r->kind : "");
}

static json_t *table_row(const struct resource *r, const json_t *obj, int64_t now,
			 enum include_object include)
{
	json_t *row = json_pack("{s:o}", "cells", table_cells(r->name, obj, now));

	if (include == INCLUDE_OBJECT) {
		json_object_set(row, "object", (json_t *)obj);
	} else if (include == INCLUDE_METADATA) {
		json_t *meta = json_object_get(obj, "metadata");

		json_object_set_new(row, "object",
				    json_pack("{s:s,s:s,s:O}", "kind", "PartialObjectMetadata",
					      "apiVersion", "meta.k8s.io/v1", "metadata",
					      meta ? meta : json_object()));
	}
	return row;
}

static json_t *table_new(const struct resource *r, int64_t rev, bool with_columns)
{
	char rv[32];
	json_t *t;

	snprintf(rv, sizeof(rv), "%lld", (long long)rev);
	t = json_pack("{s:s,s:s,s:{s:s}}", "kind", "Table", "apiVersion", "meta.k8s.io/v1",
		      "metadata", "resourceVersion", rv);
	json_object_set_new(t, "columnDefinitions",
			    with_columns ? table_columns(r->name) : json_array());
	json_object_set_new(t, "rows", json_array());
	return t;
}

void encode_json_object(struct api_req *req, unsigned status, const struct resource *r,
			const json_t *obj, const struct out_format *fmt)
{
	if (fmt->table && r) {
		json_t *t = table_new(r, 0, true);

		json_object_del(json_object_get(t, "metadata"), "resourceVersion");
		json_array_append_new(json_object_get(t, "rows"),
				      table_row(r, obj, (int64_t)now_real_ns(), fmt->include));
		api_reply_json(req, status, t);
		return;
	}
	api_reply_json(req, status, json_incref((json_t *)obj));
}

void encode_object(struct api_req *req, unsigned status, const struct resource *r,
		   const struct cache_obj *o, const struct out_format *fmt)
{
	if (fmt->table) {
		encode_json_object(req, status, r, o->obj, fmt);
		return;
	}
	api_reply_raw(req, status, "application/json", xstrndup(o->text, o->len), o->len);
}

void encode_list(struct api_req *req, const struct resource *r, struct cache_obj **items,
		 size_t n, int64_t rev, const char *cont, long long remaining,
		 const struct out_format *fmt)
{
	char api_version[96], kind[96];
	struct buf out = { 0 };

	if (fmt->table) {
		json_t *t = table_new(r, rev, true);
		json_t *rows = json_object_get(t, "rows");
		int64_t now = (int64_t)now_real_ns();

		for (size_t i = 0; i < n; i++)
			json_array_append_new(rows, table_row(r, items[i]->obj, now, fmt->include));
		if (cont)
			json_object_set_new(json_object_get(t, "metadata"), "continue",
					    json_string(cont));
		if (cont && remaining >= 0)
			json_object_set_new(json_object_get(t, "metadata"), "remainingItemCount",
					    json_integer(remaining));
		api_reply_json(req, 200, t);
		return;
	}
	registry_api_version(r, api_version, sizeof(api_version));
	encode_list_kind(r, kind, sizeof(kind));
	buf_appendf(&out, "{\"kind\":\"%s\",\"apiVersion\":\"%s\",\"metadata\":{\"resourceVersion\":\"%lld\"",
		    kind, api_version, (long long)rev);
	if (cont) {
		/* The token is base64url: no characters that need escaping. */
		buf_appendf(&out, ",\"continue\":\"%s\"", cont);
		if (remaining >= 0)
			buf_appendf(&out, ",\"remainingItemCount\":%lld", remaining);
	}
	buf_appendf(&out, "},\"items\":[");
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_append(&out, ",", 1);
		buf_append(&out, items[i]->text, items[i]->len);
	}
	buf_append(&out, "]}", 2);
	api_reply_raw(req, 200, "application/json", out.data, out.len);
}

char *encode_watch_event(const struct resource *r, const char *type, const struct cache_obj *o,
			 const struct out_format *fmt, bool with_columns)
{
	struct buf out = { 0 };

	buf_appendf(&out, "{\"type\":\"%s\",\"object\":", type);
	if (fmt->table) {
		json_t *t = table_new(r, o->rev, with_columns);
		char *text;

		json_array_append_new(json_object_get(t, "rows"),
				      table_row(r, o->obj, (int64_t)now_real_ns(), fmt->include));
		text = json_dumps(t, JSON_COMPACT);
		json_decref(t);
		if (!text)
			abort();
		buf_append(&out, text, strlen(text));
		free(text);
	} else {
		buf_append(&out, o->text, o->len);
	}
	buf_append(&out, "}\n", 2);
	return out.data;
}
