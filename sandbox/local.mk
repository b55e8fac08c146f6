# sandbox/: build rules (see Makefile.am)
