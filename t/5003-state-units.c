/* 5003-state-units: the state database's background checkpointer and its
 * read leases. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"

#include "memory.h"
#include "state.h"

static long file_size(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 ? (long)sb.st_size : -1;
}

/* Waits up to 10 s for the checkpointer to have made n checkpoints. */
static int wait_checkpoints(struct state *st, int n)
{
	for (int i = 0; i < 1000; i++) {
		if (state_checkpoints(st) >= n)
			return 1;
		nanosleep(&(struct timespec){.tv_nsec = 10000000}, NULL);
	}
	return 0;
}

static void test_checkpointer(const char *dir)
{
	struct sutra_err err = {0};
	struct state *st;
	char db[512], wal[520], key[32], *json = NULL;
	int ok_all = 1;

	snprintf(db, sizeof(db), "%s/state.db", dir);
	snprintf(wal, sizeof(wal), "%s-wal", db);
	if (state_open(db, &st, &err) < 0)
		bail("state_open: %s", err.msg);
	long before = file_size(db);
	is_int(state_checkpoints(st), 0, "a new database has no checkpointer yet");
	/* Every committed write appends at least one frame to the log. */
	for (int i = 0; i < 5000 && ok_all; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		ok_all = memory_set(st, "ckpt", key, "{\"v\":1}", &err) == 0;
	}
	ok(ok_all, "5000 committed writes");
	ok(wait_checkpoints(st, 1), "the log past its limit is checkpointed "
	   "on the checkpointer's thread");
	diag("db %ld -> %ld, wal %ld", before, file_size(db), file_size(wal));
	ok(file_size(db) > before, "and its pages reach the database file");
	ok(memory_get(st, "ckpt", "k4999", &json, &err) == 1 && json &&
	   strcmp(json, "{\"v\":1}") == 0, "the last write reads back");
	free(json);
	json = NULL;
	state_close(st);
	ok(file_size(wal) <= 0, "close folds the log in and truncates it");

	if (state_open(db, &st, &err) < 0)
		bail("state_open again: %s", err.msg);
	ok(memory_get(st, "ckpt", "k0", &json, &err) == 1 && json,
	   "the first write survives reopening");
	free(json);
	state_close(st);
}

/* The page size of the database at path (the log's frames are pages). */
static long page_size(const char *path)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	long n = -1;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) ==
		    SQLITE_OK &&
	    sqlite3_prepare_v2(db, "PRAGMA page_size", -1, &s, NULL) ==
		    SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return n;
}

/* A writer that never pauses: the log still starts over after each
 * checkpoint instead of growing for as long as the writes go on (a
 * passive checkpoint on another thread never catches up with them by
 * itself), and the checkpointer makes one pass per log's worth of frames,
 * not one per commit. */
static void test_log_bounded(const char *dir)
{
	struct sutra_err err = {0};
	struct state *st;
	char db[512], wal[520], key[32];
	long largest = 0;
	int ok_all = 1, writes = 40000;

	snprintf(db, sizeof(db), "%s/bounded.db", dir);
	snprintf(wal, sizeof(wal), "%s-wal", db);
	if (state_open(db, &st, &err) < 0)
		bail("state_open: %s", err.msg);
	for (int i = 0; i < writes && ok_all; i++) {
		snprintf(key, sizeof(key), "k%d", i % 500);
		ok_all = memory_set(st, "bounded", key, "{\"v\":1}", &err) == 0;
		if (i % 100 == 0 && file_size(wal) > largest)
			largest = file_size(wal);
	}
	ok(ok_all, "%d committed writes, back to back", writes);
	long frame = page_size(db) + 24;
	int passes = state_checkpoints(st);
	diag("page %ld, largest log %ld frames, %d checkpointer passes",
	     frame - 24, largest / frame, passes);
	ok(passes >= 2, "the checkpointer made passes (%d)", passes);
	ok(passes <= writes / 1000, "... one per log's worth, not one per "
	   "commit (%d for %d writes)", passes, writes);
	ok(largest / frame < 3 * 4000, "the log started over: it never "
	   "grew past 3 x 4000 frames (%ld)", largest / frame);
	state_close(st);
}


