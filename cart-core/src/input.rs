//! What a caller may hand to an operation, and the checks that refuse the rest.
//!
//! Every check lives here, once, so the browser, the server and the scenario runner
//! refuse exactly the same input with exactly the same words.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;

/// The per-item quantity limit a cart has until someone sets another.
pub const DEFAULT_ITEM_LIMIT: u32 = 999;
/// The largest per-item limit a cart may be given.
pub const MAX_ITEM_LIMIT: u32 = 1_000_000;
/// The longest item id, in bytes of UTF-8.
pub const MAX_ITEM_ID_BYTES: usize = 128;
/// Unit prices are below 10^10. With at most 6 decimal places and quantities up to
/// [`MAX_ITEM_LIMIT`], a line total has at most 22 significant digits, so a cart of up to
/// a million lines totals exactly within the 28 digits of a `Decimal`.
pub const MAX_PRICE_INTEGER_DIGITS: u32 = 10;
/// The most decimal places a unit price may have.
pub const MAX_PRICE_SCALE: u32 = 6;
/// Longest item name, in bytes.
pub const MAX_NAME_BYTES: usize = 256;
/// Longest image URL, in bytes.
pub const MAX_IMAGE_URL_BYTES: usize = 2048;
/// Most free-form attributes on one item.
pub const MAX_EXTRA_ATTRIBUTES: usize = 32;
/// Longest free-form attribute key, in bytes.
pub const MAX_ATTRIBUTE_KEY_BYTES: usize = 64;
/// Longest free-form attribute value, in bytes.
pub const MAX_ATTRIBUTE_VALUE_BYTES: usize = 512;

