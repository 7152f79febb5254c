pub mod cold_start;
pub mod operations;
pub mod overhead;
pub mod throughput;
