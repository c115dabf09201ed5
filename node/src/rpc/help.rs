//! What every RPC method takes, returns and fails with: one table that
//! `help <method>` prints and `docs/rpc.md` is generated from (a test keeps
//! the file equal to [`markdown`] and checks that every registered method
//! is here, with the parameter names it parses).

use std::fmt::Write as _;

use super::errors::{
    ALREADY_IN_CHAIN, BUSY, DECODE_ERROR, INTERNAL_ERROR, INVALID_PARAMETER, INVALID_PARAMS,
    MISC_ERROR, NOT_FOUND, REJECTED, VERIFY_ERROR,
};

/// One parameter.
#[derive(Debug, Clone, Copy)]
pub struct ParamDoc {
    /// Its name (parameters may be given by position or by name).
    pub name: &'static str,
    /// Its JSON type.
    pub kind: &'static str,
    /// `None`: required; otherwise the default, as text.
    pub default: Option<&'static str>,
    /// What it means.
    pub about: &'static str,
}

/// One method.
#[derive(Debug, Clone, Copy)]
pub struct MethodDoc {
    /// The method name.
    pub name: &'static str,
    /// What it does, one or two sentences.
    pub summary: &'static str,
    /// Its parameters, in position order.
    pub params: &'static [ParamDoc],
    /// What it returns.
    pub result: &'static str,
    /// The errors particular to it (code, when); every method can also
    /// fail with −32602 for bad parameters and −32603 for internal errors.
    pub errors: &'static [(i32, &'static str)],
}

const fn req(name: &'static str, kind: &'static str, about: &'static str) -> ParamDoc {
    ParamDoc {
        name,
        kind,
        default: None,
        about,
    }
}

const fn opt(
    name: &'static str,
    kind: &'static str,
    default: &'static str,
    about: &'static str,
) -> ParamDoc {
    ParamDoc {
        name,
        kind,
        default: Some(default),
        about,
    }
}

const BLOCK_NOT_FOUND: (i32, &str) = (NOT_FOUND, "no such block (`Block not found`)");
const BAD_HASH: (i32, &str) = (INVALID_PARAMETER, "the hash is not 64 hex characters");
const BAD_ADDRESS: (i32, &str) = (
    NOT_FOUND,
    "an invalid address, or one of another network (the message names both)",
);

