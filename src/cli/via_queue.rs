//! `--via-queue` and `poolbroker send --wait`: send the command to the broker's queue and wait
//! for its correlated reply.

use serde_json::Value;

use crate::domain::Envelope;

pub async fn execute_via_queue(_envelope: &Envelope) -> anyhow::Result<Value> {
    anyhow::bail!("--via-queue is not available yet")
}
