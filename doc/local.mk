# doc/: the man pages (SPEC §1).  t/0002-docs.t checks that they cover
# every command, the plugin ABI, and format without warnings.
dist_man_MANS += \
	doc/sutra.1 \
	doc/sutra-chain.5 \
	doc/sutra-catalog.5 \
	doc/sutra-lua.3 \
	doc/sutra-plugin.3 \
	doc/sutra-llm.7 \
	doc/sutra-sandbox.7
