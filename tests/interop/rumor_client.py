"""An interop test: a client nobody here wrote the libp2p of (py-libp2p),
written only from docs/protocol.md, against a real `rumord`.

It starts a regtest `rumord` (default genesis), joins it over TCP + Noise +
Yamux, subscribes to both gossip topics in anonymous mode with the
message-id rule, and then:

1. decodes the batch announcement of a transaction submitted over RPC (the
   example transaction of docs/protocol.md), and checks that the node's
   first-seen time of it (RPC `getpropagation`) is not after the client
   heard of it, and less than 5 s before;
2. fetches that transaction's body by `getdata` and checks it hashes to
   the announced id;
3. builds and signs a transaction of its own (spending the first one's
   output with faucet key 1, derived as the doc says), pushes it on the tx
   topic, and checks that the node accepted it (its mempool) as pushed by
   the client (`getpropagation`), without penalising the client.

Usage: python rumor_client.py PATH/TO/rumord. Prints one line per check
and `N passed, N failed`; exits non-zero on any failure.
"""

import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import base64

import multiaddr
import nacl.signing
import trio
from libp2p import new_host
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import info_from_p2p_addr
from libp2p.pubsub.gossipsub import GossipSub
from libp2p.pubsub.pb import rpc_pb2
from libp2p.pubsub.pubsub import Pubsub
from libp2p.tools.anyio_service import background_trio_service

NETWORK = "regtest"
TX_TOPIC = f"rumor/{NETWORK}/tx/1"
BLOCK_TOPIC = f"rumor/{NETWORK}/block/1"
GETDATA = f"/rumor/{NETWORK}/getdata/1"
COIN = 100_000_000
# The most a node's announcement may trail its first-seen time, s (a batch
# waits 25 ms, a hop on loopback far less: 5 s is lenient, but rules out a
# first-seen time that is not of this announcement).
HEARD_WITHIN_S = 5.0

# The example transaction of docs/protocol.md ("Objects and ids").
HERE = os.path.dirname(os.path.abspath(__file__))


def doc_example(name):
    text = open(os.path.join(HERE, "..", "..", "docs", "protocol.md")).read()
    marker = f"<!-- example: {name} -->"
    block = text.split(marker, 1)[1].split("```text\n", 1)[1].split("```", 1)[0]
    return "".join(block.split())


# ----- the encoding (docs/protocol.md, "The encoding") -----


def sha256(b):
    return hashlib.sha256(b).digest()


def sha256d(b):
    return sha256(sha256(b))


def put_varint(v):
    if v <= 250:
        return bytes([v])
    for tag, n in ((251, 2), (252, 4), (253, 8), (254, 16)):
        if v < 1 << (8 * n):
            return bytes([tag]) + v.to_bytes(n, "little")
    raise ValueError(v)


def get_varint(b, i):
    t = b[i]
    if t <= 250:
        return t, i + 1
    n = {251: 2, 252: 4, 253: 8, 254: 16}[t]
    v = int.from_bytes(b[i + 1 : i + 1 + n], "little")
    if put_varint(v) != b[i : i + 1 + n]:
        raise ValueError("non-canonical varint")
    return v, i + 1 + n


def get_inv(b, i):
    kind = b[i]
    if kind not in (0, 1):
        raise ValueError(f"inv kind {kind}")
    return (kind, b[i + 1 : i + 33]), i + 33


def get_bytes(b, i):
    n, i = get_varint(b, i)
    return b[i : i + n], i + n


def inv_bytes(kind, id32):
    return bytes([kind]) + id32


# ----- gossip payloads and message ids (docs/protocol.md, "Gossip") -----


def decode_payload(data):
    """(variant, items) of a GossipPayload; raises on anything malformed."""
    tag, i = get_varint(data, 0)
    if tag == 0:
        inv, i = get_inv(data, i)
        items = [inv]
        variant = "announce"
    elif tag == 1:
        inv, i = get_inv(data, i)
        body, i = get_bytes(data, i)
        items = [(inv, body)]
        variant = "push"
    elif tag == 2:
        _nonce, i = get_varint(data, i)
        n, i = get_varint(data, i)
        items = []
        for _ in range(n):
            inv, i = get_inv(data, i)
            items.append(inv)
        variant = "batch"
    else:
        raise ValueError(f"tag {tag}")
    if i != len(data):
        raise ValueError("trailing bytes")
    return variant, items


def message_id(msg):
    data = msg.data
    try:
        variant, items = decode_payload(data)
    except (ValueError, IndexError, KeyError):
        return b"\xff" + sha256(data)
    if variant == "announce":
        kind, id32 = items[0]
        return inv_bytes(kind, id32)
    if variant == "push" and items[0][0][0] == 0:
        return b"\x00" + sha256d(items[0][1])
    return b"\xff" + sha256(data)


