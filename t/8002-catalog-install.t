#!/bin/sh
# sutra catalog install / remove / list: checks before installing,
# versions, atomic replacement, and the user catalog.
. "${SUTRA_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"

UC=$XDG_DATA_HOME/sutra/catalog

# pkg DIR NAME VERSION LUA: a Lua package folder outside any catalog,
# pinned by sha256.
pkg() {
	mkdir -p "$1"
	printf '%s\n' "$4" >"$1/agent.lua"
	cat >"$1/agent.yaml" <<YAML
name: $2
version: $3
kind: lua
entry: agent.lua
description: package $2
permissions: [memory]
sha256: $(sha256sum "$1/agent.lua" | cut -d' ' -f1)
YAML
}

# --- a first install from a folder
pkg src/hello hello 1.0.0 'return { run = function() return "v1" end }'
sutra catalog install src/hello
is "$rc" 0 "install from a folder exits 0"
like "$out" "^installed hello 1\.0\.0 in $UC/hello$" "and says what it installed where"
ok "the package is in the user catalog" test -f "$UC/hello/agent.lua"
sutra agent run hello
is "$out" '"v1"' "the installed agent runs"
unlike "$(ls -A "$UC")" 'install-' "no staging directory is left behind"
is "$(stat -c %a "$UC/hello/agent.lua")" 644 "installed files are not group/world writable"

sutra catalog install src/hello
is "$rc" 0 "installing the same package again is fine"
like "$out" "hello 1\.0\.0 is already installed" "and changes nothing"

# --- same version, different content
pkg src/hello hello 1.0.0 'return { run = function() return "v1b" end }'
sutra catalog install src/hello
is "$rc" 2 "same version with other content is refused (exit 2)"
like "$err" "'hello' 1\.0\.0 is installed with different content: raise the version, or use --force" "and says how to proceed"
sutra agent run hello
is "$out" '"v1"' "the installed version is untouched"
sutra catalog install --force src/hello
is "$rc" 0 "--force replaces it"
like "$out" "^replaced hello 1\.0\.0 -> 1\.0\.0" "reported as replaced"

# --- upgrade, downgrade
pkg src/hello hello 1.2.0 'return { run = function() return "v2" end }'
sutra --json catalog install src/hello
is "$rc" 0 "an upgrade installs"
is "$out" "{\"action\":\"upgraded\",\"name\":\"hello\",\"version\":\"1.2.0\",\"previous\":\"1.0.0\",\"path\":\"$UC/hello\"}" "--json reports the upgrade"
sutra agent run hello
is "$out" '"v2"' "the new version runs"

pkg src/old hello 1.10.0-rc.1 'return { run = function() return "rc" end }'
sutra catalog install src/old
like "$out" "upgraded hello 1\.2\.0 -> 1\.10\.0-rc\.1" "versions compare as semver, not as text"
pkg src/old hello 1.9.0 'return { run = function() return "old" end }'
sutra catalog install src/old
is "$rc" 2 "a downgrade is refused (exit 2)"
like "$err" "'hello' 1\.10\.0-rc\.1 is installed: refusing to downgrade to 1\.9\.0 \(use --force\)" "naming both versions"
sutra catalog install -f src/old
is "$rc" 0 "--force (-f) downgrades"
like "$out" "^downgraded hello 1\.10\.0-rc\.1 -> 1\.9\.0" "reported as a downgrade"
sutra agent run hello
is "$out" '"old"' "the downgraded version runs"

# --- refused packages
pkg src/nosha nosha 1.0.0 'return { run = function() return 1 end }'
sed -i '/^sha256:/d' src/nosha/agent.yaml
sutra catalog install src/nosha
is "$rc" 2 "a package without sha256 is refused"
like "$err" "src/nosha/agent.yaml: no 'sha256' field: a package to install pins its entry \(the entry's sha256 is [0-9a-f]{64}\)" "naming the manifest and the hash to pin"

pkg src/badsum badsum 1.0.0 'return { run = function() return 1 end }'
echo '-- tampered' >>src/badsum/agent.lua
sutra catalog install src/badsum
is "$rc" 2 "a wrong checksum is refused"
like "$err" "src/badsum/agent.lua: sha256 mismatch: manifest says [0-9a-f]{64}, file has [0-9a-f]{64}" "naming the entry file"
ok "nothing was installed" test ! -e "$UC/badsum"

pkg src/badlua badlua 1.0.0 'return { run = function( end }'
sutra catalog install src/badlua
is "$rc" 2 "a Lua entry that does not compile is refused"
like "$err" "src/badlua/agent.lua: does not compile: " "naming the file"

pkg src/badver badver 'one' 'return {}'
sutra catalog install src/badver
is "$rc" 2 "a version that is not semver is refused"
like "$err" "version 'one' is not a semantic version" "and named"

