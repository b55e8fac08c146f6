/* err.c - see err.h. */
#include "err.h"

#include <stdio.h>
#include <string.h>

int err_vset(struct sutra_err *err, int code, const char *fmt, va_list ap)
{
	if (err && err->code == SUTRA_OK) {
		err->code = code;
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	}
	return -1;
}

int err_set(struct sutra_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_vset(err, code, fmt, ap);
	va_end(ap);
	return -1;
}

void err_prefix(struct sutra_err *err, const char *fmt, ...)
{
	char prefix[256];
	size_t plen, mlen;
	va_list ap;

	if (!err || err->code == SUTRA_OK)
		return;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix) - 2, fmt, ap);
	va_end(ap);
	strcat(prefix, ": ");
	plen = strlen(prefix);
	mlen = strnlen(err->msg, sizeof(err->msg) - 1);
	/* Keep as much of the original message as fits after the prefix. */
	if (plen + mlen >= sizeof(err->msg))
		mlen = sizeof(err->msg) - 1 - plen;
	memmove(err->msg + plen, err->msg, mlen);
	memcpy(err->msg, prefix, plen);
	err->msg[plen + mlen] = '\0';
}

void err_clear(struct sutra_err *err)
{
	if (err) {
		err->code = SUTRA_OK;
		err->msg[0] = '\0';
	}
}

int err_exit_code(int code)
{
	switch ((enum sutra_errc)code) {
	case SUTRA_OK:
	case SUTRA_EWAITING:
		return 0;
	case SUTRA_EUSAGE:
	case SUTRA_ENOTFOUND:
		return 2;
	case SUTRA_EFAILED:
	case SUTRA_ETIMEOUT:
	case SUTRA_EPERM:
	case SUTRA_EBUDGET:
	case SUTRA_ECANCELED:
		return 1;
	case SUTRA_ERUNTIME:
	case SUTRA_ENOMEM:
		return 3;
	case SUTRA_EINTR:
		return 130;
	}
	return 3;
}

const char *err_name(int code)
{
	switch ((enum sutra_errc)code) {
	case SUTRA_OK: return "ok";
	case SUTRA_EUSAGE: return "usage";
	case SUTRA_EFAILED: return "failed";
	case SUTRA_ETIMEOUT: return "timeout";
	case SUTRA_ERUNTIME: return "runtime";
	case SUTRA_ENOMEM: return "nomem";
	case SUTRA_ENOTFOUND: return "notfound";
	case SUTRA_EINTR: return "interrupted";
	case SUTRA_EPERM: return "permission";
	case SUTRA_EBUDGET: return "budget";
	case SUTRA_ECANCELED: return "canceled";
	case SUTRA_EWAITING: return "waiting";
	}
	return "unknown";
}
