#!/usr/bin/env bash
# Builds the fuzz targets (fuzz_targets/, entry points in rust/fuzzing.rs) with plain
# cargo on the stable toolchain and runs each for FUZZ_SECONDS on its committed corpus;
# exits non-zero when one crashes (a panic, a timeout, an out-of-memory), leaving the
# input in fuzz/artifacts/<target>/. `make fuzz` runs it; so does .ci/run, last.
#
# No cargo-fuzz, no nightly: libFuzzer comes from the `libfuzzer-sys` crate (built with
# the system C++ compiler), and the coverage instrumentation it needs is added by the
# rustc wrapper fuzz/rustc-sancov, to our crate and the targets only.
#
# Environment: FUZZ_SECONDS (30), FUZZ_TARGETS (all of them), FUZZ_JOBS (targets run at
# once, 1). New interesting inputs go to fuzz/target/new-corpus/<target>, not into the
# committed corpus; to keep them: <target binary> -merge=1 fuzz/corpus/<t> <that dir>.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
all_targets="uri static_path range conditional x509 header_join proxy_protocol forwarded request_head"
seconds="${FUZZ_SECONDS:-30}"
targets="${FUZZ_TARGETS:-$all_targets}"
jobs="${FUZZ_JOBS:-1}"

case "$seconds$jobs" in
    *[!0-9]*) echo "FUZZ_SECONDS and FUZZ_JOBS take whole numbers" >&2; exit 2 ;;
esac

export RUSTC_WRAPPER="$here/rustc-sancov"
export FUZZ_INSTRUMENT="_core $all_targets"
# Its own target directory: instrumented objects must never mix with the extension's.
export CARGO_TARGET_DIR="$here/target"

echo "== fuzz: build ($(rustc --version))"
start=$(date +%s)
# --locked: fuzz/Cargo.lock is used as committed (cargo test checks that it agrees with
# the main Cargo.lock on every shared package).
cargo build --manifest-path "$here/Cargo.toml" --release --locked --bins
echo "== fuzz: built in $(($(date +%s) - start)) s"

logs="$here/logs"
mkdir -p "$logs"

# Runs one target; its libFuzzer output goes to logs/<target>.log.
run_one() {
    local t="$1"
    local corpus="$here/corpus/$t"
    local fresh="$CARGO_TARGET_DIR/new-corpus/$t"
    local artifacts="$here/artifacts/$t/"
    if [ ! -d "$corpus" ]; then
        echo "fuzz: no corpus at $corpus" >&2
        return 1
    fi
    mkdir -p "$fresh" "$artifacts"
    "$CARGO_TARGET_DIR/release/$t" "$fresh" "$corpus" \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$artifacts" -print_final_stats=1 >"$logs/$t.log" 2>&1
}

failed=""
pending=()
names=()
finish() {
    local i
    for i in "${!pending[@]}"; do
        local t="${names[$i]}"
        if wait "${pending[$i]}"; then
            local runs
            runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$logs/$t.log" | grep -o '[0-9]*$' || true)
            echo "fuzz $t: ok, ${runs:-?} executions in $seconds s"
        else
            echo "fuzz $t: FAILED (log: $logs/$t.log; input: $here/artifacts/$t/)"
            tail -40 "$logs/$t.log"
            failed="$failed $t"
        fi
    done
    pending=()
    names=()
}

for t in $targets; do
    run_one "$t" &
    pending+=("$!")
    names+=("$t")
    if [ "${#pending[@]}" -ge "$jobs" ]; then
        finish
    fi
done
finish

if [ -n "$failed" ]; then
    echo "fuzz: crashed:$failed" >&2
    exit 1
fi
echo "== fuzz: every target ran $seconds s without a crash ($(($(date +%s) - start)) s in all)"