/// Every method, in the order `help` lists them.
pub const METHODS: &[MethodDoc] = &[
    MethodDoc {
        name: "getblockchaininfo",
        summary: "The chain's state.",
        params: &[],
        result: "`{chain, blocks, headers, bestblockhash, chainwork, mediantime, mediantime_ms, time, time_ms, genesis, genesis_outputs}`: `chain` is the network name; `blocks` the best height; `time` and `mediantime` are the tip's time and the median of the last 11 blocks' times in Unix seconds (the `_ms` fields in milliseconds, the precision blocks carry); `genesis_outputs` the faucet outputs of the genesis block.",
        errors: &[],
    },
    MethodDoc {
        name: "getbestblockhash",
        summary: "The best block's hash.",
        params: &[],
        result: "hex string",
        errors: &[],
    },
    MethodDoc {
        name: "getblockcount",
        summary: "The best chain's height.",
        params: &[],
        result: "number",
        errors: &[],
    },
    MethodDoc {
        name: "getblockhash",
        summary: "The hash of the best chain's block at a height.",
        params: &[req("height", "number", "the height")],
        result: "hex string",
        errors: &[(INVALID_PARAMETER, "height out of range")],
    },
    MethodDoc {
        name: "getblock",
        summary: "A block.",
        params: &[
            req("blockhash", "string", "the block's hash"),
            opt(
                "verbosity",
                "number",
                "1",
                "0: the encoded block in hex; 1: header fields and txids; 2: header fields and decoded transactions",
            ),
        ],
        result: "0: hex string. 1: `{hash, confirmations, height, version, merkleroot, time, time_ms, nonce, target, chainwork, previousblockhash, nextblockhash, size, ntx, tx: [txid]}` (`time` in Unix seconds, `time_ms` in milliseconds; `confirmations` −1 off the best chain). 2: the same with `tx` as `getrawtransaction` objects.",
        errors: &[
            BAD_HASH,
            BLOCK_NOT_FOUND,
            (NOT_FOUND, "the header is known but not the body"),
        ],
    },
    MethodDoc {
        name: "getblockheader",
        summary: "A block header.",
        params: &[
            req("blockhash", "string", "the block's hash"),
            opt(
                "verbose",
                "boolean",
                "true",
                "true: decoded fields; false: the encoded header in hex",
            ),
        ],
        result: "`getblock`'s header fields, or a hex string",
        errors: &[BAD_HASH, BLOCK_NOT_FOUND],
    },
    MethodDoc {
        name: "getrawtransaction",
        summary: "A transaction from the mempool or the chain (every transaction is indexed).",
        params: &[
            req("txid", "string", "the transaction id"),
            opt(
                "verbose",
                "boolean or number",
                "false",
                "false: the encoded transaction in hex; true: decoded",
            ),
        ],
        result: "hex string, or `{txid, version, size, vin: [{txid, vout, pubkey} or {coinbase, height}], vout: [{n, amount, coins, address}], hex, confirmations, blockhash, blockheight}` (`confirmations` 0 in the mempool)",
        errors: &[
            BAD_HASH,
            (NOT_FOUND, "No such mempool or blockchain transaction"),
        ],
    },
    MethodDoc {
        name: "gettxout",
        summary: "An unspent output.",
        params: &[
            req("txid", "string", "the transaction id"),
            req("n", "number", "the output index"),
            opt(
                "include_mempool",
                "boolean",
                "true",
                "see mempool outputs, and treat outputs spent in the mempool as spent",
            ),
        ],
        result: "`{bestblock, confirmations, amount, coins, address, coinbase}`, or null if spent or unknown",
        errors: &[BAD_HASH],
    },
    MethodDoc {
        name: "listunspent",
        summary: "Unspent outputs paying some addresses, without those spent by mempool transactions.",
        params: &[
            req("address", "string or array", "one address or up to 1000"),
            opt(
                "minconf",
                "number",
                "1",
                "least confirmations; 0 adds unconfirmed mempool outputs",
            ),
        ],
        result: "`[{txid, vout, address, amount, coins, height, confirmations, coinbase, spendable}]`; `spendable` is false for a coinbase output not yet mature",
        errors: &[BAD_ADDRESS, (INVALID_PARAMS, "more than 1000 addresses")],
    },
    MethodDoc {
        name: "getbalance",
        summary: "The confirmed coins of some addresses (immature coinbase outputs included; `listunspent` tells them apart).",
        params: &[req(
            "address",
            "string or array",
            "one address or up to 1000",
        )],
        result: "`{amount, coins, utxos}`",
        errors: &[BAD_ADDRESS, (INVALID_PARAMS, "more than 1000 addresses")],
    },
    MethodDoc {
        name: "getrawmempool",
        summary: "The mempool's transaction ids, sorted.",
        params: &[opt(
            "verbose",
            "boolean",
            "false",
            "accepted for bitcoind compatibility; ids are always returned",
        )],
        result: "`[txid]`",
        errors: &[],
    },
    MethodDoc {
        name: "getmempoolinfo",
        summary: "The mempool's size and policy.",
        params: &[],
        result: "`{size, bytes, orphans, maxmempool, minrelayfee_per_byte, loaded}` (`size` in transactions; fees in base units per encoded byte; `loaded`: the mempool file saved at the last shutdown has been loaded)",
        errors: &[],
    },
    MethodDoc {
        name: "savemempool",
        summary: "Writes the mempool to `mempool.dat` in the data directory now, as the node does at shutdown; the next start loads it through the usual validation.",
        params: &[],
        result: "`{filename}`: the file written",
        errors: &[
            (
                MISC_ERROR,
                "The mempool was not loaded yet (start-up is still loading the file)",
            ),
            (MISC_ERROR, "Unable to dump mempool to disk"),
        ],
    },
    MethodDoc {
        name: "getmempoolentry",
        summary: "One mempool transaction.",
        params: &[req("txid", "string", "the transaction id")],
        result: "`{txid, size, fee, fee_coins, time, time_ms, depth, depends, spentby}`: `time` when it entered the mempool (Unix seconds; `time_ms` milliseconds), `depth` its unconfirmed ancestors' depth, `depends`/`spentby` its parents and children in the mempool",
        errors: &[BAD_HASH, (NOT_FOUND, "Transaction not in mempool")],
    },
    MethodDoc {
        name: "getmemoryinfo",
        summary: "The node's memory.",
        params: &[opt(
            "mode",
            "string",
            "\"stats\"",
            "\"stats\" or \"mallocinfo\"",
        )],
        result: "`stats`: `{rss, rss_peak, threads, allocator, stats: {allocated, active, resident, mapped, retained, metadata}}` in bytes; `mallocinfo`: the allocator's full statistics (jemalloc's `malloc_stats_print` JSON)",
        errors: &[(INVALID_PARAMS, "another mode")],
    },
    MethodDoc {
        name: "sendrawtransaction",
        summary: "Validates a transaction, adds it to the mempool and relays it. Resubmitting one already in the mempool returns its txid.",
        params: &[req("hexstring", "string", "the encoded transaction in hex")],
        result: "the txid",
        errors: &[
            (DECODE_ERROR, "not hex, or not a canonical transaction"),
            (
                REJECTED,
                "refused: the message is the reason label (`bad-txns-*`, `insufficient-fee`, `txn-mempool-conflict`, `mempool-full`, …), `data` the detail",
            ),
            (
                VERIFY_ERROR,
                "an input is unknown (`missing-inputs`): kept as an orphan until its parent comes",
            ),
            (ALREADY_IN_CHAIN, "already confirmed"),
            (
                BUSY,
                "`node busy, retry: …`: the node's validation or relay is past its bound (work waited over 200 ms, 8,192 submissions queued, or 4,096 objects from peers still to fetch or validate); nothing was queued, submit again later. `data` is the reason label; counted in `rumor_admission_refused_total`",
            ),
        ],
    },
    MethodDoc {
        name: "sendrawtransactions",
        summary: "rumor's own: many transactions in one call, validated together (one signature batch), each answered as `sendrawtransaction` would. For clients that submit thousands a second.",
        params: &[req(
            "hexstrings",
            "array",
            "encoded transactions in hex, at most 4,096",
        )],
        result: "one entry per transaction, in order: `{txid}` if accepted (or already in the mempool), else `{txid, error: {code, message, data}}` with `sendrawtransaction`'s codes (`{error}` alone if it did not decode)",
        errors: &[(
            BUSY,
            "the whole call, when the node is busy (see `sendrawtransaction`)",
        )],
    },
    MethodDoc {
        name: "getpeerinfo",
        summary: "The connected peers.",
        params: &[],
        result: "`[{peer_id, addr, outbound, connected_secs, rtt_ms, score, mesh_tx, mesh_block, agent}]`",
        errors: &[],
    },
    MethodDoc {
        name: "getnetworkinfo",
        summary: "The node's p2p identity and settings.",
        params: &[],
        result: "`{network, peer_id, listen_addrs, relay, connections, link, version}`: `relay` the relay mode, `link` the emulated link (delay, jitter, bandwidth, loss)",
        errors: &[],
    },
    MethodDoc {
        name: "getrelaystats",
        summary: "The relay's counters: objects, duplicates, fetches, rejects and refusals by reason, bytes per protocol, the seen-set, queues.",
        params: &[],
        result: "`rumor_p2p::RelayStats` as JSON: `{mode, peers, mesh_tx, mesh_block, counters, rejects, refusals, seen, inflight, …, gossip_bytes, getdata_bytes, sync_bytes, wire_bytes, link}`",
        errors: &[],
    },
    MethodDoc {
        name: "getpropagation",
        summary: "First-seen records: when this node first accepted each object, from whom and how.",
        params: &[opt(
            "query",
            "object",
            "{}",
            "`{ids: [txid or block hash], since_ns, limit}`: the records of some ids, or those since a Unix-ns time (at most `limit`, default 100000)",
        )],
        result: "`[{kind, id, time_ns, from, via}]`: `time_ns` Unix nanoseconds, `from` the peer (null: local), `via` `announce`, `push`, `sync`, `compact`, `parent` or `local`",
        errors: &[(INVALID_PARAMETER, "an id is not 64 hex characters")],
    },
    MethodDoc {
        name: "setban",
        summary: "Disconnects and refuses a peer for a while, or lifts its ban.",
        params: &[
            req("peer_id", "string", "the peer's id"),
            req("command", "string", "\"add\" or \"remove\""),
            opt(
                "duration_ms",
                "number",
                "86400000",
                "how long a ban lasts, ms",
            ),
        ],
        result: "null",
        errors: &[
            (INVALID_PARAMETER, "not a peer id"),
            (INVALID_PARAMS, "another command"),
        ],
    },
    MethodDoc {
        name: "clearbanned",
        summary: "Lifts every ban and redials the bootnodes.",
        params: &[],
        result: "null",
        errors: &[],
    },
    MethodDoc {
        name: "listbanned",
        summary: "The banned peers.",
        params: &[],
        result: "`[{peer_id, time_remaining, remaining_ms}]` (seconds and milliseconds left)",
        errors: &[],
    },
    MethodDoc {
        name: "generatetoaddress",
        summary: "Mines blocks at once (regtest-like), paying their coinbases to an address, and relays them.",
        params: &[
            req("nblocks", "number", "how many, at most 10000"),
            req("address", "string", "who the coinbases pay"),
        ],
        result: "`[block hash]`",
        errors: &[
            BAD_ADDRESS,
            (INVALID_PARAMETER, "more than 10000 blocks"),
            (MISC_ERROR, "mining failed"),
        ],
    },
    MethodDoc {
        name: "verifychain",
        summary: "Replays the stored best chain with full validation and compares the UTXO set and indexes with the replay.",
        params: &[],
        result: "`{height, tip, blocks_replayed, transactions, utxos, index_entries}`",
        errors: &[(
            MISC_ERROR,
            "the store differs from the replay (the message says where)",
        )],
    },
    MethodDoc {
        name: "stop",
        summary: "Stops the node (gracefully: the store is closed, the cookie removed).",
        params: &[],
        result: "\"rumord stopping\"",
        errors: &[],
    },
    MethodDoc {
        name: "help",
        summary: "Lists the methods, or explains one.",
        params: &[opt("command", "string", "none", "a method name")],
        result: "without `command`: `[method name]`; with it: the method's usage as text",
        errors: &[(MISC_ERROR, "help: unknown command")],
    },
];

