//! Writing reports and findings as an aligned table, CSV or JSON.

use serde::Serialize;

use crate::check::Finding;
use crate::report::Row;

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Aligned columns for a terminal.
    Table,
    /// One header line, then one line per row; every figure unrounded.
    Csv,
    /// The whole structure, every figure unrounded.
    Json,
}

/// Why output could not be written.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The CSV writer failed.
    #[error("could not write CSV: {0}")]
    Csv(#[from] csv::Error),
    /// JSON serialisation failed.
    #[error("could not write JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The CSV writer produced bytes that are not UTF-8.
    #[error("CSV output is not UTF-8: {0}")]
    Utf8(#[from] std::string::FromUtf8Error),
}

/// The report's settings, written beside its rows in JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportHeader {
    /// The catalog version reported on.
    pub catalog_version: u32,
    /// Simulated tasks per row.
    pub tasks: u32,
    /// Actions per simulated task.
    pub quantity: u32,
    /// The agreement tolerance, in standard errors.
    pub tolerance_se: f64,
}

/// A report in a format.
pub fn report(rows: &[Row], header: &ReportHeader, format: Format) -> Result<String, OutputError> {
    match format {
        Format::Table => Ok(report_table(rows, header)),
        Format::Csv => report_csv(rows),
        Format::Json => {
            #[derive(Serialize)]
            struct Document<'a> {
                #[serde(flatten)]
                header: &'a ReportHeader,
                rows: &'a [Row],
            }
            let mut text = serde_json::to_string_pretty(&Document { header, rows })?;
            text.push('\n');
            Ok(text)
        }
    }
}

/// Findings in a format.
pub fn findings(findings: &[Finding], format: Format) -> Result<String, OutputError> {
    match format {
        Format::Table => {
            let mut table = Table::new(&["severity", "check", "subject", "finding"], &[]);
            for f in findings {
                table.push(vec![
                    f.severity.as_str().to_owned(),
                    f.check.as_str().to_owned(),
                    f.subject.clone(),
                    f.message.clone(),
                ]);
            }
            let errors = findings
                .iter()
                .filter(|f| f.severity == crate::check::Severity::Error)
                .count();
            Ok(format!(
                "{}{} errors, {} warnings\n",
                if findings.is_empty() {
                    String::new()
                } else {
                    table.render()
                },
                errors,
                findings.len() - errors
            ))
        }
        Format::Csv => {
            let mut writer = csv::Writer::from_writer(Vec::new());
            writer.write_record(["severity", "check", "subject", "message"])?;
            for f in findings {
                writer.write_record([
                    f.severity.as_str(),
                    f.check.as_str(),
                    &f.subject,
                    &f.message,
                ])?;
            }
            csv_text(writer)
        }
        Format::Json => {
            let mut text = serde_json::to_string_pretty(findings)?;
            text.push('\n');
            Ok(text)
        }
    }
}

/// A whole number with thousands separators, or a short decimal for small figures.
fn figure(x: f64) -> String {
    if !x.is_finite() {
        return format!("{x}");
    }
    // −0.0 (an empty sum) reads as 0.
    let x = if x == 0.0 { 0.0 } else { x };
    if x.abs() >= 100.0 {
        let whole = format!("{:.0}", x.abs());
        let mut grouped = String::new();
        for (i, c) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(c);
        }
        format!("{}{grouped}", if x < 0.0 { "-" } else { "" })
    } else {
        format!("{x:.1}")
    }
}

