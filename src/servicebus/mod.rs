//! servicebus (work in progress)
