/* pool.c - see pool.h. */
#include "pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "luart.h"

struct group {
	int n;
	atomic_int next;            /* next index to claim */
	void (*fn)(void *ud, int i);
	void *ud;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int finished;               /* calls done */
	int helpers;                /* helper tasks queued or running */
};

struct task {
	struct group *g;
	struct task *next;
};

struct pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct task *head, *tail;
	int queued;
	int idle;
	int stop;
	pthread_t *threads;
	int n_threads, max_threads;
};

/* Claims and runs indices of g until none is left. */
static void work(struct group *g)
{
	int i;

	while ((i = atomic_fetch_add(&g->next, 1)) < g->n) {
		g->fn(g->ud, i);
		pthread_mutex_lock(&g->mu);
		if (++g->finished == g->n)
			pthread_cond_broadcast(&g->cv);
		pthread_mutex_unlock(&g->mu);
	}
}

static void *worker(void *arg)
{
	struct pool *p = arg;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->head && !p->stop)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->stop)
			break;
		struct task *t = p->head;
		p->head = t->next;
		if (!p->head)
			p->tail = NULL;
		p->queued--;
		p->idle--;
		pthread_mutex_unlock(&p->mu);
		struct group *g = t->g;
		free(t);
		work(g);
		pthread_mutex_lock(&g->mu);
		if (--g->helpers == 0)
			pthread_cond_broadcast(&g->cv);
		pthread_mutex_unlock(&g->mu);
		pthread_mutex_lock(&p->mu);
		p->idle++;
	}
	pthread_mutex_unlock(&p->mu);
	luart_thread_done();
	return NULL;
}

struct pool *pool_new(int max_threads)
{
	struct pool *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->threads = calloc((size_t)max_threads, sizeof(*p->threads));
	if (!p->threads) {
		free(p);
		return NULL;
	}
	p->max_threads = max_threads;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	return p;
}

void pool_free(struct pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->n_threads; i++)
		pthread_join(p->threads[i], NULL);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p->threads);
	free(p);
}

/* Queues up to k helpers for g; caller holds p->mu.  Returns how many. */
static int queue_helpers(struct pool *p, struct group *g, int k)
{
	int queued = 0;

	for (; queued < k; queued++) {
		struct task *t = malloc(sizeof(*t));
		if (!t)
			break;   /* fewer helpers: slower, still correct */
		t->g = g;
		t->next = NULL;
		if (p->tail)
			p->tail->next = t;
		else
			p->head = t;
		p->tail = t;
		p->queued++;
	}
	/* Start threads so that every queued task has a worker. */
	while (p->idle < p->queued && p->n_threads < p->max_threads) {
		if (pthread_create(&p->threads[p->n_threads], NULL, worker, p))
			break;
		p->n_threads++;
		p->idle++;
	}
	pthread_cond_broadcast(&p->cv);
	return queued;
}

/* Takes g's helpers that no worker started off the queue; caller holds
 * p->mu.  Returns how many. */
static int withdraw_helpers(struct pool *p, struct group *g)
{
	struct task **link = &p->head, *prev = NULL;
	int removed = 0;

	while (*link) {
		struct task *t = *link;
		if (t->g == g) {
			*link = t->next;
			free(t);
			p->queued--;
			removed++;
			continue;
		}
		prev = t;
		link = &t->next;
	}
	p->tail = prev;
	return removed;
}

void pool_run(struct pool *p, int n, int width, void (*fn)(void *ud, int i),
	      void *ud)
{
	struct group g = {.n = n, .fn = fn, .ud = ud};
	int helpers = (width < n ? width : n) - 1;

	if (n <= 0)
		return;
	atomic_init(&g.next, 0);
	pthread_mutex_init(&g.mu, NULL);
	pthread_cond_init(&g.cv, NULL);
	if (helpers > 0 && p) {
		pthread_mutex_lock(&p->mu);
		g.helpers = queue_helpers(p, &g, helpers);
		pthread_mutex_unlock(&p->mu);
	}
	work(&g);
	int removed = 0;
	if (p) {
		pthread_mutex_lock(&p->mu);
		removed = withdraw_helpers(p, &g);
		pthread_mutex_unlock(&p->mu);
	}
	pthread_mutex_lock(&g.mu);
	g.helpers -= removed;
	while (g.finished < g.n || g.helpers > 0)
		pthread_cond_wait(&g.cv, &g.mu);
	pthread_mutex_unlock(&g.mu);
	pthread_mutex_destroy(&g.mu);
	pthread_cond_destroy(&g.cv);
}
