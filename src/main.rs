//! The polyfeed binary: parse the command line, set up logging, run the command, map the outcome
//! to an exit code, here and nowhere else: 0 all good; 2 some feeds or posts not done (the rest
//! done); 1 usage, config, lock or store error, or anything else that stopped the command.

use std::process::ExitCode;

use clap::Parser;
use polyfeed::cli::{Cli, LogFormat};
use polyfeed::cmd::{CommandError, Done};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // --help and --version succeed; a usage error exits 1, like a config error (clap's own
        // default would be 2, which here means "partly done").
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { ExitCode::from(1) } else { ExitCode::SUCCESS };
        }
    };
    if !matches!(cli.command, polyfeed::cli::Command::Daemon | polyfeed::cli::Command::Serve) {
        // `polyfeed status | head` ends quietly, as Unix tools do. (The servers keep Rust's
        // default, so a closed socket is an error to handle, never a signal that kills them.)
        // SAFETY: setting a signal's disposition to the default before any thread starts.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    }
    init_tracing(cli.log_format, cli.verbose);
    match polyfeed::cmd::run(cli) {
        Ok(Done::All) => ExitCode::SUCCESS,
        Ok(Done::Unfinished) => ExitCode::from(2),
        Err(e) => {
            eprintln!("error: {e:#}");
            if let Some(hint) = e.hint() {
                eprintln!("hint: {hint}");
            }
            ExitCode::from(match e {
                CommandError::Usage(_) | CommandError::Config(_) | CommandError::Lock(_) | CommandError::Store(_) | CommandError::Other(_) => 1,
            })
        }
    }
}

fn init_tracing(format: LogFormat, verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => "polyfeed=warn",
        1 => "polyfeed=debug",
        _ => "polyfeed=trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.with_target(false).init(),
    }
}
