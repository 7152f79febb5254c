pub(crate) mod runner;
pub(crate) mod schedule;
pub(crate) mod status;
