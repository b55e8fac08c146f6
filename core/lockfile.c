/* lockfile.c - see lockfile.h. */
#include "lockfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"
#include "ydoc.h"

#define LOCK_FORMAT 1
/* Sub-chains nest no deeper than this (chain_load refuses recursion). */
#define MAX_CHAIN_DEPTH 32

/* The distinct agents a set of chains uses, in name order. */
struct used {
	const struct agent **items;
	size_t n, cap;
};

static int add_used(struct used *u, const struct agent *a,
		    struct sutra_err *err)
{
	for (size_t i = 0; i < u->n; i++)
		if (strcmp(u->items[i]->name, a->name) == 0)
			return 0;
	if (u->n == u->cap) {
		size_t cap = u->cap ? u->cap * 2 : 16;
		const struct agent **ni = realloc(u->items, cap * sizeof(*ni));
		if (!ni)
			return err_set(err, SUTRA_ENOMEM, "out of memory");
		u->items = ni;
		u->cap = cap;
	}
	u->items[u->n++] = a;
	return 0;
}

static int collect(struct used *u, const struct chain *c, int depth,
		   struct sutra_err *err)
{
	if (depth > MAX_CHAIN_DEPTH)
		return err_set(err, SUTRA_EUSAGE, "%s: sub-chains nest deeper "
			       "than %d", c->path, MAX_CHAIN_DEPTH);
	for (int i = 0; i < c->n_steps; i++) {
		const struct step *s = c->all[i];
		if (s->agent && add_used(u, s->agent, err) < 0)
			return -1;
		if (s->kind == STEP_CHAIN && s->sub &&
		    collect(u, s->sub, depth + 1, err) < 0)
			return -1;
	}
	return 0;
}

static int by_name(const void *x, const void *y)
{
	return strcmp((*(const struct agent *const *)x)->name,
		      (*(const struct agent *const *)y)->name);
}

/* The sha256 of an agent's entry as it is now; it must match the
 * manifest's own pin when there is one. */
static int entry_sha256(const struct agent *a, char hex[65],
			struct sutra_err *err)
{
	if (sha256_file_hex(a->entry_path, hex, err) < 0) {
		err_prefix(err, "agent '%s'", a->name);
		return -1;
	}
	if (a->sha256 && strcmp(a->sha256, hex) != 0)
		return err_set(err, SUTRA_EUSAGE,
			       "agent '%s': %s: sha256 mismatch: manifest says "
			       "%s, file has %s",
			       a->name, a->entry_path, a->sha256, hex);
	return 0;
}

static int write_lock(FILE *f, const struct used *u, struct sutra_err *err)
{
	char hex[65];

	fprintf(f, "# %s: the agents this project's chains use, pinned.\n"
		   "# Written by 'sutra catalog lock'; 'sutra run' refuses "
		   "agents that differ.\n"
		   "lock: %d\nagents:%s\n",
		LOCKFILE_NAME, LOCK_FORMAT, u->n ? "" : " {}");
	for (size_t i = 0; i < u->n; i++) {
		const struct agent *a = u->items[i];
		if (entry_sha256(a, hex, err) < 0)
			return -1;
		/* Quoted, so that a version such as 1.10 stays text. */
		fprintf(f, "  %s:\n    version: \"%s\"\n    sha256: \"%s\"\n",
			a->name, a->version, hex);
	}
	return 0;
}

static int write_atomically(const char *path, const struct used *u,
			    struct sutra_err *err)
{
	char tmp[4096];
	FILE *f = NULL;
	int fd, rc = -1;

	snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", path);
	if ((fd = mkstemp(tmp)) < 0 || !(f = fdopen(fd, "w"))) {
		err_set(err, SUTRA_ERUNTIME, "%s: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (write_lock(f, u, err) < 0)
		goto out;
	if (fflush(f) != 0 || fsync(fd) != 0 || fchmod(fd, 0644) != 0) {
		err_set(err, SUTRA_ERUNTIME, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (fclose(f) != 0 && rc == 0)
		rc = err_set(err, SUTRA_ERUNTIME, "%s: %s", tmp, strerror(errno));
	if (rc == 0 && rename(tmp, path) != 0)
		rc = err_set(err, SUTRA_ERUNTIME, "%s: %s", path,
			     strerror(errno));
	if (rc < 0)
		unlink(tmp);
	return rc;
}

int lockfile_write(const char *path, struct chain *const *chains,
		   size_t n_chains, size_t *n_agents, struct sutra_err *err)
{
	struct used u = {0};
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < n_chains; i++)
		rc = collect(&u, chains[i], 0, err);
	if (rc == 0) {
		qsort(u.items, u.n, sizeof(*u.items), by_name);
		rc = write_atomically(path, &u, err);
	}
	*n_agents = u.n;
	free(u.items);
	return rc;
}

/* ------------------------------------------------------------- check */

/* Reads the lock into {agents: {NAME: {version, sha256}}}. */
static cJSON *read_lock(const char *path, struct sutra_err *err)
{
	struct ydoc *doc = NULL;
	cJSON *json = NULL;
	const cJSON *fmt, *agents;

	if (ydoc_load_file(path, &doc, err) < 0)
		return NULL;
	json = ydoc_root(doc) ? ydoc_to_json(doc, ydoc_root(doc), err) : NULL;
	ydoc_free(doc);
	if (!json) {
		err_set(err, SUTRA_EUSAGE, "%s: empty lock file", path);
		return NULL;
	}
	fmt = cJSON_GetObjectItemCaseSensitive(json, "lock");
	agents = cJSON_GetObjectItemCaseSensitive(json, "agents");
	if (!cJSON_IsNumber(fmt) || fmt->valueint != LOCK_FORMAT ||
	    !cJSON_IsObject(agents)) {
		err_set(err, SUTRA_EUSAGE,
			"%s: not a lock file of format %d ('lock: %d' and an "
			"'agents' mapping); rewrite it with 'sutra catalog "
			"lock'", path, LOCK_FORMAT, LOCK_FORMAT);
		cJSON_Delete(json);
		return NULL;
	}
	return json;
}

static const char *pin_field(const cJSON *pin, const char *key)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(pin, key));
}

static int check_agent(const cJSON *agents, const struct agent *a,
		       struct sutra_err *err)
{
	const cJSON *pin = cJSON_GetObjectItemCaseSensitive(agents, a->name);
	const char *version = pin_field(pin, "version");
	const char *sha = pin_field(pin, "sha256");
	char hex[65];

	if (!pin)
		return err_set(err, SUTRA_EUSAGE,
			       "agent '%s' is not in %s: run 'sutra catalog "
			       "lock' to pin it", a->name, LOCKFILE_NAME);
	if (!version || strcmp(version, a->version) != 0)
		return err_set(err, SUTRA_EUSAGE,
			       "agent '%s' is version %s (%s) but %s pins %s: "
			       "run 'sutra catalog lock' if the change is "
			       "intended", a->name, a->version, a->dir,
			       LOCKFILE_NAME, version ? version : "none");
	if (sha256_file_hex(a->entry_path, hex, err) < 0) {
		err_prefix(err, "agent '%s'", a->name);
		return -1;
	}
	if (!sha || strcmp(sha, hex) != 0)
		return err_set(err, SUTRA_EUSAGE,
			       "agent '%s' changed: %s has sha256 %s but %s "
			       "pins %s: run 'sutra catalog lock' if the change "
			       "is intended", a->name, a->entry_path, hex,
			       LOCKFILE_NAME, sha ? sha : "none");
	return 0;
}

int lockfile_check(const struct chain *chain, struct sutra_err *err)
{
	struct used u = {0};
	cJSON *lock;
	int rc = 0;

	if (access(LOCKFILE_NAME, F_OK) != 0)
		return 0;
	if (!(lock = read_lock(LOCKFILE_NAME, err)))
		return -1;
	const cJSON *agents = cJSON_GetObjectItemCaseSensitive(lock, "agents");
	rc = collect(&u, chain, 0, err);
	for (size_t i = 0; rc == 0 && i < u.n; i++)
		rc = check_agent(agents, u.items[i], err);
	free(u.items);
	cJSON_Delete(lock);
	return rc;
}
