//! Random `D`-regular overlays.
//!
//! Built with the configuration (pairing) model: `D` stubs per node are shuffled and
//! paired. Self-loops and parallel edges are then removed by random degree-preserving
//! double-edge swaps, which leaves a simple graph whose distribution is close to
//! uniform over `D`-regular graphs. Dense requests (`D > (n - 1) / 2`) build the
//! complement instead, and `D = n - 1` is the complete graph.
//!
//! Adjacency is one flat `Vec<u32>` of `n * D` entries (node `v`'s peers at
//! `v * D .. (v + 1) * D`), so memory is exactly linear in `n * D`.

use rand::RngExt;
use rand::seq::SliceRandom;
use thiserror::Error;

use super::rng::SimRng;

/// Why no overlay was built.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum OverlayError {
    /// Repeated attempts left self-loops or parallel edges that no swap could remove.
    #[error("could not build a simple {d}-regular graph on {n} nodes after {attempts} attempts")]
    NoSimpleGraph {
        /// Nodes.
        n: u32,
        /// Degree.
        d: u32,
        /// Attempts made.
        attempts: u32,
    },
}

const ATTEMPTS: u32 = 50;

/// A simple `D`-regular graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Overlay {
    n: u32,
    d: u32,
    adj: Vec<u32>,
}

impl Overlay {
    /// A random simple `d`-regular graph on `n` nodes. Requires `d < n` and `n * d`
    /// even (checked by the parameters).
    pub(crate) fn random_regular(
        n: u32,
        d: u32,
        rng: &mut SimRng,
    ) -> Result<Overlay, OverlayError> {
        debug_assert!(d < n && (u64::from(n) * u64::from(d)) % 2 == 0);
        if d == n - 1 {
            let adj = (0..n)
                .flat_map(|v| (0..n).filter(move |&u| u != v))
                .collect();
            return Ok(Overlay { n, d, adj });
        }
        if 2 * d > n - 1 {
            let sparse = Self::sparse(n, n - 1 - d, rng)?;
            return Ok(sparse.complement());
        }
        Self::sparse(n, d, rng)
    }

    /// Node `v`'s peers.
    #[inline]
    pub(crate) fn peers(&self, v: u32) -> &[u32] {
        let d = self.d as usize;
        &self.adj[v as usize * d..(v as usize + 1) * d]
    }

    /// The degree `D`.
    pub(crate) const fn degree(&self) -> u32 {
        self.d
    }

    /// The number of nodes.
    pub(crate) const fn len(&self) -> u32 {
        self.n
    }

    fn complement(&self) -> Overlay {
        let n = self.n;
        let d = n - 1 - self.d;
        let mut adj = Vec::with_capacity(n as usize * d as usize);
        let mut mark = vec![false; n as usize];
        for v in 0..n {
            for &u in self.peers(v) {
                mark[u as usize] = true;
            }
            adj.extend((0..n).filter(|&u| u != v && !mark[u as usize]));
            for &u in self.peers(v) {
                mark[u as usize] = false;
            }
        }
        Overlay { n, d, adj }
    }

    fn sparse(n: u32, d: u32, rng: &mut SimRng) -> Result<Overlay, OverlayError> {
        if d == 0 {
            return Ok(Overlay {
                n,
                d,
                adj: Vec::new(),
            });
        }
        for _ in 0..ATTEMPTS {
            if let Some(g) = Self::try_pairing(n, d, rng) {
                return Ok(g);
            }
        }
        Err(OverlayError::NoSimpleGraph {
            n,
            d,
            attempts: ATTEMPTS,
        })
    }

    fn has_edge(&self, a: u32, b: u32) -> bool {
        self.peers(a).contains(&b)
    }

    fn replace_one(&mut self, v: u32, old: u32, new: u32) {
        let d = self.d as usize;
        let list = &mut self.adj[v as usize * d..(v as usize + 1) * d];
        let slot = list
            .iter_mut()
            .find(|x| **x == old)
            .expect("edge being swapped is in the adjacency list");
        *slot = new;
    }

