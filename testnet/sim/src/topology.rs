//! The testnet's topologies (the links its nodes dial, reproducible from the
//! seed, so the simulator builds exactly the graph a run had), and a graph's
//! distances.

use std::collections::{BTreeSet, VecDeque};

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::results::Topology;

/// The links to dial: `(i, j)` means node `i` dials node `j`.
pub fn edges(topology: Topology, n: usize, degree: usize, seed: u64) -> Vec<(usize, usize)> {
    match topology {
        Topology::Bootnode => (1..n).map(|i| (i, 0)).collect(),
        Topology::Line => (0..n - 1).map(|i| (i + 1, i)).collect(),
        Topology::Ring => {
            let mut e: Vec<(usize, usize)> = (0..n - 1).map(|i| (i + 1, i)).collect();
            if n > 2 {
                e.push((0, n - 1));
            }
            e
        }
        Topology::Random => random_regularish(n, degree, seed),
    }
}

/// A connected random graph where every node has about `degree` links: a
/// random ring (for connectivity) plus random chords up to n·degree/2 links.
fn random_regularish(n: usize, degree: usize, seed: u64) -> Vec<(usize, usize)> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x7070_1090);
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        order.swap(i, rng.random_range(0..=i));
    }
    let mut set = BTreeSet::new();
    let mut deg = vec![0usize; n];
    let add = |a: usize, b: usize, set: &mut BTreeSet<(usize, usize)>, deg: &mut Vec<usize>| {
        let key = (a.min(b), a.max(b));
        if a != b && set.insert(key) {
            deg[a] += 1;
            deg[b] += 1;
        }
    };
    for i in 0..n {
        add(order[i], order[(i + 1) % n], &mut set, &mut deg);
    }
    let target = n * degree / 2;
    let mut attempts = 0;
    while set.len() < target && attempts < 100_000 {
        attempts += 1;
        let a = rng.random_range(0..n);
        let b = rng.random_range(0..n);
        if deg[a] < degree && deg[b] < degree {
            add(a, b, &mut set, &mut deg);
        }
    }
    set.into_iter().map(|(a, b)| (b, a)).collect()
}

/// An undirected graph over node indices.
#[derive(Debug, Clone)]
pub struct Graph {
    adj: Vec<BTreeSet<usize>>,
}

impl Graph {
    /// A graph of `n` nodes with `edges` (either direction).
    pub fn new(n: usize, edges: impl IntoIterator<Item = (usize, usize)>) -> Self {
        let mut adj = vec![BTreeSet::new(); n];
        for (a, b) in edges {
            if a != b && a < n && b < n {
                adj[a].insert(b);
                adj[b].insert(a);
            }
        }
        Self { adj }
    }

    /// Hop distances from `from` (`None`: unreachable).
    pub fn distances(&self, from: usize) -> Vec<Option<usize>> {
        let mut dist = vec![None; self.adj.len()];
        let mut q = VecDeque::new();
        dist[from] = Some(0);
        q.push_back(from);
        while let Some(u) = q.pop_front() {
            let d = dist[u].unwrap_or(0);
            for &v in &self.adj[u] {
                if dist[v].is_none() {
                    dist[v] = Some(d + 1);
                    q.push_back(v);
                }
            }
        }
        dist
    }

    /// The eccentricity of `from` among `live` nodes: the most hops to any of
    /// them (`None` if one is unreachable).
    pub fn eccentricity(&self, from: usize, live: &[bool]) -> Option<usize> {
        let d = self.distances(from);
        let mut worst = 0;
        for (i, alive) in live.iter().enumerate() {
            if *alive {
                worst = worst.max(d[i]?);
            }
        }
        Some(worst)
    }

    /// Node degrees.
    pub fn degrees(&self) -> Vec<usize> {
        self.adj.iter().map(BTreeSet::len).collect()
    }

    /// The diameter over all nodes (`None` if disconnected).
    pub fn diameter(&self) -> Option<usize> {
        let all = vec![true; self.adj.len()];
        (0..self.adj.len())
            .map(|i| self.eccentricity(i, &all))
            .try_fold(0, |m, e| Some(m.max(e?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let g = Graph::new(5, edges(Topology::Line, 5, 0, 0));
        assert_eq!(g.diameter(), Some(4));
        assert_eq!(g.eccentricity(2, &[true; 5]), Some(2));
        let g = Graph::new(6, edges(Topology::Ring, 6, 0, 0));
        assert_eq!(g.diameter(), Some(3));
        let g = Graph::new(6, edges(Topology::Bootnode, 6, 0, 0));
        assert_eq!(g.eccentricity(0, &[true; 6]), Some(1));
        assert_eq!(g.diameter(), Some(2));
    }

    #[test]
    fn random_is_connected_with_about_the_degree() {
        for seed in 0..20 {
            let e = edges(Topology::Random, 16, 4, seed);
            let g = Graph::new(16, e.clone());
            assert!(g.diameter().is_some(), "seed {seed} disconnected");
            assert!(
                g.degrees().iter().all(|d| (2..=4).contains(d)),
                "{:?}",
                g.degrees()
            );
            assert!(e.len() >= 28, "{} links", e.len());
            assert_eq!(e, edges(Topology::Random, 16, 4, seed), "reproducible");
        }
    }

    #[test]
    fn unreachable_live_node_has_no_eccentricity() {
        let g = Graph::new(3, [(0, 1)]);
        assert_eq!(g.eccentricity(0, &[true, true, true]), None);
        assert_eq!(g.eccentricity(0, &[true, true, false]), Some(1));
    }
}
