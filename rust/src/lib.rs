//! uoseg: a user-segmentation engine. The core (everything but `py`) is plain
//! Rust with no Python in it; `py` holds the PyO3 bindings (feature `python`).

pub mod algebra;
pub mod build;
pub mod bytes;
pub mod error;
pub mod ids;
pub mod ingest;
pub mod memory;
pub mod names;
pub mod numeric;
pub mod overlap;
pub mod parallel;
pub mod persist;
pub mod quantile;
pub mod query;
pub mod rank;
pub mod rfm;
pub mod roaring_view;
pub mod split;
pub mod store;
pub mod suggest;
pub mod syntax;
pub mod words;

#[cfg(feature = "python")]
mod py;

pub use error::{Error, Result};
