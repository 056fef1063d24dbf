use super::ast::{days_from_civil, is_leap_year, MICROS_PER_DAY};
use super::*;

// ---------------------------------------------------------------- helpers

fn p(text: &str) -> Expr {
    match parse(text) {
        Ok(e) => e,
        Err(err) => panic!("failed to parse {text:?}:\n{}", err.render()),
    }
}

fn perr(text: &str) -> QuerySyntaxError {
    match parse(text) {
        Ok(e) => panic!("expected an error for {text:?}, got {e:?}"),
        Err(err) => err,
    }
}

fn tag(s: &str) -> Expr {
    Expr::Tag(s.to_owned())
}

fn seg(s: &str) -> Expr {
    Expr::Segment(s.to_owned())
}

fn not(e: Expr) -> Expr {
    Expr::Not(Box::new(e))
}

fn s(v: &str) -> Literal {
    Literal::Str(v.to_owned())
}

fn cmp(attr: &str, op: Compare, value: Literal) -> Expr {
    Expr::Cmp { attr: attr.to_owned(), op, value }
}

fn date(y: i64, m: u32, d: u32) -> Literal {
    Literal::Date(days_from_civil(y, m, d) as i32)
}

fn ts(y: i64, mo: u32, d: u32, h: i64, mi: i64, sec: i64, micros: i64) -> Literal {
    Literal::Timestamp(days_from_civil(y, mo, d) * MICROS_PER_DAY + (h * 3600 + mi * 60 + sec) * 1_000_000 + micros)
}

/// Parses, prints, re-parses; the two trees must be equal.
fn roundtrip(text: &str) -> Expr {
    let e = p(text);
    let printed = e.to_string();
    let again = match parse(&printed) {
        Ok(x) => x,
        Err(err) => panic!("canonical text {printed:?} of {text:?} fails:\n{}", err.render()),
    };
    assert_eq!(e, again, "round trip of {text:?} via {printed:?}");
    e
}

// ---------------------------------------------------------------- examples

