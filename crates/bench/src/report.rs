//! The table `bench/run.sh` prints (Markdown, so it can go into docs/benchmarks.md as is).

use std::fmt::Write as _;

use crate::stats::Summary;

pub struct Row {
    pub figure: String,
    pub unit: &'static str,
    pub ours: Option<Summary>,
    pub theirs: Option<Summary>,
    pub target: String,
    /// `Some(true)` met, `Some(false)` missed, `None` no target.
    pub met: Option<bool>,
}

impl Row {
    pub fn new(figure: impl Into<String>, unit: &'static str, ours: Option<Summary>) -> Self {
        Self {
            figure: figure.into(),
            unit,
            ours,
            theirs: None,
            target: String::new(),
            met: None,
        }
    }

    pub fn versus(mut self, theirs: Option<Summary>) -> Self {
        self.theirs = theirs;
        self
    }

    pub fn target(mut self, text: impl Into<String>, met: Option<bool>) -> Self {
        self.target = text.into();
        self.met = met;
        self
    }

    /// How many times faster (or smaller) poolbroker's median is.
    pub fn ratio(&self) -> Option<f64> {
        match (self.ours, self.theirs) {
            (Some(o), Some(t)) if o.median > 0.0 => Some(t.median / o.median),
            _ => None,
        }
    }
}

fn num(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else if v >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

fn pair(s: Option<Summary>) -> (String, String, String) {
    match s {
        Some(s) => (num(s.median), num(s.p99), s.runs.to_string()),
        None => ("–".into(), "–".into(), "–".into()),
    }
}

pub fn render(rows: &[Row]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| figure | unit | poolbroker median | p99 | n | azure-ai-ml median | p99 | n | ratio | target | met |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|");
    for row in rows {
        let (om, op, on) = pair(row.ours);
        let (tm, tp, tn) = pair(row.theirs);
        let ratio = row
            .ratio()
            .map(|r| format!("{}×", num(r)))
            .unwrap_or_else(|| "–".into());
        let met = match row.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "",
        };
        let _ = writeln!(
            out,
            "| {} | {} | {om} | {op} | {on} | {tm} | {tp} | {tn} | {ratio} | {} | {met} |",
            row.figure, row.unit, row.target
        );
    }
    out
}
