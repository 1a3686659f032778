# Hardening: sanitizer and valgrind test runs, fuzzing (docs/robustness.md).
#
#   make check-asan        library + tests with AddressSanitizer and UBSan
#                          (build-asan/); any report fails the run. CI runs it.
#   make check-valgrind    the test suite under valgrind memcheck (build-valgrind/);
#                          errors or definite leaks fail. Slow; not in CI.
#   make fuzz              build the libFuzzer targets with clang (build-fuzz/)
#                          and run each for FUZZ_SECONDS (default 60);
#                          `make -j2 fuzz FUZZ_SECONDS=600` runs two at a time.
#   make fuzz-build        only build them: build-fuzz/fuzz_{onnx,keras,image,npy}
#   make fuzz-onnx ...     run one target
#
# Crashes land in build-fuzz/artifacts/<target>/; once fixed, commit the
# input to tests/fuzz/regress/<target>/ so test_fuzz_replay keeps it fixed.

# ---- the replay test links the harnesses (built by the ordinary compiler) ----

FUZZ_NAMES   := onnx keras image npy
FUZZ_HARNESS := $(patsubst %,tests/fuzz/fuzz_%.c,$(FUZZ_NAMES)) tests/fuzz/fuzz_common.c
FUZZ_REPLAY_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(FUZZ_HARNESS))

$(BUILD)/tests/test_fuzz_replay: $(BUILD)/tests/test_fuzz_replay.o $(FUZZ_REPLAY_OBJ) $(TESTLIB_OBJ) $(BUILD)/libcnnviz.a
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(BUILD)/libcnnviz.a $(LDLIBS)

