# doc/: build rules (see Makefile.am)
