//! The selector syntax `--algo` accepts, and its expansion into concrete algorithms.

use std::str::FromStr;

use thiserror::Error;

use super::algorithm::{
    Algorithm, Direction, FanoutPolicy, MeshConfig, Removal, RumorVariant, Trigger,
};

/// A selector for one or more algorithms, as written on the command line.
///
/// Syntax (a part left out, or written `all` or `*`, selects every choice):
/// - `all`: the three anti-entropy directions, rumor push/pull/push-pull with feedback
///   and counter, the fan-out relay and the mesh;
/// - `anti-entropy[:push|pull|push-pull]` (alias `ae`);
/// - `rumor[:DIRECTION[:feedback|blind[:counter|consecutive|coin]]]` (alias `rm`;
///   `all` removals are counter and coin);
/// - `fanout`;
/// - `mesh`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlgoSpec {
    /// The comparison set described above.
    All,
    /// Anti-entropy with one direction, or all three.
    AntiEntropy(Option<Direction>),
    /// Rumor mongering; `None` parts select every choice.
    Rumor {
        /// Direction, or all.
        direction: Option<Direction>,
        /// Trigger, or both.
        trigger: Option<Trigger>,
        /// Removal rule, or both.
        removal: Option<Removal>,
    },
    /// The fan-out relay.
    Fanout,
    /// The gossipsub-like mesh.
    Mesh,
}

/// Why an algorithm selector could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum AlgoSpecError {
    /// The part before the first `:` names no algorithm family.
    #[error(
        "unknown algorithm family `{0}` (expected all, anti-entropy|ae, rumor|rm, fanout or mesh)"
    )]
    UnknownFamily(String),
    /// A direction part is not push, pull or push-pull.
    #[error("unknown direction `{0}` (expected push, pull, push-pull or all)")]
    UnknownDirection(String),
    /// A trigger part is not feedback or blind.
    #[error("unknown loss-of-interest trigger `{0}` (expected feedback, blind or all)")]
    UnknownTrigger(String),
    /// A removal part is not counter or coin.
    #[error("unknown removal rule `{0}` (expected counter, consecutive, coin or all)")]
    UnknownRemoval(String),
    /// The selector has more parts than its family takes.
    #[error("`{spec}` has too many `:`-separated parts ({family} takes at most {max})")]
    TooManyParts {
        /// The whole selector.
        spec: String,
        /// Its family.
        family: &'static str,
        /// How many parts after the family it accepts.
        max: usize,
    },
}

fn is_wild(s: &str) -> bool {
    s == "all" || s == "*" || s.is_empty()
}

fn parse_part<T>(
    part: Option<&str>,
    lookup: impl Fn(&str) -> Option<T>,
    err: impl Fn(String) -> AlgoSpecError,
) -> Result<Option<T>, AlgoSpecError> {
    match part {
        None => Ok(None),
        Some(p) if is_wild(p) => Ok(None),
        Some(p) => lookup(p).map(Some).ok_or_else(|| err(p.to_string())),
    }
}

fn direction_named(s: &str) -> Option<Direction> {
    match s {
        "push" => Some(Direction::Push),
        "pull" => Some(Direction::Pull),
        "push-pull" | "pushpull" => Some(Direction::PushPull),
        _ => None,
    }
}

impl FromStr for AlgoSpec {
    type Err = AlgoSpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        let mut parts = lower.split(':');
        let family = parts.next().unwrap_or_default();
        let rest: Vec<&str> = parts.collect();
        let too_many = |family: &'static str, max: usize| AlgoSpecError::TooManyParts {
            spec: s.to_string(),
            family,
            max,
        };
        match family {
            "all" | "*" if rest.is_empty() => Ok(AlgoSpec::All),
            "anti-entropy" | "antientropy" | "ae" => {
                if rest.len() > 1 {
                    return Err(too_many("anti-entropy", 1));
                }
                let d = parse_part(
                    rest.first().copied(),
                    direction_named,
                    AlgoSpecError::UnknownDirection,
                )?;
                Ok(AlgoSpec::AntiEntropy(d))
            }
            "rumor" | "rumour" | "rm" => {
                if rest.len() > 3 {
                    return Err(too_many("rumor", 3));
                }
                let direction = parse_part(
                    rest.first().copied(),
                    direction_named,
                    AlgoSpecError::UnknownDirection,
                )?;
                let trigger = parse_part(
                    rest.get(1).copied(),
                    |p| match p {
                        "feedback" => Some(Trigger::Feedback),
                        "blind" => Some(Trigger::Blind),
                        _ => None,
                    },
                    AlgoSpecError::UnknownTrigger,
                )?;
                let removal = parse_part(
                    rest.get(2).copied(),
                    |p| match p {
                        "counter" => Some(Removal::Counter),
                        "coin" => Some(Removal::Coin),
                        "consecutive" => Some(Removal::Consecutive),
                        _ => None,
                    },
                    AlgoSpecError::UnknownRemoval,
                )?;
                Ok(AlgoSpec::Rumor {
                    direction,
                    trigger,
                    removal,
                })
            }
            "fanout" | "fan-out" if rest.is_empty() => Ok(AlgoSpec::Fanout),
            "mesh" if rest.is_empty() => Ok(AlgoSpec::Mesh),
            "all" | "*" => Err(too_many("all", 0)),
            "fanout" | "fan-out" => Err(too_many("fanout", 0)),
            "mesh" => Err(too_many("mesh", 0)),
            other => Err(AlgoSpecError::UnknownFamily(other.to_string())),
        }
    }
}

