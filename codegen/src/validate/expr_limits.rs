//! Size limits of catalog expressions, checked on the text before `syn` parses it.
//!
//! `syn` parses brackets and prefix operators recursively, and the expression checker, the
//! emitters and `prettyplease` walk the syntax tree recursively too, so an expression nested
//! deeply enough (a few thousand parentheses) would overflow the stack. The text is therefore
//! scanned first, without recursion, and rejected with a positioned diagnostic when it nests
//! deeper than [`MAX_NESTING`] or has more than [`MAX_OPERATORS`] operators (a chain of
//! binary operators or method calls is a tree as deep as it is long).
//!
//! Measured in a debug build (`codegen/examples` is not kept; the figures are in the commit
//! that set the limits): `syn` alone overflows a 2 MiB thread (a test thread) at about 150
//! nested parentheses or 510 prefix operators, and an 8 MiB one (the main thread) at about
//! 600 parentheses; checking and generating overflow a 2 MiB thread from about 115 nested
//! `!` or 147 chained `+`. An expression at both limits at once needs at most about 1 MiB of
//! stack to be checked and generated: half a test thread, an eighth of the main thread.
//! Real catalog expressions stay far below (the longest shipped rule has 12 operators and
//! nests 2 deep).

use super::expr_check::ExprError;

/// The deepest nesting of brackets and prefix operators (`!`, `-`, `*`, `&`) an expression
/// may have.
pub const MAX_NESTING: usize = 32;

/// The most operators (binary, prefix, `.`, `as`) an expression may have.
pub const MAX_OPERATORS: usize = 64;

/// Where the scanner is in the text.
struct Cursor {
    line: usize,
    column: usize,
}

/// Rejects an expression that nests too deeply or has too many operators, positioned at the
/// bracket or operator that goes over the limit.
pub fn check(source: &str) -> Result<(), ExprError> {
    // Prefix operators pending at each bracket level (the outermost level first).
    let mut levels: Vec<usize> = vec![0];
    let mut nesting = 0usize;
    let mut operators = 0usize;
    // Whether an operand is expected next (so `-` and `&` are prefix operators).
    let mut operand_next = true;
    let mut at = Cursor { line: 1, column: 0 };
    let chars: Vec<char> = source.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let here = (at.line, at.column);
        let mut width = 1;
        match c {
            '\n' => {
                at.line += 1;
                at.column = 0;
                i += 1;
                continue;
            }
            '"' => width = skip_string(&chars, i),
            'r' | 'b' if is_string_prefix(&chars, i) => width = skip_string(&chars, i),
            '\'' => width = skip_char(&chars, i),
            '(' | '[' | '{' => {
                levels.push(0);
                nesting += 1;
                if nesting > MAX_NESTING {
                    return Err(too_deep(here));
                }
                operand_next = true;
            }
            ')' | ']' | '}' => {
                if levels.len() > 1 {
                    let prefix = levels.pop().unwrap_or(0);
                    nesting = nesting.saturating_sub(prefix + 1);
                }
                operand_next = false;
            }
            ',' | ';' => {
                nesting -= take(&mut levels);
                operand_next = true;
            }
            '!' | '-' | '*' | '&' | '|' if operand_next => {
                // `|` opens a closure, whose body is parsed recursively like an operand.
                if c == '|' && chars.get(i + 1) == Some(&'|') {
                    width = 2;
                }
                operators += 1;
                if operators > MAX_OPERATORS {
                    return Err(too_many(here));
                }
                if let Some(l) = levels.last_mut() {
                    *l += 1;
                }
                nesting += 1;
                if nesting > MAX_NESTING {
                    return Err(too_deep(here));
                }
            }
            '+' | '-' | '*' | '/' | '%' | '&' | '|' | '^' | '<' | '>' | '=' | '!' | '.' | '?' => {
                width = operator_width(&chars[i..]);
                operators += 1;
                if operators > MAX_OPERATORS {
                    return Err(too_many(here));
                }
                // The operand of every pending prefix operator ends at a binary operator
                // (`.` and `?` bind tighter, so they keep them pending).
                if c != '.' && c != '?' {
                    nesting -= take(&mut levels);
                }
                operand_next = c != '?';
            }
            c if c.is_alphanumeric() || c == '_' => {
                width = chars[i..]
                    .iter()
                    .take_while(|c| c.is_alphanumeric() || **c == '_')
                    .count();
                let word: String = chars[i..i + width].iter().collect();
                operand_next = false;
                if word == "as" || PREFIX_KEYWORDS.contains(&word.as_str()) {
                    operators += 1;
                    if operators > MAX_OPERATORS {
                        return Err(too_many(here));
                    }
                }
                if PREFIX_KEYWORDS.contains(&word.as_str()) {
                    // `return return x` nests like `!!x`.
                    if let Some(l) = levels.last_mut() {
                        *l += 1;
                    }
                    nesting += 1;
                    if nesting > MAX_NESTING {
                        return Err(too_deep(here));
                    }
                    operand_next = true;
                }
            }
            _ => {}
        }
        // Strings may hold line breaks: keep the cursor on the right line.
        for ch in &chars[i..(i + width).min(chars.len())] {
            if *ch == '\n' {
                at.line += 1;
                at.column = 0;
            } else {
                at.column += 1;
            }
        }
        i += width;
    }
    Ok(())
}

