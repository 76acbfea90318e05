//! Hand-written rules of the `ledger` context (the test catalog's implementation of its hooks).

use ledger_contracts::account::{Account, Withdraw};

/// The hand-written rules of the `ledger` context.
pub struct Hooks;

/// Withdrawals above this amount (minor units) are refused on accounts with holds.
const LARGE_WITHDRAWAL: i64 = 50_000;

impl ledger_contracts::hooks::LedgerHooks for Hooks {
    /// Large withdrawals are refused while the account has holds.
    fn withdrawal_velocity(
        &self,
        state: Option<&Account>,
        cmd: &Withdraw,
        _ctx: &runtime::CommandContext,
    ) -> bool {
        cmd.amount <= LARGE_WITHDRAWAL || state.is_some_and(|s| s.holds.is_empty())
    }
}
