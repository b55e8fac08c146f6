/* memory.c - see memory.h. */
#include "memory.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

enum { MEMORY_MAX_KEY = 512 };

static const char SQL_GET[] =
	"SELECT value FROM memory WHERE session = ?1 AND key = ?2";
/* A session row is written once; its last write time is derived from
 * its keys, so that a memory write dirties one page, not two. */
static const char SQL_SESSION_TOUCH[] =
	"INSERT OR IGNORE INTO sessions (id, created, updated) "
	"VALUES (?1, ?2, ?2)";
static const char SQL_SET[] =
	"INSERT INTO memory (session, key, value, version, updated) "
	"VALUES (?1, ?2, ?3, 1, ?4) ON CONFLICT (session, key) DO UPDATE SET "
	"value = excluded.value, version = version + 1, "
	"updated = excluded.updated";
static const char SQL_DEL[] =
	"DELETE FROM memory WHERE session = ?1 AND key = ?2";
static const char SQL_LIST[] =
	"SELECT key, value, version, updated FROM memory WHERE session = ?1 "
	"ORDER BY key";
static const char SQL_SESSIONS[] =
	"SELECT s.id, s.created, "
	"max(s.updated, coalesce((SELECT max(m.updated) FROM memory m "
	"WHERE m.session = s.id), 0)), "
	"(SELECT count(*) FROM memory m WHERE m.session = s.id) "
	"FROM sessions s ORDER BY s.id";

int memory_check_key(const char *key, struct sutra_err *err)
{
	size_t len = key ? strlen(key) : 0;

	if (len == 0)
		return err_set(err, SUTRA_EUSAGE, "memory key is empty");
	if (len > MEMORY_MAX_KEY)
		return err_set(err, SUTRA_EUSAGE,
			       "memory key longer than %d bytes", MEMORY_MAX_KEY);
	return 0;
}

static void bind_text(sqlite3_stmt *s, int i, const char *v)
{
	sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
}

/* Caller holds the lock. */
static int get_locked(struct state *st, const char *session, const char *key,
		      char **json, struct sutra_err *err)
{
	sqlite3_stmt *s = state_stmt(st, SQL_GET, err);
	int rc;

	*json = NULL;
	if (!s)
		return -1;
	state_read_begin(st);
	bind_text(s, 1, session);
	bind_text(s, 2, key);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(s);
		return 0;
	}
	if (rc != SQLITE_ROW) {
		sqlite3_reset(s);
		state_read_failed(st);
		return state_fail(st, rc, "memory get", err);
	}
	*json = strdup((const char *)sqlite3_column_text(s, 0));
	sqlite3_reset(s);
	if (!*json)
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	return 1;
}

int memory_get(struct state *st, const char *session, const char *key,
	       char **json, struct sutra_err *err)
{
	state_lock(st);
	int rc = get_locked(st, session, key, json, err);
	state_unlock(st);
	return rc;
}

static int step_done(struct state *st, sqlite3_stmt *s, const char *what,
		     struct sutra_err *err)
{
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : state_fail(st, rc, what, err);
}

/* Records the session, once per transaction that writes to it.  Caller
 * holds a transaction. */
static int touch_session(struct state *st, const char *session,
			 struct sutra_err *err)
{
	sqlite3_stmt *s = state_stmt(st, SQL_SESSION_TOUCH, err);

	if (!s)
		return -1;
	bind_text(s, 1, session);
	sqlite3_bind_double(s, 2, now_unix());
	return step_done(st, s, "memory set", err);
}

/* Caller holds a transaction and has touched the session. */
static int set_in_tx(struct state *st, const char *session, const char *key,
		     const char *json, struct sutra_err *err)
{
	sqlite3_stmt *s = state_stmt(st, SQL_SET, err);

	if (!s)
		return -1;
	bind_text(s, 1, session);
	bind_text(s, 2, key);
	bind_text(s, 3, json);
	sqlite3_bind_double(s, 4, now_unix());
	return step_done(st, s, "memory set", err);
}

