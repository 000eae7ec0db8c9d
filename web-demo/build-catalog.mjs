#!/usr/bin/env node
// Builds the demo's catalogue from the Online Retail II data (Chen, 2019, CC BY 4.0):
//
//   node web-demo/build-catalog.mjs ../shared/data/online-retail-ii/online_retail_ii_2009_2010.csv.gz > catalog.json
//
// The items are the 24 products that appear in the most distinct invoices (any invoice
// of the file). A product is a StockCode with a digit in it that is not a fee, a voucher
// or a test line (see `isProductCode`). Names and prices come from sales only: lines of
// an invoice that is not a cancellation (`C...`), with Quantity > 0 and Price > 0. Each
// item's name is its most common non-empty description on those lines (trimmed, in
// Title Case); its unit price the most common price there, kept as exact decimal text:
// prices are never parsed into floats. A product with no such line, or only empty
// descriptions, is left out. Ties break on the StockCode (ranking), the smaller price and
// the first name in code-point order, so the output is the same on every run.
//
// Node 20, no dependencies: the file is streamed through node:zlib and node:readline.

import { createReadStream } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';

const SOURCE =
  'Chen, D. (2019), Online Retail II, UCI Machine Learning Repository, CC BY 4.0 (https://doi.org/10.24432/C5CG6D)';
const ITEM_COUNT = 24;
const COLUMNS = ['Invoice', 'StockCode', 'Description', 'Quantity', 'Price'];

/**
 * Splits one CSV record into its fields (RFC 4180: fields may be quoted, a quote inside
 * a quoted field is doubled). Returns null when the text ends inside a quoted field, so
 * the caller can append the next line (a field holding a line break) and try again.
 */
