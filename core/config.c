/* config.c - see config.h. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "ydoc.h"

static const char *const known_sections[] = {
	"llm", "sandbox", "catalog", "durability", "log", "lua", "packages",
	"chains", "runs", NULL,
};

static void check_sections(const cJSON *root, const char *path)
{
	const cJSON *s;

	cJSON_ArrayForEach(s, root) {
		int known = 0;
		for (const char *const *k = known_sections; *k; k++)
			known |= strcmp(*k, s->string) == 0;
		if (!known)
			log_printf(LOG_WARN, "%s: unknown section '%s'", path,
				   s->string);
	}
}

int config_load(const char *path, struct config **out, struct sutra_err *err)
{
	struct config *cfg;
	struct ydoc *doc = NULL;
	const char *file = path ? path : "sutra.yaml";

	*out = NULL;
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	if (!path && access(file, F_OK) != 0) {
		cfg->root = cJSON_CreateObject();
		if (!cfg->root)
			goto nomem;
		*out = cfg;
		return 0;
	}
	if (ydoc_load_file(file, &doc, err) < 0) {
		if (err && err->code == SUTRA_ENOTFOUND)
			err->code = SUTRA_EUSAGE;
		goto fail;
	}
	cfg->root = ydoc_to_json(doc, ydoc_root(doc), err);
	if (!cfg->root)
		goto fail;
	if (cJSON_IsNull(cfg->root)) {
		cJSON_Delete(cfg->root);
		cfg->root = cJSON_CreateObject();
	}
	if (!cJSON_IsObject(cfg->root)) {
		ydoc_error(doc, ydoc_root(doc), err, SUTRA_EUSAGE,
			   "configuration must be a mapping");
		goto fail;
	}
	check_sections(cfg->root, file);
	if (!(cfg->path = strdup(file)))
		goto nomem;
	ydoc_free(doc);
	*out = cfg;
	return 0;
nomem:
	err_set(err, SUTRA_ENOMEM, "out of memory");
fail:
	ydoc_free(doc);
	config_free(cfg);
	return -1;
}

void config_free(struct config *cfg)
{
	if (!cfg)
		return;
	cJSON_Delete(cfg->root);
	free(cfg->path);
	free(cfg);
}

const cJSON *config_section(const struct config *cfg, const char *name)
{
	return cfg ? cJSON_GetObjectItemCaseSensitive(cfg->root, name) : NULL;
}
