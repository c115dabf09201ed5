//! What an operator sees: `/metrics` scraped from a real node in a
//! two-node network with some traffic, against `docs/metrics.md` (every
//! exported family documented with its type and labels, every documented
//! family exported unless the page says it appears with its first event,
//! the relay event names the same); and the effective configuration
//! logged as structured JSON fields with the config file's path.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use support::{Node, wait_until};

fn rumord() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_rumord"))
}

/// One family of a scrape: its type and the label names of its samples.
#[derive(Debug, Default)]
struct Family {
    kind: String,
    labels: BTreeSet<String>,
}

/// The sample name a family is queried by: counters end in `_total`,
/// info metrics in `_info`.
fn query_name(family: &str, kind: &str) -> String {
    match kind {
        "counter" => format!("{family}_total"),
        "info" => format!("{family}_info"),
        _ => family.to_owned(),
    }
}

/// A sample: its family's query name and its labels.
type Sample = (String, BTreeMap<String, String>);

/// Families of an OpenMetrics text, by query name, and the label values
/// of every sample.
fn parse_scrape(text: &str) -> (BTreeMap<String, Family>, Vec<Sample>) {
    let mut families: BTreeMap<String, Family> = BTreeMap::new();
    let mut by_family = Vec::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("name and type");
            families.insert(
                query_name(name, kind),
                Family {
                    kind: kind.to_owned(),
                    labels: BTreeSet::new(),
                },
            );
            by_family.push((name.to_owned(), query_name(name, kind)));
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (name, labels) = match line.split_once('{') {
            Some((n, rest)) => (n, rest.split_once('}').expect("closing brace").0),
            None => (line.split_whitespace().next().unwrap(), ""),
        };
        let mut set = BTreeMap::new();
        for pair in labels.split("\",").filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once("=\"").expect("label=\"value\"");
            set.insert(k.to_owned(), v.trim_end_matches('"').to_owned());
        }
        // The family is the longest described name the sample starts with.
        let (_, query) = by_family
            .iter()
            .filter(|(base, _)| name.starts_with(base.as_str()))
            .max_by_key(|(base, _)| base.len())
            .unwrap_or_else(|| panic!("sample {name} of no described family"));
        let f = families.get_mut(query).expect("family");
        f.labels.extend(set.keys().filter(|k| *k != "le").cloned());
        samples.push((query.clone(), set));
    }
    (families, samples)
}

/// A documented family: type, label names, and whether it may be absent
/// (it appears with its first event).
#[derive(Debug)]
struct Documented {
    kind: String,
    labels: BTreeSet<String>,
    lazy: bool,
}

/// The family tables of docs/metrics.md (rows `| `name` | type | labels |
/// meaning |`), and the relay event names (rows `| `event` | meaning |` of
/// the table under the "Relay events" heading).
fn parse_docs(text: &str) -> (BTreeMap<String, Documented>, BTreeSet<String>) {
    let mut families = BTreeMap::new();
    let mut events = BTreeSet::new();
    let mut in_events = false;
    for line in text.lines() {
        if line.starts_with('#') {
            in_events = line.contains("Relay events");
            continue;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() < 3 || !cells[1].starts_with('`') {
            continue;
        }
        let name = cells[1].trim_matches('`').to_owned();
        if in_events {
            events.insert(name);
            continue;
        }
        let labels = cells[3]
            .split(',')
            .map(|l| l.trim().trim_matches('`').to_owned())
            .filter(|l| !l.is_empty() && l != "–")
            .collect();
        let lazy = cells[4].contains("first event");
        let documented = Documented {
            kind: cells[2].to_owned(),
            labels,
            lazy,
        };
        assert!(
            families.insert(name.clone(), documented).is_none(),
            "{name} documented twice"
        );
    }
    (families, events)
}

fn scrape(addr: std::net::SocketAddr) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let body = text.split_once("\r\n\r\n").expect("HTTP body").1.to_owned();
    assert!(body.ends_with("# EOF\n"), "{body}");
    body
}

