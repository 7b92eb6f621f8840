//! `$metadata`: the CSDL XML document, read with quick-xml into entity sets
//! and entity types.
//!
//! A customized organization's document is 4–30+ MB with hundreds of entity
//! types of a hundred-odd properties each, while a command needs one table
//! or a few. The document is read once for what every command needs (entity
//! sets, aliases, each entity type's base type, key and where its body
//! lies); a type's properties are read from its body when its columns are
//! asked for.

use std::collections::HashMap;
use std::ops::Range;

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use crate::error::Dynamics365Error;
use crate::types::{Column, EdmType};

/// The deepest `BaseType` chain followed (guards against cycles).
const MAX_INHERITANCE_DEPTH: usize = 32;

#[derive(Debug, Clone, Default)]
struct Property {
    name: String,
    type_name: String,
    precision: Option<String>,
    scale: Option<String>,
    nullable: bool,
}

#[derive(Debug, Clone, Default)]
struct EntityType {
    base_type: Option<String>,
    key: Vec<String>,
    /// Where its children lie in the document (empty for `<EntityType/>`).
    body: Range<usize>,
}

/// The parts of a CSDL document the connector uses.
#[derive(Debug, Clone, Default)]
pub(crate) struct Metadata {
    /// The document, whose entity type bodies are read on demand.
    xml: String,
    /// Entity types by namespace-qualified name.
    types: HashMap<String, EntityType>,
    /// Schema alias to namespace.
    aliases: HashMap<String, String>,
    /// Entity set name to the qualified name of its entity type, in document order.
    sets: Vec<(String, String)>,
}

fn attrs(e: &BytesStart<'_>) -> Result<HashMap<String, String>, Dynamics365Error> {
    let mut out = HashMap::new();
    for a in e.attributes() {
        let a = a.map_err(|err| Dynamics365Error::Metadata(err.to_string()))?;
        let key = String::from_utf8_lossy(a.key.local_name().as_ref()).into_owned();
        let value = a
            .unescape_value()
            .map_err(|err| Dynamics365Error::Metadata(err.to_string()))?;
        out.insert(key, value.into_owned());
    }
    Ok(out)
}

/// `Namespace.name` → `name`.
fn local_name(qualified: &str) -> &str {
    qualified.rsplit_once('.').map_or(qualified, |(_, n)| n)
}

fn position(reader: &Reader<&[u8]>) -> usize {
    usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX)
}

/// The structural properties in an entity type's body.
fn properties(type_name: &str, body: &str) -> Result<Vec<Property>, Dynamics365Error> {
    let mut reader = Reader::from_str(body);
    reader.config_mut().trim_text(true);
    // The body ends with the type's own end tag, whose start it lacks.
    reader.config_mut().check_end_names = false;
    reader.config_mut().allow_unmatched_ends = true;
    let bad = |what: String| Dynamics365Error::Metadata(format!("entity type {type_name}: {what}"));
    let mut out = Vec::new();
    loop {
        let e = match reader.read_event() {
            Ok(Event::Start(e) | Event::Empty(e)) => e,
            Ok(Event::Eof) => break,
            Ok(_) => continue,
            Err(e) => return Err(bad(format!("not well-formed XML: {e}"))),
        };
        if e.local_name().as_ref() != b"Property" {
            continue;
        }
        let mut p = Property {
            nullable: true,
            ..Property::default()
        };
        let (mut name, mut type_name) = (None, None);
        for a in e.attributes() {
            let a = a.map_err(|err| bad(err.to_string()))?;
            let value = || {
                a.unescape_value()
                    .map(|v| v.into_owned())
                    .map_err(|err| bad(err.to_string()))
            };
            match a.key.local_name().as_ref() {
                b"Name" => name = Some(value()?),
                b"Type" => type_name = Some(value()?),
                b"Precision" => p.precision = Some(value()?),
                b"Scale" => p.scale = Some(value()?),
                b"Nullable" => p.nullable = !value()?.eq_ignore_ascii_case("false"),
                _ => {}
            }
        }
        let (Some(name), Some(t)) = (name, type_name) else {
            return Err(Dynamics365Error::Metadata(
                "a Property lacks Name or Type".into(),
            ));
        };
        p.name = name;
        p.type_name = t;
        out.push(p);
    }
    Ok(out)
}

