//! Parsing of field type expressions: `i32`, `list<Address>`, `optional<uuid>`, `string?`,
//! `ordering.Address`.

/// A parsed, not yet resolved, type expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TypeExpr {
    /// A primitive or value type name, possibly qualified with a context (`ctx.Name`).
    Name {
        /// The context qualifier.
        context: Option<String>,
        /// The name.
        name: String,
    },
    /// `list<T>`.
    List(Box<TypeExpr>),
    /// `optional<T>` or `T?`.
    Optional(Box<TypeExpr>),
}

/// The primitive type names.
pub const PRIMITIVES: [&str; 10] = [
    "string",
    "bool",
    "i32",
    "i64",
    "u32",
    "u64",
    "money",
    "uuid",
    "timestamp",
    "date",
];

/// Parses a type expression; the error says what is wrong.
pub fn parse(input: &str) -> Result<TypeExpr, String> {
    let s = input.trim();
    if s.is_empty() {
        return Err("the type is empty".into());
    }
    if let Some(inner) = s.strip_suffix('?') {
        let inner = parse(inner)?;
        if matches!(inner, TypeExpr::Optional(_)) {
            return Err(format!("`{s}` is optional twice"));
        }
        return Ok(TypeExpr::Optional(Box::new(inner)));
    }
    for (prefix, wrap) in [
        ("list<", TypeExpr::List as fn(Box<TypeExpr>) -> TypeExpr),
        ("optional<", TypeExpr::Optional),
    ] {
        if let Some(rest) = s.strip_prefix(prefix) {
            let Some(inner) = rest.strip_suffix('>') else {
                return Err(format!("`{s}` lacks its closing `>`"));
            };
            let inner = parse(inner)?;
            if prefix == "optional<" && matches!(inner, TypeExpr::Optional(_)) {
                return Err(format!("`{s}` is optional twice"));
            }
            return Ok(wrap(Box::new(inner)));
        }
    }
    if s.contains(['<', '>']) {
        return Err(format!(
            "`{s}` is not a type: generic types are `list<T>` and `optional<T>`"
        ));
    }
    let (context, name) = match s.split_once('.') {
        Some((ctx, name)) => (Some(ctx.to_owned()), name.to_owned()),
        None => (None, s.to_owned()),
    };
    let ident_ok = |p: &str| {
        !p.is_empty()
            && p.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    if !ident_ok(&name) || context.as_deref().is_some_and(|c| !ident_ok(c)) {
        return Err(format!("`{s}` is not a type name"));
    }
    Ok(TypeExpr::Name { context, name })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(n: &str) -> TypeExpr {
        TypeExpr::Name {
            context: None,
            name: n.into(),
        }
    }

    #[test]
    fn parses_the_forms() {
        assert_eq!(parse("i32"), Ok(name("i32")));
        assert_eq!(
            parse("list<Address>"),
            Ok(TypeExpr::List(Box::new(name("Address"))))
        );
        assert_eq!(
            parse("string?"),
            Ok(TypeExpr::Optional(Box::new(name("string"))))
        );
        assert_eq!(
            parse("optional<list<ordering.Line>>"),
            Ok(TypeExpr::Optional(Box::new(TypeExpr::List(Box::new(
                TypeExpr::Name {
                    context: Some("ordering".into()),
                    name: "Line".into()
                }
            )))))
        );
    }

    #[test]
    fn rejects_malformed() {
        assert!(parse("").is_err());
        assert!(parse("list<i32").is_err());
        assert!(parse("map<string, i32>").is_err());
        assert!(parse("string??").is_err());
        assert!(parse("a.b.c").is_err());
        assert!(parse("9lives").is_err());
    }
}
