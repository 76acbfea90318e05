//! Hand-written rules of the `ledger` context (the test catalog's implementation of its hooks).

use ledger_contracts::account::{Account, Withdraw};

/// The hand-written rules of the `ledger` context.
pub struct Hooks;

/// Withdrawals above this amount (minor units) may not draw on the overdraft.
const LARGE_WITHDRAWAL: i64 = 50_000;

impl ledger_contracts::hooks::LedgerHooks for Hooks {
    /// A large withdrawal must be covered by the balance alone, not by the overdraft.
    fn withdrawal_velocity(
        &self,
        state: Option<&Account>,
        cmd: &Withdraw,
        _ctx: &runtime::CommandContext,
    ) -> bool {
        cmd.amount <= LARGE_WITHDRAWAL || state.is_some_and(|s| s.balance >= cmd.amount)
    }
}
