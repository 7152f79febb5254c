//! cleanup (work in progress)
