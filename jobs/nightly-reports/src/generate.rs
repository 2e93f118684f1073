//! Seeded generator of synthetic deployment logs, for benchmarks, demos and tests.
//!
//! The same seed and settings always produce the same items, in the same order. Items follow
//! the DeploymentLogs key scheme (`pk = DAY#<date>#<shard>`, `sk = <finished_at>#<id>`), spread
//! over a date range, a number of providers (each with 1–4 products, some billed in two
//! currencies), with fractional quantities, prices with up to 6 decimals, error entries on
//! both failed and successful deployments, and — at `reject_per_million` — items that break the
//! contract (unknown status, negative quantity, unknown currency), so every path is exercised.
//!
//! Items go to any sink ([`generate`]); [`write_export`] writes DynamoDB-JSON-lines export
//! files, optionally gzip-compressed. Loading into the table is done by the DynamoDB adapter.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{Duration, NaiveDate, NaiveTime, SecondsFormat};
use flate2::write::GzEncoder;
use flate2::Compression;
use marketplace_reports::attribute::{AttributeValue, ExportLine, Item};
use marketplace_reports::storage::day_key::{log_partition, SHARDS};

/// Generator settings.
#[derive(Debug, Clone)]
pub struct GeneratorConfig {
    /// RNG seed.
    pub seed: u64,
    /// Number of items.
    pub count: u64,
    /// First `finished_at` date.
    pub from: NaiveDate,
    /// Last `finished_at` date.
    pub to: NaiveDate,
    /// Number of providers.
    pub providers: u32,
    /// Contract-breaking items per million.
    pub reject_per_million: u32,
}

/// SplitMix64: tiny, seedable, good enough for synthetic data (and no dependency).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// Seeded generator.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

const CURRENCIES: &[&str] = &["USD", "USD", "USD", "EUR", "EUR", "GBP", "JPY", "BHD", "CAD"];
const SHARES: &[&str] = &["0.7", "0.75", "0.8", "0.85", "1"];
const MODELS: &[&str] = &["hourly", "monthly", "one_time", "usage"];
const CODES: &[&str] = &["VM_TIMEOUT", "DISK_FULL", "QUOTA_EXCEEDED", "IMAGE_PULL_FAILED"];
const MESSAGES: &[&str] =
    &["timed out waiting for VM", "disk full, retried", "quota exceeded", "image \"latest\" not found"];

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}
fn n(v: impl Into<String>) -> AttributeValue {
    AttributeValue::N(v.into())
}

/// Generates `config.count` items into `sink`.
pub fn generate<E>(config: &GeneratorConfig, mut sink: impl FnMut(Item) -> Result<(), E>) -> Result<(), E> {
    let mut rng = Rng::new(config.seed);
    let days = u64::try_from((config.to - config.from).num_days().max(0) + 1).unwrap_or(1);
    let providers = u64::from(config.providers.max(1));
    for i in 0..config.count {
        let provider = rng.below(providers);
        // Products and their currencies are a pure function of the provider, so groups stay few.
        let product = rng.below(1 + provider % 4);
        let currency = CURRENCIES[usize::try_from(
            (provider * 7 + product * 3 + rng.below(2) * (product % 2)) % CURRENCIES.len() as u64,
        )
        .unwrap_or(0)];
        let share = SHARES[usize::try_from((provider + product) % SHARES.len() as u64).unwrap_or(0)];
        let day = config.from + Duration::days(i64::try_from(rng.below(days)).unwrap_or(0));
        let secs = rng.below(86_400);
        let finished = day.and_time(NaiveTime::MIN) + Duration::seconds(i64::try_from(secs).unwrap_or(0));
        let started = finished - Duration::seconds(i64::try_from(60 + rng.below(7200)).unwrap_or(60));
        let fmt = |t: chrono::NaiveDateTime| t.and_utc().to_rfc3339_opts(SecondsFormat::Secs, true);
        let id = format!("d-{:x}-{i:08}", config.seed & 0xffff);
        let finished_at = fmt(finished);
        let succeeded = rng.below(10) != 0;
        let error_count = match rng.below(10) {
            0..=6 => 0,
            7 | 8 => 1,
            _ => 1 + rng.below(3),
        };
        let errors = (0..error_count)
            .map(|k| {
                let at = started + Duration::seconds(i64::try_from(k * 30 + rng.below(30)).unwrap_or(0));
                AttributeValue::M(Item::from([
                    ("code".to_owned(), s(CODES[usize::try_from(rng.below(CODES.len() as u64)).unwrap_or(0)])),
                    ("message".to_owned(), s(MESSAGES[usize::try_from(rng.below(MESSAGES.len() as u64)).unwrap_or(0)])),
                    ("at".to_owned(), s(fmt(at))),
                ]))
            })
            .collect();
        let quantity = match rng.below(3) {
            0 => "1".to_owned(),
            1 => format!("{}.{:02}", rng.below(48), rng.below(4) * 25),
            _ => format!("{}", 1 + rng.below(5000)),
        };
        let unit_price =
            format!("{}.{:06}", rng.below(if currency == "JPY" { 20_000 } else { 200 }), rng.below(1_000_000));
        let mut item = Item::from([
            ("pk".to_owned(), s(log_partition(day, (i % u64::from(SHARDS)) as u32))),
            ("sk".to_owned(), s(format!("{finished_at}#{id}"))),
            ("deployment_id".to_owned(), s(id.clone())),
            ("provider_id".to_owned(), s(format!("provider-{provider:04}"))),
            ("product_id".to_owned(), s(format!("p{provider:04}-product-{product}"))),
            ("product_name".to_owned(), s(format!("Product {product} of provider {provider}, \"Pro\""))),
            ("customer_alias".to_owned(), s(format!("CUST{}", rng.below(500)))),
            ("started_at".to_owned(), s(fmt(started))),
            ("finished_at".to_owned(), s(finished_at)),
            ("status".to_owned(), s(if succeeded { "SUCCEEDED" } else { "FAILED" })),
            ("errors".to_owned(), AttributeValue::L(errors)),
            ("billing_model".to_owned(), s(MODELS[usize::try_from(product % 4).unwrap_or(0)])),
            ("quantity".to_owned(), n(quantity)),
            ("unit_price".to_owned(), n(unit_price)),
            ("currency".to_owned(), s(currency)),
            ("provider_share".to_owned(), n(share)),
        ]);
        if rng.below(1_000_000) < u64::from(config.reject_per_million) {
            match rng.below(3) {
                0 => item.insert("status".into(), s("IN_PROGRESS")),
                1 => item.insert("quantity".into(), n("-1")),
                _ => item.insert("currency".into(), s("XXX")),
            };
        }
        sink(item)?;
    }
    Ok(())
}

