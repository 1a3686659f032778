# make check-slurm: cnnviz as a 4-task Slurm job array on a one-node local
# cluster equals one process byte for byte (scripts/slurm/check-slurm.sh;
# docs/scale.md). Root; installs slurm-wlm and munge when missing; stops
# its daemons whatever happens, and by itself within 10 minutes at most
# (its own waits end sooner).
.PHONY: check-slurm
check-slurm: $(BUILD)/cnnviz
	timeout -k 10 600 scripts/slurm/check-slurm.sh $(BUILD)/cnnviz