#[test]
fn example_vip_city_age() {
    let e = roundtrip(r#"vip AND city IN ("SH", "BJ") AND age BETWEEN 25 AND 35 AND NOT churned"#);
    assert_eq!(
        e,
        Expr::And(vec![
            tag("vip"),
            Expr::In { attr: "city".into(), values: vec![s("SH"), s("BJ")], negated: false },
            Expr::Between { attr: "age".into(), low: Literal::Int(25), high: Literal::Int(35), negated: false },
            not(tag("churned")),
        ])
    );
    assert_eq!(e.to_string(), r#"vip AND city IN ("SH", "BJ") AND age BETWEEN 25 AND 35 AND NOT churned"#);
}

#[test]
fn example_rfm() {
    let e =
        roundtrip(r#"rfm.segment IN ("Champions", "Loyal Customers") OR (monetary > 500 AND last_active_days <= 7)"#);
    assert_eq!(
        e,
        Expr::Or(vec![
            Expr::In { attr: "rfm.segment".into(), values: vec![s("Champions"), s("Loyal Customers")], negated: false },
            Expr::And(vec![
                cmp("monetary", Compare::Gt, Literal::Int(500)),
                cmp("last_active_days", Compare::Le, Literal::Int(7)),
            ]),
        ])
    );
    assert_eq!(
        e.to_string(),
        r#"rfm.segment IN ("Champions", "Loyal Customers") OR monetary > 500 AND last_active_days <= 7"#
    );
}

#[test]
fn example_unicode_segment_within() {
    let e = roundtrip(r#""高价值用户" AND NOT @黑名单 AND signup_ts WITHIN 30 DAYS"#);
    assert_eq!(
        e,
        Expr::And(vec![
            tag("高价值用户"),
            not(seg("黑名单")),
            Expr::Within { attr: "signup_ts".into(), amount: 30.0, unit: TimeUnit::Days },
        ])
    );
    assert_eq!(e.to_string(), "高价值用户 AND NOT @黑名单 AND signup_ts WITHIN 30 DAYS");
}

#[test]
fn example_dates_and_null() {
    let e = roundtrip("signup_ts >= 2026-01-01 AND last_login < 2026-03-01T08:30:00 AND score IS NOT NULL");
    assert_eq!(
        e,
        Expr::And(vec![
            cmp("signup_ts", Compare::Ge, Literal::Date(20454)),
            cmp("last_login", Compare::Lt, ts(2026, 3, 1, 8, 30, 0, 0)),
            Expr::IsNull { attr: "score".into(), negated: true },
        ])
    );
    assert_eq!(e.to_string(), "signup_ts >= 2026-01-01 AND last_login < 2026-03-01T08:30:00Z AND score IS NOT NULL");
}

#[test]
fn example_all_xor_backtick() {
    let e = roundtrip("ALL XOR `weird name!` ");
    assert_eq!(e, Expr::Xor(vec![Expr::All, tag("weird name!")]));
    assert_eq!(e.to_string(), r#"ALL XOR "weird name!""#);
}

// ---------------------------------------------------------------- structure

#[test]
fn precedence_and_flattening() {
    let (a, b, c, d) = (tag("a"), tag("b"), tag("c"), tag("d"));
    assert_eq!(
        p("a OR b XOR c AND d"),
        Expr::Or(vec![a.clone(), Expr::Xor(vec![b.clone(), Expr::And(vec![c.clone(), d.clone()])])])
    );
    assert_eq!(
        p("a AND b OR c AND d"),
        Expr::Or(vec![Expr::And(vec![a.clone(), b.clone()]), Expr::And(vec![c.clone(), d.clone()])])
    );
    assert_eq!(p("a AND b AND c"), Expr::And(vec![a.clone(), b.clone(), c.clone()]));
    assert_eq!(p("a AND (b AND c)"), Expr::And(vec![a.clone(), Expr::And(vec![b.clone(), c.clone()])]));
    assert_eq!(p("(a AND b) AND c"), Expr::And(vec![Expr::And(vec![a.clone(), b.clone()]), c.clone()]));
    assert_eq!(p("a XOR b XOR c OR d"), Expr::Or(vec![Expr::Xor(vec![a.clone(), b.clone(), c.clone()]), d.clone()]));
    assert_eq!(p("NOT a AND b"), Expr::And(vec![not(a.clone()), b.clone()]));
    assert_eq!(p("NOT (a AND b)"), not(Expr::And(vec![a.clone(), b.clone()])));
    assert_eq!(p("NOT NOT a"), not(not(a.clone())));
    assert_eq!(p("((a))"), a.clone());
    assert_eq!(p("NOT(a)"), not(a.clone()));
    // BETWEEN owns its AND.
    assert_eq!(
        p("x BETWEEN 1 AND 2 AND y"),
        Expr::And(vec![
            Expr::Between { attr: "x".into(), low: Literal::Int(1), high: Literal::Int(2), negated: false },
            tag("y")
        ])
    );
}

#[test]
fn printing_parenthesises_minimally() {
    let (a, b, c) = (tag("a"), tag("b"), tag("c"));
    let cases = vec![
        (Expr::And(vec![a.clone(), Expr::And(vec![b.clone(), c.clone()])]), "a AND (b AND c)"),
        (not(not(a.clone())), "NOT NOT a"),
        (not(Expr::And(vec![a.clone(), b.clone()])), "NOT (a AND b)"),
        (Expr::And(vec![Expr::Or(vec![a.clone(), b.clone()]), c.clone()]), "(a OR b) AND c"),
        (Expr::Or(vec![Expr::And(vec![a.clone(), b.clone()]), c.clone()]), "a AND b OR c"),
        (Expr::Xor(vec![Expr::Or(vec![a.clone(), b.clone()]), c.clone()]), "(a OR b) XOR c"),
        (Expr::And(vec![Expr::Xor(vec![a.clone(), b.clone()]), not(c.clone())]), "(a XOR b) AND NOT c"),
        (Expr::Or(vec![a.clone(), Expr::Or(vec![b.clone(), c.clone()])]), "a OR (b OR c)"),
    ];
    for (e, text) in cases {
        assert_eq!(e.to_string(), text);
        assert_eq!(p(text), e, "{text}");
    }
    // Degenerate shapes the parser never builds still print meaningfully.
    assert_eq!(Expr::And(vec![]).to_string(), "ALL");
    assert_eq!(Expr::Or(vec![]).to_string(), "NOT ALL");
    assert_eq!(
        Expr::Xor(vec![Expr::And(vec![Expr::Or(vec![a.clone(), b.clone()])]), c.clone()]).to_string(),
        "(a OR b) XOR c"
    );
}

#[test]
fn case_insensitive_keywords() {
    let e = p(r#"vip and city iN ("SH") oR x xOr Not y"#);
    assert_eq!(
        e,
        Expr::Or(vec![
            Expr::And(vec![tag("vip"), Expr::In { attr: "city".into(), values: vec![s("SH")], negated: false }]),
            Expr::Xor(vec![tag("x"), not(tag("y"))]),
        ])
    );
    assert_eq!(
        p("a is not null and b Is Null and c not in (1) and d not between 1 and 2"),
        p("a IS NOT NULL AND b IS NULL AND c NOT IN (1) AND d NOT BETWEEN 1 AND 2")
    );
    assert_eq!(
        p("t within 2 Hour and f = true and g = False and all"),
        Expr::And(vec![
            Expr::Within { attr: "t".into(), amount: 2.0, unit: TimeUnit::Hours },
            cmp("f", Compare::Eq, Literal::Bool(true)),
            cmp("g", Compare::Eq, Literal::Bool(false)),
            Expr::All,
        ])
    );
    // Time units are not reserved: usable as bare names.
    assert_eq!(p("days AND hour"), Expr::And(vec![tag("days"), tag("hour")]));
}

#[test]
fn comparison_operators() {
    let ops = [
        ("<", Compare::Lt),
        ("<=", Compare::Le),
        ("=", Compare::Eq),
        ("!=", Compare::Ne),
        ("<>", Compare::Ne),
        (">=", Compare::Ge),
        (">", Compare::Gt),
    ];
    for (text, op) in ops {
        assert_eq!(p(&format!("a{text}-1")), cmp("a", op, Literal::Int(-1)));
        assert_eq!(p(&format!("a {text} 1")), cmp("a", op, Literal::Int(1)));
    }
}

#[test]
fn unicode_names() {
    assert_eq!(p("高价值用户"), tag("高价值用户"));
    assert_eq!(p("@黑名单"), seg("黑名单"));
    assert_eq!(p("café AND _x AND t17 AND a.b."), p("café AND _x AND t17 AND a.b."));
    assert_eq!(p("城市 = \"上海\""), cmp("城市", Compare::Eq, s("上海")));
    // Full-width space is whitespace.
    assert_eq!(p("a\u{3000}AND\u{3000}b"), Expr::And(vec![tag("a"), tag("b")]));
    assert_eq!(p("Ünïcödé.größe >= 1.5"), cmp("Ünïcödé.größe", Compare::Ge, Literal::Float(1.5)));
}

#[test]
fn quoting() {
    assert_eq!(p(r#""and""#), tag("and"));
    assert_eq!(p("`a``b`"), tag("a`b"));
    assert_eq!(p("````"), tag("`"));
    assert_eq!(p(r#"@"quoted name""#), seg("quoted name"));
    assert_eq!(p("@`x y`"), seg("x y"));
    assert_eq!(p("@all"), seg("all"));
    assert_eq!(p(r#""a\"b\\c\n\t\r\u{4F60}\u{1F600}" = "v""#), cmp("a\"b\\c\n\t\r你😀", Compare::Eq, s("v")));
    // A quoted name followed by an operator is an attribute...
    assert_eq!(p(r#""my attr" = "x""#), cmp("my attr", Compare::Eq, s("x")));
    assert_eq!(p("`my attr` IS NULL"), Expr::IsNull { attr: "my attr".into(), negated: false });
    // ...otherwise a tag.
    assert_eq!(p(r#""my tag" OR x"#), Expr::Or(vec![tag("my tag"), tag("x")]));
    // Canonical printing quotes only what needs it.
    assert_eq!(format_name("vip"), "vip");
    assert_eq!(format_name("In"), "\"In\"");
    assert_eq!(format_name("1abc"), "\"1abc\"");
    assert_eq!(format_name("a b"), "\"a b\"");
    assert_eq!(format_name("a\u{1}\u{202e}"), "\"a\\u{1}\\u{202e}\"");
    assert_eq!(p(&format_name("a\u{1}\u{202e}")), tag("a\u{1}\u{202e}"));
    assert_eq!(seg("and").to_string(), "@\"and\"");
}

#[test]
fn literals() {
    let v = |text: &str| match p(&format!("x = {text}")) {
        Expr::Cmp { value, .. } => value,
        other => panic!("{other:?}"),
    };
    assert_eq!(v("42"), Literal::Int(42));
    assert_eq!(v("+42"), Literal::Int(42));
    assert_eq!(v("-42"), Literal::Int(-42));
    assert_eq!(v("007"), Literal::Int(7));
    assert_eq!(v("9223372036854775807"), Literal::Int(i64::MAX));
    assert_eq!(v("-9223372036854775808"), Literal::Int(i64::MIN));
    assert_eq!(v("1.5"), Literal::Float(1.5));
    assert_eq!(v("-2e3"), Literal::Float(-2000.0));
    assert_eq!(v("1E+2"), Literal::Float(100.0));
    assert_eq!(v("2.5e-3"), Literal::Float(0.0025));
    assert_eq!(v("TRUE"), Literal::Bool(true));
    assert_eq!(v("false"), Literal::Bool(false));
    assert_eq!(v(r#""""#), s(""));
    assert_eq!(v("1970-01-01"), Literal::Date(0));
    assert_eq!(v("1969-12-31"), Literal::Date(-1));
    assert_eq!(v("2024-02-29"), date(2024, 2, 29));
    assert_eq!(v("0000-01-01"), date(0, 1, 1));
    assert_eq!(v("9999-12-31"), date(9999, 12, 31));
    assert_eq!(v("2026-01-01T08:30:00"), ts(2026, 1, 1, 8, 30, 0, 0));
    assert_eq!(v("2026-01-01t08:30:00z"), ts(2026, 1, 1, 8, 30, 0, 0));
    assert_eq!(v("2026-01-01T08:30:00Z"), ts(2026, 1, 1, 8, 30, 0, 0));
    assert_eq!(v("2026-01-01T08:30:00+08:00"), ts(2026, 1, 1, 0, 30, 0, 0));
    assert_eq!(v("2026-01-01T01:00:00+08:00"), ts(2025, 12, 31, 17, 0, 0, 0));
    assert_eq!(v("2026-01-01T08:30:00-05:30"), ts(2026, 1, 1, 14, 0, 0, 0));
    assert_eq!(v("2026-01-01T08:30:00.5"), ts(2026, 1, 1, 8, 30, 0, 500_000));
    assert_eq!(v("2026-01-01T08:30:00.123456789Z"), ts(2026, 1, 1, 8, 30, 0, 123_456));
    assert_eq!(v("1969-12-31T23:59:59.999999Z"), Literal::Timestamp(-1));
    // A quoted date stays a string; the binder coerces.
    assert_eq!(v(r#""2026-01-01""#), s("2026-01-01"));
}

#[test]
fn literal_printing() {
    let show = |l: Literal| l.to_string();
    assert_eq!(show(Literal::Float(1.0)), "1.0");
    assert_eq!(show(Literal::Float(1e300)), "1e300");
    assert_eq!(show(Literal::Float(-0.0)), "-0.0");
    assert_eq!(show(Literal::Float(1e16)), "1e16");
    assert_eq!(show(Literal::Float(f64::NAN)), "NaN");
    assert_eq!(show(Literal::Float(f64::NEG_INFINITY)), "-inf");
    assert_eq!(show(Literal::Int(-5)), "-5");
    assert_eq!(show(s("a\"b")), r#""a\"b""#);
    assert_eq!(show(Literal::Date(20454)), "2026-01-01");
    assert_eq!(show(Literal::Date(-1)), "1969-12-31");
    assert_eq!(show(Literal::Timestamp(-1)), "1969-12-31T23:59:59.999999Z");
    assert_eq!(show(ts(2026, 3, 1, 8, 30, 0, 0)), "2026-03-01T08:30:00Z");
    assert_eq!(show(ts(2026, 3, 1, 8, 30, 0, 1)), "2026-03-01T08:30:00.000001Z");
    // Extreme values print without panicking (not re-parseable).
    let _ = show(Literal::Date(i32::MIN));
    let _ = show(Literal::Timestamp(i64::MIN));
    let _ = show(Literal::Timestamp(i64::MAX));
    let w = |amount: f64| Expr::Within { attr: "t".into(), amount, unit: TimeUnit::Minutes }.to_string();
    assert_eq!(w(30.0), "t WITHIN 30 MINUTES");
    assert_eq!(w(1.5), "t WITHIN 1.5 MINUTES");
    assert_eq!(w(1e20), "t WITHIN 1e20 MINUTES");
    assert_eq!(p(&w(1e20)), p("t WITHIN 1e20 MINUTES"));
    let _ = w(f64::NAN);
}

#[test]
fn within_forms() {
    let w = |text: &str| match p(text) {
        Expr::Within { amount, unit, .. } => (amount, unit),
        other => panic!("{other:?}"),
    };
    assert_eq!(w("t WITHIN 30 DAYS"), (30.0, TimeUnit::Days));
    assert_eq!(w("t WITHIN 1 day"), (1.0, TimeUnit::Days));
    assert_eq!(w("t WITHIN 0.5 HOURS"), (0.5, TimeUnit::Hours));
    assert_eq!(w("t WITHIN 0 minute"), (0.0, TimeUnit::Minutes));
    assert_eq!(w("t WITHIN 15 Minutes"), (15.0, TimeUnit::Minutes));
}

#[test]
fn name_spans() {
    let text = r#"vip AND "高 价" = 1 OR @"seg x" AND NOT `t`"#;
    let (_, names) = match parse_with_spans(text) {
        Ok(x) => x,
        Err(e) => panic!("{}", e.render()),
    };
    let got: Vec<(NameKind, &str, &str)> =
        names.iter().map(|n| (n.kind, n.name.as_str(), text.get(n.span.start..n.span.end).unwrap_or("?"))).collect();
    assert_eq!(
        got,
        vec![
            (NameKind::Tag, "vip", "vip"),
            (NameKind::Attribute, "高 价", "\"高 价\""),
            (NameKind::Segment, "seg x", "@\"seg x\""),
            (NameKind::Tag, "t", "`t`"),
        ]
    );
    // A later stage can report at a span in the same format.
    let e = QuerySyntaxError::new(text, names[2].span.start, "unknown segment `seg x`", vec![], "");
    assert_eq!(e.column, 22);
    // Caret under the `@`; 高 and 价 are two columns wide.
    assert!(e.render().ends_with(&format!("\n{}^", " ".repeat(2 + 23))));
}

// ---------------------------------------------------------------- errors

fn check_error(text: &str, line: usize, column: usize, rendered: &str) {
    let err = perr(text);
    assert_eq!((err.line, err.column), (line, column), "{}", err.render());
    assert_eq!(err.render(), rendered, "\n{}", err.render());
    assert_eq!(err.to_string(), rendered);
}

#[test]
fn error_incomplete() {
    check_error(
        "vip AND",
        1,
        8,
        "unexpected end of input\n\
         line 1, column 8\n  \
         vip AND\n         \
         ^\n\
         expected one of: tag name, \"(\", NOT, ALL, @segment; found end of input",
    );
    let err = perr("vip AND");
    assert_eq!(err.offset, 7);
    assert_eq!(err.found, "end of input");
    assert_eq!(err.expected, ["tag name", "\"(\"", "NOT", "ALL", "@segment"]);
    let err = perr("");
    assert_eq!((err.line, err.column, err.offset), (1, 1, 0));
    assert_eq!(err.found, "end of input");
}

#[test]
fn error_between_without_and() {
    check_error(
        "age BETWEEN 1 35",
        1,
        15,
        "unexpected `35`\nline 1, column 15\n  age BETWEEN 1 35\n                ^\nexpected AND; found `35`",
    );
}

#[test]
fn error_multiline_position() {
    check_error(
        "vip AND\n  age BETWEEN 1 35",
        2,
        17,
        "unexpected `35`\nline 2, column 17\n    age BETWEEN 1 35\n                  ^\nexpected AND; found `35`",
    );
    // CRLF: the \r is not shown.
    let err = perr("a AND\r\nb c");
    assert_eq!((err.line, err.column), (2, 3));
    assert!(err.render().contains("\n  b c\n    ^\n"), "{}", err.render());
}

#[test]
fn error_trailing_comma_in_list() {
    check_error(
        r#"city IN ("a",)"#,
        1,
        14,
        "unexpected `)`\nline 1, column 14\n  city IN (\"a\",)\n               ^\nexpected a literal; found `)`",
    );
    let err = perr("city IN ()");
    assert_eq!((err.column, err.expected.clone()), (10, vec!["a literal".to_owned()]));
    let err = perr(r#"city IN ("a" "b")"#);
    assert_eq!(err.expected, ["\",\"", "\")\""]);
    let err = perr(r#"city IN "a""#);
    assert_eq!(err.expected, ["\"(\""]);
}

#[test]
fn error_unterminated_string() {
    check_error(
        r#"tag = "abc"#,
        1,
        7,
        "unterminated string: missing closing `\"`\nline 1, column 7\n  tag = \"abc\n        ^",
    );
    assert_eq!(perr("x = \"ab\ncd\"").column, 5);
    assert_eq!(perr("`abc").column, 1);
    assert_eq!(perr("\"abc\\").column, 1);
}

#[test]
fn error_bad_escape() {
    check_error(
        r#"name = "a\qb""#,
        1,
        10,
        "invalid escape sequence `\\q` (valid: \\\" \\\\ \\n \\t \\r \\u{XXXX})\nline 1, column 10\n  name = \"a\\qb\"\n           ^",
    );
    for bad in [
        r#"x = "\u{}""#,
        r#"x = "\u{D800}""#,
        r#"x = "\u{110000}""#,
        r#"x = "\u{1234567}""#,
        r#"x = "\u12""#,
        r#"x = "\u{12""#,
    ] {
        let err = perr(bad);
        assert_eq!(err.column, 6, "{bad}");
        assert!(err.message.starts_with("invalid unicode escape"), "{}", err.message);
    }
}

#[test]
fn error_invalid_dates() {
    check_error(
        "d = 2026-02-30",
        1,
        5,
        "invalid date/time `2026-02-30`: day 30 is not in 01-28 for 2026-02\nline 1, column 5\n  d = 2026-02-30\n      ^",
    );
    for (text, col) in [
        ("d = 2023-02-29", 5),
        ("d = 2026-13-01", 5),
        ("d = 2026-00-10", 5),
        ("d = 2026-01-00", 5),
        ("d = 2026-1-01", 5),
        ("d = 26-01-01", 5),
        ("d = 2026-01-01x", 5),
        ("d = 2026-01-01T24:00:00", 5),
        ("d = 2026-01-01T23:60:00", 5),
        ("d = 2026-01-01T23:00:60", 5),
        ("d = 2026-01-01T08:30", 5),
        ("d = 2026-01-01T08:30:00.", 5),
        ("d = 2026-01-01T08:30:00.1234567890", 5),
        ("d = 2026-01-01T08:30:00+8:00", 5),
        ("d = 2026-01-01T08:30:00+24:00", 5),
        ("d = 2026-01-01T08:30:00Zx", 5),
        ("a AND d >= -2026-01-01", 12),
    ] {
        let err = perr(text);
        assert_eq!(err.column, col, "{text}: {}", err.render());
        assert!(err.message.contains("invalid"), "{text}: {}", err.message);
    }
    assert!(parse("d = 2024-02-29").is_ok());
    assert!(parse("d = 2000-02-29").is_ok());
    assert!(parse("d = 1900-02-29").is_err());
}

#[test]
fn error_number_forms() {
    check_error(
        "n > 99999999999999999999",
        1,
        5,
        "integer literal out of 64-bit range `99999999999999999999`\nline 1, column 5\n  n > 99999999999999999999\n      ^",
    );
    assert!(perr("n > 9223372036854775808").message.contains("out of 64-bit range"));
    assert!(perr("n > -9223372036854775809").message.contains("out of 64-bit range"));
    assert!(perr("n > 1e309").message.contains("out of range"));
    for (text, col) in
        [("n > 25abc", 5), ("n > 1.", 5), ("n > 1.x", 5), ("n > 1.5.2", 5), ("n > 1e", 5), ("n > 1e+", 5)]
    {
        let err = perr(text);
        assert_eq!(err.column, col, "{text}");
        assert!(err.message.starts_with("invalid number"), "{}", err.message);
    }
    let err = perr("n > .5");
    assert_eq!(err.column, 5);
    assert!(err.message.contains("leading digit"), "{}", err.message);
}

#[test]
fn error_unknown_character() {
    check_error("a ; b", 1, 3, "unexpected character `;`\nline 1, column 3\n  a ; b\n    ^");
    assert!(perr("a ! b").message.contains("did you mean `!=`"));
    assert!(perr("x = 'a'").message.contains("double quotes"));
    assert!(perr("a && b").message.contains("AND"));
    let err = perr("a AND \u{0}");
    assert_eq!(err.column, 7);
    assert_eq!(err.found, "`\\u{0}`");
    assert!(err.render().contains("  a AND \u{FFFD}\n"), "{}", err.render());
}

#[test]
fn error_caret_under_wide_chars() {
    // Five CJK chars (width 2) and a space precede the fault.
    check_error("高价值用户 ; x", 1, 7, "unexpected character `;`\nline 1, column 7\n  高价值用户 ; x\n             ^");
}

#[test]
fn error_messages_for_common_mistakes() {
    let err = perr("in AND vip");
    assert!(err.message.contains("keyword `in`"), "{}", err.message);
    assert!(err.message.contains("\"in\""), "{}", err.message);
    let err = perr("city = SH");
    assert!(err.message.contains("must be quoted"), "{}", err.message);
    assert_eq!(err.column, 8);
    let err = perr("score = NULL");
    assert!(err.message.contains("IS NULL"), "{}", err.message);
    let err = perr("vip foo");
    assert_eq!(err.expected, ["AND", "OR", "XOR", "end of input", "comparison operator"]);
    let err = perr("(a AND (b)");
    assert_eq!(err.expected, ["AND", "OR", "XOR", "\")\""]);
    assert!(err.message.contains("column 1 is not closed"), "{}", err.message);
    let err = perr("a)");
    assert_eq!(err.column, 2);
    assert_eq!(err.expected, ["AND", "OR", "XOR", "end of input", "comparison operator"]);
    let err = perr("()");
    assert_eq!(err.column, 2);
    assert_eq!(perr("a NOT b").expected, ["IN", "BETWEEN"]);
    assert_eq!(perr("a IS b").expected, ["NOT", "NULL"]);
    assert_eq!(perr("a IS NOT b").expected, ["NULL"]);
    assert_eq!(perr("t WITHIN x DAYS").expected, ["a non-negative number"]);
    assert!(perr("t WITHIN -1 DAYS").message.contains("non-negative"));
    assert_eq!(perr("t WITHIN 3 weeks").expected, ["DAYS", "HOURS", "MINUTES"]);
    assert_eq!(perr("t WITHIN 3 \"DAYS\"").expected, ["DAYS", "HOURS", "MINUTES"]);
    assert_eq!(perr("@ x").column, 1);
    assert_eq!(perr("@").expected, ["segment name"]);
    assert_eq!(perr(r#""" AND x"#).message, "empty name");
    assert_eq!(perr("@``").message, "empty name");
    assert_eq!(perr("a = `x`").expected, ["a literal"]);
    assert_eq!(perr("a AND AND b").column, 7);
}

#[test]
fn long_line_is_windowed() {
    let text = format!("{} ;", "a AND ".repeat(2000));
    let err = perr(&text);
    let rendered = err.render();
    assert!(rendered.lines().all(|l| l.chars().count() < 200), "{rendered}");
    let lines: Vec<&str> = rendered.lines().collect();
    let caret = lines[3].chars().count() - 1;
    let semi = lines[2].chars().position(|c| c == ';');
    assert_eq!(Some(caret), semi, "{rendered}");
}

// ---------------------------------------------------------------- depth

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let text = "(".repeat(10_000);
    let start = std::time::Instant::now();
    let err = perr(&text);
    assert!(err.message.contains("nests too deeply"), "{}", err.message);
    assert_eq!(err.column, MAX_DEPTH + 1);
    assert!(start.elapsed().as_millis() < 500);

    let text = format!("{}a{}", "(".repeat(10_000), ")".repeat(10_000));
    assert!(perr(&text).message.contains("nests too deeply"));

    let text = format!("{}a", "NOT ".repeat(10_000));
    let err = perr(&text);
    assert!(err.message.contains("nests too deeply"));
    assert_eq!(err.column, MAX_DEPTH * 4 + 1);

    // Mixed: parentheses and NOTs share the budget.
    let text = format!("{}a", "NOT (".repeat(200));
    assert!(perr(&text).message.contains("nests too deeply"));
}

#[test]
fn nesting_at_the_limit_is_fine() {
    let text = format!("{}a{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
    assert_eq!(p(&text), tag("a"));

    let text = format!("{}a", "NOT ".repeat(MAX_DEPTH));
    let e = roundtrip(&text);
    assert_eq!(e.to_string(), text);

    // Alternating operators make a tree as deep as the parser allows.
    let mut text = String::from("x");
    for i in 0..MAX_DEPTH {
        let op = ["AND", "OR", "XOR"][i % 3];
        text = format!("a{i} {op} NOT ({text})");
    }
    assert!(parse(&text).is_err()); // 2 * 256 levels
    let mut text = String::from("x");
    for i in 0..MAX_DEPTH / 2 {
        let op = ["AND", "OR", "XOR"][i % 3];
        text = format!("a{i} {op} NOT ({text})");
    }
    roundtrip(&text);
    // Worst case for tree depth: three tree levels per parenthesis.
    let mut text = String::from("x");
    for _ in 0..MAX_DEPTH {
        text = format!("a OR b XOR c AND ({text})");
    }
    let e = roundtrip(&text);
    assert_eq!(e.to_string(), text.replace("(x)", "x"));
    // Sequential NOTs/parens do not accumulate.
    let text = vec!["NOT (NOT a)"; 5000].join(" AND ");
    roundtrip(&text);
}

#[test]
fn big_flat_query_is_fast() {
    let text = vec![r#"x IN ("a", 1, 2.5) AND NOT y"#; 20_000].join(" OR ");
    let start = std::time::Instant::now();
    let e = p(&text);
    let elapsed = start.elapsed();
    match &e {
        Expr::Or(v) => assert_eq!(v.len(), 20_000),
        other => panic!("{other:?}"),
    }
    // Generous bound for debug builds on a shared machine.
    assert!(elapsed.as_secs() < 5, "{elapsed:?}");
    assert_eq!(p(&e.to_string()), e);
}

// ---------------------------------------------------------------- calendar

#[test]
fn civil_date_arithmetic() {
    assert_eq!(days_from_civil(1970, 1, 1), 0);
    assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    assert_eq!(days_from_civil(2026, 1, 1), 20_454);
    assert_eq!(days_from_civil(0, 1, 1), -719_528);
    assert_eq!(civil_from_days(-719_528), (0, 1, 1));
    assert!(is_leap_year(2000) && is_leap_year(2024) && !is_leap_year(1900));
    // Walk every day of years 0..=9999 and check both directions.
    let mut z = days_from_civil(0, 1, 1);
    for y in 0..=9999i64 {
        for m in 1..=12u32 {
            for d in 1..=ast::days_in_month(y, m) {
                assert_eq!(days_from_civil(y, m, d), z);
                assert_eq!(civil_from_days(z), (y, m, d));
                z += 1;
            }
        }
    }
    let _ = civil_from_days(i64::MIN);
    let _ = civil_from_days(i64::MAX);
    let _ = days_from_civil(i64::MIN, 0, u32::MAX);
}

// ---------------------------------------------------------------- random

use crate::test_random::Rng;

/// What the query tests draw beyond plain numbers.
trait Draw {
    fn range_i64(&mut self, lo: i64, hi: i64) -> i64;
    fn any_char(&mut self) -> char;
    fn any_string(&mut self, max: u64) -> String;
}

impl Draw for Rng {
    fn range_i64(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % ((hi - lo) as u64 + 1)) as i64
    }

    fn any_char(&mut self) -> char {
        loop {
            let cp = match self.below(4) {
                0 => self.below(0x80) as u32,
                1 => self.below(0x3000) as u32,
                2 => 0x4E00 + self.below(0x5000) as u32,
                _ => self.below(0x11_0000) as u32,
            };
            if let Some(c) = char::from_u32(cp) {
                return c;
            }
        }
    }

    fn any_string(&mut self, max: u64) -> String {
        let n = self.below(max + 1);
        (0..n).map(|_| self.any_char()).collect()
    }
}

const NAMES: &[&str] = &[
    "vip",
    "rfm.segment",
    "高价值用户",
    "黑名单",
    "_x",
    "t17",
    "a.b.",
    "and",
    "In",
    "NULL",
    "true",
    "all",
    "days",
    "Hour",
    "weird name!",
    "with\"quote",
    "back`tick",
    "back\\slash",
    "new\nline",
    "tab\t",
    "1abc",
    "ctrl\u{1}",
    "emoji😀",
    "x y",
    "café",
    "a-b",
    "@seg",
    "\u{202e}rtl",
    "ǅ",
    "Ⅻ",
    "x²",
    "_",
    "a=b",
    "(",
    "NOT x",
];

fn gen_name(rng: &mut Rng) -> String {
    if rng.below(4) == 0 {
        let s = rng.any_string(6);
        if !s.is_empty() {
            return s;
        }
    }
    (*rng.pick(NAMES)).to_owned()
}

fn gen_float(rng: &mut Rng) -> f64 {
    match rng.below(3) {
        0 => *rng.pick(&[0.0, -0.0, 1.0, 0.5, 1e300, -2e3, 1e15, 1e16, 5e-324, f64::MAX]),
        1 => (rng.next() % 100_000) as f64 / 8.0,
        _ => loop {
            let x = f64::from_bits(rng.next());
            if x.is_finite() {
                break x;
            }
        },
    }
}

fn gen_literal(rng: &mut Rng) -> Literal {
    let min_day = days_from_civil(0, 1, 1);
    let max_day = days_from_civil(9999, 12, 31);
    match rng.below(7) {
        0 => Literal::Str(rng.any_string(8)),
        1 => Literal::Str((*rng.pick(&["SH", "", "a\"b", "\\", "2026-01-01", "TRUE"])).into()),
        2 => Literal::Int(match rng.below(3) {
            0 => rng.range_i64(-1000, 1000),
            1 => rng.next() as i64,
            _ => *rng.pick(&[i64::MIN, i64::MAX, 0]),
        }),
        3 => Literal::Float(gen_float(rng)),
        4 => Literal::Bool(rng.below(2) == 0),
        5 => Literal::Date(rng.range_i64(min_day, max_day) as i32),
        _ => Literal::Timestamp(match rng.below(2) {
            0 => rng.range_i64(min_day * MICROS_PER_DAY, (max_day + 1) * MICROS_PER_DAY - 1),
            _ => rng.range_i64(min_day, max_day) * MICROS_PER_DAY + rng.range_i64(0, 86_399) * 1_000_000,
        }),
    }
}

fn gen_expr(rng: &mut Rng, depth: u32) -> Expr {
    if depth == 0 || rng.below(3) == 0 {
        return match rng.below(9) {
            0 => Expr::All,
            1 | 2 => Expr::Tag(gen_name(rng)),
            3 => Expr::Segment(gen_name(rng)),
            4 => Expr::Cmp {
                attr: gen_name(rng),
                op: *rng.pick(&[Compare::Lt, Compare::Le, Compare::Eq, Compare::Ne, Compare::Ge, Compare::Gt]),
                value: gen_literal(rng),
            },
            5 => Expr::In {
                attr: gen_name(rng),
                values: (0..1 + rng.below(4)).map(|_| gen_literal(rng)).collect(),
                negated: rng.below(2) == 0,
            },
            6 => {
                let (mut low, mut high) = (gen_literal(rng), gen_literal(rng));
                // The parser refuses an empty range (see empty_between_is_refused).
                if super::parser::literal_order(&low, &high) == Some(std::cmp::Ordering::Greater) {
                    std::mem::swap(&mut low, &mut high);
                }
                Expr::Between { attr: gen_name(rng), low, high, negated: rng.below(2) == 0 }
            }
            7 => Expr::IsNull { attr: gen_name(rng), negated: rng.below(2) == 0 },
            _ => Expr::Within {
                attr: gen_name(rng),
                amount: match rng.below(2) {
                    0 => rng.below(10_000) as f64,
                    _ => gen_float(rng).abs(),
                },
                unit: *rng.pick(&[TimeUnit::Days, TimeUnit::Hours, TimeUnit::Minutes]),
            },
        };
    }
    match rng.below(4) {
        0 => Expr::Not(Box::new(gen_expr(rng, depth - 1))),
        k => {
            let terms = (0..2 + rng.below(3)).map(|_| gen_expr(rng, depth - 1)).collect();
            match k {
                1 => Expr::And(terms),
                2 => Expr::Or(terms),
                _ => Expr::Xor(terms),
            }
        }
    }
}

#[test]
fn random_trees_round_trip() {
    let mut rng = Rng::new(0x9E37_79B9_7F4A_7C15);
    for i in 0..5000 {
        let e = gen_expr(&mut rng, 1 + (i % 6));
        let text = e.to_string();
        match parse(&text) {
            Ok(back) => assert_eq!(back, e, "tree #{i} printed as {text:?}"),
            Err(err) => panic!("tree #{i} printed as {text:?} fails:\n{}", err.render()),
        }
        // The printer is canonical: printing again gives the same text.
        assert_eq!(p(&text).to_string(), text);
    }
}

/// Anything that parses must re-print to text that parses to the same tree.
fn fuzz_one(text: &str) {
    match parse(text) {
        Ok(e) => {
            let printed = e.to_string();
            assert_eq!(parse(&printed).as_ref(), Ok(&e), "{text:?} -> {printed:?}");
        }
        Err(err) => {
            assert!(err.line >= 1 && err.column >= 1);
            assert!(err.offset <= text.chars().count());
            let _ = err.render();
        }
    }
}

#[test]
fn random_garbage_never_panics() {
    let mut rng = Rng::new(0xDEAD_BEEF_CAFE_F00D);
    // Raw bytes (lossily decoded).
    for _ in 0..3000 {
        let n = rng.below(80) as usize;
        let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
        fuzz_one(&String::from_utf8_lossy(&bytes));
    }
    // Arbitrary code points.
    for _ in 0..3000 {
        fuzz_one(&rng.any_string(40));
    }
    // Token soup, which reaches deep into the parser.
    const PIECES: &[&str] = &[
        "(",
        ")",
        "NOT ",
        " AND ",
        " OR ",
        " XOR ",
        "a",
        "高",
        "\"",
        "`",
        "@",
        "1",
        "-",
        "+",
        "2026-01-01",
        "T",
        "08:30:00",
        ":",
        ",",
        " IN ",
        " BETWEEN ",
        " IS ",
        " NULL",
        " WITHIN ",
        " DAYS",
        " ",
        "\\",
        "u{",
        "}",
        "é",
        "\u{0}",
        "=",
        "<",
        ">",
        "!",
        ".",
        "e",
        "5",
        "0.5",
        "99999999999999999999",
        "\n",
        "\t",
        "TRUE",
        "ALL",
        "x.y",
        "Z",
        "+08:00",
        "\r\n",
        "`` ",
    ];
    for _ in 0..20_000 {
        let n = rng.below(25);
        let text: String = (0..n).map(|_| *rng.pick(PIECES)).collect();
        fuzz_one(&text);
    }
    // Mutations of valid canonical text.
    for i in 0..3000 {
        let mut chars: Vec<char> = gen_expr(&mut rng, 1 + (i % 4)).to_string().chars().collect();
        for _ in 0..1 + rng.below(3) {
            let at = rng.below(chars.len() as u64 + 1) as usize;
            match rng.below(3) {
                0 if at < chars.len() => {
                    chars.remove(at);
                }
                1 => chars.insert(at, *rng.pick(&['(', ')', '"', '`', '\\', ' ', '@', 'N', '-'])),
                _ => chars.insert(at, rng.any_char()),
            }
        }
        fuzz_one(&chars.into_iter().collect::<String>());
    }
}

// ---------------------------------------------------------------- a long query

/// The 20-term query of `benches/bench_dsl.py` (which times it) parses into 20 leaves.
#[test]
fn twenty_term_query_parses() {
    let query = r#"vip AND city IN ("SH", "BJ", "GZ") AND age BETWEEN 25 AND 35 AND NOT churned
        AND rfm.segment IN ("Champions", "Loyal Customers") AND monetary > 500.5
        AND last_active_days <= 7 AND signup_ts >= 2026-01-01
        AND last_login < 2026-03-01T08:30:00+08:00 AND score IS NOT NULL
        AND "高价值用户" AND NOT @黑名单 AND signup_ts WITHIN 30 DAYS
        AND (frequency >= 3 OR coupon_used = TRUE) AND gender != "unknown"
        AND channel NOT IN ("test", "internal") AND ltv NOT BETWEEN 0 AND 10
        AND email IS NULL XOR ab_bucket = 7"#;
    let e = p(query);
    fn leaves(e: &Expr) -> usize {
        match e {
            Expr::And(v) | Expr::Or(v) | Expr::Xor(v) => v.iter().map(leaves).sum(),
            Expr::Not(x) => leaves(x),
            _ => 1,
        }
    }
    let terms = leaves(&e);
    assert_eq!(terms, 20);
}

#[test]
fn empty_between_is_refused() {
    for (text, at) in
        [("age BETWEEN 35 AND 25", 12), ("x NOT BETWEEN 1.5 AND -2", 14), ("d BETWEEN 2026-02-01 AND 2026-01-31", 10)]
    {
        let err = parse(text).expect_err(text);
        assert!(err.message.starts_with("empty range"), "{}", err.message);
        assert_eq!(err.offset, at, "{text}");
    }
    assert!(parse("age BETWEEN 25 AND 25").is_ok());
    assert!(parse("age BETWEEN 25 AND 25.5").is_ok());
    assert!(parse("age BETWEEN \"b\" AND \"a\"").is_ok(), "strings are left to the binder");
}

#[test]
fn full_width_punctuation_reads_as_ascii() {
    assert_eq!(p("（vip OR a）AND city IN （“SH”，“深圳”）"), p("(vip OR a) AND city IN (\"SH\", \"深圳\")"));
}
