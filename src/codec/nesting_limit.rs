//! [`NestingLimit`]: a serde `Deserializer` adapter that refuses input nested deeper than a
//! limit, for formats that have none of their own (postcard), or whose own counts only some
//! levels (serde_json counts arrays and objects, not the options and newtypes between them).
//!
//! Deserializing is recursive: every sequence, map, enum, option or newtype inside another
//! takes a few stack frames more. With a recursive message type (`enum Tree { Leaf,
//! Node(Box<Tree>) }`), a peer decides the depth, one byte per level in postcard, so a 1 MiB
//! message would overflow the stack and abort the process. serde_json stops at 128 levels;
//! this adapter gives other formats the same limit: past it, the format's own error, and
//! the flag the caller passed is set (postcard's errors do not keep a custom message).
//!
//! It can also bound the elements of sequences and maps ([`Elements`]): their lengths are
//! announced by the input, and an element that reads nothing (`()`, a unit struct,
//! `PhantomData`, a `Box` of one) makes a length a loop of the peer's choosing: postcard's
//! `Vec<()>` of length 2^64 − 1 is ten bytes, and would take years to decode (a
//! `Vec<Box<()>>` memory without end).
//!
//! The adapter wraps each piece serde hands around — the deserializer, the visitor it is
//! given, the `SeqAccess`/`MapAccess`/`EnumAccess`/`VariantAccess` the format hands the
//! visitor, and the seeds of their elements — and counts one level down each time a visitor
//! is given a nested value to visit.
//!
//! Every method is `#[inline]`: inlined, the wrappers come down to the levels kept in
//! registers and one check per nested value. Instructions per decode over plain postcard
//! (cachegrind, 100,000 decodes, 2026-12-03): 7–9% (a small struct, a 64-element `Vec`)
//! rather than 13–26% when they were calls. Bounding the elements costs a count per element
//! of a sequence or map, about 8 instructions: a `Vec<u32>` of 64 one-byte numbers went from
//! 1,450 to 1,970 instructions a decode, a small struct with a `String` from 474 to 486
//! (cachegrind, same day).

use serde::de::{self, DeserializeSeed, Deserializer, Visitor};
use std::cell::Cell;
use std::fmt;

/// How deep a message may nest: as serde_json's default.
pub(crate) const MAX_NESTING: usize = 128;

/// How many serde levels a JSON message may take: twice serde_json's own limit of 128
/// arrays and objects, so that a message it takes with one option or newtype per object is
/// taken still, while a recursion through newtypes and options, which reads no `[` or `{`,
/// stops (a debug build's 2 MiB test thread reaches the limit: `json_tests` in format.rs).
#[cfg(feature = "json")]
pub(crate) const JSON_SERDE_LEVELS: usize = 2 * MAX_NESTING;

/// How many more sequence elements and map entries than bytes a message may hold.
pub(crate) const MAX_EMPTY_ELEMENTS: usize = 1 << 20;

/// One of serde's pieces with the levels it may still go down.
pub(crate) struct NestingLimit<'a, T> {
    inner: T,
    levels_left: usize,
    /// Set when input went past the limit.
    exceeded: &'a Cell<bool>,
    /// What bounds the elements of sequences and maps, if anything does.
    elements: Option<&'a Elements>,
    /// Whether this piece is (the visitor or access of) a sequence or map whose length the
    /// input announced, whose elements or entries [`elements`](Self::elements) counts.
    counted: bool,
}

/// How many elements of sequences and entries of maps (not tuple or struct fields, whose
/// number the type fixes) a message may still hold: past it, the format's error.
///
/// For a format that prefixes each sequence and map with its length (postcard), every
/// element that takes input has a first byte of its own: a message of `n` bytes holds at
/// most `n` of them, and only elements that take no input can go beyond.
pub(crate) struct Elements {
    /// How many more.
    allowed: Cell<usize>,
    /// Set when the input had more.
    pub(crate) exceeded: Cell<bool>,
}

impl Elements {
    /// Allowing `allowed` elements and entries.
    pub(crate) fn new(allowed: usize) -> Self {
        Elements {
            allowed: Cell::new(allowed),
            exceeded: Cell::new(false),
        }
    }
}

/// What an input with more elements than allowed is told.
pub(crate) fn too_many_elements() -> &'static str {
    "more elements than its bytes can hold (elements that take no bytes)"
}

impl<'a, T> NestingLimit<'a, T> {
    /// Wraps `inner`, allowing `levels` nested values below it; sets `exceeded` if the input
    /// nests deeper.
    #[inline]
    pub(crate) fn new(inner: T, levels: usize, exceeded: &'a Cell<bool>) -> Self {
        NestingLimit {
            inner,
            levels_left: levels,
            exceeded,
            elements: None,
            counted: false,
        }
    }

    /// Also bounds the elements of sequences and maps by `elements`.
    pub(crate) fn bounding_elements(self, elements: &'a Elements) -> Self {
        NestingLimit {
            elements: Some(elements),
            ..self
        }
    }

