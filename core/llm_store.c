/*
 * llm_store.c - the LLM layer's tables in the state database: llm_calls
 * (one row per llm_chat call, for accounting and budgets) and llm_cache
 * (responses keyed by the SHA-256 of the canonical request).  Neither
 * ever holds a header or an API key: rows are built from the response
 * and the provider's name only.
 */
#include <sqlite3.h>
#include <string.h>

#include "llm_impl.h"
#include "util.h"

static const char SQL_RECORD[] =
	"INSERT INTO llm_calls (run, step, provider, model, tokens_in,"
	" tokens_out, tokens_cached, cost_usd, latency_ms, retries, cache_hit,"
	" status, error, ts) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
static const char SQL_CACHE_GET[] =
	"SELECT response FROM llm_cache WHERE key = ?";
static const char SQL_CACHE_HIT[] =
	"UPDATE llm_cache SET hits = hits + 1 WHERE key = ?";
static const char SQL_CACHE_PUT[] =
	"INSERT OR REPLACE INTO llm_cache (key, response, created, hits)"
	" VALUES (?, ?, ?, 0)";
static const char SQL_SPENT_RUN[] =
	"SELECT coalesce(sum(cost_usd), 0),"
	" coalesce(sum(tokens_in + tokens_out), 0)"
	" FROM llm_calls WHERE run = ?";
static const char SQL_SPENT_STEP[] =
	"SELECT coalesce(sum(cost_usd), 0),"
	" coalesce(sum(tokens_in + tokens_out), 0)"
	" FROM llm_calls WHERE run = ? AND step = ?";

static void bind_text(sqlite3_stmt *s, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(s, i);
}

int llm_store_record(struct state *st, const struct llm_call_record *rec,
		     struct sutra_err *err)
{
	sqlite3_stmt *s;
	int rc = -1;

	state_lock(st);
	if (!(s = state_stmt(st, SQL_RECORD, err)))
		goto out;
	bind_text(s, 1, rec->run_id);
	bind_text(s, 2, rec->step_id);
	bind_text(s, 3, rec->provider ? rec->provider : "");
	bind_text(s, 4, rec->model);
	sqlite3_bind_int64(s, 5, rec->tokens_in);
	sqlite3_bind_int64(s, 6, rec->tokens_out);
	sqlite3_bind_int64(s, 7, rec->tokens_cached);
	sqlite3_bind_double(s, 8, rec->cost_usd);
	sqlite3_bind_double(s, 9, rec->latency_ms);
	sqlite3_bind_int(s, 10, rec->retries);
	sqlite3_bind_int(s, 11, rec->cache_hit);
	bind_text(s, 12, rec->status);
	bind_text(s, 13, rec->error);
	sqlite3_bind_double(s, 14, now_unix());
	int step = sqlite3_step(s);
	rc = step == SQLITE_DONE ? 0 : state_fail(st, step, "record llm call", err);
	sqlite3_reset(s);
out:
	state_unlock(st);
	return rc;
}

int llm_store_cache_get(struct state *st, const char *key, cJSON **response,
			struct sutra_err *err)
{
	sqlite3_stmt *s;
	int rc = -1, step;

	*response = NULL;
	state_lock(st);
	if (!(s = state_stmt(st, SQL_CACHE_GET, err)))
		goto out;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	step = sqlite3_step(s);
	if (step == SQLITE_ROW) {
		/* A row we cannot parse is treated as a miss: it gets
		 * replaced by the fresh answer. */
		*response = cJSON_Parse((const char *)sqlite3_column_text(s, 0));
	} else if (step != SQLITE_DONE) {
		state_fail(st, step, "read llm cache", err);
		sqlite3_reset(s);
		goto out;
	}
	sqlite3_reset(s);
	rc = 0;
	if (*response && (s = state_stmt(st, SQL_CACHE_HIT, err))) {
		sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
		step = sqlite3_step(s);
		sqlite3_reset(s);
		if (step != SQLITE_DONE)
			rc = state_fail(st, step, "count llm cache hit", err);
	}
out:
	state_unlock(st);
	if (rc < 0) {
		cJSON_Delete(*response);
		*response = NULL;
	}
	return rc;
}

int llm_store_cache_put(struct state *st, const char *key,
			const cJSON *response, struct sutra_err *err)
{
	char *text = cJSON_PrintUnformatted(response);
	sqlite3_stmt *s;
	int rc = -1;

	if (!text)
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	state_lock(st);
	if ((s = state_stmt(st, SQL_CACHE_PUT, err))) {
		sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, text, -1, SQLITE_STATIC);
		sqlite3_bind_double(s, 3, now_unix());
		int step = sqlite3_step(s);
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
		rc = step == SQLITE_DONE
			     ? 0
			     : state_fail(st, step, "write llm cache", err);
	}
	state_unlock(st);
	cJSON_free(text);
	return rc;
}

int llm_spent(struct state *st, const char *run_id, const char *step_id,
	      double *usd, int64_t *tokens, struct sutra_err *err)
{
	sqlite3_stmt *s;
	int rc = -1, step;

	*usd = 0;
	*tokens = 0;
	state_lock(st);
	if (!(s = state_stmt(st, step_id ? SQL_SPENT_STEP : SQL_SPENT_RUN, err)))
		goto out;
	sqlite3_bind_text(s, 1, run_id, -1, SQLITE_STATIC);
	if (step_id)
		sqlite3_bind_text(s, 2, step_id, -1, SQLITE_STATIC);
	step = sqlite3_step(s);
	if (step == SQLITE_ROW) {
		*usd = sqlite3_column_double(s, 0);
		*tokens = sqlite3_column_int64(s, 1);
		rc = 0;
	} else {
		state_fail(st, step, "sum llm spending", err);
	}
	sqlite3_reset(s);
out:
	state_unlock(st);
	return rc;
}

double llm_cost(const struct llm_price *p, int64_t in, int64_t out,
		int64_t cached)
{
	int64_t fresh = in > cached ? in - cached : 0;

	return ((double)fresh * p->input_per_mtok +
		(double)cached * p->cached_per_mtok +
		(double)out * p->output_per_mtok) /
	       1e6;
}
