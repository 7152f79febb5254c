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
