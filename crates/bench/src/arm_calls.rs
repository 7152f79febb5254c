//! Names for the ARM requests a command makes, and the check for redundant reads.

/// A short name for one recorded request (`GET compute`, `PUT compute`, `GET operation`, …).
pub fn label(method: &str, path: &str) -> String {
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let p = path.to_ascii_lowercase();
    let what = if p.starts_with("/msi/token") {
        "managed-identity token"
    } else if p.contains("/computeoperationsstatus/") || p.contains("/mfeoperationsstatus/") {
        "operation status"
    } else if p.contains("/computeoperationsresults/") || p.contains("/mfeoperationresults/") {
        "operation result"
    } else if p.ends_with("/computes") {
        "computes (list)"
    } else if p.contains("/computes/") {
        "compute"
    } else if p.ends_with("/jobs") {
        "jobs (list)"
    } else if p.contains("/bigdatapools/") {
        "synapse pool"
    } else if p.rsplit('/').nth(1) == Some("workspaces") {
        "workspace"
    } else {
        "other"
    };
    let page = if query.is_empty() { "" } else { ", next page" };
    format!("{method} {what}{page}")
}

/// (method, path?query) of a recorded request: pages of one list differ only in their query.
pub fn target(r: &azureml_emulator::RecordedRequest) -> (String, String) {
    let path = match &r.query {
        Some(q) if q.contains("$skip") || q.contains("%24skip") => format!("{}?{q}", r.path),
        _ => r.path.clone(),
    };
    (r.method.clone(), path)
}

/// A read repeated with no write between the two: the second could have been avoided.
pub fn redundant_reads(requests: &[(String, String)]) -> Vec<String> {
    let mut seen: Vec<&(String, String)> = Vec::new();
    let mut redundant = Vec::new();
    for request in requests {
        let (method, path) = request;
        if method != "GET" {
            seen.clear();
            continue;
        }
        // Operation monitors are polled by design until they report a terminal state.
        let polled = label(method, path).contains("operation");
        if !polled && seen.contains(&request) {
            redundant.push(format!("{method} {path}"));
        }
        seen.push(request);
    }
    redundant
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        let ws = "/subscriptions/s/resourceGroups/r/providers/Microsoft.MachineLearningServices/workspaces/w";
        assert_eq!(label("GET", ws), "GET workspace");
        assert_eq!(label("PUT", &format!("{ws}/computes/c")), "PUT compute");
        assert_eq!(
            label("GET", &format!("{ws}/computes")),
            "GET computes (list)"
        );
        assert_eq!(
            label(
                "GET",
                "/subscriptions/s/providers/Microsoft.MachineLearningServices/locations/eastus2/computeOperationsStatus/x"
            ),
            "GET operation status"
        );
    }

    #[test]
    fn repeated_get_without_write_is_redundant() {
        let get = |p: &str| ("GET".to_owned(), p.to_owned());
        let put = |p: &str| ("PUT".to_owned(), p.to_owned());
        assert!(redundant_reads(&[get("/c"), put("/c"), get("/c")]).is_empty());
        assert!(redundant_reads(&[get("/cs"), get("/cs?$skip=x")]).is_empty());
        assert_eq!(redundant_reads(&[get("/c"), get("/c")]), vec!["GET /c"]);
    }
}
