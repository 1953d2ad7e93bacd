//! One type, two spellings: core's view types serialise in snake_case (the CLI's `--json`
//! contract) and the UI reads camelCase. [`Camel`] serialises any value with the field names
//! of its structs (at every depth) in camelCase, and nothing else changed: map keys, strings
//! and enum variants stay as they are. Core's types derive their TypeScript with
//! `rename_all = "camelCase"` (core's `ts` feature), so what the UI compiles against is what
//! `Camel` sends, and the IPC contract holds no copies of them.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use serde::ser::{
    Serialize, SerializeMap, SerializeSeq, SerializeStruct, SerializeStructVariant, SerializeTuple,
    SerializeTupleStruct, SerializeTupleVariant, Serializer,
};

/// `value` as the UI reads it: struct field names in camelCase.
#[derive(Debug, Clone, PartialEq)]
pub struct Camel<T>(pub T);

impl<T> std::ops::Deref for Camel<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: Serialize> Serialize for Camel<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(Ser(s))
    }
}

/// The TypeScript of `Camel<T>` is `T`'s (which core derives in camelCase).
impl<T: ts_rs::TS> ts_rs::TS for Camel<T> {
    type WithoutGenerics = T::WithoutGenerics;
    type OptionInnerType = T::OptionInnerType;
    fn ident() -> String {
        T::ident()
    }
    fn name() -> String {
        T::name()
    }
    fn inline() -> String {
        T::inline()
    }
    fn inline_flattened() -> String {
        T::inline_flattened()
    }
    fn visit_dependencies(v: &mut impl ts_rs::TypeVisitor)
    where
        Self: 'static,
    {
        T::visit_dependencies(v);
    }
    fn visit_generics(v: &mut impl ts_rs::TypeVisitor)
    where
        Self: 'static,
    {
        T::visit_generics(v);
    }
    fn decl() -> String {
        T::decl()
    }
    fn decl_concrete() -> String {
        T::decl_concrete()
    }
    fn output_path() -> Option<std::path::PathBuf> {
        T::output_path()
    }
}

/// `snake_case` → `camelCase`; names without `_` as they are. Field names are `'static`, so
/// each converted one is kept (there are as many as the types have fields).
fn camel(name: &'static str) -> &'static str {
    if !name.contains('_') {
        return name;
    }
    static SEEN: OnceLock<Mutex<HashMap<&'static str, &'static str>>> = OnceLock::new();
    let mut seen = SEEN
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    seen.entry(name).or_insert_with(|| {
        let mut out = String::with_capacity(name.len());
        let mut upper = false;
        for c in name.chars() {
            if c == '_' {
                upper = !out.is_empty();
            } else if upper {
                out.extend(c.to_uppercase());
                upper = false;
            } else {
                out.push(c);
            }
        }
        Box::leak(out.into_boxed_str())
    })
}

struct Val<'a, T: ?Sized>(&'a T);

impl<T: ?Sized + Serialize> Serialize for Val<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(Ser(s))
    }
}

struct Ser<S>(S);
struct Wrap<C>(C);

macro_rules! forward {
    ($($method:ident($ty:ty)),* $(,)?) => {
        $(fn $method(self, v: $ty) -> Result<S::Ok, S::Error> { self.0.$method(v) })*
    };
}

impl<S: Serializer> Serializer for Ser<S> {
    type Ok = S::Ok;
    type Error = S::Error;
    type SerializeSeq = Wrap<S::SerializeSeq>;
    type SerializeTuple = Wrap<S::SerializeTuple>;
    type SerializeTupleStruct = Wrap<S::SerializeTupleStruct>;
    type SerializeTupleVariant = Wrap<S::SerializeTupleVariant>;
    type SerializeMap = Wrap<S::SerializeMap>;
    type SerializeStruct = Wrap<S::SerializeStruct>;
    type SerializeStructVariant = Wrap<S::SerializeStructVariant>;