static char *get(struct state *st, const char *key)
{
	struct sutra_err err = {0};
	char *json = NULL;

	if (memory_get(st, "lease", key, &json, &err) < 0)
		diag("memory_get: %s", err.msg);
	return json;
}

static int is_value(char *json, const char *want)
{
	int ok = json && strcmp(json, want) == 0;

	if (!ok)
		diag("got %s, want %s", json ? json : "(none)", want);
	free(json);
	return ok;
}

/* Another writer, as another process would be: its own connection. */
static int other_set(sqlite3 *db, const char *key, const char *value)
{
	char sql[256];

	snprintf(sql, sizeof(sql),
		 "UPDATE memory SET value = '%s', version = version + 1 "
		 "WHERE session = 'lease' AND key = '%s'", value, key);
	return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK &&
	       sqlite3_changes(db) == 1;
}

static char *other_get(sqlite3 *db, const char *key)
{
	sqlite3_stmt *s = NULL;
	char *v = NULL;

	if (sqlite3_prepare_v2(db, "SELECT value FROM memory WHERE session = "
			       "'lease' AND key = ?1", -1, &s, NULL) == SQLITE_OK) {
		sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
		if (sqlite3_step(s) == SQLITE_ROW)
			v = strdup((const char *)sqlite3_column_text(s, 0));
	}
	sqlite3_finalize(s);
	return v;
}

/* A blocking checkpoint that copies the whole log and empties it: busy
 * while any reader holds a snapshot of it. */
