# catalog/: build rules (see Makefile.am)
