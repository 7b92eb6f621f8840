//! OData (`Edm.*`) types and the Arrow types they become.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};

pub use connectkit_core::{KEY_METADATA_KEY, TYPE_METADATA_KEY};

/// The scale used for `Edm.Decimal` properties whose `Scale` is `Variable` or
/// absent: 10, the most decimal places a Dataverse decimal column allows.
pub const VARIABLE_DECIMAL_SCALE: i8 = 10;
/// The Arrow field metadata key of a label column (see the crate docs,
/// *Labels*): the property whose formatted value or annotation it holds.
pub const ANNOTATES_METADATA_KEY: &str = "dynamics365.annotates";
/// The largest precision of Arrow's `Decimal128`.
const MAX_PRECISION: u8 = 38;

/// An OData primitive type, as far as this connector distinguishes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EdmType {
    String,
    Guid,
    Boolean,
    Byte,
    SByte,
    Int16,
    Int32,
    Int64,
    Single,
    Double,
    /// `Edm.Decimal` (and the legacy `Edm.Money`) with the Arrow precision and scale.
    Decimal {
        precision: u8,
        scale: i8,
    },
    DateTimeOffset,
    Date,
    TimeOfDay,
    Duration,
    Binary,
    /// A multi-select choice ("choices") column: the server's `"1,2"` as
    /// a list of option values.
    IntList,
    /// The labels of a multi-select choice column: the server's formatted
    /// value `"Red; Blue"` as a list.
    StringList,
    /// Anything else (enums, complex types, collections, geography): the
    /// value as JSON text, or the string itself for JSON strings.
    Other,
}

impl EdmType {
    /// Maps a CSDL `Type` with its `Precision` and `Scale` facets.
    pub(crate) fn from_csdl(type_name: &str, precision: Option<&str>, scale: Option<&str>) -> Self {
        match type_name {
            "Edm.String" => Self::String,
            "Edm.Guid" => Self::Guid,
            "Edm.Boolean" => Self::Boolean,
            "Edm.Byte" => Self::Byte,
            "Edm.SByte" => Self::SByte,
            "Edm.Int16" => Self::Int16,
            "Edm.Int32" => Self::Int32,
            "Edm.Int64" => Self::Int64,
            "Edm.Single" => Self::Single,
            "Edm.Double" => Self::Double,
            "Edm.Decimal" => decimal(precision, scale),
            // Not an OData v4 type, but older CRM endpoints use it: SQL money.
            "Edm.Money" => Self::Decimal {
                precision: 19,
                scale: 4,
            },
            "Edm.DateTimeOffset" | "Edm.DateTime" => Self::DateTimeOffset,
            "Edm.Date" => Self::Date,
            "Edm.TimeOfDay" => Self::TimeOfDay,
            "Edm.Duration" => Self::Duration,
            "Edm.Binary" | "Edm.Stream" => Self::Binary,
            _ => Self::Other,
        }
    }

    /// The Arrow type of a column of this type.
    pub(crate) fn arrow_type(&self) -> DataType {
        match self {
            Self::String | Self::Guid | Self::Duration | Self::Other => DataType::Utf8,
            Self::Boolean => DataType::Boolean,
            Self::Byte => DataType::UInt8,
            Self::SByte => DataType::Int8,
            Self::Int16 => DataType::Int16,
            Self::Int32 => DataType::Int32,
            Self::Int64 => DataType::Int64,
            Self::Single => DataType::Float32,
            Self::Double => DataType::Float64,
            Self::Decimal { precision, scale } => DataType::Decimal128(*precision, *scale),
            Self::DateTimeOffset => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            Self::Date => DataType::Date32,
            Self::TimeOfDay => DataType::Time64(TimeUnit::Microsecond),
            Self::Binary => DataType::Binary,
            Self::IntList => DataType::new_list(DataType::Int32, true),
            Self::StringList => DataType::new_list(DataType::Utf8, true),
        }
    }
}

/// `Edm.Decimal` becomes `Decimal128`, never `Float64`: Dataverse keeps money
/// and decimal columns exact, and so does the connector.
fn decimal(precision: Option<&str>, scale: Option<&str>) -> EdmType {
    let precision = precision
        .and_then(|p| p.trim().parse::<u32>().ok())
        .map(|p| p.clamp(1, u32::from(MAX_PRECISION)) as u8);
    let scale = scale.and_then(|s| s.trim().parse::<u32>().ok());
    match (precision, scale) {
        (Some(p), Some(s)) => EdmType::Decimal {
            precision: p,
            scale: s.min(u32::from(p)) as i8,
        },
        (None, Some(s)) => EdmType::Decimal {
            precision: MAX_PRECISION,
            scale: s.min(u32::from(MAX_PRECISION)) as i8,
        },
        // `Scale="Variable"` or no Scale: Dataverse decimals have at most 10
        // decimal places; keep the full precision for the integer part.
        (_, None) => EdmType::Decimal {
            precision: MAX_PRECISION,
            scale: VARIABLE_DECIMAL_SCALE,
        },
    }
}

