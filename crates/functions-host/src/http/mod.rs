pub(crate) mod request;
pub(crate) mod response;
pub(crate) mod route;
pub(crate) mod server;
