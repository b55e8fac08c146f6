# lua/: the sutra Lua library agents may require, installed under
# $(pkgdatadir)/lua.
nobase_dist_pkgdata_DATA += \
	lua/sutra/template.lua \
	lua/sutra/jsonpath.lua \
	lua/sutra/llmjson.lua
