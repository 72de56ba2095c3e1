//! Summary tables: aligned plain text for terminals, GitHub Markdown for READMEs.

use neuralstream_core::{AlgorithmSummary, BenchResults};

/// Column headers, shared by both table formats.
const HEADERS: [&str; 10] = [
    "algorithm",
    "QoE mean ± 95% CI",
    "median",
    "p10",
    "p90",
    "bitrate kbps",
    "rebuffer s",
    "smoothness",
    "switches",
    "% of optimum",
];

/// One row of cells, formatted.
fn row(s: &AlgorithmSummary) -> [String; 10] {
    [
        s.algorithm.clone(),
        match s.qoe_ci95 {
            Some(ci) => format!("{:.2} ± {ci:.2}", s.qoe_mean),
            // No interval from a single trace.
            None => format!("{:.2} ± -", s.qoe_mean),
        },
        format!("{:.2}", s.qoe_median),
        format!("{:.2}", s.qoe_p10),
        format!("{:.2}", s.qoe_p90),
        format!("{:.0}", s.bitrate_mean_kbps),
        format!("{:.2}", s.rebuffer_s_mean),
        format!("{:.2}", s.smoothness_mean),
        format!("{:.1}", s.switches_mean),
        s.share_of_optimum
            .map_or_else(|| "-".to_string(), |f| format!("{:.1}%", f * 100.0)),
    ]
}

/// The QoE model of a results file in words: `lin:4.3` (a spec with its stall penalty, see
/// `QoeModel::spec`) reads `lin, stall penalty 4.3 per second`; older files' bare names stay as
/// they are.
fn qoe_in_words(spec: &str) -> String {
    match spec.split_once(':') {
        Some((name, mu)) => format!("{name}, stall penalty {mu} per second"),
        None => spec.to_owned(),
    }
}

/// The one-line description of the run above each table.
fn header_line(results: &BenchResults) -> String {
    let m = &results.meta;
    format!(
        "QoE model: {}; {} trace{} ({}); video: {}",
        qoe_in_words(&m.qoe),
        m.traces,
        if m.traces == 1 { "" } else { "s" },
        m.traces_source,
        m.video
    )
}

/// What the columns of [`summary_table`] mean, in a few lines for under the table: the QoE's
/// scope (per-session total over the scored chunks), and every column's unit.
pub fn summary_legend(results: &BenchResults) -> String {
    let m = &results.meta;
    format!(
        "QoE: total QoE_{qoe} of a session over its chunks from index {skip} on (0-based as in \
         chunks.csv; the first {skip} not scored), higher is better; mean over traces ± half-width of its 95% CI, median, p10, p90.\n\
         bitrate: mean of the scored chunks, kbit/s; rebuffer: stall seconds per session; \
         smoothness: per-session switching penalty in QoE units (QoE_lin: sum of |bitrate change| \
         in Mbit/s); switches: level changes per \
         session; % of optimum: mean QoE / the offline optimum's mean QoE (\"-\" without the optimum, or when its mean is not positive).",
        qoe = m.qoe.split_once(':').map_or(m.qoe.as_str(), |(name, _)| name),
        skip = m.skip_chunks,
    )
}

/// A plain-text table of `results.summaries`, one row per algorithm, columns aligned (algorithm
/// names left, numbers right).
///
/// Columns: algorithm, mean QoE ± half-width of its 95% confidence interval, median, 10th and
/// 90th percentiles of per-trace QoE, mean bitrate (kbit/s), mean rebuffering per trace (s),
/// mean smoothness penalty, mean switches per trace, and the mean QoE as a percentage of the
/// offline optimum's (`-` when the optimum was not run). The first line names the QoE model and
/// the number of traces. The text ends with a newline.
pub fn summary_table(results: &BenchResults) -> String {
    let rows: Vec<[String; 10]> = results.summaries.iter().map(row).collect();
    let mut widths = HEADERS.map(|h| h.chars().count());
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String; 10]| -> String {
        let mut out = String::new();
        for (i, (cell, &w)) in cells.iter().zip(&widths).enumerate() {
            let pad = " ".repeat(w - cell.chars().count());
            if i == 0 {
                out.push_str(cell);
                out.push_str(&pad);
            } else {
                out.push_str("  ");
                out.push_str(&pad);
                out.push_str(cell);
            }
        }
        out.trim_end().to_string()
    };
    let mut out = header_line(results);
    out.push('\n');
    out.push_str(&line(&HEADERS.map(String::from)));
    out.push('\n');
    let total: usize = widths.iter().sum::<usize>() + 2 * (widths.len() - 1);
    out.push_str(&"-".repeat(total));
    out.push('\n');
    if rows.is_empty() {
        out.push_str("(no algorithms)\n");
    }
    for r in &rows {
        out.push_str(&line(r));
        out.push('\n');
    }
    out
}