static int truncated(sqlite3 *db)
{
	sqlite3_stmt *s = NULL;
	int ok = 0;

	if (sqlite3_prepare_v2(db, "PRAGMA wal_checkpoint(TRUNCATE)", -1, &s,
			       NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
		ok = sqlite3_column_int(s, 0) == 0 &&
		     sqlite3_column_int(s, 1) == 0;
	sqlite3_finalize(s);
	return ok;
}

/* A state database in dir with k = 1 in session "lease", and another
 * connection to it, as another process would have (busy_ms: its busy
 * timeout). */
static struct state *open_with_other(const char *dir, const char *name,
				     sqlite3 **other, int busy_ms)
{
	struct sutra_err err = {0};
	struct state *st;
	char db[512];

	snprintf(db, sizeof(db), "%s/%s", dir, name);
	if (state_open(db, &st, &err) < 0 ||
	    memory_set(st, "lease", "k", "1", &err) < 0)
		bail("state: %s", err.msg);
	*other = NULL;
	if (sqlite3_open(db, other) != SQLITE_OK)
		bail("sqlite3_open: %s", sqlite3_errmsg(*other));
	sqlite3_busy_timeout(*other, busy_ms);
	return st;
}

static void test_read_lease(const char *dir)
{
	struct sutra_err err = {0};
	sqlite3 *other;
	struct state *st = open_with_other(dir, "lease.db", &other, 0);

	ok(is_value(get(st, "k"), "1"), "a get opens a read lease");
	ok(other_set(other, "k", "2"),
	   "another writer commits while the lease is open, without waiting");
	nanosleep(&(struct timespec){.tv_nsec = 2000000}, NULL);
	ok(is_value(get(st, "k"), "2"),
	   "a get a millisecond later sees the other writer's commit");

	ok(memory_set(st, "lease", "k", "3", &err) == 0 &&
	   is_value(get(st, "k"), "3"), "a get right after our own set sees it");
	ok(is_value(get(st, "k"), "3") && memory_set(st, "lease", "k", "4",
						    &err) == 0 &&
	   is_value(other_get(other, "k"), "4"),
	   "a set inside a lease commits at once: the other connection sees it");
	ok(is_value(get(st, "k"), "4") &&
	   memory_set(st, "lease", "j", "5", &err) == 0 && !truncated(other),
	   "a set keeps the lease: another connection cannot fold in the "
	   "whole log");
	state_idle(st);
	ok(truncated(other), "state_idle ends it: now it can");
	sqlite3_close(other);
	state_close(st);  /* with the lease open: ASan and valgrind watch */
}

struct holder {
	sqlite3 *db;
	int ms;
};

static void *commit_later(void *arg)
{
	struct holder *h = arg;

	nanosleep(&(struct timespec){.tv_nsec = h->ms * 1000000L}, NULL);
	sqlite3_exec(h->db, "COMMIT", NULL, NULL, NULL);
	return NULL;
}

/* Transactions on a lease: they wait for another writer's lock like any
 * other (SQLite itself would not wait while a snapshot is held), and never
 * write on an old snapshot. */
static void test_write_lease(const char *dir)
{
	struct sutra_err err = {0};
	sqlite3 *other;
	struct state *st = open_with_other(dir, "wlease.db", &other, 5000);
	pthread_t th;

	/* The lease from that set is open: another writer takes the write
	 * lock and keeps it 50 ms. */
	struct holder h = {other, 50};
	ok(sqlite3_exec(other, "BEGIN IMMEDIATE; UPDATE memory SET value = "
			"'2' WHERE key = 'k'", NULL, NULL, NULL) == SQLITE_OK &&
	   pthread_create(&th, NULL, commit_later, &h) == 0,
	   "another writer holds the write lock");
	ok(memory_set(st, "lease", "j", "3", &err) == 0,
	   "a set on a lease waits for it instead of failing (%s)",
	   err.code ? err.msg : "ok");
	pthread_join(th, NULL);
	ok(is_value(other_get(other, "j"), "3"), "... and its write is there");

	/* Another writer commits right after our set: the next set begins on
	 * the new snapshot, and keeps that writer's row. */
	ok(memory_set(st, "lease", "k", "4", &err) == 0 &&
	   other_set(other, "j", "5") && memory_set(st, "lease", "i", "6",
						   &err) == 0,
	   "sets around another writer's commit, within a millisecond");
	ok(is_value(other_get(other, "j"), "5") &&
	   is_value(other_get(other, "k"), "4") &&
	   is_value(other_get(other, "i"), "6"),
	   "... no write lost on either side");
	sqlite3_close(other);
	state_close(st);
}

/* Backup and restore in a process that holds a lease (a restore writes
 * into the connection, and drops the cached statements the lease is
 * one of). */
static void test_lease_backup(const char *dir)
{
	struct sutra_err err = {0};
	struct state *st;
	char db[512], copy[512];

	snprintf(db, sizeof(db), "%s/backup.db", dir);
	snprintf(copy, sizeof(copy), "%s/backup-copy.db", dir);
	if (state_open(db, &st, &err) < 0 ||
	    memory_set(st, "lease", "k", "1", &err) < 0)
		bail("state: %s", err.msg);
	ok(is_value(get(st, "k"), "1") && state_backup(st, copy, &err) == 0,
	   "a backup on a lease (%s)", err.code ? err.msg : "ok");
	ok(memory_set(st, "lease", "k", "2", &err) == 0 &&
	   is_value(get(st, "k"), "2") && state_restore(st, copy, &err) == 0,
	   "a restore on a lease (%s)", err.code ? err.msg : "ok");
	/* Past the lease's length: the next read renews it. */
	nanosleep(&(struct timespec){.tv_nsec = 2000000}, NULL);
	ok(is_value(get(st, "k"), "1") &&
	   memory_set(st, "lease", "k", "3", &err) == 0 &&
	   is_value(get(st, "k"), "3"),
	   "reads and writes after it see the restored database");
	state_close(st);
}

int main(void)
{
	char dir[] = "/tmp/sutra-5003.XXXXXX";
	char cmd[64];

	plan(26);
	if (!mkdtemp(dir))
		bail("mkdtemp failed");
	test_checkpointer(dir);
	test_log_bounded(dir);
	test_read_lease(dir);
	test_write_lease(dir);
	test_lease_backup(dir);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
	return exit_status();
}