/* Caller holds a transaction.  Returns 1 if a row went, 0 if none. */
static int del_in_tx(struct state *st, const char *session, const char *key,
		     struct sutra_err *err)
{
	sqlite3_stmt *s = state_stmt(st, SQL_DEL, err);

	if (!s)
		return -1;
	bind_text(s, 1, session);
	bind_text(s, 2, key);
	if (step_done(st, s, "memory del", err) < 0)
		return -1;
	return sqlite3_changes(sqlite3_db_handle(s)) > 0;
}

int memory_set(struct state *st, const char *session, const char *key,
	       const char *json, struct sutra_err *err)
{
	if (memory_check_key(key, err) < 0 || state_begin(st, err) < 0)
		return -1;
	if (touch_session(st, session, err) < 0 ||
	    set_in_tx(st, session, key, json, err) < 0 ||
	    state_commit(st, err) < 0) {
		state_rollback(st);
		return -1;
	}
	return 0;
}

int memory_del(struct state *st, const char *session, const char *key,
	       struct sutra_err *err)
{
	int existed;

	if (state_begin(st, err) < 0)
		return -1;
	existed = del_in_tx(st, session, key, err);
	if (existed < 0 || state_commit(st, err) < 0) {
		state_rollback(st);
		return -1;
	}
	return existed;
}

int memory_import(struct state *st, const char *session, const cJSON *object,
		  struct sutra_err *err)
{
	const cJSON *m;

	if (!cJSON_IsObject(object))
		return err_set(err, SUTRA_EUSAGE, "memory to import must be an "
			       "object of key: value");
	if (state_begin(st, err) < 0)
		return -1;
	if (object->child && touch_session(st, session, err) < 0) {
		state_rollback(st);
		return -1;
	}
	cJSON_ArrayForEach(m, object) {
		char *text = cJSON_PrintUnformatted(m);
		int rc = text && memory_check_key(m->string, err) == 0
				 ? set_in_tx(st, session, m->string, text, err)
				 : -1;
		cJSON_free(text);
		if (rc < 0) {
			state_rollback(st);
			return err->code ? -1 : err_set(err, SUTRA_ENOMEM,
							"out of memory");
		}
	}
	if (state_commit(st, err) < 0) {
		state_rollback(st);
		return -1;
	}
	return 0;
}

static cJSON *parse_or_string(const char *text)
{
	cJSON *v = cJSON_Parse(text);

	return v ? v : cJSON_CreateString(text);
}

static cJSON *memory_row(sqlite3_stmt *s)
{
	cJSON *e = cJSON_CreateObject();

	cJSON_AddStringToObject(e, "key", (const char *)sqlite3_column_text(s, 0));
	cJSON_AddItemToObject(e, "value",
			      parse_or_string((const char *)sqlite3_column_text(s, 1)));
	cJSON_AddNumberToObject(e, "version", (double)sqlite3_column_int64(s, 2));
	cJSON_AddNumberToObject(e, "updated", sqlite3_column_double(s, 3));
	return e;
}

int memory_list(struct state *st, const char *session, cJSON **out,
		struct sutra_err *err)
{
	return state_rows_json(st, SQL_LIST, session, memory_row, "memory list",
			       out, err);
}

static cJSON *session_row(sqlite3_stmt *s)
{
	cJSON *e = cJSON_CreateObject();

	cJSON_AddStringToObject(e, "id", (const char *)sqlite3_column_text(s, 0));
	cJSON_AddNumberToObject(e, "keys", (double)sqlite3_column_int64(s, 3));
	cJSON_AddNumberToObject(e, "created", sqlite3_column_double(s, 1));
	cJSON_AddNumberToObject(e, "updated", sqlite3_column_double(s, 2));
	return e;
}

