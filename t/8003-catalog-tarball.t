#!/bin/sh
# sutra catalog install FILE.tar.gz: one package folder per archive, and
# nothing hostile gets out of the staging directory.
. "${SUTRA_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"

UC=$XDG_DATA_HOME/sutra/catalog

# mktar OUT SPEC...: a gzip'd tarball, hostile entries included.  SPEC is
# d:NAME (folder), t:NAME:TEXT, f:NAME:FILE, m:NAME:FILE:MODE (octal),
# z:NAME:BYTES (zeros), l:NAME:TARGET (symlink), h:NAME:TARGET (hard
# link), c:NAME (char device), p:NAME (fifo), n:COUNT:PREFIX (COUNT files).
mktar() {
	python3 - "$@" <<'PY'
import io, sys, tarfile

class Zeros(io.RawIOBase):
    def __init__(self, n): self.left = n
    def readable(self): return True
    def readinto(self, b):
        n = min(len(b), self.left)
        b[:n] = bytes(n)
        self.left -= n
        return n

def add(t, kind, name, arg):
    ti = tarfile.TarInfo(name)
    ti.mode = 0o644
    data = None
    if kind == 'd':
        ti.type, ti.mode = tarfile.DIRTYPE, 0o755
    elif kind == 't':
        data = arg.encode()
    elif kind in 'fm':
        path, _, mode = arg.partition(':')
        data = open(path, 'rb').read()
        if mode:
            ti.mode = int(mode, 8)
    elif kind == 'z':
        ti.size = int(arg)
        t.addfile(ti, io.BufferedReader(Zeros(ti.size)))
        return
    elif kind == 'l':
        ti.type, ti.linkname = tarfile.SYMTYPE, arg
    elif kind == 'h':
        ti.type, ti.linkname = tarfile.LNKTYPE, arg
    elif kind == 'c':
        ti.type, ti.devmajor, ti.devminor = tarfile.CHRTYPE, 1, 3
    elif kind == 'p':
        ti.type = tarfile.FIFOTYPE
    elif kind == 'n':
        for i in range(int(name)):
            add(t, 't', '%s%d' % (arg, i), 'x')
        return
    if data is not None:
        ti.size = len(data)
        t.addfile(ti, io.BytesIO(data))
    else:
        t.addfile(ti)

with tarfile.open(sys.argv[1], 'w:gz', compresslevel=1,
                  format=tarfile.GNU_FORMAT) as t:
    for spec in sys.argv[2:]:
        kind, _, rest = spec.partition(':')
        name, _, arg = rest.partition(':')
        add(t, kind, name, arg)
PY
}

printf 'return { run = function() return "tarred" end }\n' >agent.lua
SUM=$(sha256sum agent.lua | cut -d' ' -f1)
manifest() {   # NAME VERSION
	printf 'name: %s\nversion: %s\nkind: lua\nentry: agent.lua\nsha256: %s\n' \
		"$1" "$2" "$SUM" >agent.yaml
}
clean() {   # only the lock file stays in the user catalog
	is "$(ls -A "$UC" 2>/dev/null | grep -v '^\.lock$' | grep -v "^$1\$")" "" \
		"nothing is left in the user catalog"
}

# --- good archives
manifest tpkg 1.0.0
mktar good.tar.gz d:tpkg f:tpkg/agent.yaml:agent.yaml f:tpkg/agent.lua:agent.lua
sutra catalog install good.tar.gz
is "$rc" 0 "a tarball with one package folder installs"
like "$out" "^installed tpkg 1\.0\.0 in $UC/tpkg" "into the user catalog"
sutra agent run tpkg
is "$out" '"tarred"' "and its agent runs"

mkdir -p src/tpkg && cp agent.lua src/tpkg/ && manifest tpkg 1.1.0 && cp agent.yaml src/tpkg/
mkdir -p src/tpkg/lib && echo 'return 1' >src/tpkg/lib/util.lua
tar -C src -czf dot.tgz ./tpkg
sutra catalog install dot.tgz
is "$rc" 0 "a tarball made by tar(1) with ./ names installs"
like "$out" "upgraded tpkg 1\.0\.0 -> 1\.1\.0" "as an upgrade"
ok "subfolders come along" test -f "$UC/tpkg/lib/util.lua"
tar -C src -cf plain.tar tpkg
sutra catalog install plain.tar
like "$out" "tpkg 1\.1\.0 is already installed" "an uncompressed tarball is read too"

manifest bad 1.0.0
echo '-- changed' >>agent.lua
mktar badsum.tar.gz d:bad f:bad/agent.yaml:agent.yaml f:bad/agent.lua:agent.lua
sutra catalog install badsum.tar.gz
is "$rc" 2 "a tarball whose entry has the wrong checksum is refused"
like "$err" "badsum\.tar\.gz:bad/agent\.lua: sha256 mismatch" "naming the archive and the file in it"
clean tpkg

