# The README's pictures, regenerated from real runs (docs/make_figures.sh):
#   make docs            all of them (the filter figure takes about 15 minutes on 2 cores)
#   make docs-quick      all but the filter figure (a minute)
.PHONY: docs docs-quick
docs: $(BUILD)/cnnviz
	docs/make_figures.sh $(BUILD)/cnnviz ../shared
docs-quick: $(BUILD)/cnnviz
	docs/make_figures.sh $(BUILD)/cnnviz ../shared --no-filters
