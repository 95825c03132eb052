//! `anyipc completions SHELL`: prints a completion script for the shell, generated from the
//! command's own definition (clap_complete), so it never falls behind the subcommands.

use crate::CliError;
use clap::CommandFactory;
use clap_complete::Shell;

/// Arguments of `anyipc completions`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  anyipc completions bash > ~/.local/share/bash-completion/completions/anyipc
  anyipc completions zsh > ~/.zfunc/_anyipc        (with fpath+=~/.zfunc before compinit)
  anyipc completions fish > ~/.config/fish/completions/anyipc.fish
  source <(anyipc completions bash)                 for this shell only

Exit codes: 0 printed, 1 stdout could not be written, 2 bad usage.")]
pub(crate) struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_name = "SHELL")]
    shell: Shell,
}

/// Writes the script to stdout.
///
/// # Errors
/// A runtime error when stdout cannot be written.
pub(crate) fn run(args: CompletionsArgs) -> Result<(), CliError> {
    let mut command = crate::Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "anyipc", &mut script);
    let script = String::from_utf8_lossy(&script);
    crate::output::print_stdout(&script)
}