$(BUILD)/tests/fuzz/%.o: tests/fuzz/%.c tests/fuzz/fuzz.h $(GEN)/onnx.pb-c.h $(wildcard include/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# ---- sanitizers ----------------------------------------------------------------

# -O1 keeps the stacks readable and the run fast enough; no -march=native so
# that a build-asan directory works on any x86-64 CI runner.
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
# detect_leaks: LeakSanitizer at exit. halt_on_error / abort_on_error: the
# first report ends the program, which tests/run.sh counts as a crash.
# Suppressions: only third-party reports that are understood (see the file).
SAN_ENV := ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1 \
           UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1:suppressions=$(CURDIR)/tests/sanitizer/ubsan.supp \
           LSAN_OPTIONS=suppressions=$(CURDIR)/tests/sanitizer/lsan.supp:print_suppressions=0

.PHONY: check-asan build-asan check-valgrind build-valgrind fuzz fuzz-build fuzz-seeds

build-asan:
	$(MAKE) BUILD=build-asan OPT="-O1 -g" EXTRA_CFLAGS="$(SAN_FLAGS)" EXTRA_LDFLAGS="$(SAN_FLAGS)" all

# Everything runs as in `make check` except the opt-in torchvision models
# (`make fixtures-large`: full ImageNet networks, minutes each under the
# sanitizers), which are pointed at a directory that does not exist so they
# SKIP with a line naming it. SAN_TORCHVISION_DIR=build/fixtures/torchvision
# runs them anyway. Measured: docs/robustness.md.
SAN_TORCHVISION_DIR ?= skipped-under-sanitizers
check-asan: build-asan
	$(SAN_ENV) CNNVIZ_TORCHVISION_DIR=$(SAN_TORCHVISION_DIR) tests/run.sh build-asan

# ---- valgrind --------------------------------------------------------------------

# Plain -O1 -g build (no -march=native: valgrind does not know every
# extension), one thread each for OpenMP and OpenBLAS (valgrind serialises
# threads anyway), errors and definite leaks fail the test program.
VALGRIND := valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
            --show-leak-kinds=definite --track-origins=yes --suppressions=$(CURDIR)/tests/sanitizer/valgrind.supp

build-valgrind:
	$(MAKE) BUILD=build-valgrind OPT="-O1 -g" all

check-valgrind: build-valgrind
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 CNNVIZ_TORCHVISION_DIR=$(SAN_TORCHVISION_DIR) \
	    CNNVIZ_TEST_WRAPPER="$(VALGRIND)" tests/run.sh build-valgrind

# ---- libFuzzer ------------------------------------------------------------------

FUZZ_SECONDS ?= 60
FUZZ_CC      ?= clang
FUZZ_BUILD   := build-fuzz
# (-Wno-psabi: clang notes that static vector helpers would pass AVX-512
# vectors differently without -march; they are inlined, no ABI is crossed)
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -Wno-psabi
# Extra libFuzzer flags, e.g. FUZZ_FLAGS=-jobs=2
FUZZ_FLAGS   ?=
FUZZ_BIN     := $(patsubst %,$(FUZZ_BUILD)/fuzz_%,$(FUZZ_NAMES))

# The library, instrumented for coverage (fuzzer-no-link) and sanitizers,
# by a sub-make with BUILD=build-fuzz (so this rule must not name that
# file: the sub-make would see it and recurse).
.PHONY: fuzz-lib
fuzz-lib:
	$(MAKE) BUILD=$(FUZZ_BUILD) CC=$(FUZZ_CC) OPT="-O1 -g" \
	    EXTRA_CFLAGS="$(FUZZ_SAN) -fsanitize=fuzzer-no-link" $(FUZZ_BUILD)/libcnnviz.a

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_common.c tests/fuzz/fuzz.h fuzz-lib
	$(FUZZ_CC) -std=c11 -D_GNU_SOURCE -O1 -g -Wall -Wextra -Wno-unused-parameter -DCV_LIBFUZZER \
	    -Iinclude $(PKG_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer -fopenmp \
	    -o $@ $< tests/fuzz/fuzz_common.c $(FUZZ_BUILD)/libcnnviz.a $(LDLIBS)

fuzz-build: $(FUZZ_BIN)

# Seeds that are not committed: built here, at run time. The ONNX backend
# test models (libonnx-testdata), and Keras recipes for every template,
# including the ../shared model when present. ../shared is only read.
ONNX_TESTDATA := /usr/share/libonnx-testdata/data
fuzz-seeds: $(BUILD)/tests/test_fuzz_replay
	@mkdir -p $(FUZZ_BUILD)/seeds/onnx $(FUZZ_BUILD)/seeds/keras
	@if [ -d $(ONNX_TESTDATA) ]; then \
	    for f in $(ONNX_TESTDATA)/node/*/model.onnx $(ONNX_TESTDATA)/simple/*/model.onnx; do \
	        [ -f "$$f" ] || continue; \
	        d=$$(basename $$(dirname "$$f")); \
	        [ -f $(FUZZ_BUILD)/seeds/onnx/$$d.onnx ] || cp "$$f" $(FUZZ_BUILD)/seeds/onnx/$$d.onnx; \
	    done; fi
	$(BUILD)/tests/test_fuzz_replay --keras-seeds $(FUZZ_BUILD)/seeds/keras

# Seed directories per target: the first is the working corpus (grows).
FUZZ_SEEDS_onnx  := tests/fuzz/corpus/onnx tests/fixtures/onnx $(FUZZ_BUILD)/seeds/onnx $(wildcard models) \
                    $(wildcard ../shared/models/squeezenet1.1_fp16_imagenet)
FUZZ_SEEDS_keras := tests/fuzz/corpus/keras $(FUZZ_BUILD)/seeds/keras
FUZZ_SEEDS_image := tests/fuzz/corpus/image $(wildcard ../shared/images)
FUZZ_SEEDS_npy   := tests/fuzz/corpus/npy
# Single-threaded BLAS/OpenMP: two fuzzers share two cores.
FUZZ_ENV := OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \
            ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
            LSAN_OPTIONS=suppressions=$(CURDIR)/tests/sanitizer/lsan.supp

# (a static pattern rule: make skips implicit rules for phony targets)
FUZZ_RUNS := $(patsubst %,fuzz-%,$(FUZZ_NAMES))
.PHONY: $(FUZZ_RUNS)
$(FUZZ_RUNS): fuzz-%: $(FUZZ_BUILD)/fuzz_% fuzz-seeds
	@mkdir -p $(FUZZ_BUILD)/corpus/$* $(FUZZ_BUILD)/artifacts/$*
	@echo "fuzz-$*: $(FUZZ_SECONDS) s, log in $(FUZZ_BUILD)/fuzz-$*.log"
	@$(FUZZ_ENV) $(FUZZ_BUILD)/fuzz_$* -max_total_time=$(FUZZ_SECONDS) -timeout=25 -rss_limit_mb=3072 \
	    -max_len=$(if $(filter onnx,$*),4194304,1048576) \
	    $(if $(wildcard tests/fuzz/$*.dict),-dict=tests/fuzz/$*.dict) -print_final_stats=1 \
	    -artifact_prefix=$(FUZZ_BUILD)/artifacts/$*/ $(FUZZ_FLAGS) \
	    $(FUZZ_BUILD)/corpus/$* $(FUZZ_SEEDS_$*) > $(FUZZ_BUILD)/fuzz-$*.log 2>&1; \
	status=$$?; \
	grep -E "^#[0-9]+[[:space:]]+(INITED|DONE)|ERROR|SUMMARY|stat::number_of_executed_units|Test unit written" \
	    $(FUZZ_BUILD)/fuzz-$*.log | sed 's/^/fuzz-$*: /'; \
	exit $$status

fuzz: $(FUZZ_RUNS)
