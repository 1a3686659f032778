#!/bin/sh
# make check-slurm: cnnviz as a 4-task Slurm job array on a one-node local
# cluster gives what one process gives, byte for byte.
#
# Starts the cluster (scripts/slurm/local-cluster.sh; installs slurm-wlm and
# munge when missing), makes 19 images (the 10 bundled samples, 8 PNGs
# cnnviz draws from them, 1 truncated PNG), runs `cnnviz occlusion` and
# `cnnviz explain --method gradcam` (and `predict --batch 1`) over them once as one process and once
# as scripts/slurm/cnnviz-array.sbatch with --array=0-3 (one thread each
# side, so the floating-point sums are the same), merges the shards with
# cnnviz merge-manifests as a dependent job, and checks: the merged
# manifest equals the single run's apart from "seconds"; every output file
# is byte-identical (summary.json apart from its timing lines); the corrupt
# image is "failed" and only its shard's task exited 1; the gallery has a
# card per image; a shard that lost its last line (killed) and is
# resubmitted redoes only that image and the result is the same again; and
# a plain array without --shard takes its shards from Slurm's variables. The cluster is stopped by a trap whatever happens, and
# the end checks that no daemon it started is left. Every wait has a
# deadline: the whole check stops by itself within a few minutes.
#
#   scripts/slurm/check-slurm.sh [path/to/cnnviz]
set -u
cd "$(dirname "$0")/../.." || exit 1
CLI=$(realpath "${1:-build/cnnviz}")
name=check-slurm
pass=0 fail=0 skip=0
ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }
finish() {
    echo "$name: $pass passed, $fail failed, $skip skipped"
    [ "$fail" -eq 0 ]
    exit $?
}

if [ ! -x "$CLI" ]; then
    echo "$name: $CLI missing (make first)"; exit 1
fi
if ! "$CLI" predict --help 2>/dev/null | grep -q -- '--shard'; then
    echo "SKIP $name: $CLI has no batch mode (--shard) yet"
    echo "$name: 0 passed, 0 failed, 1 skipped"; exit 0
fi
scripts/install-deps.sh --with-slurm >/dev/null || { echo "$name: cannot install slurm-wlm and munge"; exit 1; }
PATH=$PATH:/usr/sbin

W=$(mktemp -d /tmp/cnnviz-slurm-XXXXXX) || exit 1
chmod 755 "$W"
cleanup() {
    scripts/slurm/local-cluster.sh stop "$W/cluster"
    left=$(pgrep -f -- "$W" || true)
    if [ -n "$left" ]; then
        echo "FAIL no_daemon_left: still running: $left"; kill $left 2>/dev/null
    fi
    rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# ---- images: bundled, generated, one corrupt --------------------------------
mkdir -p "$W/images/samples" "$W/images/drawn/a" "$W/images/drawn/b" "$W/gen"
cp models/samples/*.png "$W/images/samples/"
for s in bag sneaker; do
    OMP_NUM_THREADS=1 "$CLI" occlusion --model models/fashion_cnn.onnx --img "models/samples/$s.png" \
        --out "$W/gen/$s" --occ_size 6 --stride 3 -q >/dev/null 2>&1
done
d=a
for s in bag sneaker; do
    for f in heatmap heatmap_reg overlay overlay_alpha; do
        cp "$W/gen/$s/$f.png" "$W/images/drawn/$d/${s}_$f.png" 2>/dev/null
    done
    d=b
done
head -c 200 models/samples/coat.png > "$W/images/drawn/b/corrupt.png"
echo "not an image" > "$W/images/notes.txt"
n_img=$(find "$W/images" -name '*.png' | wc -l)
[ "$n_img" -ge 16 ] && ok "images_made_$n_img" || bad images_made "only $n_img images"

# ---- the cluster -------------------------------------------------------------
if ! scripts/slurm/local-cluster.sh start "$W/cluster"; then
    bad cluster_starts "see above"; finish
fi
ok cluster_starts
export SLURM_CONF="$W/cluster/slurm.conf"

# wait_jobs SECONDS JOBID...: until squeue lists none of them
wait_jobs() {
    t=$(( $(date +%s) + $1 )); shift
    for j in "$@"; do
        while squeue -h -j "$j" 2>/dev/null | grep -q .; do
            [ "$(date +%s)" -lt "$t" ] || { scancel "$@"; return 1; }
            sleep 1
        done
    done
}

# run_array LABEL CMD OUT OPTIONS...: the template as a 4-task array into
# OUT, then merge-manifests and the gallery as a job after it; sets jid.
run_array() {
    rl=$1 rcmd=$2 out=$3; shift 3
    mkdir -p "$W/logs"
    jid=$(cd "$W/logs" && CNNVIZ="$CLI" COMMAND="$rcmd" MODEL="$MODELP" IMAGES="$W/images" OUT="$out" \
          EXTRA="$* -q" sbatch --parsable --array=0-3 --cpus-per-task=1 "$REPO/scripts/slurm/cnnviz-array.sbatch" 2>&1)
    case "$jid" in ''|*[!0-9]*) bad "${rl}_submit" "$jid"; return 1 ;; esac
    mid=$(cd "$W/logs" && sbatch --parsable --dependency=afterany:"$jid" --output="merge-%j.log" \
          --wrap "'$CLI' merge-manifests --out '$out' && '$GALLERY' gallery --out '$out'" 2>&1)
    if ! wait_jobs 120 "$jid" "$mid"; then
        bad "${rl}_jobs_finish" "not done in 120 s: $(squeue 2>&1 | tail -n 5)"; return 1
    fi
    ok "${rl}_jobs_finish"
}

# task_codes LABEL SINGLE: the array's exit codes, 1 only for the corrupt image's shard
task_codes() {
    codes=$(scontrol show job "$jid" 2>/dev/null | sed -n 's/.*ArrayTaskId=\([0-9]*\).*/\1/p;s/.* ExitCode=\([0-9:]*\).*/\1/p' |
            paste -d' ' - - | sort -n | paste -sd' ')
    bad_k=$(grep -o '"index":[0-9]*,"input":"[^"]*corrupt.png"' "$2/manifest.jsonl" 2>/dev/null |
            sed 's/"index":\([0-9]*\),.*/\1/')
    expect=""
    for k in 0 1 2 3; do
        e=0:0
        [ -n "$bad_k" ] && [ $((bad_k % 4)) -eq $k ] && e=1:0
        expect="$expect $k $e"
    done
    [ "$codes" = "${expect# }" ] && ok "${1}_task_exit_codes" || bad "${1}_task_exit_codes" "got '$codes', want '${expect# }'"
}