    #[inline]
    fn wrap<U>(&self, inner: U) -> NestingLimit<'a, U> {
        self.with_levels(inner, self.levels_left)
    }

    /// `inner` at `levels`, sharing this piece's limits; not counted.
    #[inline]
    fn with_levels<U>(&self, inner: U, levels: usize) -> NestingLimit<'a, U> {
        NestingLimit {
            inner,
            levels_left: levels,
            exceeded: self.exceeded,
            elements: self.elements,
            counted: false,
        }
    }

    /// Counts one element or entry of a counted sequence or map; the error past the bound.
    #[inline]
    fn count<E: de::Error>(&self) -> Result<(), E> {
        if !self.counted {
            return Ok(());
        }
        let Some(elements) = self.elements else {
            return Ok(());
        };
        let allowed = elements.allowed.get();
        if allowed == 0 {
            elements.exceeded.set(true);
            return Err(E::custom(too_many_elements()));
        }
        elements.allowed.set(allowed - 1);
        Ok(())
    }

    /// `inner` one level further down, or the error when no level is left.
    #[inline]
    fn descend<U, E: de::Error>(&self, inner: U) -> Result<NestingLimit<'a, U>, E> {
        match self.levels_left.checked_sub(1) {
            Some(levels) => Ok(NestingLimit {
                counted: self.counted,
                ..self.with_levels(inner, levels)
            }),
            None => {
                // The caller, which knows the limit, words the error (`too_deep`).
                self.exceeded.set(true);
                Err(E::custom("nested too deep"))
            }
        }
    }
}

/// What an input nested past a limit of `levels` is told.
pub(crate) fn too_deep(levels: usize) -> String {
    format!("nested deeper than {levels} levels")
}