/// The same table as [`summary_table`] in GitHub-flavoured Markdown (numbers right-aligned), with
/// the run description as a paragraph above it. `|` in algorithm names is escaped.
pub fn summary_markdown(results: &BenchResults) -> String {
    let mut out = header_line(results);
    out.push_str("\n\n| ");
    out.push_str(&HEADERS.join(" | "));
    out.push_str(" |\n|");
    for i in 0..HEADERS.len() {
        out.push_str(if i == 0 { " :--- |" } else { " ---: |" });
    }
    out.push('\n');
    for s in &results.summaries {
        let mut cells = row(s);
        cells[0] = cells[0].replace('|', "\\|");
        out.push_str("| ");
        out.push_str(&cells.join(" | "));
        out.push_str(" |\n");
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use neuralstream_core::BenchMeta;

    pub(crate) fn summary(name: &str, mean: f64, share: Option<f64>) -> AlgorithmSummary {
        AlgorithmSummary {
            algorithm: name.into(),
            traces: 50,
            qoe_mean: mean,
            qoe_ci95: Some(1.2345),
            qoe_median: mean + 0.5,
            qoe_p10: mean - 10.0,
            qoe_p90: mean + 8.0,
            bitrate_mean_kbps: 1850.4,
            rebuffer_s_mean: 0.456,
            smoothness_mean: 3.21,
            switches_mean: 7.25,
            startup_s_mean: 0.8,
            share_of_optimum: share,
        }
    }

    pub(crate) fn results(summaries: Vec<AlgorithmSummary>) -> BenchResults {
        BenchResults {
            meta: BenchMeta {
                video: "envivio".into(),
                traces_source: "synthetic:1x50".into(),
                traces: 50,
                qoe: "lin".into(),
                skip_chunks: 1,
                seed: 1,
                wall_s: 1.0,
                version: "0.1.0".into(),
                simulator: None,
            },
            summaries,
            per_trace: vec![],
        }
    }

    #[test]
    fn text_table_has_every_algorithm_and_formatted_numbers() {
        let r = results(vec![
            summary("bb", 31.5, None),
            summary("robustmpc", -4.125, Some(0.877)),
        ]);
        let t = summary_table(&r);
        let lines: Vec<&str> = t.lines().collect();
        assert!(
            lines[0].contains("QoE model: lin;") && lines[0].contains("50 traces"),
            "{t}"
        );
        // A spec with its stall penalty (results since the penalty follows the ladder).
        let mut with_mu = r.clone();
        with_mu.meta.qoe = "lin:35".into();
        let t = summary_table(&with_mu);
        assert!(
            t.contains("QoE model: lin, stall penalty 35 per second;"),
            "{t}"
        );
        assert!(summary_legend(&with_mu).contains("total QoE_lin of a session"));
        assert!(lines[1].starts_with("algorithm") && lines[1].contains("% of optimum"));
        let bb = lines.iter().find(|l| l.starts_with("bb ")).expect("bb row");
        assert!(bb.contains("31.50 ± 1.23"), "{bb}");
        assert!(bb.contains("1850"), "{bb}");
        assert!(bb.contains("0.46") && bb.contains("3.21") && bb.contains("7.2"));
        assert!(bb.trim_end().ends_with('-'), "{bb}");
        let mpc = lines.iter().find(|l| l.starts_with("robustmpc")).unwrap();
        assert!(
            mpc.contains("-4.13 ± 1.23") || mpc.contains("-4.12 ± 1.23"),
            "{mpc}"
        );
        assert!(mpc.contains("87.7%"), "{mpc}");
        // Right-aligned columns: every data row has the same length as the header row.
        assert_eq!(bb.chars().count(), mpc.chars().count());
        assert_eq!(lines[1].chars().count(), bb.chars().count());
    }

    #[test]
    fn one_trace_has_no_interval_and_the_legend_names_the_scope() {
        let mut one = summary("bb", 31.5, None);
        one.traces = 1;
        one.qoe_ci95 = None; // what the runner reports for one trace
        let mut r = results(vec![one]);
        r.meta.traces = 1;
        let t = summary_table(&r);
        assert!(t.contains("31.50 ± -") && t.contains("1 trace ("), "{t}");
        let legend = summary_legend(&r);
        assert!(
            legend.contains("QoE_lin") && legend.contains("from index 1 on"),
            "{legend}"
        );
        assert!(
            legend.contains("kbit/s") && legend.contains("stall seconds"),
            "{legend}"
        );
    }

    #[test]
    fn markdown_table_has_every_algorithm() {
        let r = results(vec![
            summary("bb", 31.5, None),
            summary("a|b", 2.0, Some(1.0)),
        ]);
        let md = summary_markdown(&r);
        assert!(md.contains("| bb | 31.50 ± 1.23 |"), "{md}");
        assert!(
            md.contains("| a\\|b |") && md.contains("| 100.0% |"),
            "{md}"
        );
        assert!(md.contains("| :--- | ---: |"));
        let table_lines = md.lines().filter(|l| l.starts_with('|')).count();
        assert_eq!(table_lines, 4);
    }

    #[test]
    fn empty_results_do_not_panic() {
        let r = results(vec![]);
        assert!(summary_table(&r).contains("(no algorithms)"));
        assert!(summary_markdown(&r).contains("| algorithm |"));
    }
}
