# Filter visualisation (cnnviz filters): fixtures, benchmark, README figure.
#
#   make fixtures-filters    regenerate tests/fixtures/filters/ (small, committed)
#   make bench-filters       one seed iteration, 16 filters of VGG16 conv5_3 at 128x128,
#                            against PyTorch autograd (exports the model to bench/out/ first)
#   make docs-filters        docs/filters_seed_vs_lucid.png on ../shared's SqueezeNet
#                            (about 15 minutes on 2 cores)

.PHONY: fixtures-filters bench-filters docs-filters
fixtures: fixtures-filters

fixtures-filters:
	$(PYTORCH_PYTHON) tests/fixtures/make_filters_ref.py

bench-filters: $(BUILD)/libcnnviz.a
	bench/bench_filters.sh

docs-filters: $(BUILD)/cnnviz
	docs/make_filters_figure.sh $(BUILD)/cnnviz
