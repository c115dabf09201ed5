//! Bootnodes given by name (`/dns4/<host>/tcp/<port>/p2p/<id>`), as the
//! container testnets give them, are resolved and dialled.

mod support;

use std::time::Duration;

use libp2p::multiaddr::Protocol;
use rumor_p2p::{Multiaddr, RelayMode};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bootnode_named_by_dns_is_dialled_and_relays() {
    let cfg = config(RelayMode::Announce);
    let a = start_node(cfg.clone(), TestState::new(params()), vec![]).await;
    let port = a
        .addr
        .iter()
        .find_map(|p| match p {
            Protocol::Tcp(port) => Some(port),
            _ => None,
        })
        .expect("a TCP listen address");
    let named: Multiaddr = format!("/dns4/localhost/tcp/{port}/p2p/{}", a.handle.peer_id())
        .parse()
        .expect("a valid multiaddr");
    let b = start_node(cfg, TestState::new(params()), vec![named]).await;
    let nodes = [a, b];
    wait_for_mesh(&nodes, 1).await;
    let tx = faucet_tx(&params(), 0);
    let txid = tx.txid();
    nodes[0].submit(tx).await;
    wait_for(Duration::from_secs(20), "the tx at b", || async {
        nodes[1].state.has_tx(&txid)
    })
    .await;
}
