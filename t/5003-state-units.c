/* 5003-state-units: the state database's background checkpointer. */
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

int main(void)
{
	char dir[] = "/tmp/sutra-5003.XXXXXX";
	char cmd[64];

	plan(7);
	if (!mkdtemp(dir))
		bail("mkdtemp failed");
	test_checkpointer(dir);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
	return exit_status();
}
