//! How the command reports failure: one line on stderr and an exit code.

use std::process::ExitCode;

/// A failure of the command.
#[derive(Debug)]
pub(crate) enum CliError {
    /// Bad usage or a bad endpoint URL: exit 2.
    Usage(String),
    /// Anything that went wrong while running: exit 1.
    Runtime(String),
}

impl CliError {
    /// Turns a clap error into one line (help and version go to stdout with exit 0).
    pub(crate) fn from_clap(err: clap::Error) -> CliError {
        use clap::error::ErrorKind;
        match err.kind() {
            ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                let _ = err.print();
                std::process::exit(
                    if err.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                        2
                    } else {
                        0
                    },
                );
            }
            _ => CliError::Usage(first_line(&err.to_string())),
        }
    }

    /// Prefixes a runtime failure with what was being done (`cannot connect to …: refused`).
    /// A usage error already says what is wrong and stays as it is.
    pub(crate) fn context(self, doing: &str) -> CliError {
        match self {
            CliError::Runtime(msg) => CliError::Runtime(format!("{doing}: {msg}")),
            usage => usage,
        }
    }

    /// Prints the one line and gives the exit code.
    pub(crate) fn report(self) -> ExitCode {
        match self {
            CliError::Usage(msg) => {
                eprintln!("anyipc: {msg} (see anyipc --help)");
                ExitCode::from(2)
            }
            CliError::Runtime(msg) => {
                eprintln!("anyipc: {msg}");
                ExitCode::from(1)
            }
        }
    }
}

impl From<std::io::Error> for CliError {
    fn from(err: std::io::Error) -> Self {
        match err
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<anyipc::EndpointParseError>())
        {
            Some(parse) => CliError::Usage(parse.to_string()),
            None => CliError::Runtime(err.to_string()),
        }
    }
}

impl From<anyipc::EndpointParseError> for CliError {
    fn from(err: anyipc::EndpointParseError) -> Self {
        CliError::Usage(err.to_string())
    }
}

/// The first line of a clap error, without its `error: ` prefix. A line ending in `:`
/// ("the following required arguments were not provided:") gets the indented lines under it,
/// so the one line still says what is wrong.
fn first_line(text: &str) -> String {
    let mut lines = text.lines().skip_while(|l| l.trim().is_empty());
    let first = lines
        .next()
        .unwrap_or("bad usage")
        .trim_start_matches("error: ")
        .trim_end();
    if !first.ends_with(':') {
        return first.to_owned();
    }
    let items: Vec<&str> = lines
        .take_while(|l| l.starts_with(' ') && !l.trim().is_empty())
        .map(str::trim)
        .collect();
    format!("{first} {}", items.join(", "))
}

#[cfg(test)]
mod tests {
    use super::first_line;

    #[test]
    fn clap_errors_become_one_line() {
        assert_eq!(
            first_line("error: unexpected argument '--x' found\n\n  tip: …\n\nUsage: anyipc\n"),
            "unexpected argument '--x' found"
        );
        assert_eq!(
            first_line(
                "error: the following required arguments were not provided:\n  <URL>\n  <N>\n\n\
                 Usage: anyipc send <URL>\n"
            ),
            "the following required arguments were not provided: <URL>, <N>"
        );
    }
}
