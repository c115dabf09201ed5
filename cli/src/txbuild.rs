//! Building a payment: largest-first coin selection, change, fee from the
//! actual encoded size, and signing; and the max-fee guard that refuses an
//! absurd fee before anything is sent.

use rumor_chain::{Address, Amount, KeyPair, OutPoint, Transaction, TxIn, TxOut};

use crate::CliError;

/// The largest transaction the CLI builds (the network limit is 100 kB).
pub const MAX_TX_BYTES: usize = 99_000;

/// The default `--max-fee`, in coins: ten times the minimum relay fee of
/// the largest transaction (1 unit/byte × 100 kB), and far above a typical
/// payment's (about 250 units); like bitcoind's `-maxtxfee`.
pub const DEFAULT_MAX_FEE: &str = "0.01";

/// Refuses a payment whose fee is above `max`.
///
/// # Errors
/// [`CliError::FeeTooHigh`], naming the fee, its rate and size, and the limit.
pub fn check_fee(p: &Payment, max: Amount) -> Result<(), CliError> {
    if p.fee <= max {
        return Ok(());
    }
    let size = p.tx.size();
    Err(CliError::FeeTooHigh {
        fee: p.fee,
        rate: p.fee.units() / size.max(1) as u64,
        size,
        max,
    })
}

/// A spendable coin and the key that owns it.
#[derive(Debug, Clone, Copy)]
pub struct Spendable {
    /// The output.
    pub outpoint: OutPoint,
    /// Its value.
    pub amount: Amount,
    /// Index of its key in the key list given to [`build_payment`].
    pub key: usize,
}

/// How the fee is set.
#[derive(Debug, Clone, Copy)]
pub enum Fee {
    /// Units per encoded byte.
    PerByte(u64),
    /// A fixed amount.
    Fixed(Amount),
}

/// A signed payment.
#[derive(Debug, Clone)]
pub struct Payment {
    /// The transaction.
    pub tx: Transaction,
    /// The fee it pays.
    pub fee: Amount,
    /// The change returned (zero: no change output).
    pub change: Amount,
}

