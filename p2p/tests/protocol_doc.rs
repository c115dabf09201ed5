//! The worked examples of `docs/protocol.md` are what the code encodes:
//! each `<!-- example: NAME -->` is followed by a fenced block holding the
//! bytes (hex, whitespace ignored) or text the code produces for NAME.
//! `RUMOR_UPDATE_DOCS=1 cargo test -p rumor-p2p --test protocol_doc`
//! rewrites them.

use std::path::Path;

use bytes::Bytes;
use rumor_chain::{
    Amount, BlockHash, Hash256, Inv, Network, OutPoint, Params, Transaction, TxIn, TxOut, Txid,
    Work,
};
use rumor_p2p::{
    Batch, Body, GetDataRequest, GetDataResponse, GossipPayload, PushBody, PushRequest,
    PushResponse, PushedObject, SyncRequest, SyncStatus, object_message_id,
};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A request-response frame: the 4-byte big-endian length, then the message.
fn frame(message: &[u8]) -> Vec<u8> {
    let mut out = (message.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(message);
    out
}

/// Wraps hex at 64 digits a line.
fn wrapped(hex: &str) -> String {
    hex.as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The regtest transaction of the examples: genesis output 0 (10 coins,
/// faucet key 0) to faucet key 1's address, fee 1,000 units.
fn example_tx(p: &Params) -> Transaction {
    let key = p.faucet_key(0);
    let mut tx = Transaction {
        version: 1,
        inputs: vec![TxIn::unsigned(
            OutPoint::new(p.genesis_block().txs[0].txid(), 0),
            key.public(),
        )],
        outputs: vec![TxOut {
            amount: Amount::new(p.genesis_output_amount.units() - 1_000).unwrap(),
            address: p.faucet_key(1).address(),
        }],
    };
    tx.sign(&[&key]).unwrap();
    tx
}

/// Every example: its name and the text the doc's block must hold.
fn examples() -> Vec<(&'static str, String)> {
    let regtest = Params::new(Network::Regtest);
    let testnet = Params::new(Network::Testnet);
    let tx = example_tx(&regtest);
    let tx_inv = Inv::Tx(Txid([0x11; 32]));
    let block_inv = Inv::Block(BlockHash([0x22; 32]));
    let batch = GossipPayload::Batch(Batch {
        nonce: 300,
        invs: vec![tx_inv, block_inv],
    })
    .encode();
    let push = GossipPayload::Push(Body {
        inv: Inv::Tx(tx.txid()),
        bytes: Bytes::from(tx.encode()),
    })
    .encode();
    let status = SyncStatus {
        height: 5,
        tip: BlockHash([0x33; 32]),
        work: Work(0x1234),
        mempool_digest: Hash256([0x44; 32]),
        mempool_len: 2,
    };
    let key0 = regtest.faucet_key(0);
    vec![
        (
            "genesis-regtest",
            regtest.genesis_block().hash().to_string(),
        ),
        (
            "genesis-testnet",
            testnet.genesis_block().hash().to_string(),
        ),
        ("faucet-key-0-seed", hex(&key0.seed())),
        ("faucet-key-0-public", key0.public().to_string()),
        ("faucet-key-0-address", hex(key0.address().as_bytes())),
        (
            "faucet-key-0-address-text",
            key0.address().encode(Network::Regtest),
        ),
        ("tx", wrapped(&hex(&tx.encode()))),
        ("tx-sighash", tx.sighash().to_string()),
        ("txid", tx.txid().to_string()),
        ("txid-short-id", format!("{}", tx.txid().short_id())),
        ("announce", hex(&GossipPayload::Announce(tx_inv).encode())),
        ("batch", wrapped(&hex(&batch))),
        ("push", wrapped(&hex(&push))),
        ("message-id-announce", hex(&object_message_id(&tx_inv))),
        (
            "message-id-batch",
            hex(&GossipPayload::message_id_of(&batch)),
        ),
        ("message-id-push", hex(&GossipPayload::message_id_of(&push))),
        (
            "getdata-objects",
            wrapped(&hex(&frame(&rumor_chain::encode(
                &GetDataRequest::Objects(vec![Inv::Tx(tx.txid())]),
            )))),
        ),
        (
            "getdata-notfound",
            wrapped(&hex(&frame(&rumor_chain::encode(
                &GetDataResponse::Objects {
                    found: vec![],
                    notfound: vec![tx_inv],
                },
            )))),
        ),
        (
            "sync-status",
            wrapped(&hex(&frame(&rumor_chain::encode(&SyncRequest::Status(
                status,
            ))))),
        ),
        (
            "push-objects",
            wrapped(&hex(&frame(&rumor_chain::encode(&PushRequest::Objects(
                vec![PushedObject {
                    origin: 0x0102,
                    body: PushBody::Tx(Body {
                        inv: Inv::Tx(tx.txid()),
                        bytes: Bytes::from(tx.encode()),
                    }),
                }],
            ))))),
        ),
        (
            "push-graft",
            wrapped(&hex(&frame(&rumor_chain::encode(&PushRequest::Graft(
                vec![tx_inv],
            ))))),
        ),
        (
            "push-ack-prune",
            hex(&frame(&rumor_chain::encode(&PushResponse::Ack {
                prune: vec![0x0102],
            }))),
        ),
        (
            "sync-headers",
            wrapped(&hex(&frame(&rumor_chain::encode(&SyncRequest::Headers {
                locator: vec![BlockHash([0x55; 32])],
                max: 2000,
            })))),
        ),
    ]
}

#[test]
fn the_examples_in_docs_protocol_md_are_what_the_code_encodes() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/protocol.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut out = String::new();
    let mut rest = text.as_str();
    let mut stale = Vec::new();
    let examples = examples();
    let mut seen = Vec::new();
    while let Some(at) = rest.find("<!-- example: ") {
        let (before, from) = rest.split_at(at);
        out.push_str(before);
        let name_end = from.find(" -->").expect("closed example marker");
        let name = &from["<!-- example: ".len()..name_end];
        let fence = from.find("```").expect("a fenced block after the marker");
        let body_start = fence + from[fence..].find('\n').expect("fence line") + 1;
        let body_end = body_start + from[body_start..].find("```").expect("closing fence");
        let (_, want) = examples
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("docs/protocol.md: no example named {name}"));
        let strip = |s: &str| s.split_whitespace().collect::<String>();
        if strip(&from[body_start..body_end]) != strip(want) {
            stale.push(name.to_owned());
        }
        out.push_str(&from[..body_start]);
        out.push_str(want);
        out.push('\n');
        seen.push(name.to_owned());
        rest = &from[body_end..];
    }
    out.push_str(rest);
    for (name, _) in &examples {
        assert!(
            seen.iter().any(|s| s == name),
            "example {name} is not in docs/protocol.md"
        );
    }
    if std::env::var_os("RUMOR_UPDATE_DOCS").is_some() {
        std::fs::write(&path, out).unwrap();
        return;
    }
    assert!(
        stale.is_empty(),
        "docs/protocol.md examples differ from the code: {stale:?}; \
         run `RUMOR_UPDATE_DOCS=1 cargo test -p rumor-p2p --test protocol_doc` and check the prose"
    );
}

/// The example transaction is valid: it decodes, its inputs are signed for
/// its sighash, and its id is the hash of its bytes (so a client that
/// builds it byte for byte gets a transaction a node accepts).
#[test]
fn the_example_transaction_is_valid_on_regtest() {
    let p = Params::new(Network::Regtest);
    let tx = example_tx(&p);
    let bytes = tx.encode();
    assert_eq!(Transaction::decode(&bytes).unwrap(), tx);
    assert_eq!(tx.txid(), Txid(rumor_chain::sha256d(&bytes)));
    let sighash = tx.sighash();
    let check = rumor_chain::SigCheck {
        msg: sighash.as_bytes(),
        key: &tx.inputs[0].pubkey,
        sig: &tx.inputs[0].signature,
    };
    assert!(rumor_chain::verify_one(&check).is_ok());
    // It spends a genesis output its key owns.
    let genesis = p.genesis_block();
    assert_eq!(tx.inputs[0].prev.txid, genesis.txs[0].txid());
    assert_eq!(
        genesis.txs[0].outputs[0].address,
        rumor_chain::Address::from_pubkey(&tx.inputs[0].pubkey)
    );
}
