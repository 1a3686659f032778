# cnnviz — build, test, demo. `make help` lists the targets.
CC      ?= cc
# Portable: runs on any x86-64. The hot loops are built again per wider
# instruction set below and chosen at run time (src/core/cpu.h). OPT="-O3
# -march=native" still builds for this CPU only.
OPT     ?= -O3
PKGS     = hdf5 openblas libprotobuf-c libpng libjpeg libcjson cairo
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS  += -std=c11 -D_GNU_SOURCE $(OPT) -g -Wall -Wextra -Wno-unused-parameter \
           -fopenmp -Iinclude -Ibuild/gen $(PKG_CFLAGS) $(EXTRA_CFLAGS)
# giflib ships no pkg-config file: -lgif by hand
LDLIBS  += $(PKG_LIBS) -lgif -lm $(EXTRA_LDLIBS)
LDFLAGS += -fopenmp $(EXTRA_LDFLAGS)

BUILD   ?= build
GEN      = build/gen
LIB_SRC := $(sort $(wildcard src/*/*.c))
LIB_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRC)) $(BUILD)/gen/onnx.pb-c.o

# The release, read from include/cnnviz.h (CNNVIZ_VERSION_*), where it is
# written once. The shared library is libcnnviz.so.MAJOR.MINOR.PATCH with
# the soname libcnnviz.so.MAJOR (bumped when the ABI breaks), and the
# links libcnnviz.so.MAJOR and libcnnviz.so (for -lcnnviz) beside it.
cv_version_part = $(shell sed -n 's/^.define CNNVIZ_VERSION_$(1)  *\([0-9][0-9]*\).*/\1/p' include/cnnviz.h)
VERSION_MAJOR := $(call cv_version_part,MAJOR)
VERSION_MINOR := $(call cv_version_part,MINOR)
VERSION_PATCH := $(call cv_version_part,PATCH)
VERSION       := $(VERSION_MAJOR).$(VERSION_MINOR).$(VERSION_PATCH)
SONAME        := libcnnviz.so.$(VERSION_MAJOR)
SHLIB_REAL    := $(BUILD)/libcnnviz.so.$(VERSION)
SHLIB         := $(BUILD)/libcnnviz.so
STLIB         := $(BUILD)/libcnnviz.a

# Files with kernels built per instruction set (CV_ISA_NAME in them): each
# is compiled once more per level with that level's flags, and objcopy
# keeps only the kernels' names global (*_avx2, *_avx512), so the second
# copies of everything else in the file stay private to their object.
# x86-64-v3 is AVX2+FMA (Haswell, Zen 1 on); x86-64-v4 adds AVX-512
# F/VL/BW/DQ (Skylake-X, Sapphire Rapids, Zen 4).
ISA_SRC    := src/core/incremental.c src/ops/activation.c src/ops/conv.c src/ops/conv_depthwise.c src/ops/conv_direct.c \
              src/ops/pool.c \
              src/ops/window.c src/ops/winograd.c
OBJCOPY    ?= objcopy
ifeq ($(shell uname -m),x86_64)
ISA_LEVELS := avx2 avx512
else
ISA_LEVELS :=
CFLAGS     += -DCV_ISA_GENERIC_ONLY
endif
ISA_FLAGS_avx2   := -march=x86-64-v3 -DCV_ISA_BUILD_AVX2
ISA_FLAGS_avx512 := -march=x86-64-v4 -DCV_ISA_BUILD_AVX512
LIB_OBJ += $(foreach l,$(ISA_LEVELS),$(patsubst %.c,$(BUILD)/%.$(l).o,$(ISA_SRC)))
# One set of library objects serves both libcnnviz.a and libcnnviz.so:
# position-independent, and hidden unless the header marks a function
# CV_API, so the .so exports the public API and nothing else (internals
# that cross files keep working inside either library).
# -fno-semantic-interposition: calls between public functions inside the
# library stay direct (and inlinable) instead of going through the PLT.
LIB_CFLAGS := -fPIC -fvisibility=hidden -fno-semantic-interposition
$(LIB_OBJ): CFLAGS += $(LIB_CFLAGS)
CLI_SRC := $(sort $(wildcard cli/*.c))
CLI_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(CLI_SRC))
TEST_SRC := $(sort $(wildcard tests/test_*.c))
TEST_BIN := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRC))
TESTLIB_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(sort $(wildcard tests/lib/*.c)))

.PHONY: all lib check demo deps clean help fixtures
# Keep the object files of tests: otherwise make deletes them after `make
# check` and its "rm" lines come after the summary, which must stay last.
.SECONDARY:
all: $(BUILD)/cnnviz $(SHLIB) $(BUILD)/cnnviz.1 $(TEST_BIN)
lib: $(STLIB) $(SHLIB)

help:
	@echo "make deps     install the Debian packages cnnviz needs (root)"
	@echo "make          build libcnnviz.a, libcnnviz.so, the cnnviz tool and the tests"
	@echo "make lib      only the libraries: build/libcnnviz.a and build/libcnnviz.so (-> .so.$(VERSION))"
	@echo "make check    build and run every test"
	@echo "make install  PREFIX=/usr/local DESTDIR=: the tool, libcnnviz.so/.a, headers, cnnviz.pc, cnnviz.1 (mk/install.mk); make uninstall"
	@echo "make demo     install what is missing, build, run cnnviz on the bundled model"
	@echo "make fixtures regenerate test fixtures with PyTorch (needs python3-torch)"
	@echo "make check-asan / check-valgrind / fuzz   hardening runs (mk/hardening.mk, docs/robustness.md)"
	@echo "make check-slurm  a Slurm job array on a local one-node cluster vs one process (mk/slurm.mk, docs/scale.md)"

deps:
	scripts/install-deps.sh

$(GEN)/onnx.pb-c.c $(GEN)/onnx.pb-c.h: /usr/include/onnx/onnx.proto
	@mkdir -p $(GEN)
	protoc-c --c_out=$(GEN) -I/usr/include/onnx /usr/include/onnx/onnx.proto

# Objects remember the flags they were built with: when CC or CFLAGS
# change (a pull that adds -fPIC, OPT=...), every object is rebuilt instead
# of mixing old and new ones (a non-PIC object cannot go into the .so).
FLAGS_STAMP := $(BUILD)/.flags
FLAGS_NOW   := $(CC) $(CFLAGS) $(LIB_CFLAGS) $(ISA_LEVELS)
$(shell mkdir -p $(BUILD) && printf '%s\n' '$(FLAGS_NOW)' | cmp -s - $(FLAGS_STAMP) || \
        printf '%s\n' '$(FLAGS_NOW)' > $(FLAGS_STAMP))

$(BUILD)/gen/onnx.pb-c.o: $(GEN)/onnx.pb-c.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -w -c $< -o $@

$(BUILD)/%.o: %.c $(GEN)/onnx.pb-c.h $(FLAGS_STAMP) $(wildcard include/*.h src/*/*.h cli/*.h tests/lib/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

define ISA_RULE
$$(BUILD)/%.$(1).o: %.c $$(GEN)/onnx.pb-c.h $$(FLAGS_STAMP) $$(wildcard include/*.h src/*/*.h)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CFLAGS) $$(ISA_FLAGS_$(1)) -c $$< -o $$@.tmp
	$$(OBJCOPY) --wildcard --keep-global-symbol='*_$(1)' $$@.tmp $$@
	@rm -f $$@.tmp
endef
$(foreach l,$(ISA_LEVELS),$(eval $(call ISA_RULE,$(l))))

$(BUILD)/libcnnviz.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

# The shared library from the same objects. -z defs: every symbol it uses
# resolves in the libraries named here, so a program needs only -lcnnviz.
$(SHLIB_REAL): $(LIB_OBJ)
	$(CC) -shared $(LDFLAGS) -Wl,-soname,$(SONAME) -Wl,-z,defs -o $@ $(LIB_OBJ) $(LDLIBS)

$(BUILD)/$(SONAME): $(SHLIB_REAL)
	ln -sf $(notdir $<) $@

$(SHLIB): $(BUILD)/$(SONAME)
	ln -sf $(notdir $<) $@

$(BUILD)/cnnviz: $(CLI_OBJ) $(BUILD)/libcnnviz.a
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/libcnnviz.a $(LDLIBS)

# The manual page, from the tables --help prints (cli/manpage.c).
$(BUILD)/cnnviz.1: $(BUILD)/cnnviz
	$(BUILD)/cnnviz man > $@.tmp && mv $@.tmp $@

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(TESTLIB_OBJ) $(BUILD)/libcnnviz.a
	$(CC) $(LDFLAGS) -o $@ $< $(TESTLIB_OBJ) $(BUILD)/libcnnviz.a $(LDLIBS)

check: all
	tests/run.sh $(BUILD)

demo:
	scripts/install-deps.sh --if-missing
	$(MAKE) $(BUILD)/cnnviz
	scripts/demo.sh $(BUILD)/cnnviz

clean:
	rm -rf build

# Benchmarks (bench/*.c drivers; the .py scripts run them beside PyTorch).
BENCH_SRC := $(sort $(wildcard bench/*.c))
BENCH_BIN := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))
$(BUILD)/bench/%: $(BUILD)/bench/%.o $(BUILD)/libcnnviz.a
	$(CC) $(LDFLAGS) -o $@ $< $(BUILD)/libcnnviz.a $(LDLIBS)
bench: $(BENCH_BIN)
.PHONY: bench

# Optional fragments (fixtures, ...): one file per topic.
-include mk/*.mk
