//! The `gljob` binary: everything is in the library (`src/lib.rs`).

fn main() {
    std::process::exit(gljob::run(std::env::args_os().skip(1).collect()));
}
