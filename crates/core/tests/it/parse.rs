use connectkit_core::{ConnectionUrl, Error};

use crate::fixture;

fn parse(s: &str) -> ConnectionUrl {
    s.parse()
        .unwrap_or_else(|e| panic!("{s:?} should parse: {e}"))
}

fn val<'a>(url: &'a ConnectionUrl, name: &str) -> &'a str {
    url.properties()
        .get(name)
        .unwrap_or_else(|| panic!("{name} missing"))
        .expose()
}

#[test]
fn autorest_seed_parses_to_the_data_source_values() {
    let url = parse(&fixture("seeds/autorest.url"));
    assert_eq!(url.subprotocol(), "autorest");
    let expected = [
        ("AuthenticationMethod", "OAuth2-RefreshToken"),
        (
            "ClientID",
            "1234567898-a1bc2de3fgh4ij567klmn8opqr9stu.apps.googleusercontent.com",
        ),
        ("ClientSecret", "FaZBFRsGXTaR"),
        ("Config", "C:/path/to/googleanalytics.rest"),
        (
            "RefreshToken",
            "1/abCD0F1GHijkLmNOPqrs_T2VWx3Y-Zabc45dE6FGh",
        ),
        ("TokenURI", "https://accounts.google.com/o/oauth2/token"),
    ];
    assert_eq!(url.properties().len(), expected.len());
    for (name, value) in expected {
        assert_eq!(val(&url, name), value, "{name}");
    }
    assert!(url.properties().get("ClientSecret").unwrap().is_secret());
    assert!(url.properties().get("RefreshToken").unwrap().is_secret());
    assert!(!url.properties().get("ClientID").unwrap().is_secret());
}

#[test]
fn dynamics_seed_parses_to_the_data_source_values() {
    let url = parse(&fixture("seeds/dynamics365.url"));
    assert_eq!(url.subprotocol(), "dynamics365");
    let expected = [
        (
            "ServiceURL",
            "https://mywebinstance.api.crm.dynamics.com/api/data/v9.1/",
        ),
        ("AuthenticationMethod", "OAuth2"),
        ("ClientID", "29453d6f-6789-25gh-gd8g-44tk3c527831"),
        (
            "ClientSecret",
            "12a3=bCD/EfGh4Ijk+Lm5P67qR8s=//TuV+WXy1Zabcd",
        ),
        (
            "TokenURI",
            "https://login.microsoftonline.com/common/oauth2/v2.0/token",
        ),
        ("RefreshToken", "12a3=bCD/EfGh4Ijk+Lgd8g-44tk3c527831"),
    ];
    assert_eq!(url.properties().len(), expected.len());
    for (name, value) in expected {
        assert_eq!(val(&url, name), value, "{name}");
    }
}

#[test]
fn seeds_parse_the_same_with_crlf_and_tabs() {
    for f in ["seeds/autorest.url", "seeds/dynamics365.url"] {
        let text = fixture(f);
        let plain = parse(&text);
        for variant in [
            text.replace('\n', "\r\n"),
            text.replace('\n', "\n\t  "),
            format!("  \t{text}\r\n"),
        ] {
            let other = parse(&variant);
            assert_eq!(
                other.expose_secret_url(),
                plain.expose_secret_url(),
                "{variant:?}"
            );
        }
    }
}

