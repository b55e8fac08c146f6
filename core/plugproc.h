/*
 * plugproc.h - the "isolated plugin" agent kind: a plugin agent that runs
 * in a sandboxed child process of its own (manifest `isolation: process`,
 * or forced for a package in sutra.yaml).
 *
 * The child (sutra-plugin-host, core/plugin_host.c; the wire is in
 * core/plugproto.h) starts when the agent loads and is reused across
 * calls.  Calls to one agent take turns on its child (a mutex); the host
 * functions the plugin calls come back over the pipe and are served here
 * through plughost's table, so permissions, the journal and memory
 * staging work as for an in-process plugin.  A child that dies (a crash,
 * an abort, its memory limit), breaks the protocol, or runs past the
 * call's deadline or a cancel is killed and reaped; the call fails naming
 * the plugin file and the signal, and the next call starts a new child.
 * sutra itself never runs a line of the plugin's code.
 */
#ifndef SUTRA_PLUGPROC_H
#define SUTRA_PLUGPROC_H

#include "agent.h"

extern const struct agent_kind_ops plugproc_kind_ops;

/*
 * The path of the sutra-plugin-host program: $SUTRA_PLUGIN_HOST, else
 * beside the running binary (or in its .libs/, uninstalled), else in
 * $(pkglibexecdir).  Fills path (n bytes) or fails naming where it looked.
 */
int plugproc_host_path(char *path, size_t n, struct sutra_err *err);

#endif
