//! handler (work in progress)