# compare LABEL SINGLE SHARDED: manifests apart from "seconds", every file byte for byte
compare() {
    label=$1 single=$2 sharded=$3   # (callers pass their own single/sharded: same values)
    strip() { sed 's/,"seconds":[^,}]*//' "$1"; }
    if [ -s "$single/manifest.jsonl" ] && [ "$(strip "$single/manifest.jsonl")" = "$(strip "$sharded/manifest.jsonl" 2>/dev/null)" ]; then
        ok "${label}_merged_manifest_equal"
    else
        bad "${label}_merged_manifest_equal" "$(diff "$single/manifest.jsonl" "$sharded/manifest.jsonl" 2>&1 | head -n 6)"
    fi
    lines=$(grep -c . "$sharded/manifest.jsonl" 2>/dev/null)
    [ "$lines" = "$n_img" ] && ok "${label}_one_line_per_image" || bad "${label}_one_line_per_image" "$lines lines, $n_img images"
    if grep '"input":"[^"]*corrupt.png"' "$sharded/manifest.jsonl" 2>/dev/null | grep -q '"status":"failed","error":"[^"]'; then
        ok "${label}_corrupt_failed"
    else
        bad "${label}_corrupt_failed" "$(grep corrupt "$sharded/manifest.jsonl" 2>&1)"
    fi
    (cd "$single" && find . -type f ! -name 'manifest*.jsonl' | sort) > "$W/files-single"
    (cd "$sharded" && find . -type f ! -name 'manifest*.jsonl' ! -name index.html | sort) > "$W/files-sharded"
    nf=$(wc -l < "$W/files-single")
    differ=""
    while read -r f; do
        case "$f" in   # summary.json holds timings
            */summary.json) [ "$(grep -v 'seconds"' "$single/$f")" = "$(grep -v 'seconds"' "$sharded/$f")" ] || differ="$differ $f" ;;
            *) cmp -s "$single/$f" "$sharded/$f" || differ="$differ $f" ;;
        esac
    done < "$W/files-single"
    if [ "$nf" -gt "$n_img" ] && cmp -s "$W/files-single" "$W/files-sharded" && [ -z "$differ" ]; then
        ok "${label}_outputs_identical_$nf"
    else
        bad "${label}_outputs_identical" "$nf files; differ:$(echo "$differ" | cut -c1-300); listing: $(diff "$W/files-single" "$W/files-sharded" | head -n 4)"
    fi
    cards=$(grep -c '<article ' "$sharded/index.html" 2>/dev/null)
    [ "$cards" = "$n_img" ] && ok "${label}_gallery_cards" || bad "${label}_gallery_cards" "$cards cards: $(cat "$W"/logs/merge-*.log 2>/dev/null | tail -n 3)"
}

