//! The results table: one markdown row per measure with its baseline, ratio, target and
//! whether the target is met, in the layout of the README's "Compile and codegen cost" table.

/// A target of a measure.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Goal {
    /// The value must be at least this (in the row's unit).
    AtLeast(f64),
    /// The value must be below this (in the row's unit).
    Below(f64),
    /// The value divided by the baseline must be at least this.
    RatioAtLeast(f64),
}

impl Goal {
    fn text(&self, unit: &str) -> String {
        match self {
            Goal::AtLeast(v) => format!(">= {} {unit}", fmt_num(*v)),
            Goal::Below(v) => format!("< {} {unit}", fmt_num(*v)),
            Goal::RatioAtLeast(r) => format!(">= {}x baseline", fmt_num(*r)),
        }
    }

    fn met(&self, value: f64, ratio: Option<f64>) -> Option<bool> {
        match self {
            Goal::AtLeast(v) => Some(value >= *v),
            Goal::Below(v) => Some(value < *v),
            Goal::RatioAtLeast(r) => ratio.map(|x| x >= *r),
        }
    }
}

/// One row of the table.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// What is measured.
    pub measure: String,
    /// The value; `None` when it was not measured (then `unit` says why).
    pub value: Option<f64>,
    /// Unit of the value (or the reason it is missing).
    pub unit: String,
    /// The baseline measured in the same run, in the same unit, and what it is.
    pub baseline: Option<(f64, String)>,
    /// Targets; the row meets them when it meets all.
    pub goals: Vec<Goal>,
}

impl Row {
    /// A measured row without baseline or target.
    pub fn new(measure: impl Into<String>, value: f64, unit: impl Into<String>) -> Row {
        Row {
            measure: measure.into(),
            value: Some(value),
            unit: unit.into(),
            baseline: None,
            goals: Vec::new(),
        }
    }

    /// A row that could not be measured, and why.
    pub fn missing(measure: impl Into<String>, why: impl Into<String>) -> Row {
        Row {
            measure: measure.into(),
            value: None,
            unit: why.into(),
            baseline: None,
            goals: Vec::new(),
        }
    }

    /// Adds the baseline `value` (same unit), described by `what`.
    pub fn baseline(mut self, value: f64, what: impl Into<String>) -> Row {
        self.baseline = Some((value, what.into()));
        self
    }

    /// Adds a target.
    pub fn goal(mut self, goal: Goal) -> Row {
        self.goals.push(goal);
        self
    }

    /// Value divided by baseline, when both exist and the baseline is not zero.
    pub fn ratio(&self) -> Option<f64> {
        match (self.value, &self.baseline) {
            (Some(v), Some((b, _))) if *b != 0.0 => Some(v / b),
            _ => None,
        }
    }

    /// Whether every target is met (`None`: no target, or nothing measured).
    pub fn met(&self) -> Option<bool> {
        let value = self.value?;
        if self.goals.is_empty() {
            return None;
        }
        let ratio = self.ratio();
        let mut all = true;
        for g in &self.goals {
            all &= g.met(value, ratio)?;
        }
        Some(all)
    }

    /// The six cells: measure, value, baseline, ratio, target, met?
    pub fn cells(&self) -> [String; 6] {
        let value = match self.value {
            Some(v) => format!("{} {}", fmt_num(v), self.unit),
            None => format!("not measured: {}", self.unit),
        };
        let unit = if self.value.is_some() {
            self.unit.as_str()
        } else {
            ""
        };
        let baseline = self.baseline.as_ref().map_or("-".to_owned(), |(b, what)| {
            format!("{} {unit} ({what})", fmt_num(*b))
        });
        let ratio = self.ratio().map_or("-".to_owned(), |r| format!("{r:.2}"));
        let target = if self.goals.is_empty() {
            "-".to_owned()
        } else {
            let texts: Vec<String> = self.goals.iter().map(|g| g.text(unit)).collect();
            texts.join(" and ")
        };
        let met = match self.met() {
            Some(true) => "yes".to_owned(),
            Some(false) => "**no**".to_owned(),
            None => "-".to_owned(),
        };
        [self.measure.clone(), value, baseline, ratio, target, met]
    }
}

/// The markdown table of `rows` (pipes in cells escaped).
pub fn render(rows: &[Row]) -> String {
    let mut out = String::from(
        "| measure | value | baseline | ratio | target | met? |\n|---|---|---|---|---|---|\n",
    );
    for row in rows {
        let cells: Vec<String> = row.cells().iter().map(|c| c.replace('|', "\\|")).collect();
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    out
}

/// A number for people: thousands separated by commas; no decimals from 100 on, one from 10,
/// two below.
pub fn fmt_num(x: f64) -> String {
    if !x.is_finite() {
        return x.to_string();
    }
    let decimals = if x.abs() >= 100.0 {
        0
    } else if x.abs() >= 10.0 {
        1
    } else {
        2
    };
    let text = format!("{:.*}", decimals, x.abs());
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if x < 0.0 && text.chars().any(|c| c != '0' && c != '.') {
        "-"
    } else {
        ""
    };
    if frac.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped}.{frac}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped_and_rounded() {
        assert_eq!(fmt_num(1234567.4), "1,234,567");
        assert_eq!(fmt_num(999.6), "1,000");
        assert_eq!(fmt_num(100.0), "100");
        assert_eq!(fmt_num(12.345), "12.3");
        assert_eq!(fmt_num(3.0), "3.00");
        assert_eq!(fmt_num(0.004), "0.00");
        assert_eq!(fmt_num(-2500.0), "-2,500");
    }

    #[test]
    fn ratio_targets_and_met() {
        let row = Row::new("handler", 900.0, "commands/s")
            .baseline(200.0, "naive")
            .goal(Goal::RatioAtLeast(3.0))
            .goal(Goal::AtLeast(3000.0));
        assert_eq!(row.ratio(), Some(4.5));
        assert_eq!(row.met(), Some(false), "the absolute target is missed");
        assert_eq!(
            row.cells(),
            [
                "handler".to_owned(),
                "900 commands/s".to_owned(),
                "200 commands/s (naive)".to_owned(),
                "4.50".to_owned(),
                ">= 3.00x baseline and >= 3,000 commands/s".to_owned(),
                "**no**".to_owned(),
            ]
        );
        let fast = Row::new("p99", 20.0, "ms").goal(Goal::Below(50.0));
        assert_eq!(fast.met(), Some(true));
        assert_eq!(Row::new("x", 1.0, "u").met(), None);
    }

    #[test]
    fn a_ratio_target_without_baseline_is_not_met_or_unmet() {
        let row = Row::new("x", 5.0, "u").goal(Goal::RatioAtLeast(3.0));
        assert_eq!(row.met(), None);
    }

    #[test]
    fn renders_markdown_with_missing_rows() {
        let text = render(&[
            Row::new("a|b", 1500.0, "msgs/s"),
            Row::missing("sagas", "did not fit"),
        ]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "| measure | value | baseline | ratio | target | met? |"
        );
        assert_eq!(lines[2], "| a\\|b | 1,500 msgs/s | - | - | - | - |");
        assert_eq!(
            lines[3],
            "| sagas | not measured: did not fit | - | - | - | - |"
        );
    }
}
