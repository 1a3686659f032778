# TEMPORARY (the Python binding's branch): libcnnviz.so for python/ until the
# library branch's rule (-fvisibility=hidden, soname, install) is merged; the
# lead deletes this file then. The objects are built again with -fPIC in
# $(BUILD)/pic (Debian's default -fPIE objects cannot go into a .so), and
# every one of them is linked in, exporting every global symbol: python/
# calls only what include/*.h declares, so the real rule serves it as well.
PIC_BUILD := $(BUILD)/pic

.PHONY: pic-lib
pic-lib:
	$(MAKE) BUILD=$(PIC_BUILD) EXTRA_CFLAGS="$(EXTRA_CFLAGS) -fPIC" $(PIC_BUILD)/libcnnviz.a

$(BUILD)/libcnnviz.so: pic-lib
	$(CC) -shared $(LDFLAGS) -o $@.tmp -Wl,--whole-archive $(PIC_BUILD)/libcnnviz.a -Wl,--no-whole-archive $(LDLIBS)
	mv $@.tmp $@

# make check runs tests/test_python.sh, which loads it
check: $(BUILD)/libcnnviz.so
