//! A small bank-account aggregate for the command-handler, state-store and relay tests.
#![allow(dead_code)]

use runtime::message::{AggregateRoot, CommandContext, Decision, DecodeError, MessageSet};
use runtime::{Metadata, RawEnvelope};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The aggregate's state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Account {
    pub balance: i64,
    pub operations: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub enum AccountCommand {
    /// Opens the account; `initial > 0` also deposits (two events).
    Open {
        initial: i64,
    },
    Deposit {
        amount: i64,
    },
    Withdraw {
        amount: i64,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub enum AccountEvent {
    Opened,
    Deposited { amount: i64 },
    Withdrawn { amount: i64 },
    WithdrawalRejected { amount: i64 },
}

fn invalid(t: &str, source: serde_json::Error) -> DecodeError {
    DecodeError::InvalidPayload {
        message_type: t.to_owned(),
        source,
    }
}

fn field(t: &str, p: &Value, name: &str) -> Result<i64, DecodeError> {
    serde_json::from_value::<i64>(p.get(name).cloned().unwrap_or(Value::Null))
        .map_err(|e| invalid(t, e))
}

impl MessageSet for AccountCommand {
    const TYPES: &'static [&'static str] = &["bank.OpenAccount", "bank.Deposit", "bank.Withdraw"];
    fn decode(t: &str, p: Value) -> Result<Self, DecodeError> {
        match t {
            "bank.OpenAccount" => Ok(Self::Open {
                initial: field(t, &p, "initial")?,
            }),
            "bank.Deposit" => Ok(Self::Deposit {
                amount: field(t, &p, "amount")?,
            }),
            "bank.Withdraw" => Ok(Self::Withdraw {
                amount: field(t, &p, "amount")?,
            }),
            _ => Err(DecodeError::UnknownType(t.to_owned())),
        }
    }
    fn message_type(&self) -> &'static str {
        match self {
            Self::Open { .. } => "bank.OpenAccount",
            Self::Deposit { .. } => "bank.Deposit",
            Self::Withdraw { .. } => "bank.Withdraw",
        }
    }
    fn encode(&self) -> Value {
        match self {
            Self::Open { initial } => json!({ "initial": initial }),
            Self::Deposit { amount } | Self::Withdraw { amount } => json!({ "amount": amount }),
        }
    }
}

impl MessageSet for AccountEvent {
    const TYPES: &'static [&'static str] = &[
        "bank.AccountOpened",
        "bank.Deposited",
        "bank.Withdrawn",
        "bank.WithdrawalRejected",
    ];
    fn decode(t: &str, p: Value) -> Result<Self, DecodeError> {
        match t {
            "bank.AccountOpened" => Ok(Self::Opened),
            "bank.Deposited" => Ok(Self::Deposited {
                amount: field(t, &p, "amount")?,
            }),
            "bank.Withdrawn" => Ok(Self::Withdrawn {
                amount: field(t, &p, "amount")?,
            }),
            "bank.WithdrawalRejected" => Ok(Self::WithdrawalRejected {
                amount: field(t, &p, "amount")?,
            }),
            _ => Err(DecodeError::UnknownType(t.to_owned())),
        }
    }
    fn message_type(&self) -> &'static str {
        match self {
            Self::Opened => "bank.AccountOpened",
            Self::Deposited { .. } => "bank.Deposited",
            Self::Withdrawn { .. } => "bank.Withdrawn",
            Self::WithdrawalRejected { .. } => "bank.WithdrawalRejected",
        }
    }
    fn encode(&self) -> Value {
        match self {
            Self::Opened => json!({}),
            Self::Deposited { amount }
            | Self::Withdrawn { amount }
            | Self::WithdrawalRejected { amount } => json!({ "amount": amount }),
        }
    }
}

impl AggregateRoot for Account {
    const TYPE: &'static str = "bank.Account";
    type Command = AccountCommand;
    type Event = AccountEvent;
    type Hooks = ();

    fn decide(
        _: &(),
        state: Option<&Self>,
        _: &CommandContext,
        command: &AccountCommand,
    ) -> Decision<AccountEvent> {
        let reject = |code: &str, events| Decision::Reject {
            code: code.to_owned(),
            message: format!("{code}: {command:?}"),
            events,
        };
        match (command, state) {
            (AccountCommand::Open { .. }, Some(_)) => reject("already_open", vec![]),
            (AccountCommand::Open { initial }, None) => {
                let mut events = vec![AccountEvent::Opened];
                if *initial > 0 {
                    events.push(AccountEvent::Deposited { amount: *initial });
                }
                Decision::Accept(events)
            }
            (_, None) => reject("not_found", vec![]),
            (AccountCommand::Deposit { amount }, Some(_)) => {
                Decision::Accept(vec![AccountEvent::Deposited { amount: *amount }])
            }
            (AccountCommand::Withdraw { amount }, Some(s)) if s.balance < *amount => reject(
                "insufficient_funds",
                vec![AccountEvent::WithdrawalRejected { amount: *amount }],
            ),
            (AccountCommand::Withdraw { amount }, Some(_)) => {
                Decision::Accept(vec![AccountEvent::Withdrawn { amount: *amount }])
            }
        }
    }

    fn apply(state: Option<Self>, _: &CommandContext, event: &AccountEvent) -> Self {
        let mut s = state.unwrap_or(Account {
            balance: 0,
            operations: 0,
        });
        match event {
            AccountEvent::Opened | AccountEvent::WithdrawalRejected { .. } => {}
            AccountEvent::Deposited { amount } => s.balance += amount,
            AccountEvent::Withdrawn { amount } => s.balance -= amount,
        }
        s.operations += 1;
        s
    }
}

/// A command envelope for `bank.Account` `account` of `tenant`.
pub fn command(tenant: &str, account: &str, command: AccountCommand) -> RawEnvelope {
    let mut meta = Metadata::new_root(command.message_type(), tenant);
    meta.aggregate_id = Some(account.to_owned());
    RawEnvelope {
        meta,
        payload: command.encode(),
    }
}
