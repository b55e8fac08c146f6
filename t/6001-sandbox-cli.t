#!/bin/sh
# `sutra sandbox run`: usage, exit codes, the verdict's shape, the clean
# environment, files in and out, --keep, profiles, output capture, and
# degraded mode (forced by the option and by SUTRA_SANDBOX_DEGRADED).
. "${SUTRA_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
. "$SUTRA_SRCDIR/t/sandbox.sh"

sutra sandbox run
is "$rc" 2 "no command: usage error"
like "$err" "needs a command" "... says so"
sutra sandbox run --profile perl -- /bin/true
is "$rc" 2 "unknown profile: usage error"
like "$err" "unknown profile 'perl'" "... names it"
sutra sandbox run --time soon -- /bin/true
is "$rc" 2 "bad --time: usage error"
like "$err" "limits.time" "... names the limit"
sutra sandbox run --memory 0 -- /bin/true
is "$rc" 2 "--memory 0: usage error"
sutra sandbox run --collect ../x -- /bin/true
is "$rc" 2 "collect path with '..': usage error"
sutra sandbox run --dir "$TEST_DIR/none" -- /bin/true
is "$rc" 2 "missing --dir: usage error"

sutra sandbox run -- /bin/true
is "$rc" 0 "/bin/true: exit 0"
is "$(jget status)" ok "... status ok"
is "$err" "" "... nothing on stderr"
for key in status exit_code signal syscall wall_ms cpu_ms max_rss_kb stdout \
	stderr truncated limits layers degraded leftovers; do
	printf '%s' "$out" | "$PYTHON" -c "import json,sys; sys.exit('$key' not in json.load(sys.stdin))"
	is "$?" 0 "verdict has $key"
done
for layer in userns pidns netns mountns landlock seccomp no_new_privs; do
	is "$(jget "layers>$layer")" true "layer $layer on"
done
is "$(jget degraded)" "[]" "nothing degraded"
is "$(jget limits)" '{"capture_kb": 1024, "collect_kb": 1024, "cpu": 10, "file_mb": 16, "memory_mb": 1024, "open_files": 256, "output_mb": 16, "procs": 64, "stack_mb": 8, "time": 10, "workdir_inodes": 16384, "workdir_mb": 64}' \
	"SPEC §8 defaults"

sutra sandbox run -- /bin/sh -c 'echo out; echo err >&2; exit 3'
is "$rc" 1 "exit 3: sutra exits 1"
is "$(jget status)" failed "... status failed"
is "$(jget exit_code)" 3 "... exit_code 3"
is "$(jget stdout)" out "... stdout captured"
is "$(jget stderr)" err "... stderr captured"

sutra sandbox run -- no-such-command-here
is "$rc" 3 "unknown command: exit 3"
is "$(jget status)" error "... status error"
like "$err" "no-such-command-here" "... named on stderr"

export SUTRA_SANDBOX_PROBE=leak
sutra sandbox run -- /usr/bin/env
is "$(jget stdout | grep . | sort | tr '\n' ' ')" \
	"HOME=/work LANG=C.UTF-8 PATH=/usr/local/bin:/usr/bin:/bin TMPDIR=/work " \
	"clean environment"
sutra sandbox run -- /usr/bin/id -u
is "$(jget stdout)" 1000 "payload is uid 1000 inside"
sutra sandbox run -- /bin/sh -c 'grep -E "^(CapEff|CapBnd|NoNewPrivs|Seccomp):" /proc/self/status | tr -s "\t" " "'
is "$(jget stdout | grep . | tr '\n' ' ')" \
	"CapEff: 0000000000000000 CapBnd: 0000000000000000 NoNewPrivs: 1 Seccomp: 2 " \
	"no capabilities, no_new_privs, seccomp filter"
sutra sandbox run -- /bin/sh -c 'for d in /home /root /tmp /run; do ls -A $d; done; ls /proc | grep "^[0-9]" | sort -n | head -1'
is "$(jget stdout | grep .)" 1 "home, root, tmp, run empty; its own /proc from pid 1"
sutra sandbox run -- /bin/sh -c 'touch /etc/x /usr/x /tmp/x 2>&1; touch /work/ok && echo wrote'
like "$(jget stdout)" 'Read-only file system' "system view read-only"
like "$(jget stdout)" 'wrote' "work dir writable"

mkdir -p in/sub
printf 'print("hi from py")\n' >in/main.py
printf 'data\n' >in/sub/data.txt
sutra sandbox run --profile python --dir in --collect out.txt --collect sub/data.txt \
	-- python3 -c 'import os; open("out.txt","w").write(open("sub/data.txt").read().upper()); exec(open("main.py").read()); print(os.environ.get("PYTHONDONTWRITEBYTECODE"))'
is "$(jget status)" ok "python profile with --dir"
is "$(jget stdout | grep . | tr '\n' ' ')" "hi from py 1 " "... runs the copied files, profile env set"
is "$(jget 'files>out.txt')" "DATA" "... collects a written file"
is "$(jget 'files>sub/data.txt')" "data" "... and an input file"
is "$(ls -A "$SBX_TMP")" "" "work dir removed"

ln -s /etc/passwd in/link
sutra sandbox run --dir in -- /bin/true
is "$rc" 2 "--dir with a symlink: usage error"
like "$err" "symlink" "... says why"
rm in/link

sutra sandbox run --keep --dir in -- /bin/sh -c 'echo kept >new.txt'
kept=$(jget workdir)
is "$(cat "$kept/new.txt")" kept "--keep leaves the work dir"
is "$(cat "$kept/sub/data.txt")" data "... with the inputs"
rm -rf "$kept"

sutra sandbox run --profile native -- /bin/sh -c '/bin/true; echo rc=$?'
like "$(jget stdout)$(jget stderr)" 'Operation not permitted|rc=2|Cannot fork|fork' \
	"native profile: no new processes"
sutra sandbox run --profile shell -- /bin/sh -c '/bin/true; echo rc=$?'
is "$(jget stdout)" rc=0 "shell profile: processes"

sutra sandbox run --limits '{"capture_kb": 4}' -- /bin/sh -c 'echo BEGIN; head -c 100000 /dev/zero | tr "\0" x; echo; echo END'
is "$(jget status)" ok "output over the capture: still ok"
is "$(jget truncated)" true "... truncated"
like "$(jget stdout)" '^BEGIN' "... head kept"
like "$(jget stdout)" 'END$' "... tail kept"
like "$(jget stdout)" 'bytes dropped' "... the gap marked"
is "$(jget stdout_bytes)" 100011 "... every byte counted"

sutra sandbox run -- /bin/sh -c 'printf "a\000b\377c"'
is "$(jget stdout)" "a�b�c" "NUL and invalid UTF-8 replaced"

sutra sandbox run --degraded -- /usr/bin/id -u
is "$(jget status)" ok "--degraded runs"
ok "... as an unprivileged uid" test "$(jget stdout)" -ge 1000
like "$(jget degraded)" '"userns".*"netns"' "... and says what is missing"
is "$(jget 'layers>seccomp')$(jget 'layers>no_new_privs')$(jget 'layers>rlimits')" \
	truetruetrue "... keeps seccomp, no_new_privs, rlimits"
SUTRA_SANDBOX_DEGRADED=1 sutra sandbox run -- /bin/true
like "$(jget degraded_reason)" forced "SUTRA_SANDBOX_DEGRADED=1 forces it"

sutra help sandbox
like "$out$err" 'sandbox run \[--profile P\]' "help shows the synopsis"

done_testing
