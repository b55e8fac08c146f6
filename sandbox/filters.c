/*
 * filters.c - the seccomp filters a process uses.
 *
 * Compiling a profile with libseccomp costs ~0.45 ms in a fresh process
 * (its syscall tables, the rule database, the tree, the export), which
 * was a tenth of a whole `sutra sandbox run` and most of the plugin
 * host's start.  A filter depends only on the profile table and the
 * architecture, so mkfilters compiles every one at build time, with the
 * same code, into filters-prebuilt.c; t/6002 checks that they are
 * identical to what libseccomp compiles at run time.  A process compiles
 * a filter itself only when that table is empty (a build host that could
 * not compile them) or for another architecture.
 */
#include <errno.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

/* The prebuilt row of (p, netns), or NULL. */
static const struct sbx_prebuilt *prebuilt(const struct sbx_profile *p,
					   int netns)
{
	if (sbx_prebuilt_arch != sbx_filter_arch())
		return NULL;
	for (const struct sbx_prebuilt *b = sbx_prebuilt; b->profile; b++)
		if (b->netns == !!netns && strcmp(b->profile, p->name) == 0)
			return b;
	return NULL;
}

/* p's filter into *out: the prebuilt program (borrowed: the kernel only
 * reads it, so its const is cast away), or a compiled one (malloc'd). */
static int filter_of(const struct sbx_profile *p, int netns,
		     struct sock_fprog *out, struct sutra_err *err)
{
	const struct sbx_prebuilt *b = prebuilt(p, netns);

	if (!b)
		return sbx_filter_compile(p, netns, out, err);
	out->len = b->len;
	out->filter = (struct sock_filter *)b->code;
	return 0;
}

/* The filters of the profiles, [profile][netns], set under the lock on
 * first use and never freed (they live as long as the process may fork
 * runs). */
static pthread_mutex_t filters_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sock_fprog filters[SBX_MAX_PROFILES][2];

int sbx_filter_get(const struct sbx_profile *p, int netns,
		   const struct sock_fprog **prog, struct sutra_err *err)
{
	struct sock_fprog *slot = &filters[sbx_profile_index(p)][!!netns];
	int rc = 0;

	pthread_mutex_lock(&filters_lock);
	if (!slot->filter)
		rc = filter_of(p, netns, slot, err);
	pthread_mutex_unlock(&filters_lock);
	*prog = rc == 0 ? slot : NULL;
	return rc;
}

int sbx_filter_load_host(struct sutra_err *err)
{
	const struct sock_fprog *prog;

	if (sbx_filter_get(sbx_profile_host(), 0, &prog, err) < 0)
		return -1;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, prog) != 0)
		return err_set(err, SUTRA_ERUNTIME, "seccomp: %s",
			       strerror(errno));
	return 0;
}
