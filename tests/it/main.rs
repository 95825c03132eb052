//! The one integration-test binary. Each module tests one area; `util` holds what they share.

mod cli;
mod docs;
mod examples;
mod smoke;
mod util;
