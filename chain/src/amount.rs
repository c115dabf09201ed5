//! [`Amount`]: a checked quantity of coin, never above [`Amount::MAX_MONEY`].

use std::fmt;
use std::iter::Sum;

/// Units in one coin (like satoshis per bitcoin).
pub const COIN: u64 = 100_000_000;

/// An amount of coin in base units. The only ways to build one check that it
/// is at most [`Amount::MAX_MONEY`], so an `Amount` in hand is always in range.
/// Decoding (bincode or JSON) goes through the same check.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(try_from = "u64", into = "u64")]
pub struct Amount(u64);

/// An amount above [`Amount::MAX_MONEY`], or an arithmetic overflow past it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("amount {0} is above MAX_MONEY ({max})", max = Amount::MAX_MONEY.0)]
pub struct AmountOutOfRange(pub u128);

impl Amount {
    /// Zero.
    pub const ZERO: Self = Self(0);
    /// The most coin that can ever exist: 21 million coins.
    pub const MAX_MONEY: Self = Self(21_000_000 * COIN);

    /// Builds an amount from base units.
    ///
    /// # Errors
    /// [`AmountOutOfRange`] when `units` exceeds [`Amount::MAX_MONEY`].
    pub const fn new(units: u64) -> Result<Self, AmountOutOfRange> {
        if units > Self::MAX_MONEY.0 {
            Err(AmountOutOfRange(units as u128))
        } else {
            Ok(Self(units))
        }
    }

    /// Builds an amount from whole coins.
    ///
    /// # Errors
    /// [`AmountOutOfRange`] when the result exceeds [`Amount::MAX_MONEY`].
    pub const fn from_coins(coins: u64) -> Result<Self, AmountOutOfRange> {
        match coins.checked_mul(COIN) {
            Some(units) => Self::new(units),
            None => Err(AmountOutOfRange(coins as u128 * COIN as u128)),
        }
    }

    /// The value in base units.
    pub const fn units(self) -> u64 {
        self.0
    }

    /// `self + rhs`, or `None` past [`Amount::MAX_MONEY`].
    pub const fn checked_add(self, rhs: Self) -> Option<Self> {
        // Both are <= MAX_MONEY < 2^63, so the u64 sum cannot wrap.
        match Self::new(self.0 + rhs.0) {
            Ok(a) => Some(a),
            Err(_) => None,
        }
    }

    /// `self - rhs`, or `None` if it would go below zero.
    pub const fn checked_sub(self, rhs: Self) -> Option<Self> {
        match self.0.checked_sub(rhs.0) {
            Some(v) => Some(Self(v)),
            None => None,
        }
    }

    /// Sums amounts, or `None` if the total passes [`Amount::MAX_MONEY`].
    pub fn checked_sum(items: impl IntoIterator<Item = Self>) -> Option<Self> {
        items.into_iter().try_fold(Self::ZERO, Self::checked_add)
    }

    /// Parses a decimal coin amount such as `"1.5"` or `"0.00000001"` (at most
    /// 8 decimals), or a plain integer of coins.
    ///
    /// # Errors
    /// [`ParseAmountError`] for malformed text, too many decimals, or a value
    /// above [`Amount::MAX_MONEY`].
    pub fn parse_coins(text: &str) -> Result<Self, ParseAmountError> {
        let text = text.trim();
        let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
        if whole.is_empty() && frac.is_empty() {
            return Err(ParseAmountError::Malformed(text.to_owned()));
        }
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if !digits(whole) || !digits(frac) {
            return Err(ParseAmountError::Malformed(text.to_owned()));
        }
        if frac.len() > 8 {
            return Err(ParseAmountError::TooPrecise(text.to_owned()));
        }
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole
                .parse()
                .map_err(|_| ParseAmountError::OutOfRange(text.to_owned()))?
        };
        let frac_units: u128 = if frac.is_empty() {
            0
        } else {
            frac.parse::<u128>().expect("checked digits, at most 8")
                * 10u128.pow(8 - frac.len() as u32)
        };
        let units = whole
            .checked_mul(COIN as u128)
            .and_then(|w| w.checked_add(frac_units))
            .filter(|u| *u <= Self::MAX_MONEY.0 as u128)
            .ok_or_else(|| ParseAmountError::OutOfRange(text.to_owned()))?;
        Ok(Self(units as u64))
    }
}

