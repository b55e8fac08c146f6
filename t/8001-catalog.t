#!/bin/sh
# The catalog: manifests, checksums, duplicates, problems that do not stop
# the other packages.
. "${SUTRA_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"

sutra agent list
like "$out" '^echo ' "the shipped catalog is found"
like "$out" 'textstats +1\.0\.0 +plugin' "shipped plugins too"

mkagent good 'return { run = function() return "good" end }'
mkdir -p catalog/nameless
printf 'version: 1.0.0\nkind: lua\nentry: agent.lua\n' > catalog/nameless/agent.yaml
mkdir -p catalog/badkind
printf 'name: badkind\nversion: 1.0.0\nkind: python\nentry: a.py\n' > catalog/badkind/agent.yaml
mkdir -p catalog/badyaml
printf 'name: [unclosed\n' > catalog/badyaml/agent.yaml
mkdir -p catalog/escape
printf 'name: escape\nversion: 1.0.0\nkind: lua\nentry: ../good/agent.lua\n' > catalog/escape/agent.yaml
mkdir -p catalog/badperm
printf 'name: badperm\nversion: 1.0.0\nkind: lua\nentry: a.lua\npermissions: [root]\n' > catalog/badperm/agent.yaml

sutra agent list
is "$rc" 0 "broken packages do not fail the listing"
like "$out" '^good ' "the good package loads"
like "$err" "catalog/nameless/agent.yaml:1:1: missing field 'name'" "missing field is named with its position"
like "$err" "catalog/badkind/agent.yaml:3:7: unknown kind 'python'" "bad kind is named at its line and column"
like "$err" "catalog/badyaml/agent.yaml:2:1: " "YAML syntax errors name the line"
like "$err" "catalog/escape/agent.yaml:4:8: entry '../good/agent.lua' must be a relative path inside the package" "entry escaping the package is refused"
like "$err" "unknown permission 'root'" "unknown permission is refused"

sutra agent run badkind
is "$rc" 2 "running a broken package exits 2"
like "$err" "agent 'badkind' is not available: .*unknown kind" "and says why"

mkagent pinned 'return { run = function() return 1 end }'
printf 'sha256: %s\n' "$(sha256sum catalog/pinned/agent.lua | cut -d' ' -f1)" >> catalog/pinned/agent.yaml
sutra agent run pinned
is "$out" 1 "a package with the right sha256 runs"
echo '-- changed' >> catalog/pinned/agent.lua
sutra agent run pinned
is "$rc" 3 "a changed entry file fails its checksum (exit 3)"
like "$err" "agent 'pinned': .*pinned/agent.lua: sha256 mismatch" "naming the file"

mkdir -p other/good
printf 'return { run = function() return "shadowed" end }\n' > other/good/agent.lua
sed 's/test agent good/the other good/' catalog/good/agent.yaml > other/good/agent.yaml
sutra --catalog other agent run good
is "$out" '"shadowed"' "--catalog comes first in the search path"
like "$err" "agent 'good' in '.*catalog/good' is shadowed by 'other/good'" "duplicates warn"
sutra --json --catalog other agent info good
like "$out" '"shadowed":\[".*catalog/good"\]' "agent info shows the shadowed copy"

saved=$SUTRA_CATALOG_PATH
export SUTRA_CATALOG_PATH=other:$SUTRA_CATALOG_PATH
sutra agent run good
is "$out" '"shadowed"' "SUTRA_CATALOG_PATH is searched before ./catalog"
export SUTRA_CATALOG_PATH=$saved

sutra --json agent info greeter
like "$out" '"permissions":\["memory"\]' "agent info shows permissions"
like "$out" '"input":\{"name":\{"type":"string","required":true\}\}' "and the input schema"

mkdir -p "$XDG_DATA_HOME/sutra/catalog/userpkg"
printf 'return { run = function() return "user" end }\n' > "$XDG_DATA_HOME/sutra/catalog/userpkg/agent.lua"
printf 'name: userpkg\nversion: 0.1.0\nkind: lua\nentry: agent.lua\n' > "$XDG_DATA_HOME/sutra/catalog/userpkg/agent.yaml"
sutra agent run userpkg
is "$out" '"user"' "the user catalog under XDG_DATA_HOME is searched"

done_testing