/// Keywords followed by an operand that `syn` parses recursively (none is allowed in catalog
/// expressions, but they must not overflow the stack before the checker says so).
const PREFIX_KEYWORDS: &[&str] = &[
    "return", "break", "yield", "become", "box", "let", "move", "static", "async", "dyn", "impl",
    "ref", "mut", "const",
];

/// The width of the operator at the start of `rest`: two characters for `&&`, `==`, `<=`, ...
fn operator_width(rest: &[char]) -> usize {
    const TWO: &[&str] = &[
        "&&", "||", "==", "!=", "<=", ">=", "<<", ">>", "..", "+=", "-=", "*=", "/=", "%=", "^=",
        "&=", "|=", "->", "=>",
    ];
    let two: String = rest.iter().take(2).collect();
    if TWO.contains(&two.as_str()) { 2 } else { 1 }
}

/// Ends the pending prefix operators of the innermost level; returns how many there were.
fn take(levels: &mut [usize]) -> usize {
    levels.last_mut().map(std::mem::take).unwrap_or(0)
}

fn is_string_prefix(chars: &[char], i: usize) -> bool {
    let rest = &chars[i..];
    matches!(
        rest,
        ['r', '"' | '#', ..] | ['b', '"' | '\'', ..] | ['b', 'r', '"' | '#', ..]
    ) && (i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_'))
}

/// The length of the string literal starting at `i` (prefix and quotes included), or of the
/// rest of the text when it is not closed.
fn skip_string(chars: &[char], i: usize) -> usize {
    let mut j = i;
    while j < chars.len() && (chars[j] == 'b' || chars[j] == 'r') {
        j += 1;
    }
    let raw = chars[i..j].contains(&'r');
    let hashes = chars[j..].iter().take_while(|c| **c == '#').count();
    j += hashes;
    if chars.get(j) != Some(&'"') {
        return (j - i).max(1);
    }
    j += 1;
    while j < chars.len() {
        match chars[j] {
            '\\' if !raw => j += 2,
            '"' if chars[j + 1..]
                .iter()
                .take(hashes)
                .filter(|c| **c == '#')
                .count()
                == hashes =>
            {
                return j + 1 + hashes - i;
            }
            _ => j += 1,
        }
    }
    chars.len() - i
}

/// The length of the character literal starting at `i`, or 1 for a lone quote.
fn skip_char(chars: &[char], i: usize) -> usize {
    match chars.get(i + 1..) {
        Some(['\\', _, rest @ ..]) => rest.iter().position(|c| *c == '\'').map_or(1, |p| p + 4),
        Some([_, '\'', ..]) => 3,
        _ => 1,
    }
}

fn too_deep((line, column): (usize, usize)) -> ExprError {
    ExprError {
        line,
        column,
        len: 1,
        message: format!(
            "the expression is nested more than {MAX_NESTING} levels deep (brackets and prefix operators): simplify it, split it into several rules, or use a hook"
        ),
        silent: false,
    }
}

fn too_many((line, column): (usize, usize)) -> ExprError {
    ExprError {
        line,
        column,
        len: 1,
        message: format!(
            "the expression has more than {MAX_OPERATORS} operators: split it into several rules, or use a hook"
        ),
        silent: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(depth: usize) -> String {
        format!("{}cmd.n{} > 0", "(".repeat(depth), ")".repeat(depth))
    }

    #[test]
    fn accepts_up_to_the_limit() {
        assert_eq!(check(&nested(MAX_NESTING)), Ok(()));
        assert_eq!(check(&format!("{}cmd.b", "!".repeat(MAX_NESTING))), Ok(()));
        assert_eq!(
            check(&format!("cmd.n{} > 0", " + 1".repeat(MAX_OPERATORS - 2))),
            Ok(())
        );
        // Prefix operators end with their operand: a long chain of `!a && !b` is shallow.
        assert_eq!(check(&vec!["!cmd.b"; 20].join(" || ")), Ok(()));
        // Brackets inside string literals do not count.
        assert_eq!(check(&format!("cmd.s == \"{}\"", "(".repeat(1000))), Ok(()));
        assert_eq!(check("cmd.c == '(' && cmd.s == \"\\\"((\""), Ok(()));
        assert_eq!(
            check(&format!("cmd.s == r#\"{}\"#", "(\"".repeat(1000))),
            Ok(())
        );
    }

    #[test]
    fn rejects_deep_nesting_at_the_first_bracket_over_the_limit() {
        let e = check(&nested(MAX_NESTING + 1)).expect_err("too deep");
        assert_eq!((e.line, e.column), (1, MAX_NESTING));
        assert!(
            e.message
                .contains(&format!("nested more than {MAX_NESTING} levels")),
            "{}",
            e.message
        );
        let e = check(&format!("{}cmd.b", "!".repeat(100_000))).expect_err("too deep");
        assert_eq!((e.line, e.column), (1, MAX_NESTING));
        let e = check(&format!("{}cmd.n", "- ".repeat(100))).expect_err("too deep");
        assert_eq!((e.line, e.column), (1, 2 * MAX_NESTING));
        let e = check(&format!("cmd.n=={}1", "-!".repeat(40))).expect_err("too deep");
        assert_eq!((e.line, e.column), (1, 7 + MAX_NESTING));
        let e = check(&format!("{}cmd.n", "return ".repeat(1000))).expect_err("too deep");
        assert_eq!((e.line, e.column), (1, 7 * MAX_NESTING));
        let e = check(&format!("{}cmd.n", "|| ".repeat(1000))).expect_err("too deep");
        assert_eq!((e.line, e.column), (1, 3 * MAX_NESTING));
        let e = check(&format!("cmd.n == 1\n  && {}1", "[".repeat(80))).expect_err("too deep");
        assert_eq!((e.line, e.column), (2, 5 + MAX_NESTING));
    }

    #[test]
    fn rejects_long_operator_chains() {
        let e = check(&format!("cmd.n{} > 0", " + 1".repeat(10_000))).expect_err("too long");
        assert!(
            e.message
                .contains(&format!("more than {MAX_OPERATORS} operators")),
            "{}",
            e.message
        );
        assert_eq!(e.column, 5 + 4 * (MAX_OPERATORS - 1) + 1);
        let e = check(&format!("cmd.l{}", ".len()".repeat(300))).expect_err("too long");
        assert!(e.message.contains("operators"), "{}", e.message);
    }
}
