//! Entra ID for Service Bus (identity-based connections). The REST crate only knows SAS, so the
//! transport swaps its `Authorization` header for a bearer token from the same
//! [`crate::credential::TokenSource`] ARM uses, asked for this audience.

/// The audience of Service Bus data-plane tokens.
pub const SERVICE_BUS_SCOPE: &str = "https://servicebus.azure.net/.default";
