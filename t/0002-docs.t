#!/bin/sh
# The documentation keeps up with the code (like curl's test1139).  Every
# list below comes from the binary or the source, never from this file:
# - each command `sutra help` lists has a .SS "sutra NAME" in sutra(1);
# - each subcommand and option of its usage is mentioned there;
# - each function-pointer member of the structs of <sutra/plugin.h>
#   appears in sutra-plugin(3) with its exact prototype, and each SUTRA_
#   macro and enum constant is named there;
# - each ctx function and field of core/luart.c is in sutra-lua(3);
# - each chain and step key of core/chain_load.c is a bold term in
#   sutra-chain(5), each manifest field of core/catalog.c one in
#   sutra-catalog(5);
# - every page is installed, and formats without warnings.
. "${SUTRA_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"

DOC=$SUTRA_SRCDIR/doc
HEADER=$SUTRA_SRCDIR/include/sutra/plugin.h

# The roff source with font changes and the common escapes undone, so
# that "\fBsutra memory get\fR" and "\-\-input" read as typed.
plain() {
	sed -e 's/\\f[BIRP]//g' -e 's/\\f([A-Z][A-Z]//g' -e 's/\\-/-/g' \
	    -e 's/\\&//g' -e 's/\\(aq/'"'"'/g' -e 's/\\(dq/"/g' \
	    -e 's/\\e/\\/g' "$1"
}

# mentions PAGE FIXED-STRING: whether the page's text holds the string.
mentions() {
	plain "$1" | grep -qF -- "$2"
}

# bold_term PAGE WORD: whether WORD is an argument of a .B or .BR line,
# the way the pages introduce keys and fields (.TP / .B key).
bold_term() {
	plain "$1" | grep -qE "^\.BR? (.* )?\"?$2\"?( |$)"
}

# c_strings FILE START-REGEX: the "quoted" words of the C initialiser
# that starts at the line matching START-REGEX, up to its "};".
c_strings() {
	awk -v start="$2" '$0 ~ start {on = 1} on {print} on && /};/ {exit}' \
	    "$1" | grep -oE '"[a-z_]+"' | tr -d '"'
}

# ------------------------------------------------------------ sutra(1)

SUTRA1=$DOC/sutra.1
ok "doc/sutra.1 exists" test -f "$SUTRA1"

sutra help
commands=$(printf '%s\n' "$out" |
	   awk '/^commands:/ {on = 1; next} on && NF == 0 {exit} on {print $1}')
global_usage=$(printf '%s\n' "$out" | sed -n '/^usage:/,/^$/p')
ok "sutra help lists commands" test -n "$commands"

# options OPTION-TEXT: the long and short options named in usage text.
options() {
	printf '%s\n' "$1" | tr '[]|' '   ' | tr -s ' \t' '\n\n' |
		grep -xE -- '--[a-z][a-z-]*|-[A-Za-z]' | sort -u
}

option_documented() {
	plain "$SUTRA1" | grep -qE -- "(^|[^A-Za-z0-9-])$1([^A-Za-z0-9-]|$)"
}

for opt in $(options "$global_usage"); do
	ok "global option $opt is documented in sutra(1)" \
	    option_documented "$opt"
done

for cmd in $commands; do
	ok "sutra(1) has a section .SS \"sutra $cmd\"" \
	    grep -qF ".SS \"sutra $cmd\"" "$SUTRA1"
	sutra help "$cmd"
	is "$rc" 0 "sutra help $cmd works"
	usage=$(printf '%s\n' "$out" | awk '$1 == "sutra" && $2 == "'"$cmd"'"')
	for sub in $(printf '%s\n' "$usage" |
		     awk '$3 ~ /^[a-z][a-z-]*$/ {print $3}' | sort -u); do
		ok "sutra(1) mentions 'sutra $cmd $sub'" \
		    mentions "$SUTRA1" "sutra $cmd $sub"
	done
	for opt in $(options "$usage"); do
		ok "option $opt of '$cmd' is documented in sutra(1)" \
		    option_documented "$opt"
	done
done

# ---------------------------------------------------- sutra-plugin(3)

PLUGIN3=$DOC/sutra-plugin.3
ok "doc/sutra-plugin.3 exists" test -f "$PLUGIN3"

