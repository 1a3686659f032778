# Installing: what a user of the library or of the tool gets on a machine.
#
#   make install [PREFIX=/usr/local] [DESTDIR=/tmp/stage]
#   make uninstall (with the same PREFIX and DESTDIR)
#
# installs
#   $(BINDIR)/cnnviz                          the tool
#   $(LIBDIR)/libcnnviz.so.X.Y.Z, .so.X, .so  the shared library and its links
#   $(LIBDIR)/libcnnviz.a                     the static library
#   $(INCLUDEDIR)/cnnviz/*.h                  the public headers (Cflags: -I.../include/cnnviz,
#                                             so programs #include "cnnviz.h" as in the tree)
#   $(PKGCONFIGDIR)/cnnviz.pc                 pkg-config cnnviz (--static for libcnnviz.a)
#   $(MANDIR)/man1/cnnviz.1                   the manual page (cnnviz man)
# A program then builds with
#   cc prog.c $(pkg-config --cflags --libs cnnviz)
# (PKG_CONFIG_PATH=$(PREFIX)/lib/pkgconfig when PREFIX is not searched).
# DESTDIR stages the files for a package; the paths inside (cnnviz.pc's
# prefix) stay PREFIX's.

PREFIX       ?= /usr/local
BINDIR       ?= $(PREFIX)/bin
LIBDIR       ?= $(PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
MANDIR       ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
INSTALL      ?= install
PUBLIC_HEADERS := $(sort $(wildcard include/*.h))

.PHONY: install uninstall
install: $(BUILD)/cnnviz $(SHLIB) $(STLIB) $(BUILD)/cnnviz.1
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR) \
	    $(DESTDIR)$(INCLUDEDIR)/cnnviz $(DESTDIR)$(MANDIR)/man1
	$(INSTALL) -m 755 $(BUILD)/cnnviz $(DESTDIR)$(BINDIR)/cnnviz
	$(INSTALL) -m 755 $(SHLIB_REAL) $(DESTDIR)$(LIBDIR)/libcnnviz.so.$(VERSION)
	ln -sf libcnnviz.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libcnnviz.so
	$(INSTALL) -m 644 $(STLIB) $(DESTDIR)$(LIBDIR)/libcnnviz.a
	$(INSTALL) -m 644 $(PUBLIC_HEADERS) $(DESTDIR)$(INCLUDEDIR)/cnnviz/
	$(INSTALL) -m 644 $(BUILD)/cnnviz.1 $(DESTDIR)$(MANDIR)/man1/cnnviz.1
	sed -e 's|@PREFIX@|$(PREFIX)|; s|@LIBDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))|; s|@INCLUDEDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))|' \
	    -e 's|@VERSION@|$(VERSION)|; s|@REQUIRES@|$(PKGS)|' mk/cnnviz.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/cnnviz.pc
	chmod 644 $(DESTDIR)$(PKGCONFIGDIR)/cnnviz.pc
	@# the loader's cache, so that programs find libcnnviz.so.$(VERSION_MAJOR) in
	@# /usr/local/lib at once (a staged or unprivileged install leaves it alone)
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" -eq 0 ] && command -v ldconfig > /dev/null; then ldconfig; fi

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/cnnviz $(DESTDIR)$(LIBDIR)/libcnnviz.so.$(VERSION) \
	    $(DESTDIR)$(LIBDIR)/$(SONAME) $(DESTDIR)$(LIBDIR)/libcnnviz.so $(DESTDIR)$(LIBDIR)/libcnnviz.a \
	    $(DESTDIR)$(PKGCONFIGDIR)/cnnviz.pc $(DESTDIR)$(MANDIR)/man1/cnnviz.1 \
	    $(patsubst include/%,$(DESTDIR)$(INCLUDEDIR)/cnnviz/%,$(PUBLIC_HEADERS))
	-rmdir $(DESTDIR)$(INCLUDEDIR)/cnnviz 2> /dev/null
