# plugins/: C agents built as plugins with plain make rules, the same way a
# plugin author builds one out of tree (cc -shared -fPIC, the public header
# only).  Each lands in the build tree's catalog/NAME/ beside a manifest
# generated from plugins/NAME.yaml plus the sha256 of the built file.
PLUGIN_CFLAGS = $(AM_CFLAGS) $(CFLAGS) -shared -fPIC -I$(top_srcdir)/include
PLUGIN_LINK_FLAGS = $(AM_LDFLAGS) $(LDFLAGS)

CATALOG_PLUGINS = catalog/textstats/textstats.so
EXTRA_DIST += plugins/textstats.c plugins/textstats.yaml plugins/manifest.sh

catalog/textstats/textstats.so: plugins/textstats.c include/sutra/plugin.h
	@$(MKDIR_P) $(@D)
	$(AM_V_CC)$(CC) $(PLUGIN_CFLAGS) $(CJSON_CFLAGS) -o $@ \
		$(top_srcdir)/plugins/textstats.c $(PLUGIN_LINK_FLAGS) $(CJSON_LIBS)

# catalog/NAME/agent.yaml: the template with the entry's checksum.
catalog/textstats/agent.yaml: catalog/textstats/textstats.so plugins/textstats.yaml
	$(AM_V_GEN)$(SHELL) $(top_srcdir)/plugins/manifest.sh \
		$(top_srcdir)/plugins/textstats.yaml $< > $@.tmp && mv $@.tmp $@

all-local: plugins-all
plugins-all: $(CATALOG_PLUGINS) catalog/textstats/agent.yaml
clean-local: plugins-clean
plugins-clean:
	rm -f $(CATALOG_PLUGINS) catalog/textstats/agent.yaml

# Installed beside the shipped Lua agents.
install-data-local: plugins-install
plugins-install: plugins-all
	for so in $(CATALOG_PLUGINS); do \
		d=$(DESTDIR)$(pkgdatadir)/$$(dirname $$so); \
		$(MKDIR_P) $$d && \
		$(INSTALL_DATA) $$so $$d/ && \
		$(INSTALL_DATA) $$(dirname $$so)/agent.yaml $$d/agent.yaml; \
	done
uninstall-local: plugins-uninstall
plugins-uninstall:
	for so in $(CATALOG_PLUGINS); do \
		rm -rf $(DESTDIR)$(pkgdatadir)/$$(dirname $$so); \
	done
.PHONY: plugins-all plugins-clean plugins-install plugins-uninstall