/// The numeric parameters that turn selectors into concrete [`Algorithm`]s.
#[derive(Debug, Clone)]
pub(crate) struct Expansion<'a> {
    pub(crate) ks: &'a [u32],
    pub(crate) fanout: u32,
    pub(crate) fanout_policy: FanoutPolicy,
    pub(crate) period_ms: u32,
    pub(crate) mesh: MeshConfig,
}

impl AlgoSpec {
    /// The concrete algorithms this selector names, in table order.
    pub(crate) fn expand(&self, x: &Expansion<'_>, out: &mut Vec<Algorithm>) {
        let rumor = |out: &mut Vec<Algorithm>, ds: &[Direction], ts: &[Trigger], rs: &[Removal]| {
            for &direction in ds {
                for &trigger in ts {
                    for &removal in rs {
                        for &k in x.ks {
                            out.push(Algorithm::Rumor(RumorVariant {
                                direction,
                                trigger,
                                removal,
                                k,
                            }));
                        }
                    }
                }
            }
        };
        let fanout = Algorithm::Fanout {
            fanout: x.fanout,
            policy: x.fanout_policy,
            period_ms: x.period_ms,
        };
        match *self {
            AlgoSpec::All => {
                for direction in Direction::ALL {
                    out.push(Algorithm::AntiEntropy { direction });
                }
                rumor(
                    out,
                    &Direction::ALL,
                    &[Trigger::Feedback],
                    &[Removal::Counter],
                );
                out.push(fanout);
                out.push(Algorithm::Mesh(x.mesh));
            }
            AlgoSpec::AntiEntropy(d) => {
                for direction in d.map_or(Direction::ALL.to_vec(), |d| vec![d]) {
                    out.push(Algorithm::AntiEntropy { direction });
                }
            }
            AlgoSpec::Rumor {
                direction,
                trigger,
                removal,
            } => rumor(
                out,
                &direction.map_or(Direction::ALL.to_vec(), |d| vec![d]),
                &trigger.map_or(Trigger::ALL.to_vec(), |t| vec![t]),
                &removal.map_or(Removal::ALL.to_vec(), |r| vec![r]),
            ),
            AlgoSpec::Fanout => out.push(fanout),
            AlgoSpec::Mesh => out.push(Algorithm::Mesh(x.mesh)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_parse() {
        assert_eq!("all".parse(), Ok(AlgoSpec::All));
        assert_eq!(
            "ae:push-pull".parse(),
            Ok(AlgoSpec::AntiEntropy(Some(Direction::PushPull)))
        );
        assert_eq!("anti-entropy".parse(), Ok(AlgoSpec::AntiEntropy(None)));
        assert_eq!(
            "rumor:pull:*:coin".parse(),
            Ok(AlgoSpec::Rumor {
                direction: Some(Direction::Pull),
                trigger: None,
                removal: Some(Removal::Coin)
            })
        );
        assert_eq!(
            "rumor".parse(),
            Ok(AlgoSpec::Rumor {
                direction: None,
                trigger: None,
                removal: None
            })
        );
        assert_eq!("mesh".parse(), Ok(AlgoSpec::Mesh));
        assert_eq!("fanout".parse(), Ok(AlgoSpec::Fanout));
    }

    #[test]
    fn bad_selectors_name_the_bad_part() {
        assert_eq!(
            "flood".parse::<AlgoSpec>(),
            Err(AlgoSpecError::UnknownFamily("flood".into()))
        );
        assert_eq!(
            "ae:shove".parse::<AlgoSpec>(),
            Err(AlgoSpecError::UnknownDirection("shove".into()))
        );
        assert_eq!(
            "rumor:push:deaf".parse::<AlgoSpec>(),
            Err(AlgoSpecError::UnknownTrigger("deaf".into()))
        );
        assert_eq!(
            "rumor:push:blind:dice".parse::<AlgoSpec>(),
            Err(AlgoSpecError::UnknownRemoval("dice".into()))
        );
        assert!(matches!(
            "rumor:push:blind:coin:extra".parse::<AlgoSpec>(),
            Err(AlgoSpecError::TooManyParts { max: 3, .. })
        ));
        assert!(matches!(
            "mesh:6".parse::<AlgoSpec>(),
            Err(AlgoSpecError::TooManyParts { max: 0, .. })
        ));
    }

    #[test]
    fn rumor_expands_to_every_variant_and_k() {
        let x = Expansion {
            ks: &[1, 2, 3, 4, 5],
            fanout: 3,
            fanout_policy: FanoutPolicy::EveryPeriod,
            period_ms: 1000,
            mesh: MeshConfig::default(),
        };
        let mut out = Vec::new();
        "rumor".parse::<AlgoSpec>().unwrap().expand(&x, &mut out);
        assert_eq!(out.len(), 3 * 2 * 2 * 5);
        let mut ids: Vec<String> = out.iter().map(Algorithm::id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 60);
    }
}
