//! Deterministic seed data: json-server's `db.json`, CAP's CSV files, and the
//! rows every scenario expects back, derived from the same values.
//!
//! The generator is a fixed-seed splitmix64, so a failure names the same row
//! on every machine and every run.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::compare::{Row, canon_decimal, canon_f64, canon_ts};

/// Rows in json-server's `items` collection.
pub const ITEMS: usize = 3000;
/// Rows in json-server's `customers` collection.
pub const CUSTOMERS: usize = 3000;
/// The first customer holding `loyalty`, an optional field that appears late
/// (page 10 of 250-row pages).
pub const LOYALTY_FROM: usize = 2401;
/// Rows in CAP's `Books` entity set.
pub const BOOKS: usize = 3000;
/// Rows in CAP's `Authors` entity set.
pub const AUTHORS: usize = 40;

/// Doubles that round-trip badly through naive parsers, spread over the items.
const AWKWARD_DOUBLES: [f64; 10] = [
    1e-7,
    5e-324,
    1.797_693_134_862_315_7e308,
    0.1,
    0.098_948_862_688_749_03,
    -2.5e-310,
    1e21,
    123_456_789.123_456_78,
    2.225_073_858_507_201_4e-308,
    -0.333_333_333_333_333_3,
];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// A full-precision double in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn word(&mut self) -> &'static str {
        const WORDS: [&str; 12] = [
            "alpha",
            "Zoë",
            "東京",
            "delta",
            "ñandú",
            "echo",
            "O'Brien",
            "fox",
            "naïve",
            "golf",
            "Ünïcödé",
            "hotel",
        ];
        WORDS[self.below(WORDS.len() as u64) as usize]
    }
    fn date(&mut self) -> String {
        let y = 1950 + self.below(70);
        let m = 1 + self.below(12);
        let d = 1 + self.below(28);
        format!("{y:04}-{m:02}-{d:02}")
    }
    fn time(&mut self) -> (u64, u64, u64) {
        (self.below(24), self.below(60), self.below(60))
    }
}

/// What json-server serves and what each autorest table must return.
pub struct JsonSeed {
    /// The `db.json` document.
    pub db: Value,
    /// `items`, flattened as autorest names the columns.
    pub items: Vec<Row>,
    /// `items_tags`: the parent key, position and value.
    pub tags: Vec<Row>,
    /// `items_parts`: the parent key, position, sku and qty.
    pub parts: Vec<Row>,
}

fn cell(v: impl Into<String>) -> Option<String> {
    Some(v.into())
}