def push_payload(txid, tx):
    return b"\x01" + inv_bytes(0, txid) + put_varint(len(tx)) + tx


# ----- transactions (docs/protocol.md, "Objects and ids", "Networks") -----


def faucet_key(i):
    seed = sha256(b"rumor/faucet/v1/" + NETWORK.encode() + i.to_bytes(4, "little"))
    return nacl.signing.SigningKey(seed)


def address(verify_key):
    return sha256(bytes(verify_key))[:20]


def encode_tx(inputs, outputs, blank=False):
    out = put_varint(1) + put_varint(len(inputs))
    for prev_txid, vout, pubkey, sig in inputs:
        out += prev_txid + put_varint(vout) + pubkey + (b"\0" * 64 if blank else sig)
    out += put_varint(len(outputs))
    for amount, addr in outputs:
        out += put_varint(amount) + addr
    return out


def signed_tx(prev_txid, vout, key, amount, to_addr):
    pubkey = bytes(key.verify_key)
    inputs = [(prev_txid, vout, pubkey, b"")]
    outputs = [(amount, to_addr)]
    sighash = sha256d(b"rumor/sighash/v1" + encode_tx(inputs, outputs, blank=True))
    sig = key.sign(sighash).signature
    tx = encode_tx([(prev_txid, vout, pubkey, sig)], outputs)
    return sha256d(tx), tx


# ----- the node, through its RPC -----


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Node:
    def __init__(self, rumord, datadir):
        self.p2p, self.rpc = free_port(), free_port()
        self.log = open(os.path.join(datadir, "rumord.log"), "w")
        self.datadir = datadir
        self.proc = subprocess.Popen(
            [rumord, "--datadir", datadir, "--network", NETWORK,
             "--listen", f"/ip4/127.0.0.1/tcp/{self.p2p}",
             "--rpc-bind", f"127.0.0.1:{self.rpc}",
             "--no-discovery", "--heartbeat-ms", "200"],
            stdout=subprocess.DEVNULL, stderr=self.log,
        )
        deadline = time.time() + 60
        while not self.text_of_log().count("p2p listening"):
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("rumord did not start:\n" + self.text_of_log())
            time.sleep(0.05)
        line = [l for l in self.text_of_log().splitlines() if "p2p listening" in l][0]
        self.peer_id = line.split("peer_id=")[1].split()[0]

    def text_of_log(self):
        with open(os.path.join(self.datadir, "rumord.log")) as f:
            return f.read()

    def call(self, method, params):
        cookie = open(os.path.join(self.datadir, ".cookie")).read().strip()
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.rpc}/",
            data=json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode(),
            headers={"Authorization": "Basic " + base64.b64encode(cookie.encode()).decode()},
        )
        answer = json.load(urllib.request.urlopen(req, timeout=30))
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer["result"]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=20)


# ----- the checks -----

RESULTS = []


def check(name, ok, detail=""):
    RESULTS.append(ok)
    print(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}", flush=True)


async def read_exact(stream, n):
    out = b""
    while len(out) < n:
        chunk = await stream.read(n - len(out))
        if not chunk:
            raise EOFError(f"stream ended after {len(out)} of {n} bytes")
        out += chunk
    return out


async def getdata(host, peer, invs):
    """One getdata Objects request; returns (found [(inv, body)], notfound)."""
    stream = await host.new_stream(peer, [GETDATA])
    request = b"\x00" + put_varint(len(invs)) + b"".join(inv_bytes(k, i) for k, i in invs)
    await stream.write(len(request).to_bytes(4, "big") + request)
    length = int.from_bytes(await read_exact(stream, 4), "big")
    response = await read_exact(stream, length)
    await stream.close()
    tag, i = get_varint(response, 0)
    if tag != 0:
        raise ValueError(f"getdata answered variant {tag}")
    n, i = get_varint(response, i)
    found = []
    for _ in range(n):
        inv, i = get_inv(response, i)
        body, i = get_bytes(response, i)
        found.append((inv, body))
    m, i = get_varint(response, i)
    notfound = []
    for _ in range(m):
        inv, i = get_inv(response, i)
        notfound.append(inv)
    if i != len(response):
        raise ValueError("trailing bytes in the response")
    return found, notfound


async def next_batch_with(sub, txid, timeout):
    """Waits for an announcement naming txid; returns the time it came."""
    with trio.move_on_after(timeout):
        while True:
            msg = await sub.get()
            variant, items = decode_payload(msg.data)
            if variant in ("batch", "announce") and (0, txid) in items:
                return time.time()
    return None


class AnonymousGossipSub(GossipSub):
    """py-libp2p 0.8's gossipsub keys its equivocation check on
    `from ‖ seqno`, which anonymous messages lack: every message after the
    first would count as an equivocation of the first and never be sent.
    Without an author there is nothing to equivocate."""

    def _check_equivocation(self, msg):
        if not msg.from_id and not msg.seqno:
            return True
        return super()._check_equivocation(msg)