/// Input an operation refused. Nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// The item id is empty, too long, or holds a control character.
    #[error("item: {reason}")]
    ItemId {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The quantity is outside the bounds of the operation.
    #[error("qty: {value} is out of range; it must be between {min} and {max}")]
    Quantity {
        /// The quantity given.
        value: i64,
        /// The smallest allowed.
        min: u32,
        /// The largest allowed (the cart's per-item limit).
        max: u32,
    },
    /// The unit price is not an exact non-negative decimal within bounds.
    #[error("unit_price: {value:?} {reason}")]
    Price {
        /// The price given (cut to 64 characters).
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A name, image URL or free-form attribute is too long or holds a control character.
    #[error("{field}: {reason}")]
    Attribute {
        /// Which attribute: `name`, `image_url` or `attributes.<key>`.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The item already shows the per-item limit; adding more would change nothing.
    #[error("qty: the item is already at the per-item limit of {limit}")]
    AtLimit {
        /// The cart's per-item limit.
        limit: u32,
    },
    /// The per-item limit is outside `1..=MAX_ITEM_LIMIT`.
    #[error("item_limit: {value} is out of range; it must be between 1 and {max}", max = MAX_ITEM_LIMIT)]
    ItemLimit {
        /// The limit given.
        value: i64,
    },
}

impl InputError {
    /// The name of the field that was wrong, as the scenario files and JSON bodies spell it.
    #[must_use]
    pub fn field(&self) -> &str {
        match self {
            Self::ItemId { .. } => "item",
            Self::Quantity { .. } | Self::AtLimit { .. } => "qty",
            Self::Price { .. } => "unit_price",
            Self::Attribute { field, .. } => field,
            Self::ItemLimit { .. } => "item_limit",
        }
    }
}

/// A valid item id: 1 to 128 bytes of UTF-8 with no control characters.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ItemId(String);

impl ItemId {
    /// Checks `id` and wraps it.
    ///
    /// # Errors
    /// [`InputError::ItemId`] when it is empty, longer than 128 bytes, or holds a control character.
    pub fn new(id: impl Into<String>) -> Result<Self, InputError> {
        let id = id.into();
        let reason = if id.is_empty() {
            "must not be empty"
        } else if id.len() > MAX_ITEM_ID_BYTES {
            "must be at most 128 bytes of UTF-8"
        } else if id.chars().any(char::is_control) {
            "must not contain control characters"
        } else {
            return Ok(Self(id));
        };
        Err(InputError::ItemId { reason })
    }

    /// The id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ItemId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ItemId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl std::borrow::Borrow<str> for ItemId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for ItemId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Parses a unit price: plain decimal digits with an optional fraction, such as
/// `"29.99"` or `"0.5"`, below 10^10 with at most 6 decimal places. Signs, exponents,
/// underscores, leading zeros and bare points (`".5"`, `"5."`) are refused.
///
/// # Errors
/// [`InputError::Price`] naming what is wrong.
pub fn parse_price(text: &str) -> Result<Decimal, InputError> {
    let fail = |reason| InputError::Price { value: text.chars().take(64).collect(), reason };
    if text.starts_with('-') && text.len() > 1 {
        return Err(fail("must not be negative"));
    }
    let (whole, fraction) = text.split_once('.').map_or((text, None), |(w, f)| (w, Some(f)));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || fraction.is_some_and(|f| !digits(f)) {
        return Err(fail("is not an exact decimal number (digits, optionally a point and more digits)"));
    }
    if whole.len() > 1 && whole.starts_with('0') {
        return Err(fail("must not have leading zeros"));
    }
    let value = Decimal::from_str_exact(text).map_err(|_| fail("is not an exact decimal number"))?;
    check_price(value).map_err(fail)
}

/// Checks a price that is already a decimal and returns its canonical form: trailing
/// zeros dropped (`2.50` is stored as `2.5`) and no negative zero, so equal prices
/// always encode to equal bytes. Format prices for display with the currency's rules.
pub(crate) fn check_price(value: Decimal) -> Result<Decimal, &'static str> {
    if value.is_sign_negative() && !value.is_zero() {
        return Err("must not be negative");
    }
    let mut value = value.normalize();
    value.set_sign_positive(true);
    if value.scale() > MAX_PRICE_SCALE {
        return Err("has more than 6 decimal places");
    }
    if value.trunc() >= Decimal::from(10_i64.pow(MAX_PRICE_INTEGER_DIGITS)) {
        return Err("must be below 10000000000");
    }
    Ok(value)
}

/// Checks an add's quantity against the cart's current limit.
pub(crate) fn check_add_qty(qty: i64, limit: u32) -> Result<u32, InputError> {
    check_qty(qty, 1, limit)
}

/// Checks a set's quantity (0 means remove) against the cart's current limit.
pub(crate) fn check_set_qty(qty: i64, limit: u32) -> Result<u32, InputError> {
    check_qty(qty, 0, limit)
}

fn check_qty(qty: i64, min: u32, max: u32) -> Result<u32, InputError> {
    match u32::try_from(qty) {
        Ok(q) if (min..=max).contains(&q) => Ok(q),
        _ => Err(InputError::Quantity { value: qty, min, max }),
    }
}

/// Checks a per-item limit.
pub(crate) fn check_item_limit(limit: i64) -> Result<u32, InputError> {
    match u32::try_from(limit) {
        Ok(l) if (1..=MAX_ITEM_LIMIT).contains(&l) => Ok(l),
        _ => Err(InputError::ItemLimit { value: limit }),
    }
}

/// The attributes of an item as the cart shows them: catalogue data that travels with it.
///
/// One write carries the whole record, so a cart never shows the price of one catalogue
/// version beside the name of another.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct ItemAttrs {
    /// Price of one unit, exact.
    pub unit_price: Option<Decimal>,
    /// Display name.
    pub name: Option<String>,
    /// Picture of the item.
    pub image_url: Option<String>,
    /// Free-form attributes such as `size` or `colour`.
    pub extra: BTreeMap<String, String>,
}

impl ItemAttrs {
    /// True when no attribute is set.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.unit_price.is_none() && self.name.is_none() && self.image_url.is_none() && self.extra.is_empty()
    }

    /// Checks every field, as decoders must for records that arrive from elsewhere.
    pub(crate) fn check(&self) -> Result<(), InputError> {
        if let Some(price) = self.unit_price {
            let canonical = check_price(price)
                .is_ok_and(|c| c.mantissa() == price.mantissa() && c.scale() == price.scale());
            if !canonical {
                return Err(InputError::Price {
                    value: price.to_string(),
                    reason: "is not a canonical non-negative price",
                });
            }
        }
        check_text("name", self.name.as_deref(), MAX_NAME_BYTES)?;
        check_text("image_url", self.image_url.as_deref(), MAX_IMAGE_URL_BYTES)?;
        if self.extra.len() > MAX_EXTRA_ATTRIBUTES {
            return Err(InputError::Attribute {
                field: "attributes".into(),
                reason: format!("at most {MAX_EXTRA_ATTRIBUTES} attributes per item"),
            });
        }
        for (key, value) in &self.extra {
            if key.is_empty() || key.len() > MAX_ATTRIBUTE_KEY_BYTES || key.chars().any(char::is_control) {
                return Err(InputError::Attribute {
                    field: "attributes".into(),
                    reason: format!(
                        "key {:?} must be 1 to {MAX_ATTRIBUTE_KEY_BYTES} bytes with no control characters",
                        key.chars().take(64).collect::<String>()
                    ),
                });
            }
            check_text(&format!("attributes.{key}"), Some(value), MAX_ATTRIBUTE_VALUE_BYTES)?;
        }
        Ok(())
    }
}

