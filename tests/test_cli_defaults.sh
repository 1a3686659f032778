#!/bin/sh
# `cnnviz config` writes a model's sidecar and every command then takes its
# preprocessing: an undeclared model gets a loud WARNING and a summary line
# that says the preprocessing was assumed; a declared one gets neither and
# the same answer as the flags; a broken sidecar is an error naming it and
# `config --clear` repairs it. With ../shared: SqueezeNet (raw BGR) on the
# bus is "school bus" once declared, not torch's "mosquito net".
# --resize crop|pad of a square photo for a square input change nothing; an unknown policy is refused.
# `filters --class K` maximises the class-score layer's filter K.
# Run by tests/run.sh within `make check`.
cd "$(dirname "$0")/.." || exit 1
name=cli_defaults
BUILD=${BUILD:-build}
cli=$BUILD/cnnviz
if [ ! -x "$cli" ]; then
    echo "SKIP all ($cli missing: run make)"; echo "$name: 0 passed, 0 failed, 1 skipped"; exit 0
fi
tmp=$(mktemp -d /tmp/cnnviz-test-config-XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0 skip=0
ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }
cp tests/fixtures/eval/cnn.onnx "$tmp/m.onnx"
img=$(ls models/samples/*.png | head -n 1)
m=$tmp/m.onnx

"$cli" predict --model "$m" --img "$img" > "$tmp/out" 2> "$tmp/err"; rc=$?
if [ $rc -eq 0 ] && grep -q "WARNING: .*declares no preprocessing" "$tmp/err" &&
        head -n 1 "$tmp/out" | grep -q "preprocessing ASSUMED: torch" &&
        [ "$(grep -c WARNING "$tmp/err")" -eq 1 ]; then
    ok undeclared_is_loud_once
else
    bad undeclared_is_loud_once "rc $rc; $(head -n 1 "$tmp/out"); $(cat "$tmp/err")"
fi

"$cli" config --model "$m" --preprocess raw --bgr > "$tmp/out" 2>&1; rc=$?
if [ $rc -eq 0 ] && [ -f "$m.cnnviz.json" ] && grep -q '"channel_order":[[:space:]]*"BGR"' "$m.cnnviz.json"; then
    ok config_writes_sidecar
else
    bad config_writes_sidecar "rc $rc; $(cat "$tmp/out")"
fi

"$cli" predict --model "$m" --img "$img" > "$tmp/side" 2> "$tmp/err"
"$cli" predict --model "$m" --img "$img" --preprocess raw --bgr > "$tmp/flags" 2> /dev/null
if ! grep -q -i "assum" "$tmp/err" "$tmp/side" && cmp -s "$tmp/side" "$tmp/flags"; then
    ok sidecar_equals_flags
else
    bad sidecar_equals_flags "$(cat "$tmp/err"; diff "$tmp/side" "$tmp/flags")"
fi

"$cli" config --model "$m" > "$tmp/out" 2>&1
if grep -q "cnnviz.json: preprocess raw BGR" "$tmp/out"; then ok config_shows; else bad config_shows "$(cat "$tmp/out")"; fi

cp "$m.cnnviz.json" "$tmp/before"
"$cli" config --model "$m" --preprocess magic > "$tmp/out" 2>&1; rc=$?
if [ $rc -eq 2 ] && cmp -s "$m.cnnviz.json" "$tmp/before"; then
    ok bad_setting_is_usage_error
else
    bad bad_setting_is_usage_error "rc $rc; $(cat "$tmp/out")"
fi

echo '{"preprocess": "torch", "colour": 1}' > "$m.cnnviz.json"
"$cli" predict --model "$m" --img "$img" > /dev/null 2> "$tmp/err"; rc=$?
"$cli" config --model "$m" --clear --preprocess unit > /dev/null 2>&1; rc2=$?
if [ $rc -eq 1 ] && grep -q 'm.onnx.cnnviz.json: unknown key "colour"' "$tmp/err" && [ $rc2 -eq 0 ] &&
        "$cli" predict --model "$m" --img "$img" > /dev/null 2>&1; then
    ok broken_sidecar_named_and_repaired
else
    bad broken_sidecar_named_and_repaired "rc $rc/$rc2; $(cat "$tmp/err")"
fi

sqm=tests/fixtures/filters/small_net.onnx   # a square input, as the photo
"$cli" predict --model $sqm --img "$img" --resize squash > "$tmp/sq" 2>/dev/null
"$cli" predict --model $sqm --img "$img" --resize crop > "$tmp/cr" 2>/dev/null
"$cli" predict --model $sqm --img "$img" --resize pad > "$tmp/pd" 2>/dev/null
"$cli" predict --model "$m" --img "$img" --resize crop > "$tmp/cr2" 2>/dev/null  # 20 x 24: crops
"$cli" predict --model $sqm --img "$img" --resize stretch > /dev/null 2> "$tmp/err"; rc=$?
if cmp -s "$tmp/sq" "$tmp/cr" && cmp -s "$tmp/sq" "$tmp/pd" && [ -s "$tmp/sq" ] && [ $rc -ne 0 ] &&
        grep -q "squash, crop or pad" "$tmp/err"; then
    ok resize_policies
else
    bad resize_policies "rc $rc; $(cat "$tmp/err"; diff "$tmp/sq" "$tmp/cr")"
fi

f=tests/fixtures/filters/small_net.onnx
"$cli" filters --model "$f" --class 4 --method seed --iterations 2 --out "$tmp/fc" > "$tmp/out" 2>&1; rc=$?
score=$("$cli" layers --model "$f" 2>/dev/null | tail -n 1 | awk '{print $1}')
if [ $rc -eq 0 ] && grep -q "^4[[:space:]]" "$tmp/fc/filters.txt" && grep -q "class 4" "$tmp/out"; then
    ok filters_class
else
    bad filters_class "rc $rc; $(cat "$tmp/out")"
fi
"$cli" filters --model "$f" --class 4 --layer x --out "$tmp/fc2" > /dev/null 2>&1; rc=$?
"$cli" filters --model "$f" --class 99 --out "$tmp/fc3" > "$tmp/out" 2>&1; rc2=$?
if [ $rc -eq 2 ] && [ $rc2 -ne 0 ] && [ ! -e "$tmp/fc3" ]; then
    ok filters_class_refusals
else
    bad filters_class_refusals "rc $rc/$rc2; $(cat "$tmp/out")"
fi

sq=../shared/models/squeezenet1.1_fp16_imagenet
if [ -f "$sq/SqueezeNet_fp16.onnx" ] && [ -f ../shared/images/bus.jpg ]; then
    cp "$sq/SqueezeNet_fp16.onnx" "$sq/Labels.txt" "$tmp/"
    "$cli" config --model "$tmp/SqueezeNet_fp16.onnx" --preprocess raw --bgr --labels Labels.txt > /dev/null 2>&1
    top=$("$cli" predict --model "$tmp/SqueezeNet_fp16.onnx" --img ../shared/images/bus.jpg --top 1 2>&1 | sed -n 2p)
    case "$top" in *"school bus"*) ok squeezenet_declared_is_right ;;
        *) bad squeezenet_declared_is_right "$top" ;; esac
else
    echo "SKIP squeezenet_declared_is_right (../shared models or images absent)"; skip=$((skip + 1))
fi
echo "$name: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
