#!/bin/sh
# bench/report.sh - turn the benchmarks' JSON lines into bench/REPORT.md.
#
#   bench/report.sh [-r RESULTS] [-p PEER] [-f PROFILE] [-o OUTDIR]
#
# RESULTS  sutra's JSON lines from `make bench` (default bench/results.jsonl)
# PEER     LangGraph.js on the same machine, from bench/peer.sh (default
#          bench/peer.jsonl; left out when missing)
# PROFILE  callgrind summary from bench/profile.sh (default
#          bench/profile.txt; left out when missing)
# OUTDIR   where REPORT.md and per-step.svg go (default bench); copies of
#          the inputs go beside them, so the report can be regenerated.
#
# Needs python3 only: the plot is written as SVG directly, no gnuplot.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
results=bench/results.jsonl
peer=bench/peer.jsonl
profile=bench/profile.txt
outdir=bench
while getopts r:p:f:o: opt; do
	case $opt in
	r) results=$OPTARG ;;
	p) peer=$OPTARG ;;
	f) profile=$OPTARG ;;
	o) outdir=$OPTARG ;;
	*) echo "usage: $0 [-r RESULTS] [-p PEER] [-f PROFILE] [-o OUTDIR]" >&2
	   exit 2 ;;
	esac
done

command -v python3 >/dev/null 2>&1 || {
	echo "bench-report: python3 is needed" >&2
	exit 3
}
[ -f "$results" ] || {
	echo "bench-report: no '$results'; run 'make bench' first" >&2
	exit 2
}
mkdir -p "$outdir"
exec python3 "$here/report.py" "$results" "$peer" "$profile" "$outdir"