fn check_text(field: &str, text: Option<&str>, max: usize) -> Result<(), InputError> {
    let Some(text) = text else { return Ok(()) };
    let reason = if text.len() > max {
        format!("must be at most {max} bytes")
    } else if text.chars().any(char::is_control) {
        "must not contain control characters".to_owned()
    } else {
        return Ok(());
    };
    Err(InputError::Attribute { field: field.to_owned(), reason })
}

/// Attributes to write with an `add` or `set`; fields left `None` keep their current value.
#[derive(Clone, Default, PartialEq, Eq, Debug)]
pub struct AttrPatch {
    /// New unit price, as exact decimal text such as `"29.99"`.
    pub unit_price: Option<String>,
    /// New display name.
    pub name: Option<String>,
    /// New image URL.
    pub image_url: Option<String>,
    /// Free-form attributes to set (other keys keep their values).
    pub extra: BTreeMap<String, String>,
}

impl AttrPatch {
    /// A patch that changes nothing.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the unit price, as exact decimal text.
    #[must_use]
    pub fn unit_price(mut self, price: impl Into<String>) -> Self {
        self.unit_price = Some(price.into());
        self
    }

    /// Sets the display name.
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the image URL.
    #[must_use]
    pub fn image_url(mut self, url: impl Into<String>) -> Self {
        self.image_url = Some(url.into());
        self
    }

    /// Sets one free-form attribute.
    #[must_use]
    pub fn attribute(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra.insert(key.into(), value.into());
        self
    }

    /// True when the patch changes nothing.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.unit_price.is_none() && self.name.is_none() && self.image_url.is_none() && self.extra.is_empty()
    }

    /// The record that results from laying this patch over `base`, checked.
    pub(crate) fn apply_to(&self, base: &ItemAttrs) -> Result<ItemAttrs, InputError> {
        let mut out = base.clone();
        if let Some(price) = &self.unit_price {
            out.unit_price = Some(parse_price(price)?);
        }
        if let Some(name) = &self.name {
            out.name = Some(name.clone());
        }
        if let Some(url) = &self.image_url {
            out.image_url = Some(url.clone());
        }
        for (k, v) in &self.extra {
            out.extra.insert(k.clone(), v.clone());
        }
        out.check()?;
        Ok(out)
    }
}

impl FromStr for ItemId {
    type Err = InputError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_are_plain_exact_decimals() {
        for ok in ["0", "0.5", "29.99", "8.50", "9999999999.999999"] {
            assert!(parse_price(ok).is_ok(), "{ok}");
        }
        assert_eq!(parse_price("8.50").map(|p| p.to_string()), Ok("8.5".to_owned()));
        for bad in
            ["", "-1", "+5", ".5", "5.", "1_000", "00012", "1e5", "abc", " 1", "10000000000", "0.0000001"]
        {
            let err = parse_price(bad).unwrap_err();
            assert_eq!(err.field(), "unit_price", "{bad}");
        }
    }

    #[test]
    fn item_ids_follow_the_spec() {
        assert!(ItemId::new("x".repeat(128)).is_ok());
        assert!(ItemId::new("é".repeat(64)).is_ok());
        for bad in
            [String::new(), "x".repeat(129), "é".repeat(65), "a\u{7}b".to_owned(), "tab\there".to_owned()]
        {
            assert_eq!(ItemId::new(bad).unwrap_err().field(), "item");
        }
    }
}
