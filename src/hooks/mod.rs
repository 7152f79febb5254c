//! hooks (work in progress)
