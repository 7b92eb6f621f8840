//! The figures: one [`Row`] each, printed as a table and written as JSON.

use std::fmt;
use std::path::{Path, PathBuf};

use comfy_table::{Cell, ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use serde_json::json;

use super::Outcome;

/// A number with its unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measure {
    /// The number.
    pub value: f64,
    /// `req/s`, `rows/s`, `refreshes/s`, `ms`, `µs`, `requests`, `MiB`, `yes/no`.
    pub unit: &'static str,
}

impl Measure {
    /// `value` in `unit`.
    pub fn new(value: f64, unit: &'static str) -> Self {
        Measure { value, unit }
    }

    /// A yes/no figure.
    pub fn flag(yes: bool) -> Self {
        Measure::new(if yes { 1.0 } else { 0.0 }, "yes/no")
    }
}

impl fmt::Display for Measure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.unit {
            "yes/no" => f.write_str(if self.value != 0.0 { "yes" } else { "no" }),
            "ms" => write!(f, "{:.1} ms", self.value),
            "µs" => write!(f, "{:.2} µs", self.value),
            "MiB" => write!(f, "{:.1} MiB", self.value),
            "requests" | "" => write!(f, "{}", grouped(self.value)),
            unit => write!(f, "{} {unit}", grouped(self.value)),
        }
    }
}

/// `1234567.8` as `1,234,568`.
fn grouped(v: f64) -> String {
    let n = v.round() as i64;
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// One figure of the table.
#[derive(Debug, Clone)]
pub struct Row {
    /// The benchmark (1 to 5, with a short name).
    pub bench: &'static str,
    /// What is measured, and what the baseline is.
    pub figure: String,
    /// The candidate's figure (median of its runs).
    pub value: Measure,
    /// The baseline's figure, measured in the same run.
    pub baseline: Option<Measure>,
    /// What the baseline is.
    pub baseline_label: Option<String>,
    /// `value / baseline` (or the ratio the target is stated in).
    pub ratio: Option<f64>,
    /// The lowest and highest ratio of the interleaved pairs behind it.
    pub spread: Option<(f64, f64)>,
    /// The target, in words.
    pub target: Option<String>,
    /// Whether the target is met.
    pub met: Option<bool>,
    /// A hard check (a count, never a time): failing it fails the run.
    pub check: bool,
}

impl Row {
    /// A figure with no baseline or target.
    pub fn info(bench: &'static str, figure: impl Into<String>, value: Measure) -> Self {
        Row {
            bench,
            figure: figure.into(),
            value,
            baseline: None,
            baseline_label: None,
            ratio: None,
            spread: None,
            target: None,
            met: None,
            check: false,
        }
    }

    /// Adds a baseline (`label` says what it is); the ratio is `value / baseline`.
    pub fn baseline(mut self, label: impl Into<String>, baseline: Measure) -> Self {
        self.baseline = Some(baseline);
        self.baseline_label = Some(label.into());
        if baseline.value != 0.0 {
            self.ratio = Some(self.value.value / baseline.value);
        }
        self
    }

    /// Adds the spread of the per-pair ratios `value[i] / baseline[i]` of
    /// the interleaved runs behind the medians.
    pub fn spread(mut self, values: &[f64], baselines: &[f64]) -> Self {
        let ratios: Vec<f64> = values
            .iter()
            .zip(baselines)
            .filter(|(_, b)| **b != 0.0)
            .map(|(v, b)| v / b)
            .collect();
        let lo = ratios.iter().copied().reduce(f64::min);
        let hi = ratios.iter().copied().reduce(f64::max);
        self.spread = lo.zip(hi);
        self
    }

    /// Adds a target and whether it is met.
    pub fn target(mut self, target: impl Into<String>, met: bool) -> Self {
        self.target = Some(target.into());
        self.met = Some(met);
        self
    }

    /// Marks the target as a hard check.
    pub fn hard(mut self) -> Self {
        self.check = true;
        self
    }
}

/// The table, one line per figure.
pub fn table(rows: &[Row]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header([
            "benchmark",
            "figure",
            "connectkit",
            "baseline",
            "ratio",
            "target",
            "met",
        ]);
    for r in rows {
        t.add_row([
            Cell::new(r.bench),
            Cell::new(&r.figure),
            Cell::new(r.value.to_string()),
            Cell::new(match (r.baseline, &r.baseline_label) {
                (Some(b), Some(l)) => format!("{b}\n{l}"),
                (Some(b), None) => b.to_string(),
                _ => String::new(),
            }),
            Cell::new(match (r.ratio, r.spread) {
                (Some(x), Some((lo, hi))) => format!("{x:.2}\n({lo:.2}–{hi:.2})"),
                (Some(x), None) => format!("{x:.2}"),
                _ => String::new(),
            }),
            Cell::new(r.target.as_deref().unwrap_or("")),
            Cell::new(match r.met {
                Some(true) => "met",
                Some(false) => "NOT MET",
                None => "",
            }),
        ]);
    }
    t
}

/// `2 cores, <CPU model>, Linux`.
pub fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cores} cores, {cpu}, {}", std::env::consts::OS)
}

/// Writes the run as JSON to `path` (creating its folder).
pub fn write_json(
    path: &Path,
    command: &str,
    quick: bool,
    machine: &str,
    outcome: &Outcome,
) -> std::io::Result<PathBuf> {
    let rows: Vec<_> = outcome
        .rows
        .iter()
        .map(|r| {
            json!({
                "benchmark": r.bench,
                "figure": r.figure,
                "value": r.value.value,
                "unit": r.value.unit,
                "baseline": r.baseline.map(|b| b.value),
                "baseline_is": r.baseline_label,
                "ratio": r.ratio,
                "ratio_spread": r.spread.map(|(lo, hi)| [lo, hi]),
                "target": r.target,
                "met": r.met,
            })
        })
        .collect();
    let doc = json!({
        "command": command,
        "quick": quick,
        "machine": machine,
        "cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "unix_time": std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        "rows": rows,
        "failures": outcome.failures,
    });
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let text = serde_json::to_string_pretty(&doc).map_err(std::io::Error::other)?;
    std::fs::write(path, text + "\n")?;
    Ok(path.to_owned())
}
