/*
 * http_fetch.h - the HTTP effect for agents granted `http` (ctx.http.fetch,
 * host->http), limited to the hosts the agent's manifest lists.  Part of
 * the network module; reached through netmod.h.
 */
#ifndef SUTRA_HTTP_FETCH_H
#define SUTRA_HTTP_FETCH_H

#include <cjson/cJSON.h>

#include "err.h"

struct agent_ctx;

/* Performs request (see http_fetch.c) and returns a new response. */
int http_effect(struct agent_ctx *ctx, const cJSON *request, cJSON **result,
		struct sutra_err *err);

#endif
