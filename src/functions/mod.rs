//! functions (work in progress)