manifest evil 1.0.0
# --- hostile archives, each refused with exit 2 and nothing written
refused() {   # ARCHIVE REGEX DESCRIPTION
	sutra catalog install "$1"
	is "$rc" 2 "$3: exit 2"
	like "$err" "$2" "$3: says why"
}
mktar dotdot.tar.gz d:evil t:evil/../../escaped:boom f:evil/agent.yaml:agent.yaml
refused dotdot.tar.gz "dotdot\.tar\.gz: entry 'evil/\.\./\.\./escaped': '\.\.' in the path refused" "a ../ path"
ok "nothing escaped" test ! -e "$XDG_DATA_HOME/sutra/escaped" -a ! -e "$UC/escaped"
mktar abs.tar.gz d:evil t:/tmp/sutra-abs-escape:boom
refused abs.tar.gz "entry '/tmp/sutra-abs-escape': absolute path refused" "an absolute path"
ok "nothing written at the absolute path" test ! -e /tmp/sutra-abs-escape
mktar sym.tar.gz d:evil f:evil/agent.yaml:agent.yaml l:evil/agent.lua:/etc/passwd
refused sym.tar.gz "entry 'evil/agent\.lua': symbolic link refused" "a symbolic link"
mktar hard.tar.gz d:evil f:evil/agent.yaml:agent.yaml h:evil/agent.lua:evil/agent.yaml
refused hard.tar.gz "entry 'evil/agent\.lua': hard link refused" "a hard link"
mktar dev.tar.gz d:evil c:evil/null
refused dev.tar.gz "entry 'evil/null': device file refused" "a device file"
mktar fifo.tar.gz d:evil p:evil/pipe
refused fifo.tar.gz "entry 'evil/pipe': fifo refused" "a fifo"
mktar two.tar.gz d:one t:one/a:x d:two t:two/b:y
refused two.tar.gz "more than one top-level entry \('one' and 'two'\)" "two top-level folders"
mktar topfile.tar.gz t:agent.yaml:x
refused topfile.tar.gz "'agent\.yaml' is a file at the top level; the archive must hold one package folder" "a file at the top level"
mktar empty.tar.gz
refused empty.tar.gz "empty\.tar\.gz: the archive holds no package folder" "an empty archive"
mktar dup.tar.gz d:evil t:evil/a:x t:evil/a:y
refused dup.tar.gz "entry 'evil/a': duplicate entry refused" "a duplicate entry"
echo 'not a tarball' >junk.tar.gz
refused junk.tar.gz "junk\.tar\.gz: " "a file that is not a tarball"
mktar big.tar.gz d:evil z:evil/big:67108865
refused big.tar.gz "entry 'evil/big': archive is over the size limit" "an entry over 64 MiB"
mktar big2.tar.gz d:evil z:evil/a:40000000 z:evil/b:40000000
refused big2.tar.gz "entry 'evil/b': archive is over the size limit" "entries over 64 MiB in total"
mktar many.tar.gz d:evil n:10001:evil/f
refused many.tar.gz "more than the limit of entries" "more than 10000 entries"
clean tpkg
sutra agent run tpkg
is "$out" '"tarred"' "the installed package survived every refused install"

# --- a plugin in a tarball: modes come from the archive
cp "$TEST_PLUGINS/good.so" plug.so
printf 'name: tplug\nversion: 1.0.0\nkind: plugin\nentry: tplug.so\nagent: plug-noop\nsha256: %s\n' \
	"$(sha256sum plug.so | cut -d' ' -f1)" >plug.yaml
mktar gw.tar.gz d:tplug f:tplug/agent.yaml:plug.yaml m:tplug/tplug.so:plug.so:775
refused gw.tar.gz "tplug\.so: refusing plugin: writable by group or others" "a group-writable plugin in a tarball"
mktar plug.tar.gz d:tplug f:tplug/agent.yaml:plug.yaml m:tplug/tplug.so:plug.so:755
sutra catalog install plug.tar.gz
is "$rc" 0 "a plugin tarball installs"
is "$(stat -c %a "$UC/tplug/tplug.so")" 755 "with the archive's mode"
cp "$TEST_PLUGINS/wrongabi.so" plug.so
printf 'name: wabi\nversion: 1.0.0\nkind: plugin\nentry: w.so\nagent: x\nsha256: %s\n' \
	"$(sha256sum plug.so | cut -d' ' -f1)" >plug.yaml
mktar wabi.tar.gz d:wabi f:wabi/agent.yaml:plug.yaml m:wabi/w.so:plug.so:755
refused wabi.tar.gz "wabi\.tar\.gz:wabi/w\.so: plugin ABI" "a wrong-ABI plugin in a tarball"
clean 'tpkg\|tplug'

done_testing