/// Pays `amount` to `to` from `coins` (largest first; ties keep their
/// order), returning change to `change_to`, signed with `keys`.
///
/// # Errors
/// [`CliError::InsufficientFunds`], or a transaction that would be too large.
pub fn build_payment(
    mut coins: Vec<Spendable>,
    keys: &[KeyPair],
    to: Address,
    amount: Amount,
    change_to: Address,
    fee: Fee,
) -> Result<Payment, CliError> {
    if amount == Amount::ZERO {
        return Err(CliError::InvalidAmount {
            text: "0".into(),
            reason: "the amount must be positive".into(),
        });
    }
    coins.sort_by_key(|c| std::cmp::Reverse(c.amount));
    let have = coins
        .iter()
        .fold(0u64, |s, c| s.saturating_add(c.amount.units()));
    let mut total = 0u64;
    let mut tx = Transaction {
        version: Transaction::VERSION,
        inputs: Vec::new(),
        outputs: vec![
            TxOut {
                amount,
                address: to,
            },
            TxOut {
                // A placeholder of the largest varint size, replaced below.
                amount: Amount::MAX_MONEY,
                address: change_to,
            },
        ],
    };
    let mut last_fee = 0;
    for c in &coins {
        let key = keys
            .get(c.key)
            .ok_or_else(|| CliError::Other("coin without a key".into()))?;
        tx.inputs.push(TxIn::unsigned(c.outpoint, key.public()));
        total = total.saturating_add(c.amount.units());
        if tx.size() > MAX_TX_BYTES {
            return Err(CliError::Other(format!(
                "paying {amount} needs more inputs than fit in one transaction; send less at a time"
            )));
        }
        let fee_units = match fee {
            Fee::PerByte(rate) => rate.saturating_mul(tx.size() as u64),
            Fee::Fixed(a) => a.units(),
        };
        last_fee = fee_units;
        let need = amount.units().saturating_add(fee_units);
        if total < need {
            continue;
        }
        // The placeholder change made the size an upper bound; settle the
        // fee on the real size (a smaller change may encode shorter).
        let mut fee_units = fee_units;
        let mut change = total - need;
        if change == 0 {
            tx.outputs.pop();
        } else {
            let amount_of = |units: u64| {
                Amount::new(units).map_err(|_| CliError::InvalidAmount {
                    text: units.to_string(),
                    reason: "change out of range".into(),
                })
            };
            // The last (fee, change) whose fee covers its own size.
            let mut good = (fee_units, change);
            for _ in 0..4 {
                tx.outputs[1].amount = amount_of(change)?;
                let Fee::PerByte(rate) = fee else { break };
                let exact = rate.saturating_mul(tx.size() as u64);
                if exact <= fee_units {
                    good = (fee_units, change);
                }
                if exact >= fee_units {
                    break;
                }
                change += fee_units - exact;
                fee_units = exact;
            }
            (fee_units, change) = good;
            tx.outputs[1].amount = amount_of(change)?;
        }
        let refs: Vec<&KeyPair> = keys.iter().collect();
        tx.sign(&refs)
            .map_err(|e| CliError::Other(format!("signing: {e}")))?;
        return Ok(Payment {
            tx,
            fee: Amount::new(fee_units).unwrap_or(Amount::MAX_MONEY),
            change: Amount::new(change).unwrap_or(Amount::ZERO),
        });
    }
    Err(CliError::InsufficientFunds {
        have: Amount::new(have).unwrap_or(Amount::MAX_MONEY),
        need: Amount::new(amount.units().saturating_add(last_fee)).unwrap_or(Amount::MAX_MONEY),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rumor_chain::{Network, Params, Txid, check_transaction};

    fn coin(i: u8, units: u64) -> Spendable {
        Spendable {
            outpoint: OutPoint::new(Txid([i; 32]), 0),
            amount: Amount::new(units).unwrap(),
            key: 0,
        }
    }

    #[test]
    fn selects_largest_first_pays_fee_and_change() {
        let k = KeyPair::from_seed([1; 32]);
        let to = KeyPair::from_seed([2; 32]).address();
        let coins = vec![coin(1, 1_000), coin(2, 50_000), coin(3, 20_000)];
        let p = build_payment(
            coins,
            std::slice::from_ref(&k),
            to,
            Amount::new(30_000).unwrap(),
            k.address(),
            Fee::PerByte(1),
        )
        .unwrap();
        assert_eq!(p.tx.inputs.len(), 1);
        assert_eq!(p.tx.inputs[0].prev.txid, Txid([2; 32]));
        assert_eq!(p.fee.units(), p.tx.size() as u64);
        assert_eq!(
            p.tx.outputs[1].amount.units(),
            50_000 - 30_000 - p.fee.units()
        );
        let params = Params::new(Network::Regtest);
        check_transaction(p.tx, &params).unwrap();
    }

    #[test]
    fn an_absurd_fee_is_refused_unless_allowed() {
        let k = KeyPair::from_seed([1; 32]);
        let pay = |rate| {
            build_payment(
                vec![coin(1, 10 * rumor_chain::COIN)],
                std::slice::from_ref(&k),
                k.address(),
                Amount::new(rumor_chain::COIN).unwrap(),
                k.address(),
                Fee::PerByte(rate),
            )
            .unwrap()
        };
        let max = Amount::parse_coins(DEFAULT_MAX_FEE).unwrap();
        check_fee(&pay(1), max).unwrap();
        // 5 coins of fee: 2,000,000 units per byte.
        let absurd = pay(2_000_000);
        assert!(absurd.fee.units() > rumor_chain::COIN);
        match check_fee(&absurd, max) {
            Err(CliError::FeeTooHigh {
                fee, rate, max: m, ..
            }) => {
                assert_eq!(fee, absurd.fee);
                assert_eq!(rate, 2_000_000);
                assert_eq!(m, max);
            }
            other => panic!("{other:?}"),
        }
        check_fee(&absurd, Amount::new(5 * rumor_chain::COIN).unwrap()).unwrap();
    }

    #[test]
    fn insufficient_funds_is_named() {
        let k = KeyPair::from_seed([1; 32]);
        let e = build_payment(
            vec![coin(1, 100)],
            std::slice::from_ref(&k),
            k.address(),
            Amount::new(1_000).unwrap(),
            k.address(),
            Fee::PerByte(1),
        )
        .unwrap_err();
        assert!(matches!(e, CliError::InsufficientFunds { .. }));
    }
}
