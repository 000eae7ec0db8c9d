//! A real Apache Cassandra for the tests, run by `scripts/cassandra.sh`: started in a
//! temporary directory, and killed and removed when the test ends, failed or not.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod geo;

use std::path::{Path, PathBuf};
use std::process::Command;

/// One node: its number, address and datacenter.
#[derive(Clone, Debug)]
pub struct Node {
    pub n: u8,
    pub ip: String,
    pub dc: String,
}

/// A running cluster; dropping it kills every node and removes its files.
pub struct Cluster {
    pub nodes: Vec<Node>,
    dir: tempfile::TempDir,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/cassandra.sh")
}

fn run(args: &[&str]) {
    let status = Command::new(script()).args(args).status().expect("scripts/cassandra.sh runs");
    assert!(status.success(), "scripts/cassandra.sh {} failed", args.join(" "));
}

impl Cluster {
    /// Starts one node per `(ip, datacenter)` and waits until all serve CQL and see each other.
    pub fn start(nodes: &[(&str, &str)]) -> Self {
        let with_ns: Vec<(&str, &str, &str)> = nodes.iter().map(|(ip, dc)| (*ip, *dc, "")).collect();
        Self::start_in(&with_ns)
    }

    /// As [`Cluster::start`], each node inside the network namespace named third (none
    /// when empty), such as those of a [`Network`].
    pub fn start_in(spec: &[(&str, &str, &str)]) -> Self {
        run(&["fetch"]);
        let dir = tempfile::Builder::new().prefix("cassandra-test-").tempdir().unwrap();
        let nodes: Vec<Node> = spec
            .iter()
            .zip(1_u8..)
            .map(|((ip, dc, _), n)| Node { n, ip: (*ip).to_owned(), dc: (*dc).to_owned() })
            .collect();
        let specs: Vec<String> = nodes
            .iter()
            .zip(spec)
            .map(|(n, (_, _, ns))| {
                let netns = if ns.is_empty() { String::new() } else { format!(":{ns}") };
                format!("{}:{}:{}{netns}", n.n, n.ip, n.dc)
            })
            .collect();
        let run_dir = dir.path().to_str().unwrap().to_owned();
        let mut init = vec!["init", run_dir.as_str()];
        init.extend(specs.iter().map(String::as_str));
        run(&init);
        let cluster = Self { nodes, dir };
        run(&["start", &run_dir]);
        cluster
    }

    fn dir(&self) -> String {
        self.dir.path().to_str().unwrap().to_owned()
    }

    /// `ip:9042` of every node.
    pub fn contact_points(&self) -> Vec<String> {
        self.nodes.iter().map(|n| format!("{}:9042", n.ip)).collect()
    }

    /// Stops node `n` (drain and exit).
    pub fn stop(&self, n: u8) {
        run(&["stop", &self.dir(), &n.to_string()]);
    }

    /// Starts node `n` again and waits until it is up and sees the others.
    pub fn restart(&self, n: u8) {
        run(&["start", &self.dir(), &n.to_string()]);
    }

    /// nodetool against node `n`; its standard output.
    pub fn nodetool(&self, n: u8, args: &[&str]) -> String {
        let (dir, n) = (self.dir(), n.to_string());
        let mut full: Vec<&str> = vec!["nodetool", &dir, &n];
        full.extend_from_slice(args);
        let out = Command::new(script()).args(&full).output().expect("nodetool runs");
        assert!(
            out.status.success(),
            "nodetool {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Node `n`'s sstables of `table` (`ks.table`) as JSON lines, as Cassandra exports them.
    pub fn sstabledump(&self, n: u8, table: &str) -> String {
        let out = Command::new(script())
            .args(["sstabledump", &self.dir(), &n.to_string(), table])
            .output()
            .expect("sstabledump runs");
        assert!(out.status.success(), "sstabledump failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Node `n`'s system log.
    pub fn log(&self, n: u8) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("node{n}/logs/system.log"))).unwrap_or_default()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(script()).args(["kill", &self.dir()]).status();
    }
}

/// Network namespaces `NAME1..n` on a bridge, 10.77.0.1..n (`scripts/netns.sh`): hosts
/// of their own, for real partitions. Removed when dropped.
pub struct Network {
    name: String,
}

fn netns(args: &[&str]) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/netns.sh");
    let status = Command::new(script).args(args).status().expect("scripts/netns.sh runs");
    assert!(status.success(), "scripts/netns.sh {} failed", args.join(" "));
}

impl Network {
    /// Makes `n` hosts.
    pub fn up(name: &str, n: u8) -> Self {
        netns(&["up", name, &n.to_string()]);
        Self { name: name.to_owned() }
    }

    /// Host `i`'s namespace.
    pub fn host(&self, i: u8) -> String {
        format!("{}{i}", self.name)
    }

    /// Cuts host `i` off from the other hosts, both ways (the root namespace still reaches it).
    pub fn cut(&self, i: u8) {
        netns(&["cut", &self.name, &i.to_string()]);
    }

    /// Heals the cut.
    pub fn heal(&self, i: u8) {
        netns(&["heal", &self.name, &i.to_string()]);
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/netns.sh");
        let _ = Command::new(script).args(["down", &self.name]).status();
    }
}

/// A keyspace name no other run uses.
pub fn fresh_keyspace(tag: &str) -> String {
    format!("t_{tag}_{}", uuid::Uuid::new_v4().simple()).chars().take(48).collect()
}
