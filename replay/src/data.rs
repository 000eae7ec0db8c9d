//! Online Retail II (Chen, D. (2019), *Online Retail II*, UCI Machine Learning
//! Repository, CC BY 4.0) as shopping sessions: one per invoice, in the file's order.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::Path;

use rust_decimal::Decimal;

/// One line a shopper adds.
#[derive(Debug, Clone)]
pub(crate) struct Line {
    /// The cart's item id: `itm_<stock code>`, with `@<price>` when the invoice has the
    /// stock code at more than one price (two lines of a cart, as a storefront shows them).
    pub(crate) item: String,
    /// How many.
    pub(crate) qty: u32,
    /// Unit price, as the file writes it.
    pub(crate) price: String,
    /// The product's description.
    pub(crate) name: String,
}

/// What a session ends in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A checkout, keyed by the invoice number.
    Order,
    /// A cancellation invoice: the shopper adds the lines, then removes them again.
    Cancelled,
}

/// One invoice as a shopping session.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    /// The invoice number (the checkout's idempotency key).
    pub(crate) invoice: String,
    /// The customer id, or `None` for a guest.
    pub(crate) customer: Option<String>,
    /// Where the customer is.
    pub(crate) country: String,
    /// Checkout or cancellation.
    pub(crate) kind: Kind,
    /// The lines, in file order.
    pub(crate) lines: Vec<Line>,
}

impl Session {
    /// The shopper's user id: the customer, or a guest of this invoice.
    #[must_use]
    pub(crate) fn user(&self) -> String {
        match &self.customer {
            Some(c) => format!("cust_{c}"),
            None => format!("guest_{}", self.invoice),
        }
    }

    /// The order this session must make: per item, quantity summed, its price, exact total.
    #[must_use]
    pub(crate) fn expected_order(&self) -> (BTreeMap<String, (u64, Decimal)>, Decimal) {
        let mut items: BTreeMap<String, (u64, Decimal)> = BTreeMap::new();
        for line in &self.lines {
            let price: Decimal = line.price.parse().unwrap_or_default();
            let entry = items.entry(line.item.clone()).or_insert((0, price));
            entry.0 = entry.0.saturating_add(u64::from(line.qty));
        }
        let total = items
            .values()
            .map(|(q, p)| Decimal::from(*q).saturating_mul(*p))
            .fold(Decimal::ZERO, Decimal::saturating_add)
            .normalize();
        (items, total)
    }
}

/// The sessions of the file (or of its first lines), and what was left out.
#[derive(Debug, Default)]
pub(crate) struct Dataset {
    /// Sessions in order of each invoice's first line.
    pub(crate) sessions: Vec<Session>,
    /// Lines read.
    pub(crate) lines: u64,
    /// Lines left out, by reason.
    pub(crate) skipped: BTreeMap<String, u64>,
    /// The largest quantity of one item in one session: the carts' per-item limit.
    pub(crate) max_item_qty: u64,
}

struct Row {
    invoice: String,
    code: String,
    name: String,
    qty: i64,
    price: String,
    customer: Option<String>,
    country: String,
}

/// Reads the CSV (gzipped when the name ends in `.gz`), at most `max_lines` lines.
///
/// # Errors
/// A message naming the line that cannot be read.
pub(crate) fn load(path: &Path, max_lines: Option<u64>) -> Result<Dataset, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let reader: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::GzDecoder::new(file))
    } else {
        Box::new(file)
    };
    let mut csv = csv::Reader::from_reader(reader);
    let mut data = Dataset::default();
    let mut rows: Vec<Row> = Vec::new();
    for (n, record) in csv.records().enumerate() {
        if max_lines.is_some_and(|m| data.lines >= m) {
            break;
        }
        let line = n.saturating_add(2);
        let record = record.map_err(|e| format!("{}: line {line}: {e}", path.display()))?;
        let field = |i: usize| record.get(i).unwrap_or_default().to_owned();
        data.lines = data.lines.saturating_add(1);
        let qty: i64 =
            field(3).parse().map_err(|_| format!("line {line}: Quantity '{}' is not a number", field(3)))?;
        rows.push(Row {
            invoice: field(0),
            code: field(1).trim().to_owned(),
            name: field(2).trim().to_owned(),
            qty,
            price: field(5),
            customer: Some(field(6)).filter(|c| !c.is_empty()),
            country: field(7),
        });
    }
    let mut skip = |why: &str| {
        let count = data.skipped.entry(why.to_owned()).or_default();
        *count = count.saturating_add(1);
    };
    let mut order: Vec<String> = Vec::new();
    let mut by_invoice: HashMap<String, Vec<Row>> = HashMap::new();
    for row in rows {
        let cancelled = row.invoice.starts_with('C');
        if row.price.starts_with('-') {
            skip("negative price (bad debt adjustment)");
            continue;
        }
        if cart_core::parse_price(&row.price).is_err() {
            skip("price not a plain decimal");
            continue;
        }
        if row.qty == 0 {
            skip("zero quantity");
            continue;
        }
        if row.qty < 0 && !cancelled {
            skip("negative quantity outside a cancellation (stock adjustment)");
            continue;
        }
        if !by_invoice.contains_key(&row.invoice) {
            order.push(row.invoice.clone());
        }
        by_invoice.entry(row.invoice.clone()).or_default().push(row);
    }
    for invoice in order {
        let rows = by_invoice.remove(&invoice).unwrap_or_default();
        let Some(first) = rows.first() else { continue };
        let (customer, country) = (first.customer.clone(), first.country.clone());
        let mut prices: HashMap<&str, Vec<&str>> = HashMap::new();
        for r in &rows {
            let seen = prices.entry(r.code.as_str()).or_default();
            if !seen.contains(&r.price.as_str()) {
                seen.push(r.price.as_str());
            }
        }
        let lines: Vec<Line> = rows
            .iter()
            .map(|r| {
                let several = prices.get(r.code.as_str()).is_some_and(|p| p.len() > 1);
                let item =
                    if several { format!("itm_{}@{}", r.code, r.price) } else { format!("itm_{}", r.code) };
                Line {
                    item,
                    qty: u32::try_from(r.qty.unsigned_abs()).unwrap_or(u32::MAX),
                    price: r.price.clone(),
                    name: r.name.clone(),
                }
            })
            .collect();
        let kind = if invoice.starts_with('C') { Kind::Cancelled } else { Kind::Order };
        let session = Session { invoice, customer, country, kind, lines };
        let (items, _) = session.expected_order();
        data.max_item_qty = items.values().map(|(q, _)| *q).fold(data.max_item_qty, u64::max);
        data.sessions.push(session);
    }
    Ok(data)
}