#[test]
fn quoting_and_prefix_variants() {
    let url = parse(
        r#"autorest:Table="my;table";Sample='https://h/x?a=1;b=2';Description='it''s' ; Scope="a ""b"" c";"#,
    );
    assert_eq!(url.subprotocol(), "autorest");
    assert_eq!(val(&url, "table"), "my;table");
    assert_eq!(val(&url, "sample"), "https://h/x?a=1;b=2");
    assert_eq!(val(&url, "description"), "it's");
    assert_eq!(val(&url, "scope"), r#"a "b" c"#);

    let url = parse("JDBC:DataDirect:AutoREST:TokenURI=POST https://h/t ;WSTimeout = 5");
    assert_eq!(url.subprotocol(), "autorest");
    assert_eq!(val(&url, "TokenURI"), "POST https://h/t");
    assert_eq!(val(&url, "WSTimeout"), "5");

    let url = parse("autorest:A='x'\n\tB=y;;;");
    assert_eq!(val(&url, "A"), "x");
    assert_eq!(val(&url, "B"), "y");
    assert_eq!(url.properties().len(), 2);

    // Names keep their spelling until validated, and match any case.
    let url = parse("autorest:clientid=abc");
    assert_eq!(url.properties().iter().next().unwrap().0, "clientid");
    assert_eq!(val(&url, "ClientID"), "abc");
}

fn syntax_err(s: &str) -> (usize, String) {
    match s.parse::<ConnectionUrl>() {
        Err(Error::Syntax { position, message }) => (position, message),
        other => panic!("{s:?}: expected a syntax error, got {other:?}"),
    }
}

#[test]
fn syntax_errors_name_the_key_or_position() {
    let (pos, msg) = syntax_err("autorest:Sample=x;Table='abc");
    assert_eq!(pos, 24);
    assert!(
        msg.contains("unterminated quote") && msg.contains("Table"),
        "{msg}"
    );

    let (_, msg) = syntax_err("autorest:Sample=x;Table");
    assert!(msg.contains("Table"), "{msg}");
    let (_, msg) = syntax_err("autorest:Sample=x;Table;B=1");
    assert!(msg.contains("`=`") && msg.contains("Table"), "{msg}");
    let (pos, _) = syntax_err("");
    assert_eq!(pos, 0);
    let (_, msg) = syntax_err("autorest Sample=x");
    assert!(msg.contains("`:`"), "{msg}");
    let (_, msg) = syntax_err("autorest:=x");
    assert!(msg.contains("property name"), "{msg}");
    let (_, msg) = syntax_err("autorest:Table='a'b;");
    assert!(msg.contains("Table"), "{msg}");
    let (_, msg) = syntax_err("autorest:Config=C:/x\nRefreshToken=abc;");
    assert!(
        msg.contains("Config") && msg.contains("line break"),
        "{msg}"
    );
    let (pos, msg) = syntax_err("autorest:Bad Name=1");
    assert!(msg.contains("`Bad`") && !msg.contains("Name"), "{msg}");
    assert_eq!(pos, 12);
}

/// Issue 13 item 6: a key whose `=` or `;` is missing must not drag the
/// secret value after it into the message.
#[test]
fn syntax_errors_never_quote_a_value() {
    for url in [
        "autorest:ClientSecret S3CRET-value=x;",
        "autorest:ClientSecret S3CRET-value;",
        "autorest:ClientSecret S3CRET-value",
        "autorest:ClientSecret='a'S3CRET-value;",
        "autorest:ClientSecret\tS3CRET-value=1",
    ] {
        let err = url.parse::<ConnectionUrl>().unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(!text.contains("S3CRET"), "{url}: {text}");
        assert!(text.contains("ClientSecret"), "{url}: {text}");
    }
}

#[test]
fn duplicate_keys_are_rejected_case_insensitively() {
    let err = "autorest:Table=a;TABLE=b"
        .parse::<ConnectionUrl>()
        .unwrap_err();
    assert!(
        matches!(&err, Error::DuplicateProperty { name } if name == "TABLE"),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "property TABLE is given more than once");
}

#[test]
fn format_then_parse_round_trips() {
    let url = parse(&fixture("seeds/autorest.url"));
    let again = parse(&url.expose_secret_url());
    assert_eq!(again.expose_secret_url(), url.expose_secret_url());
    assert_eq!(val(&again, "ClientSecret"), "FaZBFRsGXTaR");
}

mod prop {
    use connectkit_core::{ConnectionUrl, Properties};
    use proptest::prelude::*;

    fn name() -> impl Strategy<Value = String> {
        "[A-Za-z][A-Za-z0-9_]{0,12}"
    }

    fn value() -> impl Strategy<Value = String> {
        // Any printable text, including quotes, `;`, `=` and inner spaces.
        "[ -~]{1,24}".prop_filter("non-blank", |v| !v.trim().is_empty())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn never_panics(s in "\\PC{0,64}") {
            let _ = s.parse::<ConnectionUrl>();
        }

        #[test]
        fn never_panics_on_url_like_input(s in "(jdbc:datadirect:)?[a-z]{1,5}:([A-Za-z ]{0,4}(=|;|'|\"| |\n){0,3}){0,8}") {
            let _ = s.parse::<ConnectionUrl>();
        }

        #[test]
        fn format_parse_round_trip(entries in prop::collection::vec((name(), value()), 0..8)) {
            let mut props = Properties::new();
            for (n, v) in entries {
                let _ = props.insert(n, v);
            }
            let url = ConnectionUrl::new("autorest", props.clone());
            let text = url.expose_secret_url();
            let back: ConnectionUrl = text.parse().map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))?;
            prop_assert_eq!(back.properties().len(), props.len());
            for (n, v) in props.iter() {
                let got = back.properties().get(n).map(|x| x.expose().to_owned());
                // Unquoted values lose surrounding white space by design; the formatter quotes them.
                prop_assert_eq!(got.as_deref(), Some(v.expose()), "{}", n);
            }
        }
    }
}

/// The DataDirect escape for string values: `{value}` keeps leading and
/// trailing spaces and curly brackets (the vendor's examples:
/// `User={hello }`, `Password={{hello}}`), and here `;` and `=` too.
#[test]
fn values_in_braces_keep_spaces_braces_semicolons_and_equals() {
    let url = parse(
        "jdbc:datadirect:dynamics365:User={hello };Password={{hello}};\
         Scope={a=b;c d} ServiceURL=https://org.crm.dynamics.com/api/data/v9.2/",
    );
    assert_eq!(val(&url, "User"), "hello ");
    assert_eq!(
        url.properties().get("Password").unwrap().expose(),
        "{hello}"
    );
    assert_eq!(val(&url, "Scope"), "a=b;c d");
    assert_eq!(
        val(&url, "ServiceURL"),
        "https://org.crm.dynamics.com/api/data/v9.2/"
    );
    let err = "x:Scope={open;A=1".parse::<ConnectionUrl>().unwrap_err();
    assert!(
        err.to_string()
            .contains("unterminated `{` in the value of Scope"),
        "{err}"
    );
}
