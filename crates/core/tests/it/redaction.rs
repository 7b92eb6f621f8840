use connectkit_core::{ConnectionUrl, Error, PropertyValue, SecretString, StaticHeaderAuth};

const SECRETS: &[&str] = &[
    "S3cr3t-client",
    "R3fr3sh-tok",
    "Acc3ss-tok",
    "S3cur1ty-tok",
    "Passw0rd-x",
    "Pr0xy-pw",
    "K3y-st0re-pw",
];

fn assert_clean(text: &str) {
    for s in SECRETS {
        assert!(!text.contains(s), "secret {s} leaked in {text:?}");
    }
}

#[test]
fn urls_and_properties_never_print_secrets() {
    let src = format!(
        "autorest:ClientSecret={};RefreshToken='{}';accesstoken=\"{}\";SecurityToken={};PASSWORD={};ProxyPassword={};jwtcertpassword={};ClientID=visible",
        SECRETS[0], SECRETS[1], SECRETS[2], SECRETS[3], SECRETS[4], SECRETS[5], SECRETS[6]
    );
    let url: ConnectionUrl = src.parse().unwrap();
    for text in [
        format!("{url}"),
        format!("{url:?}"),
        format!("{:?}", url.properties()),
        format!("{}", url.properties()),
    ] {
        assert_clean(&text);
        assert!(text.contains("visible"), "{text}");
    }
    assert!(url.expose_secret_url().contains(SECRETS[0]));
}

#[test]
fn errors_never_print_secrets() {
    let cases = [
        format!("autorest:ClientSecret='{}", SECRETS[0]),
        format!(
            "autorest:ClientSecret={}\nRefreshToken={}",
            SECRETS[0], SECRETS[1]
        ),
        format!(
            "autorest:RefreshToken={};RefreshToken={}",
            SECRETS[1], SECRETS[1]
        ),
        format!("autorest:SecurityToken='{}'x", SECRETS[3]),
        format!("autorest:JWTCertPassword='{}", SECRETS[6]),
        format!(
            "autorest:JWTCertPassword={};JWTCertPassword={}",
            SECRETS[6], SECRETS[6]
        ),
    ];
    for src in cases {
        let err = src.parse::<ConnectionUrl>().unwrap_err();
        assert_clean(&format!("{err} {err:?}"));
    }
    let err = StaticHeaderAuth::new("X-Key", SecretString::from(format!("{}\n", SECRETS[3])))
        .unwrap_err();
    assert!(matches!(&err, Error::InvalidProperty { name, .. } if name == "SecurityToken"));
    assert_clean(&format!("{err} {err:?}"));
}

#[test]
fn flows_and_values_never_print_secrets() {
    let flow =
        StaticHeaderAuth::new("X-Tenant", SecretString::from(SECRETS[3].to_owned())).unwrap();
    assert_clean(&format!("{flow:?}"));
    let v = PropertyValue::for_name("refreshtoken", SECRETS[1].to_owned());
    assert_clean(&format!("{v} {v:?}"));
    // Every name in the list is a secret from the moment it is parsed.
    for name in connectkit_core::SECRET_PROPERTIES {
        let v = PropertyValue::for_name(&name.to_lowercase(), SECRETS[6].to_owned());
        assert!(v.is_secret(), "{name}");
        assert_clean(&format!("{v} {v:?}"));
    }
}
