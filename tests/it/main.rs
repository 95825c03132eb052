//! The one integration-test binary. Each module tests one area; `util` holds what they share.

mod cli;
mod docs;
mod smoke;
mod util;
