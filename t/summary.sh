#!/bin/sh
# t/summary.sh FILE.trs...: prints the closing "N passed, N failed" line of
# a test run from automake's .trs result files (counting test points).
passed=0 failed=0 skipped=0
for trs in "$@"; do
	[ -f "$trs" ] || continue
	while read -r tag result _; do
		[ "$tag" = ":test-result:" ] || continue
		case $result in
		PASS | XFAIL) passed=$((passed + 1)) ;;
		SKIP) skipped=$((skipped + 1)) ;;
		*) failed=$((failed + 1)) ;;
		esac
	done <"$trs"
done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
