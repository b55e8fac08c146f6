/* runtime.c - see runtime.h. */
#include "runtime.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "isolation.h"
#include "netmod.h"
#include "sandbox/sandbox.h"
#include "util.h"

#ifndef SUTRA_PKGDATADIR
#define SUTRA_PKGDATADIR "/usr/local/share/sutra"
#endif

static int is_dir(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

char *runtime_data_dir(void)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	const char *env = getenv("SUTRA_DATA_DIR");

	if (env && *env)
		return strdup(env);
	if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash) {
			/* libtool puts uninstalled binaries in .libs/. */
			*slash = '\0';
			size_t len = strlen(exe);
			if (len >= 6 && strcmp(exe + len - 6, "/.libs") == 0)
				exe[len - 6] = '\0';
			char *lua = path_join(exe, "lua/sutra");
			int found = lua && is_dir(lua);
			free(lua);
			if (found)
				return strdup(exe);
		}
	}
	return strdup(SUTRA_PKGDATADIR);
}

char *runtime_user_catalog(void)
{
	const char *xdg = getenv("XDG_DATA_HOME");
	const char *home = getenv("HOME");
	char buf[PATH_MAX];

	if (xdg && *xdg)
		snprintf(buf, sizeof(buf), "%s/sutra/catalog", xdg);
	else if (home && *home)
		snprintf(buf, sizeof(buf), "%s/.local/share/sutra/catalog",
			 home);
	else
		return NULL;
	return strdup(buf);
}

static int push_path(char ***paths, size_t *n, const char *p)
{
	char **np = realloc(*paths, (*n + 2) * sizeof(**paths));

	if (!np)
		return -1;
	*paths = np;
	if (!(np[*n] = strdup(p)))
		return -1;
	np[++*n] = NULL;
	return 0;
}

static int push_env_list(char ***paths, size_t *n, const char *list)
{
	char *copy = strdup(list), *save = NULL;
	int rc = 0;

	if (!copy)
		return -1;
	for (char *p = strtok_r(copy, ":", &save); p && rc == 0;
	     p = strtok_r(NULL, ":", &save))
		rc = push_path(paths, n, p);
	free(copy);
	return rc;
}

char **runtime_catalog_path(const struct runtime_options *opts,
			    const char *data_dir, size_t *n)
{
	char **paths = calloc(1, sizeof(*paths));
	const char *env = getenv("SUTRA_CATALOG_PATH");
	char *user = runtime_user_catalog();
	char *shipped = data_dir ? path_join(data_dir, "catalog") : NULL;
	int rc = paths ? 0 : -1;

	*n = 0;
	for (size_t i = 0; rc == 0 && i < opts->n_catalogs; i++)
		rc = push_path(&paths, n, opts->catalogs[i]);
	if (rc == 0 && env && *env)
		rc = push_env_list(&paths, n, env);
	if (rc == 0)
		rc = push_path(&paths, n, "catalog");
	if (rc == 0 && user)
		rc = push_path(&paths, n, user);
	if (rc == 0 && shipped)
		rc = push_path(&paths, n, shipped);
	free(user);
	free(shipped);
	if (rc < 0) {
		runtime_free_paths(paths);
		return NULL;
	}
	return paths;
}

void runtime_free_paths(char **paths)
{
	if (!paths)
		return;
	for (char **p = paths; *p; p++)
		free(*p);
	free(paths);
}

static char *default_db_path(const struct runtime_options *opts)
{
	const char *env = getenv("SUTRA_DB");

	if (opts->db_path)
		return strdup(opts->db_path);
	if (env && *env)
		return strdup(env);
	return strdup(".sutra/state.db");
}

int runtime_open(const struct runtime_options *opts, struct runtime **out,
		 struct sutra_err *err)
{
	struct runtime *rt = calloc(1, sizeof(*rt));
	const char *cfg_path = opts->config_path;
	char **paths = NULL;
	size_t n_paths = 0;

	*out = NULL;
	if (!rt)
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	pthread_mutex_init(&rt->state_lock, NULL);
	if (!cfg_path && getenv("SUTRA_CONFIG") && *getenv("SUTRA_CONFIG"))
		cfg_path = getenv("SUTRA_CONFIG");
	if (config_load(cfg_path, &rt->config, err) < 0)
		goto fail;
	rt->db_path = default_db_path(opts);
	rt->data_dir = runtime_data_dir();
	rt->lua_dir = rt->data_dir ? path_join(rt->data_dir, "lua") : NULL;
	if (!rt->db_path || !rt->data_dir || !rt->lua_dir)
		goto nomem;
	paths = runtime_catalog_path(opts, rt->data_dir, &n_paths);
	if (!paths)
		goto nomem;
	if (catalog_load(paths, n_paths, &rt->catalog, err) < 0)
		goto fail;
	char *user = runtime_user_catalog();
	int rc = isolation_apply(rt->catalog, rt->config, user, err);
	free(user);
	if (rc < 0)
		goto fail;
	netmod_install(rt);
	runtime_free_paths(paths);
	rt->sandbox_run = sandbox_effect;
	*out = rt;
	return 0;
nomem:
	err_set(err, SUTRA_ENOMEM, "out of memory");
fail:
	runtime_free_paths(paths);
	runtime_close(rt);
	return -1;
}

struct state *runtime_state(struct runtime *rt, struct sutra_err *err)
{
	struct state *st;

	pthread_mutex_lock(&rt->state_lock);
	if (!rt->state)
		state_open(rt->db_path, &rt->state, err);
	st = rt->state;
	pthread_mutex_unlock(&rt->state_lock);
	return st;
}

void runtime_state_idle(struct runtime *rt)
{
	struct state *st;

	/* Not under state_lock: the state's own lock is never taken inside
	 * it elsewhere, and must not be here either. */
	pthread_mutex_lock(&rt->state_lock);
	st = rt->state;
	pthread_mutex_unlock(&rt->state_lock);
	if (st)
		state_idle(st);
}

struct state *runtime_state_opener(void *rt, struct sutra_err *err)
{
	return runtime_state(rt, err);
}

void runtime_close(struct runtime *rt)
{
	if (!rt)
		return;
	if (rt->llm_free)
		rt->llm_free(rt->llm);
	catalog_free(rt->catalog);
	state_close(rt->state);
	config_free(rt->config);
	free(rt->db_path);
	free(rt->data_dir);
	free(rt->lua_dir);
	pthread_mutex_destroy(&rt->state_lock);
	free(rt);
}