    fn is_bad(&self, (a, b): (u32, u32)) -> bool {
        a == b || self.peers(a).iter().filter(|&&x| x == b).count() > 1
    }

    fn try_pairing(n: u32, d: u32, rng: &mut SimRng) -> Option<Overlay> {
        let mut stubs: Vec<u32> = (0..n)
            .flat_map(|v| std::iter::repeat_n(v, d as usize))
            .collect();
        stubs.shuffle(rng);
        let mut edges: Vec<(u32, u32)> = stubs.chunks_exact(2).map(|p| (p[0], p[1])).collect();
        drop(stubs);
        let mut g = Overlay {
            n,
            d,
            adj: vec![0; n as usize * d as usize],
        };
        let mut fill = vec![0u32; n as usize];
        for &(a, b) in &edges {
            g.adj[(a * d + fill[a as usize]) as usize] = b;
            fill[a as usize] += 1;
            g.adj[(b * d + fill[b as usize]) as usize] = a;
            fill[b as usize] += 1;
        }
        drop(fill);
        let m = edges.len();
        for _pass in 0..8 {
            let bad: Vec<usize> = (0..m).filter(|&i| g.is_bad(edges[i])).collect();
            if bad.is_empty() {
                return Some(g);
            }
            for i in bad {
                for _try in 0..100 {
                    if !g.is_bad(edges[i]) {
                        break;
                    }
                    let j = rng.random_range(0..m);
                    if j == i {
                        continue;
                    }
                    let (a, b) = edges[i];
                    let (c, dd) = if rng.random_bool(0.5) {
                        edges[j]
                    } else {
                        (edges[j].1, edges[j].0)
                    };
                    // New edges (a, c) and (b, dd).
                    let creates_pair_twice = (a == dd && b == c) || (a == b && c == dd);
                    if a == c
                        || b == dd
                        || creates_pair_twice
                        || g.has_edge(a, c)
                        || g.has_edge(b, dd)
                    {
                        continue;
                    }
                    g.replace_one(a, b, c);
                    g.replace_one(b, a, dd);
                    g.replace_one(c, dd, a);
                    g.replace_one(dd, c, b);
                    edges[i] = (a, c);
                    edges[j] = (b, dd);
                }
            }
        }
        (0..m).all(|i| !g.is_bad(edges[i])).then_some(g)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Stream, stream_rng};

    fn check_simple_regular(g: &Overlay) {
        let n = g.len();
        let d = g.degree();
        for v in 0..n {
            let peers = g.peers(v);
            assert_eq!(peers.len(), d as usize);
            let mut sorted = peers.to_vec();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), d as usize, "parallel edge at {v}");
            assert!(!peers.contains(&v), "self-loop at {v}");
            for &u in peers {
                assert!(g.peers(u).contains(&v), "edge {v}-{u} not symmetric");
            }
        }
    }

    #[test]
    fn builds_simple_regular_graphs_sparse_and_dense() {
        let mut rng = stream_rng(42, Stream::Overlay);
        for (n, d) in [
            (2, 1),
            (4, 2),
            (5, 2),
            (5, 4),
            (10, 3),
            (10, 7),
            (16, 15),
            (100, 6),
            (101, 8),
            (1000, 1),
            (1000, 20),
            (10_000, 6),
        ] {
            let g = Overlay::random_regular(n, d, &mut rng).unwrap();
            check_simple_regular(&g);
        }
    }

    #[test]
    fn different_streams_give_different_graphs() {
        let a = Overlay::random_regular(100, 6, &mut stream_rng(1, Stream::Overlay)).unwrap();
        let b = Overlay::random_regular(100, 6, &mut stream_rng(2, Stream::Overlay)).unwrap();
        let a2 = Overlay::random_regular(100, 6, &mut stream_rng(1, Stream::Overlay)).unwrap();
        assert_ne!(a, b);
        assert_eq!(a, a2);
    }
}
