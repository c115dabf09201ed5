//! The algorithms the simulator knows, with all their parameters.

use std::fmt;

use serde::Serialize;

/// Which way the update flows in a conversation between a site and its partner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// The caller sends what it has to its partner.
    Push,
    /// The caller asks its partner and receives what the partner has.
    Pull,
    /// Both: one conversation carries the update whichever side had it.
    PushPull,
}

impl Direction {
    /// All directions, in table order.
    pub const ALL: [Direction; 3] = [Direction::Push, Direction::Pull, Direction::PushPull];

    /// Whether the caller sends.
    pub const fn pushes(self) -> bool {
        matches!(self, Direction::Push | Direction::PushPull)
    }

    /// Whether the partner answers with the update.
    pub const fn pulls(self) -> bool {
        matches!(self, Direction::Pull | Direction::PushPull)
    }

    /// The CLI name.
    pub const fn name(self) -> &'static str {
        match self {
            Direction::Push => "push",
            Direction::Pull => "pull",
            Direction::PushPull => "push-pull",
        }
    }
}

/// Which contacts count toward an infective site losing interest (Demers §1.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trigger {
    /// Only contacts where the recipient already knew the update.
    Feedback,
    /// Every contact, whatever the recipient knew.
    Blind,
}

impl Trigger {
    /// Both triggers, in table order.
    pub const ALL: [Trigger; 2] = [Trigger::Feedback, Trigger::Blind];

    /// The CLI name.
    pub const fn name(self) -> &'static str {
        match self {
            Trigger::Feedback => "feedback",
            Trigger::Blind => "blind",
        }
    }
}

/// How counted contacts turn into loss of interest (Demers §1.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Removal {
    /// The site stops after exactly `k` counted contacts (today's reading
    /// of Demers' counter: the count never resets).
    Counter,
    /// The site stops with probability `1/k` at each counted contact.
    Coin,
    /// The other reading of Demers' counter: the site stops after `k`
    /// *consecutive* counted contacts; a contact that was useful (the
    /// recipient lacked the rumor) resets the count. With `blind` every
    /// contact counts, so it equals `Counter`.
    Consecutive,
}

impl Removal {
    /// The removal rules `all` selects, in table order (`consecutive` is
    /// selected by name: it is the counter read another way).
    pub const ALL: [Removal; 2] = [Removal::Counter, Removal::Coin];

    /// The CLI name.
    pub const fn name(self) -> &'static str {
        match self {
            Removal::Counter => "counter",
            Removal::Coin => "coin",
            Removal::Consecutive => "consecutive",
        }
    }
}

/// One rumor-mongering variant, with its loss-of-interest parameter `k`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct RumorVariant {
    /// Push, pull or push-pull.
    pub direction: Direction,
    /// Feedback or blind.
    pub trigger: Trigger,
    /// Counter or coin.
    pub removal: Removal,
    /// The counter limit, or the inverse of the coin's probability.
    pub k: u32,
}

/// When a node of the fan-out model sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FanoutPolicy {
    /// Every period, to `fanout` peers it has not sent to yet, until everyone has it.
    EveryPeriod,
    /// Once, in the period after it first got the update (rumor's one-shot SIR relay).
    Once,
}

impl FanoutPolicy {
    /// The CLI name.
    pub const fn name(self) -> &'static str {
        match self {
            FanoutPolicy::EveryPeriod => "every-period",
            FanoutPolicy::Once => "once",
        }
    }
}

/// The gossipsub-like mesh model's parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct MeshConfig {
    /// Mesh degree `D`: every node has exactly `D` mesh peers (a random `D`-regular
    /// overlay) and pushes each new message eagerly to all of them but the sender.
    pub d: u32,
    /// `D_lazy`: at each heartbeat a node sends IHAVE for its recent messages to this
    /// many random peers outside its mesh.
    pub d_lazy: u32,
    /// The heartbeat period in milliseconds.
    pub heartbeat_ms: u32,
    /// For how many heartbeats after receipt a message is advertised by IHAVE
    /// (gossipsub's `history_gossip`).
    pub history_gossip: u32,
    /// The smallest one-way link delay in milliseconds.
    pub delay_min_ms: u32,
    /// The largest one-way link delay in milliseconds; each link's delay is fixed,
    /// drawn uniformly from `delay_min_ms..=delay_max_ms`.
    pub delay_max_ms: u32,
    /// The resolution, in milliseconds, of the coverage curve.
    pub sample_ms: u32,
    /// Simulated time after which a run is cut off and marked truncated.
    pub max_time_ms: u32,
}