/// The json-server data set.
pub fn json_server() -> JsonSeed {
    let mut rng = Rng(0x5EED_0001);
    let (mut docs, mut items, mut tags, mut parts) = (vec![], vec![], vec![], vec![]);
    for id in 1..=ITEMS as i64 {
        let score = rng.unit();
        let ratio = if id % 20 == 0 {
            AWKWARD_DOUBLES[(id as usize / 20) % AWKWARD_DOUBLES.len()]
        } else {
            (rng.unit() - 0.5) * 2e6
        };
        let big = (rng.next() >> 11) as i64 - (1i64 << 52);
        let name = match id % 50 {
            0 => String::new(),
            _ => format!("{} {} #{id}", rng.word(), rng.word()),
        };
        let born = rng.date();
        let (h, mi, s) = rng.time();
        let day = rng.date();
        let (updated, instant) = match id % 3 {
            0 => (
                format!("{day}T{h:02}:{mi:02}:{s:02}Z"),
                format!("{day}T{h:02}:{mi:02}:{s:02}Z"),
            ),
            1 => {
                let ms = rng.below(1000);
                let t = format!("{day}T{h:02}:{mi:02}:{s:02}.{ms:03}Z");
                (t.clone(), t)
            }
            _ => {
                let t = format!("{day}T{h:02}:{mi:02}:{s:02}+05:30");
                (t.clone(), t)
            }
        };
        let note = (id % 7 != 0).then(|| format!("note {}", rng.word()));
        let city = rng.word().to_owned();
        let (lat, lng) = (rng.unit() * 180.0 - 90.0, rng.unit() * 360.0 - 180.0);
        let active = rng.below(2) == 1;
        let tag_list: Vec<String> = (0..rng.below(4)).map(|_| rng.word().to_owned()).collect();
        let part_list: Vec<(String, i64)> = (0..rng.below(3))
            .map(|k| (format!("SKU-{id}-{k}"), rng.below(1000) as i64))
            .collect();
        docs.push(json!({
            "id": id, "name": name, "score": score, "ratio": ratio, "big": big,
            "active": active, "born": born, "updated": updated, "note": note,
            "address": {"city": city, "geo": {"lat": lat, "lng": lng}},
            "tags": tag_list,
            "parts": part_list.iter().map(|(sku, qty)| json!({"sku": sku, "qty": qty})).collect::<Vec<_>>(),
        }));
        let mut row = BTreeMap::new();
        row.insert("id".into(), cell(id.to_string()));
        row.insert("name".into(), cell(name));
        row.insert("score".into(), cell(canon_f64(score)));
        row.insert("ratio".into(), cell(canon_f64(ratio)));
        row.insert("big".into(), cell(big.to_string()));
        row.insert("active".into(), cell(active.to_string()));
        row.insert("born".into(), cell(born));
        row.insert("updated".into(), canon_ts(&instant).ok());
        row.insert("note".into(), note);
        row.insert("address_city".into(), cell(city));
        row.insert("address_geo_lat".into(), cell(canon_f64(lat)));
        row.insert("address_geo_lng".into(), cell(canon_f64(lng)));
        items.push(row);
        for (pos, t) in tag_list.iter().enumerate() {
            tags.push(BTreeMap::from([
                ("items_id".into(), cell(id.to_string())),
                ("position".into(), cell(pos.to_string())),
                ("value".into(), cell(t.clone())),
            ]));
        }
        for (pos, (sku, qty)) in part_list.iter().enumerate() {
            parts.push(BTreeMap::from([
                ("items_id".into(), cell(id.to_string())),
                ("position".into(), cell(pos.to_string())),
                ("sku".into(), cell(sku.clone())),
                ("qty".into(), cell(qty.to_string())),
            ]));
        }
    }
    // Customers: `loyalty` first holds a value on customer 2,401.
    let customers: Vec<Value> = (1..=CUSTOMERS)
        .map(|id| {
            let mut c = json!({"id": id, "name": format!("customer {id}")});
            if id >= LOYALTY_FROM {
                c["loyalty"] = json!(if id % 2 == 0 { "gold" } else { "silver" });
            }
            c
        })
        .collect();
    JsonSeed {
        db: json!({ "items": docs, "customers": customers }),
        items,
        tags,
        parts,
    }
}

/// What CAP loads (CSV text per entity) and what each entity set must return.
pub struct CapSeed {
    /// `db/data/interop-Books.csv`.
    pub books_csv: String,
    /// `db/data/interop-Authors.csv`.
    pub authors_csv: String,
    /// Books, sorted by their key (the order CAP pages in).
    pub books: Vec<Row>,
    /// Authors, sorted by their key.
    pub authors: Vec<Row>,
}

