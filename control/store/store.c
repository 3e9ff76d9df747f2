/*
 * store.c - the parts of store.h that do not depend on a backend: freeing
 * and filling key-values, key validation and the key range of a prefix.
 * Backends share them so that every backend hands out values the same way
 * (a NUL after the bytes) and lists exactly the same keys for a prefix.
 */
#include "control/store/store.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

void store_kv_free(struct store_kv *kv)
{
	if (!kv)
		return;
	free(kv->key);
	free(kv->value);
	memset(kv, 0, sizeof(*kv));
}

bool store_key_is_valid(const char *key)
{
	return key && *key;
}

void store_kv_fill(struct store_kv *kv, const char *key, const void *value, size_t len,
		   int64_t mod_rev, int64_t create_rev)
{
	kv->key = xstrdup(key);
	kv->value = xmalloc(len + 1);
	if (len)
		memcpy(kv->value, value, len);
	kv->value[len] = '\0';
	kv->len = len;
	kv->mod_rev = mod_rev;
	kv->create_rev = create_rev;
}

char *store_prefix_end(const char *prefix)
{
	size_t n = strlen(prefix);
	char *end;

	/*
	 * Trailing 0xff bytes cannot be incremented: every key starting with
	 * "a\xff" is below "b", so drop them and increment the byte before.
	 */
	while (n > 0 && (unsigned char)prefix[n - 1] == 0xff)
		n--;
	if (n == 0)
		return NULL;
	end = xstrndup(prefix, n);
	end[n - 1] = (char)((unsigned char)end[n - 1] + 1);
	return end;
}