# Every function-pointer member of every struct in the header, one
# prototype per line with whitespace collapsed: comments removed, struct
# bodies joined, split at ';'.
prototypes=$(awk '
{
	line = $0; text = ""
	while (line != "") {
		if (in_comment) {
			i = index(line, "*/")
			if (!i) { line = ""; break }
			line = substr(line, i + 2); in_comment = 0
		} else {
			i = index(line, "/*")
			if (!i) { text = text line; line = ""; break }
			text = text substr(line, 1, i - 1)
			line = substr(line, i + 2); in_comment = 1
		}
	}
	print text
}' "$HEADER" | awk '
/^struct [a-z_]+ \{/ { body = 1; decl = ""; next }
body && /^\};/ { body = 0; next }
body {
	decl = decl " " $0
	while ((i = index(decl, ";"))) {
		d = substr(decl, 1, i); decl = substr(decl, i + 1)
		gsub(/[ \t]+/, " ", d); sub(/^ /, "", d)
		if (d ~ /\(\*[a-z_]+\)\(/) print d
	}
}')
ok "the header has function-pointer members" test -n "$prototypes"
ok "struct sutra_host has its functions" \
    sh -c 'printf "%s\n" "$1" | grep -qF "(*input)("' - "$prototypes"

printf '%s\n' "$prototypes" > "$TEST_DIR/prototypes"
while IFS= read -r proto; do
	name=$(printf '%s\n' "$proto" | sed 's/.*(\*\([a-z_]*\)).*/\1/')
	ok "sutra-plugin(3) documents $name as '$proto'" \
	    mentions "$PLUGIN3" "$proto"
done < "$TEST_DIR/prototypes"

for name in $(grep -oE '^#define SUTRA_[A-Z_]+|^[[:space:]]+SUTRA_[A-Z_]+ =' \
	      "$HEADER" | grep -oE 'SUTRA_[A-Z_]+' | grep -v '_H$' | sort -u); do
	ok "sutra-plugin(3) names $name" mentions "$PLUGIN3" "$name"
done

# ------------------------------------------------------- sutra-lua(3)

LUA3=$DOC/sutra-lua.3
LUART=$SUTRA_SRCDIR/core/luart.c
ok "doc/sutra-lua.3 exists" test -f "$LUA3"

# The ctx sub-tables: static const luaL_Reg NAME_funcs[] = {{"fn", ...}}.
tables=$(grep -oE 'static const luaL_Reg [a-z]+_funcs\[\]' "$LUART" |
	 sed 's/.*luaL_Reg \([a-z]*\)_funcs.*/\1/')
ok "luart.c has ctx function tables" test -n "$tables"
for t in $tables; do
	for fn in $(c_strings "$LUART" "luaL_Reg ${t}_funcs\\[\\]"); do
		ok "sutra-lua(3) documents ctx.$t.$fn" mentions "$LUA3" "ctx.$t.$fn"
	done
done
# ctx fields: the capabilities ({PERM_X, "field", ...}), the tables
# push_ctx adds (lua_setfield(L, -2, "log")), and the fields set on every
# call (lua_setfield(L, ctx_idx, "session")).  "null" is set on ctx.json.
for field in $(grep -oE '\{PERM_[A-Z]+, "[a-z_]+"' "$LUART" |
	       grep -oE '"[a-z_]+"' | tr -d '"') \
	     $(awk '/^static void push_ctx\(/, /^}/' "$LUART" |
	       grep -oE 'lua_setfield\(L, -2, "[a-z][a-z_]*"\);' |
	       grep -oE '"[a-z_]+"' | tr -d '"' | grep -vx null) \
	     $(grep -oE 'lua_setfield\(L, ctx_idx, "[a-z_]+"\);' "$LUART" |
	       grep -oE '"[a-z_]+"' | tr -d '"'); do
	ok "sutra-lua(3) documents ctx.$field" mentions "$LUA3" "ctx.$field"
done

# ----------------------------------------------- sutra-chain(5), -catalog(5)

CHAIN5=$DOC/sutra-chain.5
LOADER=$SUTRA_SRCDIR/core/chain_load.c
ok "doc/sutra-chain.5 exists" test -f "$CHAIN5"
keys=$(c_strings "$LOADER" 'chain_keys\[\] = \{'; c_strings "$LOADER" '\} step_keys\[\] = \{')
ok "chain_load.c has chain and step keys" test -n "$keys"
for key in $(printf '%s\n' $keys | sort -u); do
	ok "sutra-chain(5) documents the key '$key'" bold_term "$CHAIN5" "$key"
done

CATALOG5=$DOC/sutra-catalog.5
ok "doc/sutra-catalog.5 exists" test -f "$CATALOG5"
fields=$(c_strings "$SUTRA_SRCDIR/core/catalog.c" 'manifest_keys\[\] = \{')
ok "catalog.c has manifest fields" test -n "$fields"
for field in $fields; do
	ok "sutra-catalog(5) documents the field '$field'" \
	    bold_term "$CATALOG5" "$field"
done

# ------------------------------------------------- installed, clean

for page in "$DOC"/*.[1-8]; do
	base=doc/$(basename "$page")
	ok "$base is installed (dist_man_MANS in doc/local.mk)" \
	    grep -qE "^[[:space:]]*$base([[:space:]]|\\\\|\$)" "$DOC/local.mk"
	if command -v groff >/dev/null 2>&1; then
		warnings=$(groff -man -ww -z -Tutf8 "$page" 2>&1)
		is "$warnings" "" "groff -man -ww: $base formats without warnings"
	else
		skip "groff is not installed"
	fi
	if command -v man >/dev/null 2>&1 && command -v groff >/dev/null 2>&1
	then
		warnings=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$page" \
			   2>&1 >/dev/null)
		is "$warnings" "" "man --warnings: $base formats without warnings"
	else
		skip "man is not installed"
	fi
done

done_testing
