# chains/: example chains, installed under $(pkgdatadir)/chains.
nobase_dist_pkgdata_DATA += \
	chains/demo.yaml \
	chains/hello.yaml \
	chains/selfheal.yaml
