//! A deserializer wrapper under which a struct is read from a JSON object only.
//!
//! serde_json lets a derived struct be read from an array of its fields in declaration order
//! (`["870525301012", ["fcb"], …]` for a consent), a form meant for formats without field
//! names (serde-rs/serde#1587, open). An API whose requests are objects with named members
//! must not accept it: it bypasses the unknown-member check, and a reordering of a struct's
//! fields would silently change what such a body means. [`ObjectsOnly`] passes everything
//! through to the wrapped deserializer, at every depth, except that a struct is asked for with
//! a visitor that takes a map only; anything else is serde's usual "invalid type: sequence,
//! expected a JSON object".
//!
//! It also refuses a member named twice in one object, at every depth (`{"subject": {"iin": A,
//! "iin": B}}`): serde_json keeps the last silently, for a free-form value as much as for a
//! map, so a caller's ambiguous request would be read one way here and perhaps another way by
//! whatever produced it. A derived struct already refuses it; this covers the rest.

use std::fmt;

use serde::Deserialize;
use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor,
};

/// The wrapper over a deserializer, a visitor, an access or a seed (the same name for all, as
/// serde_path_to_error does, since each only passes its value's inner parts on wrapped).
pub struct ObjectsOnly<T>(pub T);

/// A struct's visitor that takes a map only; every other `visit_*` is serde's default, an
/// `invalid type` error.
struct MapOnly<V>(V);

impl<'de, V: Visitor<'de>> Visitor<'de> for MapOnly<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.0.visit_map(UniqueKeys::new(map))
    }
}