/// The documentation of `name`.
pub fn method_doc(name: &str) -> Option<&'static MethodDoc> {
    METHODS.iter().find(|m| m.name == name)
}

/// A one-line signature, bitcoind style: `getblock "blockhash" ( verbosity )`.
pub fn signature(m: &MethodDoc) -> String {
    let mut s = m.name.to_owned();
    let mut optional = 0;
    for p in m.params {
        let shown = if p.kind == "string" {
            format!("\"{}\"", p.name)
        } else {
            p.name.to_owned()
        };
        if p.default.is_some() {
            s.push_str(" ( ");
            optional += 1;
        } else {
            s.push(' ');
        }
        s.push_str(&shown);
    }
    for _ in 0..optional {
        s.push_str(" )");
    }
    s
}

/// `help <method>`'s text.
pub fn usage(m: &MethodDoc) -> String {
    let mut out = format!("{}\n\n{}\n", signature(m), m.summary);
    if !m.params.is_empty() {
        out.push_str("\nArguments:\n");
        for (i, p) in m.params.iter().enumerate() {
            let need = match p.default {
                None => "required".to_owned(),
                Some(d) => format!("optional, default={d}"),
            };
            let _ = writeln!(
                out,
                "{}. {} ({}, {need}) {}",
                i + 1,
                p.name,
                p.kind,
                p.about
            );
        }
    }
    let _ = write!(out, "\nResult:\n{}\n", m.result.replace('`', ""));
    if !m.errors.is_empty() {
        out.push_str("\nErrors:\n");
        for (code, when) in m.errors {
            let _ = writeln!(out, "{code} {}", when.replace('`', ""));
        }
    }
    let _ = write!(
        out,
        "\nExamples:\nrumor {}\ncurl --user \"$(cat ~/.rumor/testnet/.cookie)\" --data-binary '{{\"jsonrpc\": \"1.0\", \"id\": \"curltest\", \"method\": \"{}\", \"params\": []}}' -H 'content-type: text/plain;' http://127.0.0.1:17332/\n(testnet's port and cookie; regtest: 17443 and ~/.rumor/regtest/.cookie)\n",
        m.name, m.name
    );
    out
}

