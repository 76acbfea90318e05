//! A small, deterministic YAML writer for `serde_json` values (block style, keys in the
//! value's order). Strings that could be read as anything but a string are written as
//! double-quoted JSON strings, which YAML reads identically.

use serde_json::Value;

/// The YAML text of a value, ending with a newline.
pub fn to_yaml(v: &Value) -> String {
    let mut out = String::new();
    match v {
        Value::Object(o) if !o.is_empty() => write_map(&mut out, o, 0),
        Value::Array(a) if !a.is_empty() => write_seq(&mut out, a, 0),
        other => {
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
    out
}

fn is_block(v: &Value) -> bool {
    match v {
        Value::Object(o) => !o.is_empty(),
        Value::Array(a) => !a.is_empty(),
        _ => false,
    }
}

fn write_map(out: &mut String, o: &serde_json::Map<String, Value>, indent: usize) {
    for (i, (k, v)) in o.iter().enumerate() {
        if i > 0 || !out.ends_with("- ") {
            out.push_str(&" ".repeat(indent));
        }
        out.push_str(&string(k));
        out.push(':');
        write_value(out, v, indent);
    }
}

fn write_seq(out: &mut String, a: &[Value], indent: usize) {
    for (i, v) in a.iter().enumerate() {
        if i > 0 || !out.ends_with("- ") {
            out.push_str(&" ".repeat(indent));
        }
        out.push_str("- ");
        match v {
            Value::Object(o) if !o.is_empty() => write_map(out, o, indent + 2),
            Value::Array(inner) if !inner.is_empty() => write_seq(out, inner, indent + 2),
            other => {
                out.push_str(&scalar(other));
                out.push('\n');
            }
        }
    }
}

/// After `key:`: a scalar on the same line, or a nested block on the next lines.
fn write_value(out: &mut String, v: &Value, indent: usize) {
    if !is_block(v) {
        out.push(' ');
        out.push_str(&scalar(v));
        out.push('\n');
        return;
    }
    out.push('\n');
    match v {
        Value::Object(o) => write_map(out, o, indent + 2),
        Value::Array(a) => write_seq(out, a, indent + 2),
        _ => unreachable!("checked by is_block"),
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string(s),
        Value::Array(_) => "[]".into(),
        Value::Object(_) => "{}".into(),
    }
}

/// A string as a plain scalar when that is unambiguous, else double-quoted.
fn string(s: &str) -> String {
    if is_plain(s) {
        s.to_owned()
    } else {
        serde_json::to_string(s).expect("strings serialize")
    }
}

fn is_plain(s: &str) -> bool {
    const RESERVED: [&str; 12] = [
        "true", "false", "yes", "no", "on", "off", "null", "y", "n", "~", "nan", "inf",
    ];
    let Some(first) = s.chars().next() else {
        return false;
    };
    if !(first.is_ascii_alphabetic() || first == '_' || first == '/') {
        return false;
    }
    if s.ends_with(' ') || s.contains("  ") {
        return false;
    }
    if RESERVED.contains(&s.to_ascii_lowercase().as_str()) {
        return false;
    }
    s.chars().all(|c| {
        c.is_ascii_alphanumeric() || matches!(c, ' ' | '_' | '.' | '/' | '-' | '(' | ')' | ',')
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_maps_lists_and_quoting() {
        let v = json!({
            "asyncapi": "3.0.0",
            "info": {"title": "Orders", "version": "1"},
            "tags": [{"name": "a", "x": [1, 2]}, "plain", [], {}],
            "/orders/{id}": {"yes": "no", "empty": "", "multi": "a\nb", "n": 1.5, "null": null},
            "list": [["x", "y"], {"k": {"deep": true}}]
        });
        let y = to_yaml(&v);
        assert_eq!(
            y,
            "asyncapi: \"3.0.0\"\ninfo:\n  title: Orders\n  version: \"1\"\ntags:\n  - name: a\n    x:\n      - 1\n      - 2\n  - plain\n  - []\n  - {}\n\"/orders/{id}\":\n  \"yes\": \"no\"\n  empty: \"\"\n  multi: \"a\\nb\"\n  \"n\": 1.5\n  \"null\": null\nlist:\n  - - x\n    - \"y\"\n  - k:\n      deep: true\n"
        );
    }
}