/// A column of an entity set: one structural property of its entity type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Column {
    pub(crate) name: String,
    /// The `Type` attribute as written in `$metadata`.
    pub(crate) type_name: String,
    pub(crate) edm: EdmType,
    pub(crate) nullable: bool,
    pub(crate) key: bool,
    /// For a label column: the property it annotates and the annotation's
    /// term; `None` for a property of the entity type.
    pub(crate) annotation: Option<Annotation>,
}

/// Where a label column's value comes from: `<property>@<term>` in a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Annotation {
    pub(crate) property: String,
    pub(crate) term: &'static str,
}

impl Column {
    /// The key of this column's value in a row object.
    pub(crate) fn json_key(&self) -> String {
        match &self.annotation {
            Some(a) => format!("{}@{}", a.property, a.term),
            None => self.name.clone(),
        }
    }

    /// The property `$select` must name for this column.
    pub(crate) fn property(&self) -> &str {
        self.annotation.as_ref().map_or(&self.name, |a| &a.property)
    }

    /// The Arrow field: key columns are never null and carry
    /// [`KEY_METADATA_KEY`]; every field carries [`TYPE_METADATA_KEY`].
    pub(crate) fn field(&self) -> Field {
        let mut meta = HashMap::from([(TYPE_METADATA_KEY.to_owned(), self.type_name.clone())]);
        if self.key {
            meta.insert(KEY_METADATA_KEY.to_owned(), "true".to_owned());
        }
        if let Some(a) = &self.annotation {
            meta.insert(ANNOTATES_METADATA_KEY.to_owned(), a.property.clone());
        }
        Field::new(
            &self.name,
            self.edm.arrow_type(),
            self.nullable && !self.key,
        )
        .with_metadata(meta)
    }
}

/// The Arrow schema of `columns`, one [`Column::field`] each, in order.
pub(crate) fn schema_of(columns: &[Column]) -> SchemaRef {
    Arc::new(Schema::new(
        columns.iter().map(Column::field).collect::<Vec<_>>(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primitive_types_map_to_arrow() {
        let cases = [
            ("Edm.String", DataType::Utf8),
            ("Edm.Guid", DataType::Utf8),
            ("Edm.Int32", DataType::Int32),
            ("Edm.Int64", DataType::Int64),
            ("Edm.Double", DataType::Float64),
            ("Edm.Boolean", DataType::Boolean),
            ("Edm.Date", DataType::Date32),
            ("Edm.Binary", DataType::Binary),
            ("Microsoft.Dynamics.CRM.Color", DataType::Utf8),
            ("Collection(Edm.String)", DataType::Utf8),
        ];
        for (name, dt) in cases {
            assert_eq!(
                EdmType::from_csdl(name, None, None).arrow_type(),
                dt,
                "{name}"
            );
        }
        assert_eq!(
            EdmType::from_csdl("Edm.DateTimeOffset", None, None).arrow_type(),
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
        );
    }

    #[test]
    fn decimals_keep_their_facets() {
        let d = |p, s| EdmType::from_csdl("Edm.Decimal", p, s).arrow_type();
        assert_eq!(d(Some("12"), Some("2")), DataType::Decimal128(12, 2));
        assert_eq!(d(None, Some("Variable")), DataType::Decimal128(38, 10));
        assert_eq!(
            d(Some("10"), Some("variable")),
            DataType::Decimal128(38, 10)
        );
        assert_eq!(d(None, None), DataType::Decimal128(38, 10));
        assert_eq!(d(Some("60"), Some("4")), DataType::Decimal128(38, 4));
        assert_eq!(d(Some("3"), Some("5")), DataType::Decimal128(3, 3));
        assert_eq!(
            EdmType::from_csdl("Edm.Money", None, None).arrow_type(),
            DataType::Decimal128(19, 4)
        );
    }

    #[test]
    fn key_fields_are_marked_and_not_null() {
        let c = Column {
            name: "accountid".into(),
            type_name: "Edm.Guid".into(),
            edm: EdmType::Guid,
            nullable: true,
            key: true,
            annotation: None,
        };
        let f = c.field();
        assert!(!f.is_nullable());
        assert_eq!(f.metadata()[KEY_METADATA_KEY], "true");
        assert_eq!(f.metadata()[TYPE_METADATA_KEY], "Edm.Guid");
    }
}
