#!/bin/sh
# File-system attacks: writing and reading outside the work dir, planted
# symlinks and hard links the runner must not follow when it collects,
# keeps or removes, and entries made to be hard to remove.
. "${SUTRA_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
. "$SUTRA_SRCDIR/t/sandbox.sh"

export SUTRA_TEST_API_KEY=$SECRET
for mode in $MODES; do
	PROBE_OPTS="--time 10"
	probe $mode write-outside /tmp/sbx-escape-$$ "$HOME/.bashrc" \
		"$TEST_DIR/work/checkout/README" "$TEST_DIR/work/checkout/new"
	is "$status" ok "$mode: writes outside the work dir all refused"
	unlike "$(jget stdout)" ESCAPED "$mode: ... none got through"
	ok "$mode: nothing appeared in /tmp" test ! -e /tmp/sbx-escape-$$
	is "$(cat "$HOME/.bashrc")" 'export SAFE=1' "$mode: ~/.bashrc intact"
	contained "$mode: write outside"

	probe $mode read-secrets "$SECRET" /etc/shadow "$HOME/.ssh/id_rsa" \
		"/proc/$$/environ"
	is "$status" ok "$mode: secrets unreadable"
	unlike "$out" "$SECRET" "$mode: the planted API key is nowhere in the verdict"
	like "$(jget stdout)" 'refused: read /etc/shadow' "$mode: /etc/shadow refused"
	contained "$mode: read secrets"

	PROBE_OPTS="--time 10 --collect report.txt --collect sym0 --collect hard0 --collect hard1 --collect root/etc/passwd --collect d/up/passwd"
	probe $mode plant /etc/shadow "$HOME/.ssh/id_rsa" /etc/passwd
	is "$status" ok "$mode: planting links runs"
	unlike "$out" "$SECRET|root:[x*!]:0:0" "$mode: nothing planted was read"
	is "$(jget 'collect_errors>report.txt')" "a symlink or outside the work dir" \
		"$mode: symlinked report refused"
	like "$(jget 'collect_errors>root/etc/passwd')" "symlink|missing" \
		"$mode: path through a symlinked dir refused"
	like "$(jget 'collect_errors>d/up/passwd')" "symlink|missing" \
		"$mode: path climbing out refused"
	is "$(jget files)" "{}" "$mode: nothing collected"
	contained "$mode: symlink and hard link plants"

	PROBE_OPTS="--time 10 --keep"
	probe $mode plant /etc/shadow "$HOME/.ssh/id_rsa"
	kept=$(jget workdir)
	ok "$mode: --keep leaves the work dir" test -d "$kept"
	is "$(find "$kept" ! -type f ! -type d | wc -l)" 0 \
		"$mode: kept dir has no symlinks or special files"
	is "$(find "$kept" -type f -links +1 | wc -l)" 0 \
		"$mode: kept dir has no hard links"
	unlike "$(find "$kept" -type f -exec cat {} + 2>/dev/null)" "$SECRET" \
		"$mode: kept files hold no secret"
	rm -rf "$kept"
	contained "$mode: plants with --keep"

	PROBE_OPTS="--time 10"
	probe $mode unremovable
	is "$status" ok "$mode: odd names, mode 000, 300 levels, a FIFO"
	contained "$mode: unremovable entries"
done

done_testing
