//! Everything `pal` prints goes through here. A reader that went away (`pal … |
//! head`) ends the command quietly with the status a shell gives a process killed
//! by SIGPIPE; any other write error (a full disk) is reported with exit status 3.
//! Nothing panics on output.

use std::io::{self, BufWriter, IsTerminal, Stdout, Write};

use pal::{Error, ErrorKind, Result};

/// 128 + SIGPIPE.
const CLOSED_PIPE: i32 = 141;

fn failed(e: io::Error) -> Error {
    if e.kind() == io::ErrorKind::BrokenPipe {
        std::process::exit(CLOSED_PIPE);
    }
    Error::new(ErrorKind::Backend, format!("cannot write the output: {e}"))
}

/// Standard output, buffered; flushed by [`Out::finish`].
pub(crate) struct Out(BufWriter<Stdout>);

impl Out {
    pub(crate) fn new() -> Out {
        Out(BufWriter::with_capacity(64 * 1024, io::stdout()))
    }

    pub(crate) fn bytes(&mut self, data: &[u8]) -> Result<()> {
        self.0.write_all(data).map_err(failed)
    }

    pub(crate) fn line(&mut self, text: impl std::fmt::Display) -> Result<()> {
        writeln!(self.0, "{text}").map_err(failed)
    }

    pub(crate) fn finish(mut self) -> Result<()> {
        self.0.flush().map_err(failed)
    }
}

/// One line to standard output.
pub(crate) fn line(text: impl std::fmt::Display) -> Result<()> {
    let mut out = Out::new();
    out.line(text)?;
    out.finish()
}

/// Whether standard output is a terminal (rather than a pipe or a file).
pub(crate) fn is_terminal() -> bool {
    io::stdout().is_terminal()
}

/// A message to standard error. Failing to write one changes nothing else.
pub(crate) fn note(text: impl std::fmt::Display) {
    let _ = writeln!(io::stderr(), "pal: {text}");
}
