# Fixtures made with PyTorch (python3-torch, torchvision, onnx for /usr/bin/python3).
# Nothing here runs during `make` or `make check`: the small fixtures are
# committed, the large ones are optional and their tests skip when absent.
#
#   make fixtures-nets       regenerate tests/fixtures/nets/ (small nets, committed)
#   make fixtures-occlusion  regenerate tests/fixtures/occlusion/ (committed)
#   make fixtures-large      export torchvision models into $(BUILD)/fixtures/torchvision/
#                            MODELS="resnet18 squeezenet1_1" picks some, OPSETS=13 fewer opsets
#   make check-torchvision   build and run tests/test_torchvision.c on them
#   make fashion-model       retrain models/fashion_cnn.onnx (about 4 minutes on 2 cores)

PYTORCH_PYTHON ?= /usr/bin/python3
MODELS ?=
OPSETS ?= 11,13,17

.PHONY: fixtures fixtures-nets fixtures-occlusion fixtures-large check-torchvision fashion-model
fixtures: fixtures-nets fixtures-occlusion

fixtures-occlusion:
	$(PYTORCH_PYTHON) tests/fixtures/make_occlusion_ref.py
	$(PYTORCH_PYTHON) tests/fixtures/make_square_model.py

fixtures-nets:
	$(PYTORCH_PYTHON) tests/fixtures/make_small_nets.py tests/fixtures/nets

fixtures-large:
	$(PYTORCH_PYTHON) tests/fixtures/make_torchvision.py --out $(BUILD)/fixtures/torchvision \
		--opsets $(OPSETS) $(MODELS)

check-torchvision: $(BUILD)/tests/test_torchvision
	CNNVIZ_TORCHVISION_DIR=$(BUILD)/fixtures/torchvision $(BUILD)/tests/test_torchvision

fashion-model:
	$(PYTORCH_PYTHON) models/train_fashion.py
