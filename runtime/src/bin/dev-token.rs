//! `dev-token`: prints a development HS256 JWT for the Command and Query APIs.
//!
//! ```text
//! cargo run -p runtime --features auth --bin dev-token -- \
//!     --secret S --sub alice --tenant acme --roles customer,admin [--ttl 3600]
//! ```

use runtime::process::dev_token::DevTokenArgs;
use std::process::ExitCode;

fn main() -> ExitCode {
    match DevTokenArgs::parse(std::env::args().skip(1)).and_then(|a| a.token()) {
        Ok(token) => {
            println!("{token}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}
