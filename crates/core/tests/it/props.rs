use connectkit_core::{ConnectionUrl, Error, Properties, PropertySpec};

const CATALOGUE: &[PropertySpec] = &[
    PropertySpec::new("ServiceURL", "root").required(),
    PropertySpec::new("ClientID", "id"),
    PropertySpec::new("ClientSecret", "secret").secret(),
    PropertySpec::new("ApiKey", "a connector-specific secret").secret(),
    PropertySpec::new("Description", "text").allow_empty(),
];

fn props(s: &str) -> Properties {
    s.parse::<ConnectionUrl>().unwrap().into_parts().1
}

#[test]
fn validate_canonicalizes_names() {
    let mut p = props("x:serviceurl=https://h/;CLIENTID=abc;apikey=k");
    p.validate(CATALOGUE).unwrap();
    let names: Vec<_> = p.iter().map(|(n, _)| n.to_owned()).collect();
    assert_eq!(names, ["ServiceURL", "ClientID", "ApiKey"]);
    assert!(
        p.get("ApiKey").unwrap().is_secret(),
        "catalogue secrets become secrets"
    );
    assert_eq!(p.get_str("apikey"), None);
}

#[test]
fn unknown_property_suggests_the_closest() {
    let mut p = props("x:ServiceURL=a;ClientScret=b");
    let err = p.validate(CATALOGUE).unwrap_err();
    assert!(
        matches!(&err, Error::UnknownProperty { name, suggestion: Some(s) } if name == "ClientScret" && s == "ClientSecret")
    );
    let mut p = props("x:ServiceURL=a;Zzzzzz=b");
    let err = p.validate(CATALOGUE).unwrap_err();
    assert_eq!(err.to_string(), "unknown property Zzzzzz");
}

#[test]
fn missing_and_empty() {
    let mut p = props("x:ClientID=a");
    assert_eq!(
        p.validate(CATALOGUE).unwrap_err().to_string(),
        "missing required property ServiceURL"
    );
    let mut p = props("x:ServiceURL=a;ClientID=''");
    assert_eq!(
        p.validate(CATALOGUE).unwrap_err().to_string(),
        "property ClientID has an empty value"
    );
    let mut p = props("x:ServiceURL=a;Description=''");
    p.validate(CATALOGUE).unwrap();
    assert_eq!(p.get_str("Description"), Some(""));
}

#[test]
fn set_replaces_and_insert_rejects_duplicates() {
    let mut p = Properties::new();
    p.insert("Table", "a").unwrap();
    assert!(matches!(
        p.insert("table", "b"),
        Err(Error::DuplicateProperty { .. })
    ));
    p.set("TABLE", "c");
    assert_eq!(p.get_str("table"), Some("c"));
    assert_eq!(p.len(), 1);
    assert!(p.remove("Table").is_some());
    assert!(p.is_empty());
}
