/*
 * pool.h - worker threads for parallel branches and map items.
 *
 * pool_run runs fn(ud, i) for every i in [0, n) with at most `width` calls
 * at once, and returns when all have finished.  The calling thread works
 * too, so nested pool_run calls (a parallel inside a map inside a
 * parallel) can never deadlock: each caller can finish its own group
 * alone, and it withdraws the helpers it queued but nobody started.
 * Threads are created on demand up to a cap and kept for reuse, with
 * their Lua states (luart keeps one per thread).
 */
#ifndef SUTRA_POOL_H
#define SUTRA_POOL_H

struct pool;

/* A new pool of at most max_threads workers (none are started yet). */
struct pool *pool_new(int max_threads);
/* Stops and joins every worker.  No pool_run may be in progress. */
void pool_free(struct pool *p);

void pool_run(struct pool *p, int n, int width, void (*fn)(void *ud, int i),
	      void *ud);

#endif
