# Attribution methods (cnnviz explain): PyTorch references and the benchmark.
# Nothing here runs during `make` or `make check` (the small references are
# committed; the torchvision ones are large and their tests skip when absent).
#
#   make fixtures-explain        regenerate tests/fixtures/explain/ (small nets, committed)
#   make fixtures-explain-large  torchvision resnet18, vgg16, mobilenet_v2 (random weights)
#                                into $(BUILD)/fixtures/explain; EXPLAIN_MODELS="resnet18" picks some
#   make check-explain-large     tests/test_explain.c on them (VGG16's Score-CAM: 512 forwards)
#   make bench-explain           every method beside PyTorch autograd (bench/bench_explain.py)

PYTORCH_PYTHON ?= /usr/bin/python3
EXPLAIN_MODELS ?= resnet18 vgg16 mobilenet_v2

.PHONY: fixtures-explain fixtures-explain-large check-explain-large bench-explain
fixtures: fixtures-explain

fixtures-explain:
	$(PYTORCH_PYTHON) tests/fixtures/make_explain_ref.py small tests/fixtures/explain

fixtures-explain-large:
	$(PYTORCH_PYTHON) tests/fixtures/make_explain_ref.py large $(BUILD)/fixtures/explain $(EXPLAIN_MODELS)

check-explain-large: $(BUILD)/tests/test_explain
	CNNVIZ_EXPLAIN_DIR=$(BUILD)/fixtures/explain $(BUILD)/tests/test_explain

bench-explain: $(BUILD)/bench/bench_explain
	$(PYTORCH_PYTHON) bench/bench_explain.py
