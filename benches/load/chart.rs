//! An SVG bar chart of requests per second, written by hand (no plotting library): one group
//! of bars per query, one bar per server, each labelled with its figure.

use std::fmt::Write as _;

/// One server's figures, one per query (`None`: not measured or not expressible).
pub struct Series {
    pub name: String,
    pub values: Vec<Option<f64>>,
}

const COLOURS: &[&str] = &[
    "#1f6feb", "#8250df", "#d4a72c", "#2da44e", "#cf222e", "#57606a", "#bf3989", "#0a7ea4",
];

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A step of the y axis that gives 4 to 10 grid lines up to `max`.
fn step(max: f64) -> f64 {
    let raw = max.max(1.0) / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude)
}

/// The chart: `title` above, `queries` along the x axis, `caption` below.
pub fn svg(title: &str, caption: &str, queries: &[String], series: &[Series]) -> String {
    let (left, right, top, bottom) = (70.0, 20.0, 50.0, 90.0);
    let bar = 22.0;
    let gap = 28.0;
    let group = bar * series.len().max(1) as f64 + gap;
    let plot_w = group * queries.len().max(1) as f64;
    let plot_h = 320.0;
    let (width, height) = (left + plot_w + right, top + plot_h + bottom);
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().flatten())
        .fold(0.0f64, |a, b| a.max(*b));
    let step = step(max);
    let top_value = (max / step).ceil().max(1.0) * step;
    let y = |v: f64| top + plot_h - v / top_value * plot_h;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        out,
        r#"<text x="{left}" y="24" font-size="15" font-weight="bold">{}</text>"#,
        escape(title)
    );
    // Grid and y axis.
    let mut v = 0.0;
    while v <= top_value + step / 2.0 {
        let yy = y(v);
        let _ = writeln!(
            out,
            r##"<line x1="{left}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#d0d7de"/><text x="{:.0}" y="{:.1}" text-anchor="end" fill="#57606a">{v:.0}</text>"##,
            left + plot_w,
            left - 6.0,
            yy + 4.0
        );
        v += step;
    }
    let _ = writeln!(
        out,
        r##"<text transform="translate(16 {:.0}) rotate(-90)" text-anchor="middle" fill="#57606a">requests per second</text>"##,
        top + plot_h / 2.0
    );
    // Bars.
    for (q, query) in queries.iter().enumerate() {
        let x0 = left + gap / 2.0 + q as f64 * group;
        for (s, one) in series.iter().enumerate() {
            let x = x0 + s as f64 * bar;
            let colour = COLOURS[s % COLOURS.len()];
            match one.values.get(q).copied().flatten() {
                Some(value) => {
                    let yy = y(value);
                    let _ = writeln!(
                        out,
                        r#"<rect x="{x:.1}" y="{yy:.1}" width="{:.1}" height="{:.1}" fill="{colour}"><title>{}: {value:.0} req/s</title></rect>"#,
                        bar - 2.0,
                        top + plot_h - yy,
                        escape(&format!("{} {query}", one.name))
                    );
                    let _ = writeln!(
                        out,
                        r#"<text transform="translate({:.1} {:.1}) rotate(-90)" font-size="10">{value:.0}</text>"#,
                        x + bar / 2.0 + 3.0,
                        yy - 4.0
                    );
                }
                None => {
                    let _ = writeln!(
                        out,
                        r##"<text x="{:.1}" y="{:.1}" font-size="10" text-anchor="middle" fill="#57606a">–</text>"##,
                        x + bar / 2.0,
                        top + plot_h - 4.0
                    );
                }
            }
        }
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-weight="bold">{}</text>"#,
            x0 + bar * series.len() as f64 / 2.0,
            top + plot_h + 18.0,
            escape(query)
        );
    }
    // Legend and caption.
    let mut lx = left;
    for (s, one) in series.iter().enumerate() {
        let colour = COLOURS[s % COLOURS.len()];
        let ly = top + plot_h + 40.0;
        let _ = writeln!(
            out,
            r#"<rect x="{lx:.1}" y="{:.1}" width="12" height="12" fill="{colour}"/><text x="{:.1}" y="{ly:.1}">{}</text>"#,
            ly - 10.0,
            lx + 16.0,
            escape(&one.name)
        );
        lx += 24.0 + 7.0 * one.name.chars().count() as f64;
    }
    let _ = writeln!(
        out,
        r##"<text x="{left}" y="{:.1}" font-size="11" fill="#57606a">{}</text>"##,
        top + plot_h + 70.0,
        escape(caption)
    );
    out.push_str("</svg>\n");
    out
}

/// The series of a peer-harness run (`results/raw/<stamp>.tsv` of `../shared/peer-bench`:
/// `peer backend query rps …`), in the order the peers first appear, without the HTTP
/// ceiling (`hello`); and the queries, in the order they first appear.
pub fn from_peer_tsv(text: &str) -> anyhow::Result<(Vec<String>, Vec<Series>)> {
    let mut queries: Vec<String> = Vec::new();
    let mut rows: Vec<(String, String, Option<f64>)> = Vec::new();
    for (n, line) in text.lines().enumerate().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        anyhow::ensure!(
            cols.len() >= 4,
            "line {}: expected peer, backend, query, rps",
            n + 1
        );
        if cols[0] == "hello" {
            continue;
        }
        let name = format!("{} ({})", cols[0], cols[1]);
        let query = cols[2].to_string();
        if !queries.contains(&query) {
            queries.push(query.clone());
        }
        rows.push((name, query, cols[3].parse().ok()));
    }
    let mut series: Vec<Series> = Vec::new();
    for (name, query, rps) in rows {
        let at = queries.iter().position(|q| *q == query).expect("listed");
        let index = match series.iter().position(|s| s.name == name) {
            Some(i) => i,
            None => {
                series.push(Series {
                    name,
                    values: Vec::new(),
                });
                series.len() - 1
            }
        };
        let values = &mut series[index].values;
        values.resize(queries.len(), None);
        values[at] = rps;
    }
    for s in &mut series {
        s.values.resize(queries.len(), None);
    }
    Ok((queries, series))
}
