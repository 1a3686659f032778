# make check-slurm: cnnviz as a 4-task Slurm job array on a one-node local
# cluster equals one process byte for byte (scripts/slurm/check-slurm.sh;
# docs/scale.md). Root; installs slurm-wlm and munge when missing. A run
# takes about a minute; past 5 minutes timeout stops it, and its trap then
# stops the daemons (-k: 60 s for that before a KILL).
.PHONY: check-slurm
check-slurm: $(BUILD)/cnnviz
	timeout -k 60 300 scripts/slurm/check-slurm.sh $(BUILD)/cnnviz