/// Writes the generated items as `files` export files `part-NNNNN.json[.gz]` in `dir`
/// (items dealt round-robin), or as the single file `dir` itself when `files` is 0.
pub fn write_export(config: &GeneratorConfig, target: &Path, files: usize, gzip: bool) -> io::Result<Vec<PathBuf>> {
    let paths: Vec<PathBuf> = if files == 0 {
        vec![target.to_owned()]
    } else {
        std::fs::create_dir_all(target)?;
        (0..files).map(|k| target.join(format!("part-{k:05}.json{}", if gzip { ".gz" } else { "" }))).collect()
    };
    let mut writers: Vec<Box<dyn Write>> = paths
        .iter()
        .map(|p| -> io::Result<Box<dyn Write>> {
            if let Some(parent) = p.parent() {
                std::fs::create_dir_all(parent)?;
            }
            let f = BufWriter::with_capacity(1 << 16, File::create(p)?);
            Ok(if gzip { Box::new(GzEncoder::new(f, Compression::fast())) } else { Box::new(f) })
        })
        .collect::<io::Result<_>>()?;
    let mut k = 0usize;
    let count = writers.len();
    generate(config, |item| -> io::Result<()> {
        let w = &mut writers[k % count];
        k += 1;
        serde_json::to_writer(&mut *w, &ExportLine { item }).map_err(io::Error::other)?;
        w.write_all(b"\n")
    })?;
    for w in &mut writers {
        w.flush()?;
    }
    drop(writers);
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;
    use marketplace_reports::record::parse_deployment_log;

    fn config(count: u64) -> GeneratorConfig {
        GeneratorConfig {
            seed: 7,
            count,
            from: NaiveDate::from_ymd_opt(2026, 2, 1).expect("date"),
            to: NaiveDate::from_ymd_opt(2026, 2, 3).expect("date"),
            providers: 5,
            reject_per_million: 0,
        }
    }

    #[test]
    fn same_seed_generates_the_same_items() {
        let collect = |c: &GeneratorConfig| {
            let mut v = Vec::new();
            generate::<()>(c, |i| {
                v.push(i);
                Ok(())
            })
            .expect("infallible");
            v
        };
        let a = collect(&config(50));
        assert_eq!(a, collect(&config(50)));
        assert_ne!(a, collect(&GeneratorConfig { seed: 8, ..config(50) }));
    }

    #[test]
    fn generated_items_honour_the_contract_unless_asked_to_break_it() {
        let mut bad = 0;
        generate::<()>(&config(2000), |item| {
            if parse_deployment_log(&item, &String::new).is_err() {
                bad += 1;
            }
            Ok(())
        })
        .expect("infallible");
        assert_eq!(bad, 0);
        let mut bad = 0;
        generate::<()>(&GeneratorConfig { reject_per_million: 500_000, ..config(200) }, |item| {
            if parse_deployment_log(&item, &String::new).is_err() {
                bad += 1;
            }
            Ok(())
        })
        .expect("infallible");
        assert!(bad > 50, "{bad}");
    }
}