/// The CAP data set.
pub fn cap() -> CapSeed {
    let mut rng = Rng(0x5EED_0002);
    let mut authors_csv = String::from("ID,name,born\n");
    let mut authors = vec![];
    for id in 1..=AUTHORS as i64 {
        let name = format!("{} {}", rng.word(), rng.word());
        let born = (id % 5 != 0).then(|| rng.date());
        authors_csv.push_str(&format!(
            "{id},{name},{}\n",
            born.clone().unwrap_or_default()
        ));
        authors.push(BTreeMap::from([
            ("ID".into(), cell(id.to_string())),
            ("name".into(), cell(name)),
            ("born".into(), born),
        ]));
    }
    let mut books_csv = String::from(
        "ID,seq,title,big,price,ratio,available,published,updatedAt,stampedAt,author_ID\n",
    );
    let mut books = vec![];
    for seq in 0..BOOKS as i64 {
        let a = rng.next();
        let b = rng.next();
        let id = format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            b >> 52,
            b & 0xffff_ffff_ffff
        );
        let title = format!("{} {} {seq}", rng.word(), rng.word());
        // Integers beyond 2^53 lose digits in CAP's JavaScript runtime, a
        // limit of the server, not of the connector: stay within it.
        let big = (rng.next() >> 11) as i64 - (1i64 << 52);
        let price = format!("{}.{:04}", rng.below(10_000_000), rng.below(10_000));
        let ratio = if seq % 25 == 0 {
            AWKWARD_DOUBLES[(seq as usize / 25) % AWKWARD_DOUBLES.len()]
        } else {
            rng.unit() * 1000.0
        };
        let available = rng.below(2) == 1;
        let published = rng.date();
        let (h, m, s) = rng.time();
        let updated = format!("{}T{h:02}:{m:02}:{s:02}Z", rng.date());
        let stamped = format!(
            "{}T{h:02}:{m:02}:{s:02}.{:03}Z",
            rng.date(),
            rng.below(1000)
        );
        let author = (seq % 11 != 0).then(|| 1 + rng.below(AUTHORS as u64));
        let nulls_here = seq % 13 == 0;
        let ratio_cell = (!nulls_here).then(|| canon_f64(ratio));
        books_csv.push_str(&format!(
            "{id},{seq},{title},{big},{price},{},{available},{published},{updated},{stamped},{}\n",
            if nulls_here {
                String::new()
            } else {
                format!("{ratio:?}")
            },
            author.map(|a| a.to_string()).unwrap_or_default()
        ));
        books.push(BTreeMap::from([
            ("ID".into(), cell(id)),
            ("seq".into(), cell(seq.to_string())),
            ("title".into(), cell(title)),
            ("big".into(), cell(big.to_string())),
            ("price".into(), cell(canon_decimal(&price))),
            ("ratio".into(), ratio_cell),
            ("available".into(), cell(available.to_string())),
            ("published".into(), cell(published)),
            ("updatedAt".into(), canon_ts(&updated).ok()),
            ("stampedAt".into(), canon_ts(&stamped).ok()),
            ("author_ID".into(), author.map(|a| a.to_string())),
        ]));
    }
    books.sort_by(|x, y| x["ID"].cmp(&y["ID"]));
    CapSeed {
        books_csv,
        authors_csv,
        books,
        authors,
    }
}

/// Rows of the JWT bearer server's protected resource (`/api/rows`).
pub const GRANTED_ROWS: usize = 60;

/// The JWT bearer server's `rows.json` and the rows read back from it.
pub struct GrantedSeed {
    /// The JSON array the server serves.
    pub json: Value,
    /// The same rows in canonical form.
    pub rows: Vec<Row>,
}

/// The JWT bearer server's seed: `id`, `account`, `balance` (a
/// full-precision double), `active`.
pub fn granted() -> GrantedSeed {
    let mut rng = Rng(0x5EED_7523);
    let (mut json, mut rows) = (Vec::new(), Vec::new());
    for id in 1..=GRANTED_ROWS {
        let account = format!("{}-{id:03}", rng.word());
        let balance = (rng.unit() - 0.25) * 1e6;
        let active = rng.below(4) != 0;
        json.push(json!({"id": id, "account": account, "balance": balance, "active": active}));
        rows.push(Row::from([
            ("id".into(), Some(id.to_string())),
            ("account".into(), Some(account)),
            ("balance".into(), Some(canon_f64(balance))),
            ("active".into(), Some(active.to_string())),
        ]));
    }
    GrantedSeed {
        json: Value::Array(json),
        rows,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_seeds_are_deterministic() {
        assert_eq!(super::json_server().db, super::json_server().db);
        assert_eq!(super::cap().books_csv, super::cap().books_csv);
    }
}
