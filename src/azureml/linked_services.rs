//! SDK v1 linked services (api-version 2020-09-01-preview, reference §8): typed ids in, typed
//! models out.

use http::Method;
use url::Url;

use super::client::ArmClient;
use super::error::ArmError;
use super::resources::decode;
use crate::domain::{
    LINKED_SERVICES_API_VERSION, LinkedService, LinkedServiceName, SynapseWorkspaceId, WorkspaceId,
    linked_service::register_body,
};

impl ArmClient {
    /// `{endpoint}{workspace}/linkedServices[/{name}]?api-version=2020-09-01-preview`. Both parts
    /// are validated types, so every segment is a plain name.
    fn linked_service_url(&self, ws: &WorkspaceId, name: Option<&LinkedServiceName>) -> Url {
        let mut url = self.options().endpoint.clone();
        let ws_id = ws.arm_id();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty()
                .extend(ws_id.split('/').filter(|s| !s.is_empty()))
                .push("linkedServices");
            if let Some(name) = name {
                path.push(name.as_str());
            }
        }
        url.query_pairs_mut()
            .append_pair("api-version", LINKED_SERVICES_API_VERSION);
        url
    }

    pub async fn list_linked_services(
        &self,
        ws: &WorkspaceId,
    ) -> Result<Vec<LinkedService>, ArmError> {
        let url = self.linked_service_url(ws, None);
        self.list(&url)
            .await?
            .into_iter()
            .map(|v| decode("linked service", v))
            .collect()
    }

    /// `None` when there is no such link (404).
    pub async fn get_linked_service(
        &self,
        ws: &WorkspaceId,
        name: &LinkedServiceName,
    ) -> Result<Option<LinkedService>, ArmError> {
        let url = self.linked_service_url(ws, Some(name));
        match self.get(&url).await {
            Ok(r) => decode("linked service", r.body).map(Some),
            Err(ArmError::Status { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn register_linked_service(
        &self,
        ws: &WorkspaceId,
        name: &LinkedServiceName,
        location: &str,
        synapse: &SynapseWorkspaceId,
    ) -> Result<LinkedService, ArmError> {
        let url = self.linked_service_url(ws, Some(name));
        let body = register_body(name, location, synapse);
        decode("linked service", self.put(&url, &body).await?.body)
    }

    /// `false` when there was nothing to delete (204).
    pub async fn unregister_linked_service(
        &self,
        ws: &WorkspaceId,
        name: &LinkedServiceName,
    ) -> Result<bool, ArmError> {
        let url = self.linked_service_url(ws, Some(name));
        let response = self
            .send(&self.call_context(), Method::DELETE, &url, None, None)
            .await?;
        Ok(response.status != 204)
    }
}
