#!/bin/sh
# bench/load.sh - one JSON line with the machine's load averages and core
# count, written beside benchmark results: on a shared machine the load
# says how far the timings can be trusted.
read -r l1 l5 l15 _ < /proc/loadavg || exit 0
printf '{"bench":"meta.load","load1":%s,"load5":%s,"load15":%s,"cores":%s}\n' \
	"$l1" "$l5" "$l15" "$(getconf _NPROCESSORS_ONLN)"
