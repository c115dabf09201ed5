#!/usr/bin/env bash
# The hybrid relay figures of the README, in one session with one binary:
#   cargo build --release -p rumor-node -p rumor-testnet
#   docs/results/hybrid/measure.sh     (about 6 minutes; OUT=dir to choose)
# Each run's summary.json is kept beside this script.
set -u
cd "$(dirname "$0")/../../.."
T=target/release/rumor-testnet; R=target/release/rumord
O=${OUT:-/tmp/runs/hybrid}; rm -rf $O; mkdir -p $O
W="--link-delay 50ms --link-jitter 5ms --txs 500 --tx-rate 50 --block-interval 5s"
run() { name=$1; shift; $T run --rumord $R "$@" --out $O/$name > $O/$name.txt 2>&1; echo "$name rc=$?"; }
run compare --compare $W
for d in 1 2 3; do run deg$d --relay hybrid --eager-degree $d $W; done
run kill --relay hybrid $W --kill 2@5s+5s
run partition --relay hybrid $W --partition '0-7|8-15@3s-8s'
run loss --relay hybrid $W --link-loss 20%
run loss-announce --relay announce $W --link-loss 20%
run loss-push --relay push $W --link-loss 20%
run loop-hybrid --relay hybrid --txs 1000 --tx-rate 100
run loop-push --relay push --txs 1000 --tx-rate 100
echo all-done