int memory_sessions(struct state *st, cJSON **out, struct sutra_err *err)
{
	return state_rows_json(st, SQL_SESSIONS, NULL, session_row,
			       "memory sessions", out, err);
}

/* ---- staged writes ---- */

/* One staged write; value NULL means a delete. */
struct staged {
	char *key;
	char *value;
};

struct memtx {
	char *session;
	struct state *st;
	memtx_opener open;
	void *open_ud;
	struct staged *writes;
	int n, cap;
	cJSON *ops;    /* every set/del in order: [key, value|null]; made on
			  the first write (most steps make none) */
};

struct memtx *memtx_new(const char *session, memtx_opener open, void *ud)
{
	struct memtx *tx = calloc(1, sizeof(*tx));

	if (!tx || !(tx->session = strdup(session))) {
		free(tx);
		return NULL;
	}
	tx->open = open;
	tx->open_ud = ud;
	return tx;
}

void memtx_discard(struct memtx *tx)
{
	for (int i = 0; i < tx->n; i++) {
		free(tx->writes[i].key);
		free(tx->writes[i].value);
	}
	tx->n = 0;
	cJSON_Delete(tx->ops);
	tx->ops = NULL;
}

int memtx_mark(const struct memtx *tx)
{
	return cJSON_GetArraySize(tx->ops);
}

cJSON *memtx_writes_since(const struct memtx *tx, int mark)
{
	cJSON *out = cJSON_CreateArray();
	const cJSON *op;
	int i = 0;

	cJSON_ArrayForEach(op, tx->ops)
		if (i++ >= mark && out)
			cJSON_AddItemToArray(out, cJSON_Duplicate(op, 1));
	return out;
}

static int stage(struct memtx *tx, const char *key, const char *json,
		 struct sutra_err *err);

int memtx_restage(struct memtx *tx, const cJSON *writes,
		  struct sutra_err *err)
{
	const cJSON *op;

	cJSON_ArrayForEach(op, writes) {
		const char *key = cJSON_GetStringValue(cJSON_GetArrayItem(op, 0));
		const cJSON *v = cJSON_GetArrayItem(op, 1);
		if (!key || stage(tx, key, cJSON_IsString(v) ? v->valuestring
							     : NULL, err) < 0)
			return -1;
	}
	return 0;
}

void memtx_free(struct memtx *tx)
{
	if (!tx)
		return;
	memtx_discard(tx);
	free(tx->writes);
	free(tx->session);
	cJSON_Delete(tx->ops);
	free(tx);
}

const char *memtx_session(const struct memtx *tx)
{
	return tx->session;
}

int memtx_pending(const struct memtx *tx)
{
	return tx->n;
}

struct state *memtx_state(struct memtx *tx, struct sutra_err *err)
{
	if (!tx->st) {
		if (!tx->open) {
			err_set(err, SUTRA_ERUNTIME, "no state database");
			return NULL;
		}
		tx->st = tx->open(tx->open_ud, err);
	}
	return tx->st;
}

static struct staged *find_staged(struct memtx *tx, const char *key)
{
	/* Newest first would not matter: a key is staged at most once. */
	for (int i = 0; i < tx->n; i++)
		if (strcmp(tx->writes[i].key, key) == 0)
			return &tx->writes[i];
	return NULL;
}

int memtx_get(struct memtx *tx, const char *key, char **json,
	      struct sutra_err *err)
{
	struct staged *w = find_staged(tx, key);
	struct state *st;

	*json = NULL;
	if (w) {
		if (!w->value)
			return 0;
		if (!(*json = strdup(w->value)))
			return err_set(err, SUTRA_ENOMEM, "out of memory");
		return 1;
	}
	if (!(st = memtx_state(tx, err)))
		return -1;
	return memory_get(st, tx->session, key, json, err);
}

static int stage(struct memtx *tx, const char *key, const char *json,
		 struct sutra_err *err)
{
	struct staged *w = find_staged(tx, key);
	char *value = NULL;