/// `docs/rpc.md`.
pub fn markdown() -> String {
    let mut md = String::from(
        "# rumord JSON-RPC reference\n\n\
         Generated from `node/src/rpc/help.rs` (the table `help <method>` prints);\n\
         `cargo test -p rumor-node --test bitcoind_habits` fails when this file differs, and\n\
         `RUMOR_UPDATE_DOCS=1` with the same command rewrites it.\n\n\
         ## Calling\n\n\
         HTTP POST to the node's RPC address (default `127.0.0.1:17332` on testnet,\n\
         `127.0.0.1:17443` on regtest; `rpc-bind` in `rumord.toml`), with HTTP Basic auth:\n\
         the cookie in `<datadir>/.cookie` (user `__cookie__`, rewritten at every start) or\n\
         `--rpc-user`/`--rpc-password`. Requests are JSON-RPC 2.0 or 1.0 (bitcoind's),\n\
         any content type (`application/json` or `text/plain`); batches up to 10,000\n\
         calls; bodies up to 32 MiB. A 1.0 request gets a 1.0 answer, `{result, error, id}`,\n\
         with HTTP 500 on an error (404 for an unknown method, 400 for an invalid request),\n\
         as bitcoind answers; a 2.0 request gets a 2.0 answer with HTTP 200.\n\n\
         ```sh\n\
         curl --user \"$(cat ~/.rumor/testnet/.cookie)\" \\\n\
         \x20   --data-binary '{\"jsonrpc\": \"1.0\", \"id\": \"curltest\", \"method\": \"getblockchaininfo\", \"params\": []}' \\\n\
         \x20   -H 'content-type: text/plain;' http://127.0.0.1:17332/\n\
         rumor getblockchaininfo          # the same through the CLI\n\
         rumor rpc getblock <hash> 2      # arguments parse as JSON where they can, else as strings\n\
         rumor help getblock              # a method's usage\n\
         ```\n\n\
         Parameters go by position (`[\"<hash>\", 2]`) or by name (`{\"blockhash\": \"<hash>\"}`).\n\
         Amounts are integer base units (10^8 per coin) in `amount` fields and decimal coin\n\
         strings in `coins` fields. Addresses carry their network's prefix (`rumortest1…`,\n\
         `rumorreg1…`); one of another network is refused.\n\n\
         ## Error codes\n\n\
         | code | meaning |\n|---|---|\n",
    );
    for (code, meaning) in [
        (
            -32700,
            "parse error: the body is not JSON (bitcoind `RPC_PARSE_ERROR`)",
        ),
        (-32600, "invalid request"),
        (-32601, "method not found"),
        (
            INVALID_PARAMS,
            "invalid params: a missing, extra, unknown or mistyped parameter",
        ),
        (
            INTERNAL_ERROR,
            "internal error: a store failure, or the node is shutting down",
        ),
        (-32007, "request body too large"),
        (MISC_ERROR, "bitcoind `RPC_MISC_ERROR`"),
        (
            NOT_FOUND,
            "bitcoind `RPC_INVALID_ADDRESS_OR_KEY`: no such object, or an invalid address",
        ),
        (
            INVALID_PARAMETER,
            "bitcoind `RPC_INVALID_PARAMETER`: a value out of range",
        ),
        (DECODE_ERROR, "bitcoind `RPC_DESERIALIZATION_ERROR`"),
        (
            VERIFY_ERROR,
            "bitcoind `RPC_VERIFY_ERROR`: missing inputs (kept as an orphan)",
        ),
        (
            REJECTED,
            "bitcoind `RPC_VERIFY_REJECTED`: refused by a rule or policy",
        ),
        (ALREADY_IN_CHAIN, "bitcoind `RPC_VERIFY_ALREADY_IN_CHAIN`"),
    ] {
        let _ = writeln!(md, "| {code} | {meaning} |");
    }
    md.push_str("\n## Methods\n\n");
    for m in METHODS {
        let _ = writeln!(md, "- [`{}`](#{})", m.name, m.name);
    }
    md.push('\n');
    for m in METHODS {
        let _ = write!(
            md,
            "### {}\n\n`{}`\n\n{}\n\n",
            m.name,
            signature(m),
            m.summary
        );
        if m.params.is_empty() {
            md.push_str("No parameters.\n\n");
        } else {
            md.push_str("| # | parameter | type | default | meaning |\n|---|---|---|---|---|\n");
            for (i, p) in m.params.iter().enumerate() {
                let _ = writeln!(
                    md,
                    "| {} | `{}` | {} | {} | {} |",
                    i + 1,
                    p.name,
                    p.kind,
                    p.default
                        .map_or("required".to_owned(), |d| format!("`{d}`")),
                    p.about
                );
            }
            md.push('\n');
        }
        let _ = writeln!(md, "Result: {}\n", m.result);
        if !m.errors.is_empty() {
            md.push_str("Errors:\n\n");
            for (code, when) in m.errors {
                let _ = writeln!(md, "- {code}: {when}");
            }
            md.push('\n');
        }
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_and_usage_read_like_bitcoind() {
        let m = method_doc("getblock").unwrap();
        assert_eq!(signature(m), "getblock \"blockhash\" ( verbosity )");
        let u = usage(m);
        assert!(
            u.starts_with("getblock \"blockhash\" ( verbosity )\n"),
            "{u}"
        );
        assert!(
            u.contains("2. verbosity (number, optional, default=1)"),
            "{u}"
        );
        assert!(u.contains("-5 no such block"), "{u}");
        assert_eq!(
            signature(method_doc("setban").unwrap()),
            "setban \"peer_id\" \"command\" ( duration_ms )"
        );
        let mut names: Vec<&str> = METHODS.iter().map(|m| m.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), METHODS.len(), "one entry per method");
    }
}
