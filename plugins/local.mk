# plugins/: build rules (see Makefile.am)