/// The region a country's shoppers are homed in: the Americas in us-west, Europe, the
/// Middle East and Africa in eu-central, Asia and the Pacific in ap-southeast. Covers the
/// file's 40 countries; others (and "Unspecified") go to us-west.
#[must_use]
pub(crate) fn home_region(country: &str) -> &'static str {
    match country {
        "Australia" | "Hong Kong" | "Japan" | "Korea" | "Singapore" | "Thailand" => "ap-southeast",
        "USA" | "Canada" | "Brazil" | "Bermuda" | "West Indies" | "Unspecified" => "us-west",
        "Austria"
        | "Bahrain"
        | "Belgium"
        | "Channel Islands"
        | "Cyprus"
        | "Denmark"
        | "EIRE"
        | "Finland"
        | "France"
        | "Germany"
        | "Greece"
        | "Iceland"
        | "Israel"
        | "Italy"
        | "Lebanon"
        | "Lithuania"
        | "Malta"
        | "Netherlands"
        | "Nigeria"
        | "Norway"
        | "Poland"
        | "Portugal"
        | "RSA"
        | "Spain"
        | "Sweden"
        | "Switzerland"
        | "United Arab Emirates"
        | "United Kingdom" => "eu-central",
        _ => "us-west",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country
1,A,Mug,2,2009-12-01 07:45:00,1.5,100,France
1,B,Hat,1,2009-12-01 07:45:00,2.10,100,France
2,A,Mug,-3,2009-12-01 08:00:00,1.5,,United Kingdom
C3,A,Mug,-2,2009-12-01 09:00:00,1.5,100,France
1,A,Mug,3,2009-12-01 07:46:00,1.5,100,France
4,B,Hat,1,2009-12-01 10:00:00,2.1,200,Japan
4,B,Hat,2,2009-12-01 10:00:00,1.9,200,Japan
A5,B,Adjust bad debt,1,2009-12-01 11:00:00,-11062.06,,United Kingdom
";

    fn sample() -> Dataset {
        let dir = std::env::temp_dir().join(format!("replay-sample-{}", std::process::id()));
        std::fs::write(&dir, SAMPLE).unwrap_or_default();
        let data = load(&dir, None).unwrap_or_default();
        let _ = std::fs::remove_file(&dir);
        data
    }

    #[test]
    fn invoices_become_sessions_and_adjustments_are_skipped_by_reason() {
        let data = sample();
        assert_eq!(data.lines, 8);
        let invoices: Vec<&str> = data.sessions.iter().map(|s| s.invoice.as_str()).collect();
        assert_eq!(invoices, ["1", "C3", "4"]);
        assert_eq!(data.skipped.get("negative price (bad debt adjustment)"), Some(&1));
        assert_eq!(data.skipped.get("negative quantity outside a cancellation (stock adjustment)"), Some(&1));
        let first = &data.sessions[0];
        assert_eq!(first.lines.len(), 3, "the same item twice is two adds");
        let (items, total) = first.expected_order();
        assert_eq!(items.get("itm_A"), Some(&(5, Decimal::new(15, 1))));
        assert_eq!(total.to_string(), "9.6");
        assert_eq!(data.sessions[1].kind, Kind::Cancelled);
        assert_eq!(data.sessions[1].lines[0].qty, 2);
        // One stock code at two prices: two lines of the cart.
        let items: Vec<&str> = data.sessions[2].lines.iter().map(|l| l.item.as_str()).collect();
        assert_eq!(items, ["itm_B@2.1", "itm_B@1.9"]);
        assert_eq!(data.max_item_qty, 5);
    }

    #[test]
    fn every_country_of_the_file_has_a_region() {
        for c in ["United Kingdom", "USA", "Japan", "RSA", "Unspecified", "Bermuda"] {
            assert!(["us-west", "eu-central", "ap-southeast"].contains(&home_region(c)));
        }
        assert_eq!(home_region("Japan"), "ap-southeast");
        assert_eq!(home_region("France"), "eu-central");
    }
}
