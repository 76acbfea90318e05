//! Rebuilds when the runtime's migrations change (embedded by `sqlx::migrate!`).
fn main() {
    println!("cargo:rerun-if-changed=../../runtime/migrations");
}
