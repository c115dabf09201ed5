#!/usr/bin/env bash
# The long reliability runs, and docs/reliability.md from their output, in
# one command at one commit: every attack class against real nodes, a long
# kill -9 loop, the disk-failure, RPC-security and property tests, the fuzz
# targets (on a nightly toolchain with cargo-fuzz, if installed; if not it
# says so and the page keeps the last record, fuzz/results.json, with the
# commit it ran at), and optionally the soak.
#
#   testnet/reliability.sh                 # 60 kills
#   RUMOR_CRASH_LOOPS=200 testnet/reliability.sh
#   RUMOR_SOAK=30m testnet/reliability.sh  # the soak too: 16 nodes, 50 tx/s,
#                                          # restarts and partitions
#   RUMOR_FUZZ_SECS=0 testnet/reliability.sh   # skip fuzzing (default 180 s
#                                              # per target)
#
# The tree must be clean (the page names the commit; RUMOR_ALLOW_DIRTY=1 runs
# anyway, and the page then says "-dirty"). Release builds; results go to
# target/reliability/ (CARGO_TARGET_DIR is honoured).
set -euo pipefail
cd "$(dirname "$0")/.."

commit="$(git describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)"
if [ -n "$(git status --porcelain 2>/dev/null)" ]; then
    if [ "${RUMOR_ALLOW_DIRTY:-}" != 1 ]; then
        echo "reliability: the tree has uncommitted changes; commit them (or RUMOR_ALLOW_DIRTY=1)" >&2
        git status --short >&2
        exit 2
    fi
    echo "reliability: WARNING: running on a dirty tree ($commit)"
else
    echo "reliability: commit $commit, clean tree"
fi

target="${CARGO_TARGET_DIR:-target}"
out="$target/reliability"
rm -rf "$out"
mkdir -p "$out"
export RUMOR_RELIABILITY_OUT="$(cd "$out" && pwd)"
export RUMOR_CRASH_LOOPS="${RUMOR_CRASH_LOOPS:-60}"
echo "$commit" > "$out/commit"

echo "== node: crash loop ($RUMOR_CRASH_LOOPS kills), disk failures, RPC security, properties"
cargo test --release -p rumor-node --test crash --test disk --test rpc_security \
    --test rpc_props --test config_props
echo "== p2p and chain: properties"
cargo test --release -p rumor-p2p --test decode_props
cargo test --release -p rumor-chain --test validate_props
cargo build --release -p rumor-node --bin rumord
cargo build --release -p rumor-testnet
# Fuzzing rewrites fuzz/results.json (tracked), so it runs after the binaries
# were built and recorded the commit: the page names the commit it ran at.
fuzz_secs="${RUMOR_FUZZ_SECS:-180}"
if [ "$fuzz_secs" = 0 ]; then
    echo "== fuzzing skipped (RUMOR_FUZZ_SECS=0); the page keeps fuzz/results.json"
elif cargo +nightly --version >/dev/null 2>&1 && cargo +nightly fuzz --help >/dev/null 2>&1; then
    echo "== fuzzing: every target for ${fuzz_secs}s (nightly)"
    fuzz/run.sh "$fuzz_secs"
else
    echo "== fuzzing NOT run: no nightly toolchain with cargo-fuzz here" \
        "(rustup toolchain install nightly; cargo install cargo-fuzz);" \
        "the page keeps fuzz/results.json from $(sed -n 's/.*"commit": *"\([^"]*\)".*/\1/p' fuzz/results.json | head -n 1)"
fi

soak_rc=0
if [ -n "${RUMOR_SOAK:-}" ]; then
    echo "== soak ($RUMOR_SOAK)"
    # The seen-set and first-seen log are bounded caches that at their
    # default sizes (200k, 500k) would still be filling after 30 minutes
    # at 50 tx/s; at 20k they fill in the first ~7 minutes. The chain
    # database's page cache (default 16 MiB) was still filling at minute
    # 10; at 4 MiB it fills in the first minutes. So growth after warm-up
    # is not caches filling. Recorded in params.json (node_env).
    # The script's own RUMOR_* variables are left out of the nodes'
    # environment, which params.json records as their settings.
    env -u RUMOR_SOAK -u RUMOR_CRASH_LOOPS -u RUMOR_FUZZ_SECS -u RUMOR_RELIABILITY_OUT \
        RUMOR_SEEN_CAPACITY=20000 RUMOR_FIRST_SEEN_CAPACITY=20000 RUMOR_DB_CACHE_MIB=4 RUMOR_RELAY_CACHE_MIB=2 \
        "$target/release/rumor-testnet" run --rumord "$target/release/rumord" \
            --nodes 16 --duration "$RUMOR_SOAK" --tx-rate 50 --block-interval 10s \
            --restart-every 2m --partition-every 5m --partition-for 30s \
            --out "$out/soak-runs" -q || soak_rc=$?
    mkdir -p "$out/soak"
    run="$(ls -d "$out"/soak-runs/*/ | tail -n 1)"
    cp "$run/summary.json" "$run/params.json" "$out/soak/"
    # Memory that grew after warm-up fails the soak too.
    if grep -q '"flat": *false' "$out/soak/summary.json"; then
        echo "soak: node memory was not flat" >&2
        soak_rc=1
    fi
fi
echo "== every attack class, and docs/reliability.md"
"$target/release/rumor-testnet" attack \
    --rumord "$target/release/rumord" \
    --out "$out/attack.json" \
    --results "$out" \
    --fuzz fuzz/results.json \
    --markdown docs/reliability.md
# A failed soak still renders its row (FAIL), then fails the script.
exit "$soak_rc"
