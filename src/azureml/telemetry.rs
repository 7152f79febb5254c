//! What of a request may appear in spans, logs and errors.

use url::Url;

/// Query parameters whose values are known not to be secret. Anything else (SAS `sig`, `code`,
/// tokens a proxy might add) is replaced, because operation URLs are opaque to us.
const SAFE_QUERY_KEYS: &[&str] = &[
    "api-version",
    "underlyingResourceAction",
    "listViewType",
    "jobType",
    "$skip",
];

/// `url` without credentials, fragment or unknown query values.
pub fn redacted_url(url: &Url) -> String {
    let mut clean = url.clone();
    let _ = clean.set_username("");
    let _ = clean.set_password(None);
    clean.set_fragment(None);
    if url.query().is_some() {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let value = if SAFE_QUERY_KEYS.contains(&k.as_ref()) {
                    v.into_owned()
                } else {
                    "REDACTED".to_owned()
                };
                (k.into_owned(), value)
            })
            .collect();
        clean.query_pairs_mut().clear().extend_pairs(pairs);
    }
    clean.to_string()
}

/// `az.namespace` for the span: the resource provider the URL addresses.
pub fn namespace_for(url: &Url) -> &'static str {
    let path = url.path().to_ascii_lowercase();
    if path.contains("/providers/microsoft.synapse/") {
        "Microsoft.Synapse"
    } else {
        "Microsoft.MachineLearningServices"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_api_version_and_drops_secrets() {
        let url = Url::parse(
            "https://user:pw@management.azure.com/subscriptions/s/x?api-version=2025-12-01&sig=abc&underlyingResourceAction=Detach#frag",
        )
        .unwrap();
        let shown = redacted_url(&url);
        assert_eq!(
            shown,
            "https://management.azure.com/subscriptions/s/x?api-version=2025-12-01&sig=REDACTED&underlyingResourceAction=Detach"
        );
    }

    #[test]
    fn namespace_follows_the_provider() {
        let synapse = Url::parse("https://h/subscriptions/s/resourceGroups/r/providers/Microsoft.Synapse/workspaces/w/bigDataPools/p").unwrap();
        assert_eq!(namespace_for(&synapse), "Microsoft.Synapse");
        let aml = Url::parse("https://h/subscriptions/s/resourceGroups/r/providers/Microsoft.MachineLearningServices/workspaces/w").unwrap();
        assert_eq!(namespace_for(&aml), "Microsoft.MachineLearningServices");
    }
}
