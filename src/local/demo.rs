//! `poolbroker local --demo` (filled in as features land).

use super::LocalWorld;

pub async fn run_demo(_world: &LocalWorld) -> anyhow::Result<()> {
    Ok(())
}