export function parseCsvRecord(text) {
  const fields = [];
  let i = 0;
  const n = text.length;
  for (;;) {
    let field = '';
    if (text[i] === '"') {
      i += 1;
      for (;;) {
        const q = text.indexOf('"', i);
        if (q < 0) return null; // unterminated: the record goes on on the next line
        field += text.slice(i, q);
        if (text[q + 1] === '"') {
          field += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      // Anything between the closing quote and the next comma is kept as it is
      // (lenient, like Python's csv module).
      const comma = text.indexOf(',', i);
      const end = comma < 0 ? n : comma;
      field += text.slice(i, end);
      i = end;
    } else {
      const comma = text.indexOf(',', i);
      const end = comma < 0 ? n : comma;
      field = text.slice(i, end);
      i = end;
    }
    fields.push(field);
    if (i >= n) return fields;
    i += 1; // the comma
    if (i === n) {
      fields.push('');
      return fields;
    }
  }
}

/**
 * The exact decimal text of a price as the cart stores it: no sign, no exponent, no
 * leading zeros, no trailing zeros ("2.10" -> "2.1", "1.0" -> "1", "0.50" -> "0.5").
 * Returns null for anything that is not a plain non-negative decimal.
 */
export function canonicalDecimal(text) {
  const m = /^\+?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text.trim());
  if (!m || (m[1] === '' && (m[2] ?? '') === '')) return null;
  let digits = m[1] + (m[2] ?? '');
  let point = m[1].length + Number(m[3] ?? 0); // position of the decimal point in digits
  if (point < 0) {
    digits = '0'.repeat(-point) + digits;
    point = 0;
  }
  if (point > digits.length) {
    digits += '0'.repeat(point - digits.length);
  }
  const intPart = digits.slice(0, point).replace(/^0+/, '') || '0';
  const fracPart = digits.slice(point).replace(/0+$/, '');
  return fracPart ? `${intPart}.${fracPart}` : intPart;
}

/** Compares two canonical decimals by value, exactly. */
function compareDecimal(a, b) {
  const [ai, af = ''] = a.split('.');
  const [bi, bf = ''] = b.split('.');
  if (ai.length !== bi.length) return ai.length - bi.length;
  if (ai !== bi) return ai < bi ? -1 : 1;
  const width = Math.max(af.length, bf.length);
  const x = af.padEnd(width, '0');
  const y = bf.padEnd(width, '0');
  return x === y ? 0 : x < y ? -1 : 1;
}

/** True for a positive decimal (the text is canonical). */
function isPositive(decimal) {
  return /[1-9]/.test(decimal);
}

/**
 * Codes that are not products: postage, fees, manual lines, adjustments, tests and gift
 * vouchers. Everything without a digit (POST, DOT, M, D, S, B, PADS, BANK CHARGES,
 * AMAZONFEE, ADJUST, ...) is out; these are the ones with a digit.
 */
export function isProductCode(code) {
  if (!/\d/.test(code)) return false;
  const upper = code.toUpperCase();
  if (['C2', 'C3', 'ADJUST2'].includes(upper)) return false;
  if (upper.startsWith('TEST') || upper.startsWith('GIFT') || upper.startsWith('ADJUST')) return false;
  return true;
}

/**
 * "WHITE HANGING HEART T-LIGHT HOLDER" -> "White Hanging Heart T-Light Holder";
 * "15CM CHRISTMAS GLASS BALL 20 LIGHTS" -> "15cm Christmas Glass Ball 20 Lights";
 * "DOLLY GIRL'S LUNCH BOX" -> "Dolly Girl's Lunch Box". Runs of spaces become one.
 */
export function titleCase(text) {
  return text
    .trim()
    .replace(/\s+/g, ' ')
    .toLowerCase()
    .replace(/(^|[\s\-/(&+,."])(\p{L})/gu, (_, before, letter) => before + letter.toUpperCase());
}

/** Increments the count of key in a Map. */
function bump(map, key) {
  map.set(key, (map.get(key) ?? 0) + 1);
}

/** The key of a Map of counts with the highest count; ties go to the first by `tieOrder`. */
function mostCommon(counts, tieOrder) {
  let best = null;
  let bestCount = -1;
  for (const [key, count] of counts) {
    if (count > bestCount || (count === bestCount && tieOrder(key, best) < 0)) {
      best = key;
      bestCount = count;
    }
  }
  return best;
}

/** Counts of raw descriptions -> counts of their Title Case names (spacing variants merge). */
function namesOf(descriptions) {
  const names = new Map();
  for (const [description, count] of descriptions) {
    const name = titleCase(description);
    if (name !== '') names.set(name, (names.get(name) ?? 0) + count);
  }
  return names;
}

async function buildCatalog(path) {
  const input = createReadStream(path).pipe(createGunzip());
  const lines = createInterface({ input, crlfDelay: Infinity });

  /** StockCode -> { invoices: Set, prices: Map(price -> lines), descriptions: Map(text -> lines) } */
  const products = new Map();
  let header = null;
  let col = null;
  let pending = null; // a record whose quoted field holds a line break

  for await (const line of lines) {
    const text = pending === null ? line : `${pending}\n${line}`;
    // Most lines hold no quote at all: split them directly.
    const fields = text.includes('"') ? parseCsvRecord(text) : text.split(',');
    if (fields === null) {
      pending = text;
      continue;
    }
    pending = null;
    if (header === null) {
      header = fields.map((f) => f.trim().replace(/^\uFEFF/, ''));
      col = Object.fromEntries(COLUMNS.map((name) => [name, header.indexOf(name)]));
      const missing = COLUMNS.filter((name) => col[name] < 0);
      if (missing.length) throw new Error(`${path}: missing column(s) ${missing.join(', ')}`);
      continue;
    }
    if (fields.length < header.length) continue; // a blank or truncated line

    const invoice = fields[col.Invoice];
    const code = fields[col.StockCode].trim();
    if (!isProductCode(code)) continue;
    let product = products.get(code);
    if (product === undefined) {
      product = { invoices: new Set(), prices: new Map(), descriptions: new Map() };
      products.set(code, product);
    }
    product.invoices.add(invoice);

    // Prices and names come from sales only.
    if (invoice.startsWith('C')) continue;
    const quantity = Number.parseInt(fields[col.Quantity], 10);
    if (!(quantity > 0)) continue;
    const price = canonicalDecimal(fields[col.Price]);
    if (price === null || !isPositive(price)) continue;
    bump(product.prices, price);
    const description = fields[col.Description];
    if (description.trim() !== '') bump(product.descriptions, description);
  }
  if (pending !== null) throw new Error(`${path}: the file ends inside a quoted field`);
  if (header === null) throw new Error(`${path}: empty file`);

  const byCode = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
  const ranked = [...products]
    .map(([code, p]) => ({ code, invoices: p.invoices.size, p, names: namesOf(p.descriptions) }))
    .filter(({ p, names }) => p.prices.size > 0 && names.size > 0)
    .sort((a, b) => b.invoices - a.invoices || byCode(a.code, b.code))
    .slice(0, ITEM_COUNT);

  return {
    source: SOURCE,
    items: ranked.map(({ code, p, names }) => ({
      id: `itm_${code}`,
      name: mostCommon(names, byCode),
      unitPrice: mostCommon(p.prices, compareDecimal),
    })),
  };
}

export { buildCatalog };

// Run as a script (importing the module for its helpers runs nothing).
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv[2]);
}

function main(path) {
  if (!path) {
    process.stderr.write('usage: node build-catalog.mjs <online_retail_ii .csv.gz>\n');
    process.exit(2);
  }
  buildCatalog(path).then(
    (catalog) => process.stdout.write(`${JSON.stringify(catalog, null, 2)}\n`),
    (err) => {
      process.stderr.write(`build-catalog: ${err.message}\n`);
      process.exit(1);
    },
  );
}
