# lua/: build rules (see Makefile.am)
