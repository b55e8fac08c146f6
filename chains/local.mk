# chains/: build rules (see Makefile.am)
