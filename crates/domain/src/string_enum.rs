//! Enums whose values travel as fixed strings (Shopify's `PAID`, PULPO's `queue`, our
//! `FINISHED_PARTIALLY`), with parsing that names the bad value.

/// A value that is not one of an enum's known values, e.g. `PAYED` as a financial status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} `{value}`: expected one of {}", expected.join(", "))]
pub struct UnknownValue {
    /// What the value should have been, e.g. "financial status".
    pub kind: &'static str,
    /// The value as given.
    pub value: String,
    /// Every accepted value.
    pub expected: &'static [&'static str],
}

/// Declares a C-like enum whose values travel as fixed strings: `ALL`, `as_str`, `FromStr`
/// (the error names the bad value), serde through those strings, and `Display` as that string
/// unless the declaration starts with `custom_display`.
macro_rules! string_enum {
    (custom_display $($body:tt)+) => {
        $crate::string_enum::string_enum!(@core $($body)+);
    };
    (
        $(#[$meta:meta])*
        $name:ident, $kind:literal { $($variants:tt)+ }
    ) => {
        $crate::string_enum::string_enum!(@core $(#[$meta])* $name, $kind { $($variants)+ });

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
    (
        @core
        $(#[$meta:meta])*
        $name:ident, $kind:literal {
            $( $(#[$vmeta:meta])* $variant:ident => $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            const TEXTS: &'static [&'static str] = &[$($text),+];

            /// The value as it travels on the wire, in settings and in storage.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::string_enum::UnknownValue;

            fn from_str(s: &str) -> ::std::result::Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err($crate::string_enum::UnknownValue {
                        kind: $kind,
                        value: s.to_owned(),
                        expected: Self::TEXTS,
                    }),
                }
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(
                &self,
                serializer: S,
            ) -> ::std::result::Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> ::std::result::Result<Self, D::Error> {
                let text = <::std::string::String as ::serde::Deserialize>::deserialize(deserializer)?;
                text.parse().map_err(<D::Error as ::serde::de::Error>::custom)
            }
        }
    };
}
pub(crate) use string_enum;