macro_rules! forward {
    ($($method:ident),* $(,)?) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
                self.0.$method(ObjectsOnly(visitor))
            }
        )*
    };
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for ObjectsOnly<D> {
    type Error = D::Error;

    forward!(
        deserialize_any,
        deserialize_bool,
        deserialize_i8,
        deserialize_i16,
        deserialize_i32,
        deserialize_i64,
        deserialize_i128,
        deserialize_u8,
        deserialize_u16,
        deserialize_u32,
        deserialize_u64,
        deserialize_u128,
        deserialize_f32,
        deserialize_f64,
        deserialize_char,
        deserialize_str,
        deserialize_string,
        deserialize_bytes,
        deserialize_byte_buf,
        deserialize_option,
        deserialize_unit,
        deserialize_seq,
        deserialize_map,
        deserialize_identifier,
        deserialize_ignored_any,
    );

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_unit_struct(name, ObjectsOnly(visitor))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0
            .deserialize_newtype_struct(name, ObjectsOnly(visitor))
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_tuple(len, ObjectsOnly(visitor))
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0
            .deserialize_tuple_struct(name, len, ObjectsOnly(visitor))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_struct(name, fields, MapOnly(visitor))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0
            .deserialize_enum(name, variants, ObjectsOnly(visitor))
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

macro_rules! visit {
    ($($method:ident: $ty:ty),* $(,)?) => {
        $(
            fn $method<E: de::Error>(self, v: $ty) -> Result<V::Value, E> {
                self.0.$method(v)
            }
        )*
    };
}

impl<'de, V: Visitor<'de>> Visitor<'de> for ObjectsOnly<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.expecting(f)
    }

    visit!(
        visit_bool: bool,
        visit_i8: i8,
        visit_i16: i16,
        visit_i32: i32,
        visit_i64: i64,
        visit_i128: i128,
        visit_u8: u8,
        visit_u16: u16,
        visit_u32: u32,
        visit_u64: u64,
        visit_u128: u128,
        visit_f32: f32,
        visit_f64: f64,
        visit_char: char,
        visit_str: &str,
        visit_borrowed_str: &'de str,
        visit_string: String,
        visit_bytes: &[u8],
        visit_borrowed_bytes: &'de [u8],
        visit_byte_buf: Vec<u8>,
    );

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.0.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.0.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        self.0.visit_some(ObjectsOnly(d))
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        self.0.visit_newtype_struct(ObjectsOnly(d))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        self.0.visit_seq(ObjectsOnly(seq))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.0.visit_map(UniqueKeys::new(map))
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        self.0.visit_enum(ObjectsOnly(data))
    }
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for ObjectsOnly<S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S::Value, D::Error> {
        self.0.deserialize(ObjectsOnly(d))
    }
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for ObjectsOnly<A> {
    type Error = A::Error;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, A::Error> {
        self.0.next_element_seed(ObjectsOnly(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

/// An object's members, each name at most once. JSON member names are strings: each is read
/// as one, remembered, and handed to the visitor's own key seed as a string.
struct UniqueKeys<A> {
    map: A,
    seen: std::collections::HashSet<String>,
}

impl<A> UniqueKeys<A> {
    fn new(map: A) -> Self {
        Self {
            map,
            seen: std::collections::HashSet::new(),
        }
    }
}

/// Reads a member name as a string, refuses one already seen, then gives it to `seed`.
struct KeyOnce<'a, K> {
    seed: K,
    seen: &'a mut std::collections::HashSet<String>,
}

impl<'de, K: DeserializeSeed<'de>> DeserializeSeed<'de> for KeyOnce<'_, K> {
    type Value = K::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<K::Value, D::Error> {
        let key = String::deserialize(d)?;
        if self.seen.contains(&key) {
            // The same words as a derived struct's refusal, which `parse_json` turns into the
            // member's path.
            return Err(de::Error::custom(format_args!("duplicate field `{key}`")));
        }
        let value = self
            .seed
            .deserialize(de::value::StrDeserializer::<D::Error>::new(&key))?;
        self.seen.insert(key);
        Ok(value)
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for UniqueKeys<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        self.map.next_key_seed(KeyOnce {
            seed,
            seen: &mut self.seen,
        })
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        self.map.next_value_seed(ObjectsOnly(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.map.size_hint()
    }
}

impl<'de, A: EnumAccess<'de>> EnumAccess<'de> for ObjectsOnly<A> {
    type Error = A::Error;
    type Variant = ObjectsOnly<A::Variant>;

    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, Self::Variant), A::Error> {
        self.0
            .variant_seed(ObjectsOnly(seed))
            .map(|(v, variant)| (v, ObjectsOnly(variant)))
    }
}

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for ObjectsOnly<A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        self.0.unit_variant()
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value, A::Error> {
        self.0.newtype_variant_seed(ObjectsOnly(seed))
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        self.0.tuple_variant(len, ObjectsOnly(visitor))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        self.0.struct_variant(fields, MapOnly(visitor))
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::ObjectsOnly;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        code: String,
        #[serde(default)]
        n: Option<u32>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "snake_case")]
    enum Shape {
        Plain,
        Boxed(Inner),
        Point { x: i32 },
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        name: String,
        inner: Inner,
        #[serde(default)]
        list: Vec<Inner>,
        #[serde(default)]
        maybe: Option<Inner>,
        #[serde(default)]
        shape: Option<Shape>,
        #[serde(default)]
        any: serde_json::Value,
    }

    fn parse(text: &str) -> Result<Outer, String> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let v = Outer::deserialize(ObjectsOnly(&mut *de)).map_err(|e| e.to_string())?;
        de.end().map_err(|e| e.to_string())?;
        Ok(v)
    }

    #[test]
    fn objects_read_as_before_at_every_depth() {
        let v = parse(
            r#"{"name":"a","inner":{"code":"x","n":3},"list":[{"code":"y"},{"code":"z"}],
                "maybe":{"code":"m"},"shape":{"point":{"x":-1}},"any":[1,{"k":[2]}]}"#,
        )
        .expect("parses");
        assert_eq!(v.name, "a");
        assert_eq!(v.inner.n, Some(3));
        assert_eq!(v.list.len(), 2);
        assert_eq!(v.list[1].code, "z");
        assert_eq!(v.maybe.map(|m| m.code).as_deref(), Some("m"));
        assert_eq!(v.shape, Some(Shape::Point { x: -1 }));
        // A free-form value keeps its arrays.
        assert_eq!(v.any, serde_json::json!([1, {"k": [2]}]));
        let v = parse(r#"{"name":"a","inner":{"code":"x"},"shape":"plain"}"#).expect("unit");
        assert_eq!(v.shape, Some(Shape::Plain));
        let v = parse(r#"{"name":"a","inner":{"code":"x"},"shape":{"boxed":{"code":"b"}}}"#)
            .expect("newtype");
        assert!(matches!(v.shape, Some(Shape::Boxed(Inner { ref code, .. })) if code == "b"));
    }

    #[test]
    fn a_struct_given_as_an_array_is_refused_at_every_depth() {
        for (text, unwrapped_accepts) in [
            // Each of these is accepted by serde_json without the wrapper.
            (r#"["a", ["x"]]"#, true),
            (r#"{"name":"a","inner":["x"]}"#, true),
            (r#"{"name":"a","inner":{"code":"x"},"list":[["y"]]}"#, true),
            (r#"{"name":"a","inner":{"code":"x"},"maybe":["m"]}"#, true),
            (
                r#"{"name":"a","inner":{"code":"x"},"shape":{"point":[1]}}"#,
                true,
            ),
            (
                r#"{"name":"a","inner":{"code":"x"},"shape":{"boxed":["b"]}}"#,
                true,
            ),
            (r#"[]"#, false),
        ] {
            assert_eq!(
                serde_json::from_str::<Outer>(text).is_ok(),
                unwrapped_accepts,
                "{text}"
            );
            let err = parse(text).expect_err(text);
            assert!(
                err.contains("invalid type: sequence, expected a JSON object"),
                "{text}: {err}"
            );
        }
    }

    #[test]
    fn a_member_named_twice_is_refused_at_every_depth() {
        for (text, unwrapped_accepts) in [
            // A derived struct refuses it already.
            (r#"{"name":"a","name":"b","inner":{"code":"x"}}"#, false),
            (r#"{"name":"a","inner":{"code":"x","code":"y"}}"#, false),
            // serde_json keeps the last silently in a free-form value, at any depth.
            (
                r#"{"name":"a","inner":{"code":"x"},"any":{"k":1,"k":2}}"#,
                true,
            ),
            (
                r#"{"name":"a","inner":{"code":"x"},"any":[{"k":{"j":1,"j":1}}]}"#,
                true,
            ),
        ] {
            assert_eq!(
                serde_json::from_str::<Outer>(text).is_ok(),
                unwrapped_accepts,
                "{text}"
            );
            let err = parse(text).expect_err(text);
            assert!(err.starts_with("duplicate field `"), "{text}: {err}");
        }
        // Distinct names in sibling objects are fine.
        let v = parse(r#"{"name":"a","inner":{"code":"x"},"any":[{"k":1},{"k":2}]}"#)
            .expect("siblings");
        assert_eq!(v.any, serde_json::json!([{"k": 1}, {"k": 2}]));
    }
}