impl Metadata {
    /// Reads a CSDL XML document: its entity sets and the outline of its
    /// entity types (properties are read when asked for).
    pub(crate) fn parse(xml: impl Into<String>) -> Result<Self, Dynamics365Error> {
        let xml = xml.into();
        let mut md = Metadata::default();
        {
            let mut reader = Reader::from_str(&xml);
            reader.config_mut().trim_text(true);
            let mut namespace = String::new();
            // The entity type being read, with its qualified name.
            let mut current: Option<(String, EntityType)> = None;
            let mut in_key = false;
            let mut saw_edmx = false;
            loop {
                let event = reader.read_event().map_err(|e| {
                    Dynamics365Error::Metadata(format!(
                        "not well-formed XML at byte {}: {e}",
                        reader.error_position()
                    ))
                })?;
                let (e, empty) = match &event {
                    Event::Start(e) => (e, false),
                    Event::Empty(e) => (e, true),
                    Event::End(e) => {
                        match e.local_name().as_ref() {
                            b"EntityType" => {
                                if let Some((name, mut t)) = current.take() {
                                    t.body.end = position(&reader);
                                    md.types.insert(name, t);
                                }
                            }
                            b"Key" => in_key = false,
                            _ => {}
                        }
                        continue;
                    }
                    Event::Eof => break,
                    _ => continue,
                };
                match e.local_name().as_ref() {
                    b"Edmx" => saw_edmx = true,
                    b"Schema" => {
                        let a = attrs(e)?;
                        namespace = a.get("Namespace").cloned().unwrap_or_default();
                        if let Some(alias) = a.get("Alias") {
                            md.aliases.insert(alias.clone(), namespace.clone());
                        }
                    }
                    b"EntityType" => {
                        let a = attrs(e)?;
                        let name = a.get("Name").ok_or_else(|| {
                            Dynamics365Error::Metadata("an EntityType has no Name".into())
                        })?;
                        let at = position(&reader);
                        let t = EntityType {
                            base_type: a.get("BaseType").cloned(),
                            body: at..at,
                            ..Default::default()
                        };
                        let qualified = format!("{namespace}.{name}");
                        if empty {
                            md.types.insert(qualified, t);
                        } else {
                            current = Some((qualified, t));
                        }
                    }
                    b"Key" if current.is_some() => in_key = !empty,
                    b"PropertyRef" if in_key => {
                        if let (Some((_, t)), Some(name)) =
                            (current.as_mut(), attrs(e)?.remove("Name"))
                        {
                            t.key.push(name);
                        }
                    }
                    b"EntitySet" => {
                        let mut a = attrs(e)?;
                        if let (Some(name), Some(t)) = (a.remove("Name"), a.remove("EntityType")) {
                            md.sets.push((name, t));
                        }
                    }
                    _ => {}
                }
            }
            if !saw_edmx {
                return Err(Dynamics365Error::Metadata(
                    "not a CSDL document (no edmx:Edmx element)".into(),
                ));
            }
        }
        md.xml = xml;
        Ok(md)
    }

    /// The document as read.
    pub(crate) fn text(&self) -> &str {
        &self.xml
    }

    /// The entity set names, in document order.
    pub(crate) fn entity_sets(&self) -> impl Iterator<Item = &str> {
        self.sets.iter().map(|(n, _)| n.as_str())
    }

