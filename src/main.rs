//! The `harmonic` command: server, client and tools in one binary. All the
//! work is in the library; this only hands over to [`harmonic::cli::run`].

fn main() -> std::process::ExitCode {
    harmonic::cli::run()
}