impl Default for MeshConfig {
    /// gossipsub's defaults (`D = 6`, `D_lazy = 6`, 1 s heartbeat, `history_gossip = 3`)
    /// on links of 20–100 ms, sampled every 10 ms, cut off after 10 simulated minutes.
    fn default() -> Self {
        MeshConfig {
            d: 6,
            d_lazy: 6,
            heartbeat_ms: 1000,
            history_gossip: 3,
            delay_min_ms: 20,
            delay_max_ms: 100,
            sample_ms: 10,
            max_time_ms: 600_000,
        }
    }
}

/// One concrete algorithm with all its parameters: what a trial runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "family", rename_all = "kebab-case")]
pub enum Algorithm {
    /// Anti-entropy (SI): every site talks to a random partner every cycle until all
    /// sites have the update.
    AntiEntropy {
        /// Push, pull or push-pull.
        direction: Direction,
    },
    /// Rumor mongering (SIR): infective sites spread until they lose interest.
    Rumor(RumorVariant),
    /// The seed document's fan-out relay: `fanout` fresh peers per period, never the
    /// sender, never a peer already sent to.
    Fanout {
        /// Peers per period.
        fanout: u32,
        /// Every period, or once.
        policy: FanoutPolicy,
        /// The period in milliseconds (only used to print times).
        period_ms: u32,
    },
    /// A gossipsub-like mesh with eager push, lazy IHAVE/IWANT and per-link delay.
    Mesh(MeshConfig),
}

impl Algorithm {
    /// A short stable identifier, used as a key in CSV and JSON output.
    pub fn id(&self) -> String {
        match self {
            Algorithm::AntiEntropy { direction } => format!("ae-{}", direction.name()),
            Algorithm::Rumor(v) => format!(
                "rm-{}-{}-{}-k{}",
                v.direction.name(),
                v.trigger.name(),
                v.removal.name(),
                v.k
            ),
            Algorithm::Fanout { fanout, policy, .. } => {
                format!("fanout-{fanout}-{}", policy.name())
            }
            Algorithm::Mesh(m) => format!("mesh-d{}-lazy{}", m.d, m.d_lazy),
        }
    }

    /// The unit of every time this algorithm reports.
    pub const fn time_unit(&self) -> TimeUnit {
        match self {
            Algorithm::AntiEntropy { .. } | Algorithm::Rumor(_) => TimeUnit::Cycle,
            Algorithm::Fanout { .. } => TimeUnit::Period,
            Algorithm::Mesh(_) => TimeUnit::Millisecond,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Algorithm::AntiEntropy { direction } => {
                write!(f, "anti-entropy {}", direction.name())
            }
            Algorithm::Rumor(v) => write!(
                f,
                "rumor {} {} {} k={}",
                v.direction.name(),
                v.trigger.name(),
                v.removal.name(),
                v.k
            ),
            Algorithm::Fanout { fanout, policy, .. } => {
                write!(f, "fan-out {fanout} {}", policy.name())
            }
            Algorithm::Mesh(m) => write!(f, "mesh D={} D_lazy={}", m.d, m.d_lazy),
        }
    }
}

/// The unit of a reported time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TimeUnit {
    /// Demers' cycles: in each, every active site makes one call.
    Cycle,
    /// Periods of the fan-out model.
    Period,
    /// Simulated milliseconds (the mesh model).
    Millisecond,
}

impl TimeUnit {
    /// A short label for tables.
    pub const fn short(self) -> &'static str {
        match self {
            TimeUnit::Cycle => "cycle",
            TimeUnit::Period => "period",
            TimeUnit::Millisecond => "ms",
        }
    }
}
