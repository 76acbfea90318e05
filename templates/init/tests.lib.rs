//! Your own tests of the generated services, run by `cargo test`. Yours to edit:
//! `codegen generate` never touches this crate.

#[cfg(test)]
mod tasks;
