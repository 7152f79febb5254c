//! Deployable package builder (work in progress)
