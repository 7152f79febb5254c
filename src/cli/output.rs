//! Printing replies as `az ml` users expect: JSON (default), YAML or a table.

use serde_json::Value;

use super::args::OutputFormat;

/// Prints the reply's resource(s) on stdout; a failed or rejected reply goes to stderr and
/// becomes an error (non-zero exit).
pub fn print_reply(reply: &Value, format: OutputFormat) -> anyhow::Result<()> {
    let status = reply["status"].as_str().unwrap_or("Unknown");
    if status != "Succeeded" {
        let error = &reply["error"];
        let mut text = format!(
            "{} {}: {} ({})",
            reply["kind"].as_str().unwrap_or("command"),
            status,
            error["message"].as_str().unwrap_or("no message"),
            error["code"].as_str().unwrap_or("no code"),
        );
        if let Some(arm) = error.get("armError") {
            text.push_str(&format!("\nARM error: {arm}"));
        }
        anyhow::bail!(text);
    }
    if let Some(message) = reply["message"].as_str() {
        eprintln!("{message}");
    }
    let payload = if let Some(resource) = reply.get("resource") {
        resource.clone()
    } else if let Some(resources) = reply.get("resources") {
        resources.clone()
    } else {
        reply.clone()
    };
    match format {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&payload)?),
        OutputFormat::Yaml => print!("{}", serde_yaml_ng::to_string(&payload)?),
        OutputFormat::Table => print_table(&payload),
    }
    Ok(())
}

/// A job command's reply: the job on stdout (`reply.job`, its status exactly as Azure ML
/// reports it), the command's outcome on stderr, and a non-zero exit when the command did not
/// succeed. The two statuses are never merged: a job still Running after an Accepted submit, or
/// a Failed job after a command that did its part, each says so in its own words.
pub fn print_job_reply(reply: &Value, format: OutputFormat) -> anyhow::Result<()> {
    if let Some(job) = reply.get("job") {
        match format {
            OutputFormat::Json => println!("{}", serde_json::to_string_pretty(job)?),
            OutputFormat::Yaml => print!("{}", serde_yaml_ng::to_string(job)?),
            OutputFormat::Table => print_job_table(job),
        }
    }
    let line = outcome_line(reply);
    match reply["status"].as_str() {
        Some("Succeeded" | "Accepted") => {
            eprintln!("{line}");
            Ok(())
        }
        _ => anyhow::bail!(line),
    }
}

/// `SubmitSparkJob Accepted: …` — the command's outcome, with the job's status named as such.
pub fn outcome_line(reply: &Value) -> String {
    let kind = reply["kind"].as_str().unwrap_or("command");
    let status = reply["status"].as_str().unwrap_or("Unknown");
    let mut line = format!("{kind} {status}");
    if let Some(name) = reply["job"]["name"].as_str().or(reply["jobName"].as_str()) {
        line.push_str(&format!(": job {name}"));
        if let Some(job_status) = reply["job"]["status"].as_str() {
            line.push_str(&format!(" is {job_status} in Azure ML"));
        }
    }
    if let Some(message) = reply["message"].as_str() {
        line.push_str(&format!(" ({message})"));
    }
    if let Some(error) = reply.get("error") {
        line.push_str(&format!(
            "\n{}: {}",
            error["code"].as_str().unwrap_or("no code"),
            error["message"].as_str().unwrap_or("no message")
        ));
    }
    line
}

fn print_job_table(job: &Value) {
    let compute = match job["compute"]["type"].as_str() {
        Some("pool") => format!("pool {}", job["compute"]["name"].as_str().unwrap_or("?")),
        Some(other) => other.to_owned(),
        None => String::new(),
    };
    let rows = [
        ("Name", job["name"].as_str().unwrap_or("").to_owned()),
        ("Status", job["status"].as_str().unwrap_or("").to_owned()),
        ("Compute", compute),
        (
            "Why",
            job["computeReason"].as_str().unwrap_or("").to_owned(),
        ),
        (
            "Identity",
            job["identity"].as_str().unwrap_or("").to_owned(),
        ),
        ("Studio", job["studioUrl"].as_str().unwrap_or("").to_owned()),
    ];
    for (label, value) in rows {
        println!("{label:<9}{value}");
    }
}

const COLUMNS: [(&str, &str); 6] = [
    ("Name", "name"),
    ("State", "provisioning_state"),
    ("Spark", "spark_version"),
    ("Nodes", "node_count"),
    ("Size", "node_size"),
    ("Identity", "identity"),
];

fn cell(item: &Value, key: &str) -> String {
    match &item[key] {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Object(o) if key == "identity" => {
            let kind = o.get("type").and_then(Value::as_str).unwrap_or_default();
            let count = o
                .get("user_assigned_identities")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            if count > 0 {
                format!("{kind} ({count})")
            } else {
                kind.to_owned()
            }
        }
        other => other.to_string(),
    }
}

fn print_table(payload: &Value) {
    let rows: Vec<&Value> = match payload {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|item| COLUMNS.iter().map(|(_, key)| cell(item, key)).collect())
        .collect();
    let widths: Vec<usize> = COLUMNS
        .iter()
        .enumerate()
        .map(|(i, (title, _))| {
            table
                .iter()
                .map(|r| r[i].len())
                .chain([title.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<&str>| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    println!("{}", line(COLUMNS.iter().map(|(t, _)| *t).collect()));
    println!(
        "{}",
        line(
            widths
                .iter()
                .map(|w| "-".repeat(*w))
                .collect::<Vec<_>>()
                .iter()
                .map(String::as_str)
                .collect()
        )
    );
    for row in &table {
        println!("{}", line(row.iter().map(String::as_str).collect()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn outcome_and_job_status_stay_apart() {
        let accepted = json!({
            "status": "Accepted", "kind": "SubmitSparkJob",
            "message": "accepted by Azure ML and still running; not waiting (pass --wait to follow it)",
            "job": {"name": "poolbroker-abc", "status": "Queued"}
        });
        assert_eq!(
            outcome_line(&accepted),
            "SubmitSparkJob Accepted: job poolbroker-abc is Queued in Azure ML (accepted by Azure ML and still running; not waiting (pass --wait to follow it))"
        );
        assert!(print_job_reply(&accepted, OutputFormat::Json).is_ok());

        let failed = json!({
            "status": "Failed", "kind": "SubmitSparkJob",
            "error": {"code": "JobFailed", "message": "job poolbroker-abc ended Failed on pool p"},
            "job": {"name": "poolbroker-abc", "status": "Failed"}
        });
        let err = print_job_reply(&failed, OutputFormat::Json)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("SubmitSparkJob Failed: job poolbroker-abc is Failed in Azure ML"),
            "{err}"
        );
        assert!(
            err.contains("JobFailed: job poolbroker-abc ended Failed"),
            "{err}"
        );
    }
}