/// Why a coin amount's text could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseAmountError {
    /// Not a decimal number.
    #[error("`{0}` is not a decimal coin amount")]
    Malformed(String),
    /// More than 8 digits after the point.
    #[error("`{0}` has more than 8 decimal places")]
    TooPrecise(String),
    /// Above the maximum money supply.
    #[error("`{0}` is above the 21,000,000 coin maximum")]
    OutOfRange(String),
}

impl TryFrom<u64> for Amount {
    type Error = AmountOutOfRange;
    fn try_from(v: u64) -> Result<Self, Self::Error> {
        Self::new(v)
    }
}

impl From<Amount> for u64 {
    fn from(a: Amount) -> u64 {
        a.0
    }
}

impl<'a> Sum<&'a Amount> for Option<Amount> {
    fn sum<I: Iterator<Item = &'a Amount>>(iter: I) -> Self {
        Amount::checked_sum(iter.copied())
    }
}

impl fmt::Display for Amount {
    /// Formats as coins with 8 decimals, e.g. `1.50000000`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:08}", self.0 / COIN, self.0 % COIN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructor_enforces_max_money() {
        assert!(Amount::new(Amount::MAX_MONEY.units()).is_ok());
        assert_eq!(
            Amount::new(Amount::MAX_MONEY.units() + 1),
            Err(AmountOutOfRange(Amount::MAX_MONEY.units() as u128 + 1))
        );
        assert!(Amount::from_coins(21_000_001).is_err());
        assert!(Amount::from_coins(u64::MAX).is_err());
    }

    #[test]
    fn checked_arithmetic() {
        let max = Amount::MAX_MONEY;
        assert_eq!(max.checked_add(Amount::new(1).unwrap()), None);
        assert_eq!(Amount::ZERO.checked_sub(Amount::new(1).unwrap()), None);
        assert_eq!(Amount::checked_sum([max, max]), None);
        assert_eq!(
            Amount::checked_sum([Amount::new(2).unwrap(), Amount::new(3).unwrap()]),
            Some(Amount::new(5).unwrap())
        );
    }

    #[test]
    fn decoding_rejects_out_of_range() {
        let json = format!("{}", Amount::MAX_MONEY.units() + 1);
        assert!(serde_json::from_str::<Amount>(&json).is_err());
        assert_eq!(serde_json::from_str::<Amount>("5").unwrap().units(), 5);
    }

    #[test]
    fn parse_and_display_coins() {
        assert_eq!(Amount::parse_coins("1.5").unwrap().units(), 150_000_000);
        assert_eq!(Amount::parse_coins("0.00000001").unwrap().units(), 1);
        assert_eq!(Amount::parse_coins("3").unwrap().units(), 3 * COIN);
        assert_eq!(Amount::parse_coins(".5").unwrap().units(), COIN / 2);
        assert!(matches!(
            Amount::parse_coins("1.000000001"),
            Err(ParseAmountError::TooPrecise(_))
        ));
        assert!(matches!(
            Amount::parse_coins("abc"),
            Err(ParseAmountError::Malformed(_))
        ));
        assert!(matches!(
            Amount::parse_coins("-1"),
            Err(ParseAmountError::Malformed(_))
        ));
        assert!(matches!(
            Amount::parse_coins("."),
            Err(ParseAmountError::Malformed(_))
        ));
        assert!(matches!(
            Amount::parse_coins("21000000.00000001"),
            Err(ParseAmountError::OutOfRange(_))
        ));
        assert!(matches!(
            Amount::parse_coins("99999999999999999999999999999999999999999"),
            Err(ParseAmountError::OutOfRange(_))
        ));
        assert_eq!(Amount::new(150_000_000).unwrap().to_string(), "1.50000000");
    }
}