mkdir -p src/badkind && printf 'name: badkind\nversion: 1.0.0\nkind: python\nentry: a.py\n' >src/badkind/agent.yaml
sutra catalog install src/badkind
is "$rc" 2 "a broken manifest is refused"
like "$err" "src/badkind/agent.yaml:3:7: unknown kind 'python'" "with the manifest's file, line and column"

mkdir -p src/empty
sutra catalog install src/empty
is "$rc" 2 "a folder without agent.yaml is refused"
like "$err" "src/empty: no agent.yaml" "naming the folder"
sutra catalog install src/missing
is "$rc" 2 "a missing source is refused"

pkg src/linky linky 1.0.0 'return {}'
ln -s /etc/passwd src/linky/secret
sutra catalog install src/linky
is "$rc" 2 "a folder holding a symbolic link is refused"
like "$err" "src/linky/secret: a symbolic link" "naming it"

# --- plugins
mkplug() {   # DIR NAME SOFILE AGENT
	mkdir -p "$1"
	cp "$3" "$1/$2.so"
	chmod 755 "$1/$2.so"
	cat >"$1/agent.yaml" <<YAML
name: $2
version: 1.0.0
kind: plugin
entry: $2.so
agent: $4
permissions: [memory]
sha256: $(sha256sum "$1/$2.so" | cut -d' ' -f1)
YAML
}
mkplug src/pc pc "$TEST_PLUGINS/good.so" plug-counter
sutra catalog install src/pc
is "$rc" 0 "a plugin with the right ABI installs"
sutra agent run pc
like "$out" '"n":1' "and runs"

mkplug src/wabi wabi "$TEST_PLUGINS/wrongabi.so" wrongabi
sutra catalog install src/wabi
is "$rc" 2 "a plugin with the wrong ABI is refused"
like "$err" "src/wabi/wabi.so: plugin ABI [0-9]+, but this sutra speaks ABI [0-9]+" "naming the file and both ABIs"
ok "nothing was installed" test ! -e "$UC/wabi"

mkplug src/nosym nosym "$TEST_PLUGINS/nosymbol.so" x
sutra catalog install src/nosym
is "$rc" 2 "a shared object that is not a plugin is refused"
like "$err" "not a sutra plugin" "and says so"

mkplug src/gw gw "$TEST_PLUGINS/good.so" plug-noop
chmod g+w src/gw/gw.so
sutra catalog install src/gw
is "$rc" 2 "a group-writable plugin is refused"
like "$err" "src/gw/gw.so: refusing plugin: writable by group or others" "naming the file"
chmod g-w,o+w src/gw/gw.so
sutra catalog install src/gw
is "$rc" 2 "a world-writable plugin is refused"

# --- list: where packages come from, shadowed duplicates
mkagent hello 'return { run = function() return "project" end }' memory
sutra catalog list
like "$out" "^hello +1\.0\.0 +lua +memory +catalog/hello$" "list shows name, version, kind, permissions and folder"
like "$out" "shadowed: +1\.9\.0 +lua +memory +$UC/hello" "and the shadowed copy below it"
like "$out" "^pc +1\.0\.0 +plugin +memory " "plugins too"
sutra --json catalog list
like "$out" '"name":"hello","version":"1.0.0","kind":"lua","permissions":\["memory"\]' "--json lists the same"
like "$out" "\"shadowed\":\[\{\"name\":\"hello\",\"version\":\"1.9.0\".*\"catalog\":\"$UC\"" "with the shadowed copies and their catalog"
pkg src/hello hello 2.0.0 'return { run = function() return "v3" end }'
sutra catalog install src/hello
like "$err" "warning: 'hello' in catalog/hello comes first in the catalog search path" "installing a shadowed package warns"
rm -r catalog/hello

# --- remove
sutra catalog remove hello
is "$rc" 0 "remove exits 0"
like "$out" "^removed hello \($UC/hello\)" "and names the folder"
ok "the folder is gone" test ! -e "$UC/hello"
sutra agent run hello
is "$rc" 2 "the agent is gone"
sutra catalog remove hello
is "$rc" 2 "removing it again is exit 2"
like "$err" "no package 'hello' in '$UC'" "naming the user catalog"
sutra catalog remove echo
is "$rc" 2 "a shipped package is not removed"
like "$err" "no package 'echo' in the user catalog .*; the one in .*/catalog/echo is not managed by sutra" "and the message says why"
sutra catalog remove
is "$rc" 2 "remove without a name is a usage error"
sutra catalog install
is "$rc" 2 "install without a source is a usage error"

# --- a folder in the way of the package's name
mkdir -p "$UC/clash"
sutra catalog install src/pc
pkg src/clash clash 1.0.0 'return {}'
sutra catalog install src/clash
is "$rc" 2 "a stray folder with the package's name is not overwritten"
like "$err" "'$UC/clash' exists and is not package 'clash'" "and is named"

done_testing
