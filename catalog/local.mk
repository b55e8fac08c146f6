# catalog/: the shipped Lua agents, installed under $(pkgdatadir)/catalog
# (plugin agents are built and installed by plugins/local.mk).
nobase_dist_pkgdata_DATA += \
	catalog/counter/agent.lua \
	catalog/counter/agent.yaml \
	catalog/echo/agent.lua \
	catalog/echo/agent.yaml \
	catalog/greeter/agent.lua \
	catalog/greeter/agent.yaml \
	catalog/select/agent.lua \
	catalog/select/agent.yaml \
	catalog/template/agent.lua \
	catalog/template/agent.yaml