/// Forwards `deserialize_*` methods, wrapping the visitor.
macro_rules! forward_deserialize {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {
        $(
            #[inline]
            fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V)
                -> Result<V::Value, D::Error> {
                let visitor = self.wrap(visitor);
                self.inner.$method($($arg,)* visitor)
            }
        )*
    };
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for NestingLimit<'_, D> {
    type Error = D::Error;

    /// A sequence or map whose length the input announces: its elements are counted.
    #[inline]
    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        let visitor = NestingLimit {
            counted: true,
            ..self.wrap(visitor)
        };
        self.inner.deserialize_seq(visitor)
    }

    #[inline]
    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        let visitor = NestingLimit {
            counted: true,
            ..self.wrap(visitor)
        };
        self.inner.deserialize_map(visitor)
    }

    forward_deserialize! {
        deserialize_any();
        deserialize_bool();
        deserialize_i8();
        deserialize_i16();
        deserialize_i32();
        deserialize_i64();
        deserialize_i128();
        deserialize_u8();
        deserialize_u16();
        deserialize_u32();
        deserialize_u64();
        deserialize_u128();
        deserialize_f32();
        deserialize_f64();
        deserialize_char();
        deserialize_str();
        deserialize_string();
        deserialize_bytes();
        deserialize_byte_buf();
        deserialize_option();
        deserialize_unit();
        deserialize_unit_struct(name: &'static str);
        deserialize_newtype_struct(name: &'static str);
        deserialize_tuple(len: usize);
        deserialize_tuple_struct(name: &'static str, len: usize);
        deserialize_struct(name: &'static str, fields: &'static [&'static str]);
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
        deserialize_identifier();
        deserialize_ignored_any();
    }

    #[inline]
    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

/// Forwards `visit_*` methods of values that hold no other value.
macro_rules! forward_visit {
    ($($method:ident($($arg:ident: $ty:ty)?);)*) => {
        $(
            #[inline]
            fn $method<E: de::Error>(self $(, $arg: $ty)?) -> Result<V::Value, E> {
                self.inner.$method($($arg)?)
            }
        )*
    };
}

impl<'de, V: Visitor<'de>> Visitor<'de> for NestingLimit<'_, V> {
    type Value = V::Value;

    #[inline]
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    forward_visit! {
        visit_bool(v: bool);
        visit_i8(v: i8);
        visit_i16(v: i16);
        visit_i32(v: i32);
        visit_i64(v: i64);
        visit_i128(v: i128);
        visit_u8(v: u8);
        visit_u16(v: u16);
        visit_u32(v: u32);
        visit_u64(v: u64);
        visit_u128(v: u128);
        visit_f32(v: f32);
        visit_f64(v: f64);
        visit_char(v: char);
        visit_str(v: &str);
        visit_borrowed_str(v: &'de str);
        visit_string(v: String);
        visit_bytes(v: &[u8]);
        visit_borrowed_bytes(v: &'de [u8]);
        visit_byte_buf(v: Vec<u8>);
        visit_none();
        visit_unit();
    }

    #[inline]
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<V::Value, D::Error> {
        let deserializer = self.descend(deserializer)?;
        self.inner.visit_some(deserializer)
    }

    #[inline]
    fn visit_newtype_struct<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<V::Value, D::Error> {
        let deserializer = self.descend(deserializer)?;
        self.inner.visit_newtype_struct(deserializer)
    }

    #[inline]
    fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        let seq = self.descend(seq)?;
        self.inner.visit_seq(seq)
    }

    #[inline]
    fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        let map = self.descend(map)?;
        self.inner.visit_map(map)
    }

    #[inline]
    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        let data = self.descend(data)?;
        self.inner.visit_enum(data)
    }
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for NestingLimit<'_, S> {
    type Value = S::Value;

    #[inline]
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<S::Value, D::Error> {
        let deserializer = self.wrap(deserializer);
        self.inner.deserialize(deserializer)
    }
}

impl<'de, A: de::SeqAccess<'de>> de::SeqAccess<'de> for NestingLimit<'_, A> {
    type Error = A::Error;

    #[inline]
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        let seed = self.wrap(seed);
        let element = self.inner.next_element_seed(seed)?;
        if element.is_some() {
            self.count()?;
        }
        Ok(element)
    }

    #[inline]
    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

impl<'de, A: de::MapAccess<'de>> de::MapAccess<'de> for NestingLimit<'_, A> {
    type Error = A::Error;

    #[inline]
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        let seed = self.wrap(seed);
        let key = self.inner.next_key_seed(seed)?;
        if key.is_some() {
            self.count()?;
        }
        Ok(key)
    }

    #[inline]
    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, A::Error> {
        let seed = self.wrap(seed);
        self.inner.next_value_seed(seed)
    }

    #[inline]
    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

impl<'a, 'de, A: de::EnumAccess<'de>> de::EnumAccess<'de> for NestingLimit<'a, A> {
    type Error = A::Error;
    type Variant = NestingLimit<'a, A::Variant>;

    #[inline]
    fn variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<(T::Value, Self::Variant), A::Error> {
        let shared = self.wrap(());
        let seed = shared.wrap(seed);
        let (value, variant) = self.inner.variant_seed(seed)?;
        Ok((value, shared.wrap(variant)))
    }
}

impl<'de, A: de::VariantAccess<'de>> de::VariantAccess<'de> for NestingLimit<'_, A> {
    type Error = A::Error;

    #[inline]
    fn unit_variant(self) -> Result<(), A::Error> {
        self.inner.unit_variant()
    }

    #[inline]
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, A::Error> {
        let seed = self.wrap(seed);
        self.inner.newtype_variant_seed(seed)
    }

    #[inline]
    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        let visitor = self.wrap(visitor);
        self.inner.tuple_variant(len, visitor)
    }

    #[inline]
    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        let visitor = self.wrap(visitor);
        self.inner.struct_variant(fields, visitor)
    }
}

#[cfg(all(test, feature = "postcard"))]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum Tree {
        Leaf(u8),
        Node(Box<Tree>),
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Everything {
        option: Option<Box<Everything>>,
        newtype: Meters,
        list: Vec<(u8, String)>,
        map: std::collections::BTreeMap<String, Vec<u16>>,
        shapes: Vec<Shape>,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Meters(f64);

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum Shape {
        Dot,
        Circle(u32),
        Pair(i8, i8),
        Rect { w: u16, h: u16 },
    }

    /// Decodes `bytes`; the error says whether the limit was passed.
    fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8], levels: usize) -> Result<T, bool> {
        let exceeded = Cell::new(false);
        let mut de = postcard::Deserializer::from_bytes(bytes);
        T::deserialize(NestingLimit::new(&mut de, levels, &exceeded)).map_err(|_| exceeded.get())
    }

    fn nested(depth: usize) -> Tree {
        (0..depth).fold(Tree::Leaf(7), |t, _| Tree::Node(Box::new(t)))
    }

    #[test]
    fn every_kind_of_value_passes_through_unchanged() {
        let value = Everything {
            option: Some(Box::new(Everything {
                option: None,
                newtype: Meters(0.5),
                list: vec![],
                map: Default::default(),
                shapes: vec![Shape::Dot],
            })),
            newtype: Meters(-1.25),
            list: vec![(1, "one".into()), (2, "two".into())],
            map: [("k".to_owned(), vec![1, 2, 3])].into_iter().collect(),
            shapes: vec![
                Shape::Dot,
                Shape::Circle(9),
                Shape::Pair(-1, 1),
                Shape::Rect { w: 3, h: 4 },
            ],
        };
        let bytes = postcard::to_stdvec(&value).unwrap();
        assert_eq!(decode::<Everything>(&bytes, MAX_NESTING).unwrap(), value);
    }

    #[test]
    fn the_limit_is_exact_and_flagged() {
        // Each `Node` is one enum level, and the innermost `Leaf` one more.
        let bytes = postcard::to_stdvec(&nested(9)).unwrap();
        assert_eq!(decode::<Tree>(&bytes, 10), Ok(nested(9)));
        assert_eq!(decode::<Tree>(&bytes, 9), Err(true));
        // Other errors are not the limit's.
        assert_eq!(decode::<Tree>(&bytes[..bytes.len() - 1], 10), Err(false));
    }
}