/// The value of the logged field `key` in the JSON log line of `message`.
fn logged(log: &str, message: &str) -> serde_json::Map<String, Value> {
    let line = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["fields"]["message"] == message)
        .unwrap_or_else(|| panic!("no {message:?} in the log:\n{log}"));
    line["fields"].as_object().expect("fields").clone()
}

/// Starts a node with JSON logs and waits for its addresses.
fn start_json(datadir: &Path, extra: &[&str]) -> Node {
    let mut args = support::base_args(datadir);
    args.extend(
        ["--log-format", "json"]
            .iter()
            .chain(extra)
            .map(|s| s.to_string()),
    );
    let log = datadir.with_extension("log");
    let child = support::spawn(rumord(), &args, &log);
    let mut node = Node {
        child: Some(child),
        datadir: datadir.to_owned(),
        log,
        rpc: "127.0.0.1:1".parse().unwrap(),
        listen: Vec::new(),
        peer_id: String::new(),
    };
    wait_until(Duration::from_secs(30), "listening", || {
        node.log_text().contains("metrics listening")
    });
    let text = node.log_text();
    node.rpc = logged(&text, "rpc listening")["addr"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let p2p = logged(&text, "p2p listening");
    node.peer_id = p2p["peer_id"].as_str().unwrap().to_owned();
    node.listen = p2p["addrs"]
        .as_str()
        .unwrap()
        .trim_matches(['[', ']'])
        .split(',')
        .map(|a| a.trim().trim_matches('"').to_owned())
        .collect();
    node
}

#[test]
fn every_metric_is_documented_and_the_configuration_is_logged_as_fields() {
    let dir = tempfile::tempdir().unwrap();
    let a_dir = dir.path().join("a");
    std::fs::create_dir_all(&a_dir).unwrap();
    let config = a_dir.join("rumord.toml");
    std::fs::write(&config, "seen-capacity = 4321\n").unwrap();
    let a = start_json(&a_dir, &["--metrics", "127.0.0.1:0"]);
    let b = support::start(
        rumord(),
        &dir.path().join("b"),
        &["--bootnode", &a.bootnode()],
    );
    wait_until(Duration::from_secs(30), "connected", || a.peers() == 1);

    // The effective configuration: fields, not one escaped string.
    let log = a.log_text();
    let node = logged(&log, "effective configuration");
    assert_eq!(node["config_file"], json!(config.display().to_string()));
    assert_eq!(node["network"], json!("regtest"));
    assert_eq!(node["genesis_outputs"], json!(200));
    assert_eq!(node["log_format"], json!("json"));
    let p2p = logged(&log, "effective p2p configuration");
    assert_eq!(p2p["seen_capacity"], json!(4321), "from the file");
    assert_eq!(p2p["mesh_d"], json!(2), "from the flags");
    assert_eq!(p2p["relay"], json!("announce"));
    assert!(
        node.values()
            .chain(p2p.values())
            .all(|v| !v.is_object() && !v.to_string().contains('{')),
        "{node:?} {p2p:?}"
    );

    // Traffic: blocks from a peer, a transaction from a peer, a refusal.
    b.ok("generatetoaddress", json!([2, support::burn_address()]));
    let p = support::params();
    let genesis = p.genesis_block().txs[0].txid();
    let amount = p.genesis_output_amount.units();
    let tx = support::faucet_spend(&p, rumor_chain::OutPoint::new(genesis, 0), 0, amount, 1_000);
    b.ok("sendrawtransaction", json!([hex::encode(tx.encode())]));
    let conflict =
        support::faucet_spend(&p, rumor_chain::OutPoint::new(genesis, 0), 0, amount, 2_000);
    wait_until(
        Duration::from_secs(30),
        "a has the blocks and the tx",
        || a.height() == 2 && a.mempool().len() == 1,
    );
    assert!(
        a.call(
            "sendrawtransaction",
            json!([hex::encode(conflict.encode())])
        )
        .is_err()
    );

    let addr: std::net::SocketAddr = logged(&a.log_text(), "metrics listening")["addr"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    // The gauges are brought up to date after the RPC answers: wait for
    // the scrape to show the tip the RPC showed.
    let mut text = String::new();
    wait_until(Duration::from_secs(30), "the metrics show the tip", || {
        text = scrape(addr);
        text.lines().any(|l| l == "rumor_tip_height 2")
    });
    let (exported, samples) = parse_scrape(&text);
    let docs_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/metrics.md");
    let (documented, events) = parse_docs(&std::fs::read_to_string(&docs_path).unwrap());

    for (name, f) in &exported {
        let d = documented.get(name).unwrap_or_else(|| {
            panic!("{name} ({}) is exported but not in docs/metrics.md", f.kind)
        });
        assert_eq!(d.kind, f.kind, "{name}'s type");
        assert!(
            f.labels.is_subset(&d.labels),
            "{name} has labels {:?}, docs/metrics.md says {:?}",
            f.labels,
            d.labels
        );
    }
    for (name, d) in &documented {
        assert!(
            d.lazy || exported.contains_key(name),
            "{name} is in docs/metrics.md but not exported (mark it \"appears with its first event\" if so)"
        );
    }
    // The node's own families and the process ones are all there from the start.
    for (name, d) in &documented {
        if name.starts_with("rumor_") || name.starts_with("process_") {
            let by_reason =
                name.contains("rejects") || name.contains("refusals") || name.contains("rejected");
            assert_eq!(
                d.lazy, by_reason,
                "{name}: only reason-labelled families start empty"
            );
        }
    }
    let exported_events: BTreeSet<String> = samples
        .iter()
        .filter(|(f, _)| f == "rumor_relay_events_total")
        .map(|(_, l)| l["event"].clone())
        .collect();
    assert_eq!(
        exported_events, events,
        "relay events exported vs documented"
    );

    // Values that say something.
    let value = |family: &str, labels: &[(&str, &str)]| -> f64 {
        let line = text
            .lines()
            .find(|l| {
                l.starts_with(family)
                    && l[family.len()..].starts_with([' ', '{'])
                    && labels
                        .iter()
                        .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
            })
            .unwrap_or_else(|| panic!("no {family} {labels:?}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert_eq!(value("rumor_tip_height", &[]), 2.0);
    let peer_blocks = [("kind", "block"), ("origin", "peer")];
    assert_eq!(value("rumor_objects_accepted_total", &peer_blocks), 2.0);
    let peer_txs = [("kind", "tx"), ("origin", "peer")];
    assert_eq!(value("rumor_objects_accepted_total", &peer_txs), 1.0);
    let conflict = [("kind", "tx"), ("reason", "txn-mempool-conflict")];
    assert_eq!(value("rumor_objects_rejected_total", &conflict), 1.0);
    assert_eq!(value("rumor_peers", &[]), 1.0);
    let wire_in = [("protocol", "wire"), ("direction", "in")];
    assert!(value("rumor_p2p_bytes_total", &wire_in) > 0.0);
    assert!(value("libp2p_bandwidth_bytes_total", &[("direction", "Inbound")]) > 0.0);
    assert!(value("process_open_fds", &[]) >= 3.0);
    assert!(value("process_resident_memory_bytes", &[]) > 1e6);
    let build = samples
        .iter()
        .find(|(f, _)| f == "rumor_build_info")
        .map(|(_, l)| l.clone())
        .expect("rumor_build_info");
    assert_eq!(build["version"], env!("CARGO_PKG_VERSION"));
    let commit = &build["commit"];
    assert!(
        commit == "unknown"
            || (commit.len() == 12 && commit.chars().all(|c| c.is_ascii_hexdigit())),
        "{commit}"
    );
    assert!(!text.contains("libp2p_libp2p_"), "doubled prefix");
    drop::<(Node, Node)>((a, b));
}