async def run(node):
    host = new_host(key_pair=create_new_key_pair())
    router = AnonymousGossipSub(
        protocols=["/meshsub/1.1.0", "/meshsub/1.0.0"],
        degree=6, degree_low=4, degree_high=12, heartbeat_interval=1,
    )
    pubsub = Pubsub(host, router, strict_signing=False, msg_id_constructor=message_id)
    listen = [multiaddr.Multiaddr("/ip4/127.0.0.1/tcp/0")]
    async with host.run(listen_addrs=listen):
        async with background_trio_service(pubsub):
            async with background_trio_service(router):
                await pubsub.wait_until_ready()
                addr = f"/ip4/127.0.0.1/tcp/{node.p2p}/p2p/{node.peer_id}"
                await host.connect(info_from_p2p_addr(multiaddr.Multiaddr(addr)))
                peer = ID.from_base58(node.peer_id)
                check("joined the node (TCP, Noise, Yamux)", True, addr)
                txs = await pubsub.subscribe(TX_TOPIC)
                await pubsub.subscribe(BLOCK_TOPIC)
                # Until the node has us in its mesh and knows we subscribed.
                for _ in range(100):
                    peers = node.call("getpeerinfo", [])
                    if peers and any(p.get("mesh_tx") for p in peers):
                        break
                    await trio.sleep(0.1)

                # 1. An announcement of the doc's example transaction.
                example = bytes.fromhex(doc_example("tx"))
                example_id = sha256d(example)
                check("the doc's txid is the hash of the doc's bytes",
                      example_id.hex() == doc_example("txid"))
                node.call("sendrawtransaction", [example.hex()])
                heard = await next_batch_with(txs, example_id, 30)
                check("a batch announcing it arrived and decoded", heard is not None)
                records = node.call("getpropagation", [{"ids": [example_id.hex()]}])
                first_seen = records[0]["time_ns"] / 1e9 if records else None
                # One clock (same host): the node accepted it before the
                # client heard of it, and the announcement came within
                # HEARD_WITHIN_S of that (not a stale or unrelated time).
                check(f"the node accepted it before the client heard of it, "
                      f"and under {HEARD_WITHIN_S:.0f} s before",
                      heard is not None and first_seen is not None
                      and 0 <= heard - first_seen < HEARD_WITHIN_S,
                      f"first seen {first_seen}, heard {heard}")

                # 2. Its body by getdata.
                found, notfound = await getdata(host, peer, [(0, example_id)])
                body = found[0][1] if found else b""
                check("getdata returned the body, which hashes to the id",
                      len(found) == 1 and not notfound and found[0][0] == (0, example_id)
                      and sha256d(body) == example_id)
                unknown = (0, b"\x11" * 32)
                found, notfound = await getdata(host, peer, [unknown])
                check("an unknown id is answered notfound", found == [] and notfound == [unknown])

                # 3. A transaction of its own: the example's output 0 (faucet
                # key 1's, 10 coins less 1,000 units) to faucet key 2.
                key1, key2 = faucet_key(1), faucet_key(2)
                amount = 10 * COIN - 1_000 - 1_000
                own_id, own = signed_tx(example_id, 0, key1, amount, address(key2.verify_key))
                msg = rpc_pb2.Message(data=push_payload(own_id, own), topicIDs=[TX_TOPIC])
                await pubsub.push_msg(pubsub.my_id, msg)
                pool = []
                for _ in range(300):
                    pool = node.call("getrawmempool", [])
                    if own_id.hex() in pool:
                        break
                    await trio.sleep(0.1)
                check("the node accepted the client's own transaction", own_id.hex() in pool,
                      own_id.hex())
                records = node.call("getpropagation", [{"ids": [own_id.hex()]}])
                check("the node first saw it from the client, pushed",
                      len(records) == 1 and records[0]["from"] == str(host.get_id())
                      and records[0]["via"] == "push", json.dumps(records))
                info = node.call("getpeerinfo", [])
                check("the node did not penalise the client",
                      len(info) == 1 and info[0]["score"] >= 0, json.dumps(info[0]) if info else "no peer")


def main():
    rumord = sys.argv[1]
    with tempfile.TemporaryDirectory() as d:
        node = Node(rumord, d)
        try:
            trio.run(run, node)
        except Exception as e:  # a crash is a failure, with its reason
            check("the client ran to the end", False, repr(e))
        finally:
            node.stop()
            if not all(RESULTS):
                print(node.text_of_log()[-4000:])
    passed = sum(RESULTS)
    print(f"{passed} passed, {len(RESULTS) - passed} failed")
    sys.exit(0 if RESULTS and all(RESULTS) else 1)


if __name__ == "__main__":
    main()
