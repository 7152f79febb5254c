//! Runtime configuration (work in progress)
