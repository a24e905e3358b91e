//! The one environment reader every variable goes through, and the shared shapes
//! of configuration (URLs, host lists, variable declarations). Nothing else in pal
//! touches `std::env`.

mod reader;
mod url;
mod var;

pub(crate) use reader::misspelling_of;
pub use reader::{Env, process_vars};
pub use url::{ConnUrl, HostPort};
pub use var::Var;
