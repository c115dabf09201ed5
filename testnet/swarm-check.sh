#!/usr/bin/env bash
# The Docker Swarm backend end to end (`.ci/run` runs it after the compose
# smoke test): every kind of bad input is refused with exit code 2, a clear
# message and nothing left behind; Ctrl-C while a stack runs removes it; and
# a 5-node stack with a kill and a partition loses nothing (exit 0).
#
# It initialises a single-node swarm only if this engine is in none, and
# only then leaves it again and removes docker_gwbridge, on failure too.
# It uses the static dev build the compose smoke test made (cargo reuses it).
set -euo pipefail
cd "$(dirname "$0")/.."

stack=rumor-ci
label="label=com.docker.stack.namespace=$stack"
target="${CARGO_TARGET_DIR:-target}"
out="$(mktemp -d)"
created_swarm=0
created_gwbridge=0
fail_image="rumor-ci-fail:$$"

cleanup() {
    local rc=$?
    docker service rm "${stack}_node0" >/dev/null 2>&1 || true
    docker rmi "$fail_image" >/dev/null 2>&1 || true
    if [ "$created_swarm" = 1 ]; then
        docker swarm leave --force >/dev/null || rc=1
        # The ingress sandbox detaches from docker_gwbridge shortly after
        # the leave; the bridge goes only if `swarm init` created it.
        if [ "$created_gwbridge" = 1 ]; then
            for _ in $(seq 1 40); do
                docker network rm docker_gwbridge >/dev/null 2>&1 && break
                sleep 0.5
            done
            if docker network inspect docker_gwbridge >/dev/null 2>&1; then
                echo "warning: docker_gwbridge still has an endpoint after leaving the swarm; remove it with docker network rm docker_gwbridge" >&2
            fi
        fi
    fi
    rm -rf "$out"
    exit "$rc"
}
trap cleanup EXIT

cargo build --quiet -p rumor-testnet
testnet="$target/debug/rumor-testnet"
run() {
    "$testnet" run --backend swarm --compose-profile dev --stack "$stack" --out "$out/results" --quiet "$@"
}

# Nothing of the stack exists: services, containers, networks, volumes, or a
# `rumor-node:*-rumor-ci` image tag.
nothing_left() {
    local left=""
    if [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" = active ]; then
        left+="$(docker service ls -q --filter "$label")"
    fi
    left+="$(docker ps -aq --filter "$label")"
    left+="$(docker network ls -q --filter "$label")"
    left+="$(docker volume ls -q --filter "$label")"
    left+="$(docker images -q "rumor-node:*-$stack")"
    if [ -n "$left" ]; then
        echo "FAIL: $1 left things behind: $left" >&2
        exit 1
    fi
}

# refused NEEDLE ARGS...: the run exits 2 with NEEDLE on stderr and leaves nothing.
refused() {
    local needle="$1" rc=0
    shift
    run "$@" 2>"$out/err" || rc=$?
    if [ "$rc" != 2 ] || ! grep -qF -- "$needle" "$out/err"; then
        echo "FAIL: expected exit 2 and \"$needle\", got exit $rc:" >&2
        cat "$out/err" >&2
        exit 1
    fi
    echo "refused as expected: $(grep -F -- "$needle" "$out/err" | head -1)"
    nothing_left "a refused run ($needle)"
}

echo "-- not a swarm manager"
if [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" = inactive ]; then
    refused "docker swarm init --advertise-addr 127.0.0.1" --nodes 3
    [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" = inactive ] ||
        { echo "FAIL: rumor-testnet changed the swarm state" >&2; exit 1; }
    docker network inspect docker_gwbridge >/dev/null 2>&1 || created_gwbridge=1
    docker swarm init --advertise-addr 127.0.0.1 >/dev/null
    created_swarm=1
else
    echo "this engine is already in a swarm: it is used as it is, and the not-a-manager refusal cannot be shown here"
fi

echo "-- an image that is neither here nor pullable (a registry on 127.0.0.1 that does not exist)"
refused "cannot be pulled" --nodes 3 --image 127.0.0.1:9/rumor-node:missing

# An image whose rumord refuses its flags, so every node exits at start.
# Built FROM scratch from the static dev rumord (the flags are those of
# testnet/src/testbed/image.rs, so cargo reuses that build); nothing is pulled.
RUSTFLAGS='-C target-feature=+crt-static -C debuginfo=0 -C strip=symbols' \
    cargo build --quiet --profile dev --target x86_64-unknown-linux-gnu -p rumor-node --bin rumord
ctx="$out/fail-image"
mkdir -p "$ctx"
cp "$target/x86_64-unknown-linux-gnu/debug/rumord" "$ctx/rumord"
printf 'FROM scratch\nCOPY rumord /rumord\nENTRYPOINT ["/rumord", "--no-such-flag"]\n' >"$ctx/Dockerfile"
docker build -q -t "$fail_image" "$ctx" >/dev/null 2>"$out/build.err" ||
    { cat "$out/build.err" >&2; exit 1; }

echo "-- a node that fails to start"
refused "failed to start" --nodes 3 --image "$fail_image"

echo "-- a stack name already taken"
docker service create --detach --quiet --no-resolve-image --name "${stack}_node0" \
    --label "com.docker.stack.namespace=$stack" --replicas 0 "$fail_image" >/dev/null
rc=0
run --nodes 3 --image "$fail_image" 2>"$out/err" || rc=$?
grep -qF "a stack named \"$stack\" already exists" "$out/err" && [ "$rc" = 2 ] ||
    { echo "FAIL: a taken stack name was not refused (exit $rc):" >&2; cat "$out/err" >&2; exit 1; }
docker service inspect "${stack}_node0" >/dev/null ||
    { echo "FAIL: the existing stack was touched" >&2; exit 1; }
echo "refused as expected: $(head -1 "$out/err")"
docker service rm "${stack}_node0" >/dev/null
nothing_left "the taken-name check"

echo "-- Ctrl-C while the stack runs"
"$testnet" run --backend swarm --compose-profile dev --stack "$stack" --out "$out/results" --quiet \
    --nodes 3 --txs 2000 --tx-rate 20 2>"$out/err" &
pid=$!
for _ in $(seq 1 600); do
    [ "$(docker ps -q --filter "$label" | wc -l)" -ge 3 ] && break
    sleep 0.5
done
sleep 5
kill -INT "$pid"
rc=0
wait "$pid" || rc=$?
grep -qF "interrupted" "$out/err" ||
    { echo "FAIL: no interruption reported (exit $rc):" >&2; cat "$out/err" >&2; exit 1; }
nothing_left "an interrupted run"
echo "interrupted run (exit $rc) removed everything"

echo "-- 5 nodes, a kill and a partition: every accepted transaction reaches every node"
run --nodes 5 --txs 60 --tx-rate 10 --kill 1@2s+2s --partition '0-1|2-4@1s-4s' --settle 60s
nothing_left "the smoke run"
echo "swarm smoke test passed"
