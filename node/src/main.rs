//! The `kikv` binary: parse the command line and hand over to the library.

/// See the `mimalloc` line of `Cargo.toml`: the allocator is the binary's choice, not the
/// library's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    kikv::cli::main()
}