# check_command NAME CMD OPTIONS...: single run vs array run; the first
# command checked also resumes: its shard 1 loses its last manifest line (as
# if killed before writing it), the same array is submitted again, and the
# result must again equal the single run, with that image done again (and
# the failed corrupt image retried, as --resume retries failures).
resumed=""
check_command() {
    label=$1 cmd=$2; shift 2
    if ! "$CLI" "$cmd" --help 2>/dev/null | grep -q -- '--shard'; then
        echo "SKIP $label: cnnviz $cmd has no batch mode"; skip=$((skip + 1)); return
    fi
    single=$W/$label-single sharded=$W/$label-sharded
    # the model named as the array names it: summary.json records the path
    OMP_NUM_THREADS=1 "$CLI" "$cmd" --model "$MODELP" --img "$W/images" --out "$single" \
        "$@" -q > "$W/$label-single.log" 2>&1
    rc=$?
    [ $rc -eq 1 ] && ok "${label}_single_exit_1" || bad "${label}_single_exit_1" "exit $rc: $(tail -n 3 "$W/$label-single.log")"
    run_array "$label" "$cmd" "$sharded" "$@" || return
    task_codes "$label" "$single"
    compare "$label" "$single" "$sharded"
    [ -z "$resumed" ] || return
    resumed=$label
    m=$sharded/manifest-1-of-4.jsonl
    n=$(grep -c . "$m")
    total=$(cat "$sharded"/manifest-*-of-4.jsonl | grep -c .)
    last=$(tail -n 1 "$m" | sed 's/^{"index":\([0-9]*\),.*/\1/')
    head -n $((n - 1)) "$m" > "$m.cut" && mv "$m.cut" "$m"
    rm -f "$sharded/manifest.jsonl"
    run_array "${label}_resume" "$cmd" "$sharded" "$@" || return
    n2=$(grep -c . "$m")
    total2=$(cat "$sharded"/manifest-*-of-4.jsonl | grep -c .)
    redone=$(tail -n 1 "$m" | sed 's/^{"index":\([0-9]*\),.*/\1/')
    [ "$n2" = "$n" ] && [ "$redone" = "$last" ] && [ "$total2" = $((total + 1)) ] && ok "${label}_resume_redoes_only_the_lost_image" ||
        bad "${label}_resume_redoes_only_the_lost_image" "shard 1: $n2 lines (want $n), last index $redone (want $last); all shards $total2 lines (want $((total + 1)): the lost one and the corrupt image, retried)"
    compare "${label}_resume" "$single" "$sharded"
}
# env_shard: the shard from Slurm's own variables, no --shard (a plain
# array with --wrap): predict --batch 1 equals the single run again.
env_shard() {
    single=$W/predict-single out=$W/predict-env
    [ -s "$single/manifest.jsonl" ] || return
    jid=$(cd "$W/logs" && OMP_NUM_THREADS=1 sbatch --parsable --array=0-3 --cpus-per-task=1 --output="env-%a.log" \
          --wrap "'$CLI' predict --model '$MODELP' --img '$W/images' --out '$out' --batch 1 -q" 2>&1)
    case "$jid" in ''|*[!0-9]*) bad env_shard_submit "$jid"; return ;; esac
    wait_jobs 120 "$jid" || { bad env_shard_jobs_finish "not done in 120 s"; return; }
    n=$(ls "$out"/manifest-*-of-4.jsonl 2>/dev/null | wc -l)
    "$CLI" merge-manifests --out "$out" >/dev/null 2>&1
    strip() { sed 's/,"seconds":[^,}]*//' "$1"; }
    if [ "$n" = 4 ] && grep -q "note: .*SLURM_ARRAY_TASK" "$W"/logs/env-*.log &&
            [ "$(strip "$single/manifest.jsonl")" = "$(strip "$out/manifest.jsonl")" ]; then
        ok env_shard_from_slurm_variables
    else
        bad env_shard_from_slurm_variables "$n shard manifests; $(cat "$W"/logs/env-0.log | head -n 3)"
    fi
}
REPO=$PWD
# the gallery command: CLI's, or this tree's build when CLI is another branch's without it
GALLERY=$CLI
"$CLI" gallery --help >/dev/null 2>&1 || GALLERY=$REPO/build/cnnviz
MODELP=$REPO/models/fashion_cnn.onnx
check_command occlusion occlusion --occ_size 6 --stride 3
check_command gradcam explain --method gradcam
# predict batches its forwards: byte-identical across shardings with --batch 1
check_command predict predict --batch 1
env_shard

scripts/slurm/local-cluster.sh stop "$W/cluster"
left=$(pgrep -f -- "$W/cluster" || true)
[ -z "$left" ] && ok no_daemon_left || bad no_daemon_left "pids $left"
finish
