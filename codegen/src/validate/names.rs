//! Identifier rules: what names the catalog may use.

/// Rust keywords (strict and reserved), which cannot name fields.
const KEYWORDS: [&str; 51] = [
    "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn", "for",
    "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return",
    "self", "Self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use", "where",
    "while", "async", "await", "dyn", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "typeof", "unsized", "virtual", "yield", "try",
];

/// `snake_case`: lowercase ASCII letters, digits and single underscores, starting with a letter.
pub fn is_snake(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !name.contains("__")
        && !name.ends_with('_')
}

/// `PascalCase`: ASCII letters and digits, starting with an uppercase letter.
pub fn is_pascal(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && name.chars().all(|c| c.is_ascii_alphanumeric())
}

/// Whether the name is a Rust keyword.
pub fn is_keyword(name: &str) -> bool {
    KEYWORDS.contains(&name)
}

/// Checks a snake_case name; the error says what is wrong.
pub fn check_snake(name: &str, what: &str) -> Result<(), String> {
    if !is_snake(name) {
        return Err(format!(
            "{what} `{name}` must be snake_case (lowercase letters, digits and underscores, starting with a letter)"
        ));
    }
    if is_keyword(name) {
        return Err(format!("{what} `{name}` is a Rust keyword"));
    }
    Ok(())
}

/// Checks a PascalCase name; the error says what is wrong.
pub fn check_pascal(name: &str, what: &str) -> Result<(), String> {
    if is_pascal(name) {
        Ok(())
    } else {
        Err(format!(
            "{what} `{name}` must be PascalCase (letters and digits, starting with an uppercase letter)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases() {
        assert!(is_snake("order_id"));
        assert!(is_snake("line2"));
        assert!(!is_snake("Order"));
        assert!(!is_snake("order__id"));
        assert!(!is_snake("_x"));
        assert!(!is_snake("x_"));
        assert!(is_pascal("OrderPlaced"));
        assert!(!is_pascal("orderPlaced"));
        assert!(!is_pascal("Order_Placed"));
        assert!(check_snake("type", "field").is_err());
    }
}
