//! `dead-letters`: lists, shows, replays and discards the messages of dead-letter queues.
//!
//! ```text
//! cargo run -p runtime --features amqp --bin dead-letters -- list
//! cargo run -p runtime --features amqp --bin dead-letters -- show inventory.commands <message id>
//! cargo run -p runtime --features amqp --bin dead-letters -- replay inventory.commands --all
//! ```
//!
//! See `runtime::process::dead_letters` for every option.

use runtime::process::dead_letters::DeadLetterArgs;
use std::process::ExitCode;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = match DeadLetterArgs::parse(std::env::args().skip(1), |k| std::env::var(k).ok()) {
        Ok(a) => a,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::FAILURE;
        }
    };
    match args.run().await {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
