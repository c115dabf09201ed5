//! [`Cpu`]: who is busy when. Each node does one thing at a time (a message
//! handled, an object validated); with a core limit, all nodes also share
//! that many cores, as a testnet's processes share the machine.

/// Busy-until times, in ns.
#[derive(Debug, Clone)]
pub(crate) struct Cpu {
    node_free: Vec<u64>,
    core_free: Vec<u64>,
}

impl Cpu {
    /// `nodes` nodes on `cores` shared cores (`None`: one each).
    pub(crate) fn new(nodes: usize, cores: Option<usize>) -> Self {
        Self {
            node_free: vec![0; nodes],
            core_free: vec![0; cores.unwrap_or(0)],
        }
    }

    /// When `node` has done the work it was given.
    pub(crate) fn free_at(&self, node: usize) -> u64 {
        self.node_free[node]
    }

    /// `node` takes `cost` ns of work that is ready at `now`: when it is done.
    pub(crate) fn run(&mut self, node: usize, now: u64, cost: u64) -> u64 {
        if cost == 0 {
            return now;
        }
        let mut start = now.max(self.node_free[node]);
        let core = self
            .core_free
            .iter()
            .enumerate()
            .min_by_key(|(_, t)| **t)
            .map(|(i, _)| i);
        if let Some(c) = core {
            start = start.max(self.core_free[c]);
            self.core_free[c] = start + cost;
        }
        self.node_free[node] = start + cost;
        start + cost
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_works_serially_and_shared_cores_queue_everyone() {
        let mut own = Cpu::new(3, None);
        assert_eq!(own.run(0, 0, 10), 10);
        assert_eq!(own.run(0, 0, 10), 20);
        assert_eq!(own.run(1, 0, 10), 10, "another node is not delayed");
        assert_eq!(own.run(2, 5, 0), 5, "free work is instant");
        let mut shared = Cpu::new(3, Some(2));
        assert_eq!(shared.run(0, 0, 10), 10);
        assert_eq!(shared.run(1, 0, 10), 10);
        assert_eq!(shared.run(2, 0, 10), 20, "the third waits for a core");
    }
}