    forward!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_i128(i128),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_u128(u128),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_char(char),
        serialize_str(&str),
        serialize_bytes(&[u8]),
    );

    fn serialize_none(self) -> Result<S::Ok, S::Error> {
        self.0.serialize_none()
    }
    fn serialize_some<T: ?Sized + Serialize>(self, v: &T) -> Result<S::Ok, S::Error> {
        self.0.serialize_some(&Val(v))
    }
    fn serialize_unit(self) -> Result<S::Ok, S::Error> {
        self.0.serialize_unit()
    }
    fn serialize_unit_struct(self, name: &'static str) -> Result<S::Ok, S::Error> {
        self.0.serialize_unit_struct(name)
    }
    fn serialize_unit_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
    ) -> Result<S::Ok, S::Error> {
        self.0.serialize_unit_variant(name, index, variant)
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        name: &'static str,
        v: &T,
    ) -> Result<S::Ok, S::Error> {
        self.0.serialize_newtype_struct(name, &Val(v))
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        v: &T,
    ) -> Result<S::Ok, S::Error> {
        self.0
            .serialize_newtype_variant(name, index, variant, &Val(v))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Self::SerializeSeq, S::Error> {
        Ok(Wrap(self.0.serialize_seq(len)?))
    }
    fn serialize_tuple(self, len: usize) -> Result<Self::SerializeTuple, S::Error> {
        Ok(Wrap(self.0.serialize_tuple(len)?))
    }
    fn serialize_tuple_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleStruct, S::Error> {
        Ok(Wrap(self.0.serialize_tuple_struct(name, len)?))
    }
    fn serialize_tuple_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleVariant, S::Error> {
        Ok(Wrap(
            self.0.serialize_tuple_variant(name, index, variant, len)?,
        ))
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Self::SerializeMap, S::Error> {
        Ok(Wrap(self.0.serialize_map(len)?))
    }
    fn serialize_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStruct, S::Error> {
        Ok(Wrap(self.0.serialize_struct(name, len)?))
    }
    fn serialize_struct_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStructVariant, S::Error> {
        Ok(Wrap(
            self.0.serialize_struct_variant(name, index, variant, len)?,
        ))
    }
    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

/// The compound serializers whose parts are values only: each value goes through [`Ser`].
macro_rules! values_only {
    ($($trait:ident::$method:ident),* $(,)?) => {$(
        impl<C: $trait> $trait for Wrap<C> {
            type Ok = C::Ok;
            type Error = C::Error;
            fn $method<T: ?Sized + Serialize>(&mut self, v: &T) -> Result<(), C::Error> {
                self.0.$method(&Val(v))
            }
            fn end(self) -> Result<C::Ok, C::Error> {
                self.0.end()
            }
        }
    )*};
}

values_only!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field,
);

impl<C: SerializeMap> SerializeMap for Wrap<C> {
    type Ok = C::Ok;
    type Error = C::Error;
    /// Keys as they are: they are data (ids, codes), not field names.
    fn serialize_key<T: ?Sized + Serialize>(&mut self, k: &T) -> Result<(), C::Error> {
        self.0.serialize_key(k)
    }
    fn serialize_value<T: ?Sized + Serialize>(&mut self, v: &T) -> Result<(), C::Error> {
        self.0.serialize_value(&Val(v))
    }
    fn end(self) -> Result<C::Ok, C::Error> {
        self.0.end()
    }
}

/// The compound serializers with named fields: each name turns camelCase.
macro_rules! named_fields {
    ($($trait:ident),* $(,)?) => {$(
        impl<C: $trait> $trait for Wrap<C> {
            type Ok = C::Ok;
            type Error = C::Error;
            fn serialize_field<T: ?Sized + Serialize>(
                &mut self,
                key: &'static str,
                v: &T,
            ) -> Result<(), C::Error> {
                self.0.serialize_field(camel(key), &Val(v))
            }
            fn skip_field(&mut self, key: &'static str) -> Result<(), C::Error> {
                self.0.skip_field(camel(key))
            }
            fn end(self) -> Result<C::Ok, C::Error> {
                self.0.end()
            }
        }
    )*};
}

named_fields!(SerializeStruct, SerializeStructVariant);

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[derive(serde::Serialize)]
    struct Inner {
        topic_name: Option<String>,
        #[serde(rename = "s")]
        status: &'static str,
    }

    #[derive(serde::Serialize)]
    #[serde(rename_all = "snake_case")]
    enum Kind {
        DiskFull,
        WithFields { marking_system: u8 },
    }

    #[derive(serde::Serialize)]
    struct Outer {
        module_id: String,
        inner: Vec<Inner>,
        by_code: BTreeMap<String, Inner>,
        kind: Kind,
        other: Kind,
        already: u8,
    }

    #[test]
    fn struct_fields_turn_camel_and_nothing_else_changes() {
        let value = Outer {
            module_id: "module/cs801".into(),
            inner: vec![Inner {
                topic_name: Some("two_words".into()),
                status: "here",
            }],
            by_code: BTreeMap::from([(
                "key_with_underscore".to_string(),
                Inner {
                    topic_name: None,
                    status: "x",
                },
            )]),
            kind: Kind::DiskFull,
            other: Kind::WithFields { marking_system: 1 },
            already: 1,
        };
        let json = serde_json::to_value(Camel(&value)).expect("serialise");
        assert_eq!(json["moduleId"], "module/cs801");
        assert_eq!(json["inner"][0]["topicName"], "two_words");
        assert_eq!(json["inner"][0]["s"], "here");
        assert_eq!(json["byCode"]["key_with_underscore"]["s"], "x");
        assert_eq!(json["kind"], "disk_full");
        assert_eq!(json["other"]["with_fields"]["markingSystem"], 1);
        assert_eq!(json["already"], 1);
        assert!(json.get("module_id").is_none());
    }
}
