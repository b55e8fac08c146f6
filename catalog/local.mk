# catalog/: the shipped Lua agents, installed under $(pkgdatadir)/catalog
# (plugin agents are built and installed by plugins/local.mk).
nobase_dist_pkgdata_DATA += \
	catalog/codegen/agent.lua \
	catalog/codegen/agent.yaml \
	catalog/codegen/prompts/c.txt \
	catalog/codegen/prompts/codegen.txt \
	catalog/codegen/prompts/python.txt \
	catalog/codegen/prompts/system.txt \
	catalog/codetest/agent.lua \
	catalog/codetest/agent.yaml \
	catalog/counter/agent.lua \
	catalog/counter/agent.yaml \
	catalog/diagnose/agent.lua \
	catalog/diagnose/agent.yaml \
	catalog/echo/agent.lua \
	catalog/echo/agent.yaml \
	catalog/fixer/agent.lua \
	catalog/fixer/agent.yaml \
	catalog/fixer/prompts/fixer.txt \
	catalog/fixer/prompts/system.txt \
	catalog/greeter/agent.lua \
	catalog/greeter/agent.yaml \
	catalog/heal-report/agent.lua \
	catalog/heal-report/agent.yaml \
	catalog/ledger/agent.lua \
	catalog/ledger/agent.yaml \
	catalog/select/agent.lua \
	catalog/select/agent.yaml \
	catalog/template/agent.lua \
	catalog/template/agent.yaml