	if (memory_check_key(key, err) < 0)
		return -1;
	if (json && !(value = strdup(json)))
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	/* The ops log lets a journal capture what a nested call wrote. */
	cJSON *op = cJSON_CreateArray();
	if (!tx->ops)
		tx->ops = cJSON_CreateArray();
	if (!op || !tx->ops ||
	    !cJSON_AddItemToArray(op, cJSON_CreateString(key)) ||
	    !cJSON_AddItemToArray(op, json ? cJSON_CreateString(json)
					   : cJSON_CreateNull()) ||
	    !cJSON_AddItemToArray(tx->ops, op)) {
		cJSON_Delete(op);
		free(value);
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	}
	if (w) {
		free(w->value);
		w->value = value;
		return 0;
	}
	if (tx->n == tx->cap) {
		int cap = tx->cap ? tx->cap * 2 : 8;
		struct staged *nw = realloc(tx->writes, sizeof(*nw) * (size_t)cap);
		if (!nw)
			goto nomem;
		tx->writes = nw;
		tx->cap = cap;
	}
	if (!(tx->writes[tx->n].key = strdup(key)))
		goto nomem;
	tx->writes[tx->n++].value = value;
	return 0;
nomem:
	free(value);
	return err_set(err, SUTRA_ENOMEM, "out of memory");
}

int memtx_set(struct memtx *tx, const char *key, const char *json,
	      struct sutra_err *err)
{
	return stage(tx, key, json, err);
}

int memtx_del(struct memtx *tx, const char *key, struct sutra_err *err)
{
	return stage(tx, key, NULL, err);
}

static int compare_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int memtx_keys(struct memtx *tx, cJSON **out, struct sutra_err *err)
{
	struct state *st = memtx_state(tx, err);
	cJSON *rows = NULL, *row, *keys = NULL;
	const char **names = NULL;
	int n = 0;

	*out = NULL;
	if (!st || memory_list(st, tx->session, &rows, err) < 0)
		return -1;
	names = calloc((size_t)(cJSON_GetArraySize(rows) + tx->n + 1),
		       sizeof(*names));
	if (!names)
		goto nomem;
	cJSON_ArrayForEach(row, rows) {
		const char *k = cJSON_GetStringValue(
			cJSON_GetObjectItemCaseSensitive(row, "key"));
		if (!find_staged(tx, k))
			names[n++] = k;
	}
	for (int i = 0; i < tx->n; i++)
		if (tx->writes[i].value)
			names[n++] = tx->writes[i].key;
	qsort(names, (size_t)n, sizeof(*names), compare_strings);
	if (!(keys = cJSON_CreateStringArray(names, n)))
		goto nomem;
	free(names);
	cJSON_Delete(rows);
	*out = keys;
	return 0;
nomem:
	free(names);
	cJSON_Delete(rows);
	return err_set(err, SUTRA_ENOMEM, "out of memory");
}

int memtx_apply(struct memtx *tx, struct sutra_err *err)
{
	for (int i = 0; i < tx->n; i++) {
		if (!tx->writes[i].value)
			continue;
		if (touch_session(tx->st, tx->session, err) < 0)
			return -1;
		break;
	}
	for (int i = 0; i < tx->n; i++) {
		struct staged *w = &tx->writes[i];
		int rc = w->value ? set_in_tx(tx->st, tx->session, w->key,
					      w->value, err)
				  : del_in_tx(tx->st, tx->session, w->key, err);
		if (rc < 0)
			return -1;
	}
	return 0;
}

int memtx_commit(struct memtx *tx, struct sutra_err *err)
{
	if (tx->n == 0)
		return 0;
	if (!memtx_state(tx, err) || state_begin(tx->st, err) < 0)
		return -1;
	if (memtx_apply(tx, err) < 0 || state_commit(tx->st, err) < 0) {
		state_rollback(tx->st);
		return -1;
	}
	memtx_discard(tx);
	return 0;
}