    /// The entity set named `name`, with its canonical spelling: by entity
    /// set name (`accounts`), exactly then in any case, else by the logical
    /// name of its entity type (`account`), in any case.
    pub(crate) fn find_set(&self, name: &str) -> Option<&str> {
        self.sets
            .iter()
            .find(|(n, _)| n == name)
            .or_else(|| self.sets.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)))
            .or_else(|| {
                self.sets
                    .iter()
                    .find(|(_, t)| local_name(t).eq_ignore_ascii_case(name))
            })
            .map(|(n, _)| n.as_str())
    }

    /// The logical name of entity set `set`'s entity type (`accounts` →
    /// `account`): the type's name without its namespace.
    pub(crate) fn logical_name(&self, set: &str) -> Option<&str> {
        self.sets
            .iter()
            .find(|(n, _)| n == set)
            .map(|(_, t)| local_name(t))
    }

    fn resolve(&self, qualified: &str) -> Option<&EntityType> {
        if let Some(t) = self.types.get(qualified) {
            return Some(t);
        }
        let (prefix, name) = qualified.rsplit_once('.')?;
        let ns = self.aliases.get(prefix)?;
        self.types.get(&format!("{ns}.{name}"))
    }

    /// The columns of entity set `set` (canonical name): the structural
    /// properties of its entity type, inherited ones first; navigation
    /// properties are not columns.
    pub(crate) fn columns(&self, set: &str) -> Result<Vec<Column>, Dynamics365Error> {
        let (_, type_name) = self
            .sets
            .iter()
            .find(|(n, _)| n == set)
            .ok_or_else(|| Dynamics365Error::Metadata(format!("no entity set {set}")))?;
        let mut chain = Vec::new();
        let mut next = Some(type_name.as_str());
        while let Some(name) = next {
            if chain.len() == MAX_INHERITANCE_DEPTH {
                return Err(Dynamics365Error::Metadata(format!(
                    "entity type {type_name}: BaseType chain deeper than {MAX_INHERITANCE_DEPTH} (a cycle?)"
                )));
            }
            let t = self.resolve(name).ok_or_else(|| {
                Dynamics365Error::Metadata(format!(
                    "entity set {set}: entity type {name} is not defined"
                ))
            })?;
            chain.push((name, t));
            next = t.base_type.as_deref();
        }
        // The key is declared on the type itself or the nearest base that has one.
        let key: &[String] = chain
            .iter()
            .find(|(_, t)| !t.key.is_empty())
            .map(|(_, t)| t.key.as_slice())
            .unwrap_or_default();
        let mut columns: Vec<Column> = Vec::new();
        for (name, t) in chain.iter().rev() {
            let body = self.xml.get(t.body.clone()).unwrap_or_default();
            for p in &properties(name, body)? {
                let column = Column {
                    name: p.name.clone(),
                    type_name: p.type_name.clone(),
                    edm: EdmType::from_csdl(
                        &p.type_name,
                        p.precision.as_deref(),
                        p.scale.as_deref(),
                    ),
                    nullable: p.nullable,
                    key: key.contains(&p.name),
                    annotation: None,
                };
                // A derived type may redeclare a property: the last one wins, in place.
                match columns.iter_mut().find(|c| c.name == p.name) {
                    Some(c) => *c = column,
                    None => columns.push(column),
                }
            }
        }
        Ok(columns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSDL: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
  <edmx:DataServices>
    <Schema Namespace="Microsoft.Dynamics.CRM" Alias="mscrm" xmlns="http://docs.oasis-open.org/odata/ns/edm">
      <EntityType Name="crmbaseentity" Abstract="true"/>
      <EntityType Name="account" BaseType="mscrm.crmbaseentity">
        <Key><PropertyRef Name="accountid"/></Key>
        <Property Name="accountid" Type="Edm.Guid"/>
        <Property Name="name" Type="Edm.String" Nullable="false">
          <Annotation Term="Org.OData.Core.V1.Description" String="a &amp; b"/>
        </Property>
        <Property Name="revenue" Type="Edm.Decimal" Scale="Variable"/>
        <NavigationProperty Name="primarycontactid" Type="mscrm.contact"/>
      </EntityType>
      <ComplexType Name="address"><Property Name="city" Type="Edm.String"/></ComplexType>
      <EntityContainer Name="System">
        <EntitySet Name="accounts" EntityType="Microsoft.Dynamics.CRM.account"/>
        <EntitySet Name="broken" EntityType="mscrm.nosuch"/>
      </EntityContainer>
    </Schema>
  </edmx:DataServices>
</edmx:Edmx>"#;

    #[test]
    fn reads_sets_types_keys_and_skips_navigation() {
        let md = Metadata::parse(CSDL).unwrap();
        assert_eq!(md.entity_sets().collect::<Vec<_>>(), ["accounts", "broken"]);
        assert_eq!(md.find_set("ACCOUNTS"), Some("accounts"));
        assert_eq!(md.find_set("Account"), Some("accounts"));
        assert_eq!(md.logical_name("accounts"), Some("account"));
        assert_eq!(md.find_set("crmbaseentity"), None);
        let cols = md.columns("accounts").unwrap();
        let names: Vec<_> = cols.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["accountid", "name", "revenue"]);
        assert!(cols[0].key && !cols[1].key);
        assert!(!cols[1].nullable && cols[2].nullable);
        let err = md.columns("broken").unwrap_err();
        assert!(err.to_string().contains("mscrm.nosuch"), "{err}");
    }

    #[test]
    fn rejects_what_is_not_csdl() {
        assert!(Metadata::parse("{\"$Version\":\"4.01\"}").is_err());
        assert!(Metadata::parse("<a><b></a>").is_err());
    }

    #[test]
    fn a_type_is_read_only_when_its_columns_are_asked_for() {
        let xml = r#"<edmx:Edmx xmlns:edmx="x"><Schema Namespace="n">
            <EntityType Name="good"><Key><PropertyRef Name="id"/></Key>
              <Property Name="id" Type="Edm.Int64" Nullable="false"/><Property Name="a&amp;b" Type="Edm.String"/></EntityType>
            <EntityType Name="bad"><Property Name="x"/></EntityType>
            <EntityType Name="empty"/>
            <EntityContainer Name="c"><EntitySet Name="goods" EntityType="n.good"/>
              <EntitySet Name="bads" EntityType="n.bad"/><EntitySet Name="empties" EntityType="n.empty"/></EntityContainer>
            </Schema></edmx:Edmx>"#;
        let md = Metadata::parse(xml).unwrap();
        let cols = md.columns("goods").unwrap();
        let names: Vec<_> = cols.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["id", "a&b"]);
        assert!(cols[0].key && !cols[0].nullable);
        assert!(md.columns("empties").unwrap().is_empty());
        let err = md.columns("bads").unwrap_err();
        assert!(err.to_string().contains("lacks Name or Type"), "{err}");
    }

    #[test]
    fn inheritance_cycles_are_errors() {
        let xml = r#"<edmx:Edmx xmlns:edmx="x"><Schema Namespace="n">
            <EntityType Name="a" BaseType="n.b"/><EntityType Name="b" BaseType="n.a"/>
            <EntityContainer Name="c"><EntitySet Name="as" EntityType="n.a"/></EntityContainer>
            </Schema></edmx:Edmx>"#;
        let md = Metadata::parse(xml).unwrap();
        assert!(md.columns("as").unwrap_err().to_string().contains("cycle"));
    }
}
