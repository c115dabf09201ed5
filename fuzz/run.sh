#!/usr/bin/env bash
# Runs every fuzz target for a fixed time, one after another, and records
# how long each ran, how many inputs it executed, its coverage and corpus,
# and any crash, in fuzz/results.json (read by `rumor-testnet reliability`,
# which writes docs/reliability.md) and fuzz/results.md.
#
#   fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Needs a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
# Corpora persist in fuzz/corpus/<target> between runs; crashes are saved in
# fuzz/artifacts/<target>/ and make the script exit 1.
set -euo pipefail
cd "$(dirname "$0")"

secs="${1:-180}"
shift || true
all=(tx_decode block_decode header_decode gossip_decode rr_decode tx_check block_check
    mempool_seq config_toml rpc_request)
targets=("${@:-${all[@]}}")
target_dir="${CARGO_TARGET_DIR:-$(pwd)/../target-fuzz}"
triple="$(rustc +nightly -vV | sed -n 's/^host: //p')"
bin_dir="$target_dir/$triple/release"

echo "== building ${#targets[@]} targets (nightly, sanitizer=address)"
cargo +nightly fuzz build --target-dir "$target_dir" >/dev/null

mkdir -p logs
commit="$(git -C .. describe --always --dirty 2>/dev/null || echo unknown)"
crashed=0
rows=()
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t"
    dict=()
    case "$t" in
        config_toml) dict=(-dict=dicts/config.dict) ;;
        rpc_request) dict=(-dict=dicts/rpc.dict) ;;
    esac
    log="logs/$t.log"
    echo "== $t for ${secs}s"
    status=0
    "$bin_dir/$t" "corpus/$t" "${dict[@]}" -max_total_time="$secs" -timeout=20 \
        -rss_limit_mb=3072 -max_len=65536 -print_final_stats=1 \
        -artifact_prefix="artifacts/$t/" >"$log" 2>&1 || status=$?
    execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
    rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)"
    rss="$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)"
    cov="$(grep -o 'cov: [0-9]*' "$log" | tail -1 | sed 's/cov: //')"
    corpus="$(find "corpus/$t" -type f | wc -l | tr -d ' ')"
    ran="$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)"
    outcome=clean
    if [ "$status" -ne 0 ]; then
        outcome="crash (exit $status, see fuzz/$log)"
        crashed=1
    fi
    echo "   $outcome: ${execs:-?} execs in ${ran:-?}s, cov ${cov:-?}, corpus $corpus"
    rows+=("{\"target\":\"$t\",\"seconds\":${ran:-0},\"executions\":${execs:-0},\"execs_per_sec\":${rate:-0},\"coverage\":${cov:-0},\"corpus\":$corpus,\"peak_rss_mb\":${rss:-0},\"outcome\":\"$outcome\"}")
done

date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
{
    echo "{\"date\":\"$date\",\"commit\":\"$commit\",\"seconds_per_target\":$secs,\"targets\":["
    (IFS=,; echo "${rows[*]}")
    echo "]}"
} >results.json
{
    echo "Fuzzing on $date, commit $commit, ${secs} s per target (libFuzzer, one job, AddressSanitizer)."
    echo
    echo "| target | ran (s) | executions | exec/s | coverage | corpus | outcome |"
    echo "|---|---|---|---|---|---|---|"
    for r in "${rows[@]}"; do
        echo "$r" | sed -E 's/.*"target":"([^"]*)","seconds":([0-9]*),"executions":([0-9]*),"execs_per_sec":([0-9]*),"coverage":([0-9]*),"corpus":([0-9]*),"peak_rss_mb":[0-9]*,"outcome":"([^"]*)".*/| `\1` | \2 | \3 | \4 | \5 | \6 | \7 |/'
    done
} >results.md
echo "== wrote fuzz/results.json and fuzz/results.md"
exit "$crashed"