fn report_table(rows: &[Row], header: &ReportHeader) -> String {
    let mut table = Table::new(
        &[
            "activity",
            "target",
            "lvl",
            "success",
            "xp/h",
            "items/h",
            "value/h",
            "value/task",
            "sim mean",
            "sim p5",
            "sim p50",
            "sim p95",
            "z",
            "agrees",
        ],
        &[2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
    );
    for row in rows {
        table.push(vec![
            row.activity.as_str().to_owned(),
            row.label(),
            row.level.to_string(),
            format!("{:.4}", row.expected.success_chance),
            figure(row.xp_per_hour),
            figure(row.items_per_hour),
            figure(row.value_per_hour),
            figure(row.expected.task.value),
            figure(row.simulated.value.mean),
            figure(row.simulated.value.p5),
            figure(row.simulated.value.p50),
            figure(row.simulated.value.p95),
            format!("{:.2}", row.worst_z()),
            if row.agrees { "yes" } else { "NO" }.to_owned(),
        ]);
    }
    let flagged = rows.iter().filter(|r| !r.agrees).count();
    format!(
        "{}\n{} rows; {} tasks of {} actions each per row (value/task is the closed form, sim \
         the Monte Carlo); {} rows disagree beyond {} standard errors\n",
        table.render(),
        rows.len(),
        header.tasks,
        header.quantity,
        flagged,
        header.tolerance_se
    )
}

fn report_csv(rows: &[Row]) -> Result<String, OutputError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record([
        "activity",
        "target",
        "location",
        "level",
        "gear",
        "action_ms",
        "success_chance",
        "xp_per_hour",
        "items_per_hour",
        "value_per_hour",
        "net_value_per_hour",
        "quantity",
        "expected_xp_per_task",
        "expected_items_per_task",
        "expected_value_per_task",
        "sim_tasks",
        "sim_success_rate",
        "sim_xp_mean",
        "sim_xp_p5",
        "sim_xp_p50",
        "sim_xp_p95",
        "sim_value_mean",
        "sim_value_std_error",
        "sim_value_p5",
        "sim_value_p50",
        "sim_value_p95",
        "worst_z",
        "agrees",
    ])?;
    for row in rows {
        let (e, s) = (&row.expected, &row.simulated);
        writer.write_record([
            row.activity.as_str().to_owned(),
            row.target.clone(),
            row.location.clone().unwrap_or_default(),
            row.level.to_string(),
            row.gear.join(" "),
            e.action_ms.to_string(),
            e.success_chance.to_string(),
            row.xp_per_hour.to_string(),
            row.items_per_hour.to_string(),
            row.value_per_hour.to_string(),
            row.net_value_per_hour.to_string(),
            e.task.actions.to_string(),
            e.task.xp.to_string(),
            e.task.items.to_string(),
            e.task.value.to_string(),
            s.tasks.to_string(),
            s.success_rate().to_string(),
            s.xp.mean.to_string(),
            s.xp.p5.to_string(),
            s.xp.p50.to_string(),
            s.xp.p95.to_string(),
            s.value.mean.to_string(),
            s.value.std_error.to_string(),
            s.value.p5.to_string(),
            s.value.p50.to_string(),
            s.value.p95.to_string(),
            row.worst_z().to_string(),
            row.agrees.to_string(),
        ])?;
    }
    csv_text(writer)
}

/// The text a CSV writer wrote.
fn csv_text(writer: csv::Writer<Vec<u8>>) -> Result<String, OutputError> {
    let bytes = writer
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))?;
    Ok(String::from_utf8(bytes)?)
}

/// Columns padded to their widest cell; numeric columns right-aligned.
struct Table {
    header: Vec<String>,
    right: Vec<bool>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn new(header: &[&str], right_aligned: &[usize]) -> Table {
        Table {
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            right: (0..header.len())
                .map(|i| right_aligned.contains(&i))
                .collect(),
            rows: Vec::new(),
        }
    }

    fn push(&mut self, row: Vec<String>) {
        self.rows.push(row);
    }

    fn render(&self) -> String {
        let widths: Vec<usize> = (0..self.header.len())
            .map(|i| {
                std::iter::once(&self.header[i])
                    .chain(self.rows.iter().filter_map(|r| r.get(i)))
                    .map(|c| c.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: &[String]| {
            let mut out = String::new();
            for (i, width) in widths.iter().enumerate() {
                let cell = cells.get(i).map_or("", String::as_str);
                if i > 0 {
                    out.push_str("  ");
                }
                let last = i + 1 == widths.len();
                if self.right[i] {
                    out.push_str(&format!("{cell:>width$}"));
                } else if last {
                    out.push_str(cell);
                } else {
                    out.push_str(&format!("{cell:<width$}"));
                }
            }
            out.push('\n');
            out
        };
        let mut text = line(&self.header);
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        text.push_str(&line(&rule));
        for row in &self.rows {
            text.push_str(&line(row));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_group_thousands_and_keep_small_decimals() {
        assert_eq!(figure(1_234_567.4), "1,234,567");
        assert_eq!(figure(-12_345.0), "-12,345");
        assert_eq!(figure(100.0), "100");
        assert_eq!(figure(12.34), "12.3");
        assert_eq!(figure(f64::INFINITY), "inf");
        assert_eq!(figure(-0.0), "0.0");
    }

    #[test]
    fn tables_align_columns() {
        let mut table = Table::new(&["name", "n"], &[1]);
        table.push(vec!["copper".into(), "5".into()]);
        table.push(vec!["ore".into(), "1,000".into()]);
        let text = table.render();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "name        n");
        assert_eq!(lines[2], "copper      5");
        assert_eq!(lines[3], "ore     1,000");
    }
}
