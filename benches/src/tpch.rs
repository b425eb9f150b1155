//! TPC-H side by side: RustyDB (Arrow ingest, CHECKPOINT, the 22 queries
//! over its segments) against DataFusion 55 run directly over the same data,
//! as Parquet files and in memory. Every RustyDB answer is checked against
//! DataFusion's over Parquet; `benches/tpch-compare.sh` adds DuckDB.
//!
//! Run: `cargo run --release -p rustydb-benches --bin tpch -- --sf 1`
//! (`--sf 0.1` for a quick run; `--parquet DIR` keeps the generated files,
//! `--queries DIR` defaults to ../shared/tpch/queries). Prints one line per
//! query and a summary; results are recorded in docs/benchmarks.md.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::datasource::MemTable;
use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};
use futures::TryStreamExt;
use parquet::arrow::ArrowWriter;
use rustydb_benches::ThreadTimes;
use rustydb_engine::api::{Database, Session, StatementResult, create_table_sql};

const TABLES: [&str; 8] = ["region", "nation", "supplier", "customer", "part", "partsupp", "orders", "lineitem"];

struct Args {
    sf: f64,
    queries: PathBuf,
    parquet: Option<PathBuf>,
    /// Where to write RustyDB's normalised answers (`qN.txt`) for the
    /// DuckDB check in benches/python/tpch_duckdb.py.
    answers: Option<PathBuf>,
    /// Print EXPLAIN ANALYZE of this query in RustyDB and in DataFusion's
    /// in-memory run, then stop (for looking into a slow query).
    explain: Option<usize>,
    /// Run only the HTAP measurement after loading (`--htap-only 1`).
    htap_only: bool,
    /// Segment cache budget after the restart (MiB); below the data's size,
    /// queries read evicted row groups back from the segment files.
    cache_mb: Option<usize>,
}

fn args() -> Result<Args> {
    let mut a = Args {
        sf: 1.0,
        queries: PathBuf::from("../shared/tpch/queries"),
        parquet: None,
        answers: None,
        explain: None,
        htap_only: false,
        cache_mb: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--sf" => a.sf = value.parse()?,
            "--queries" => a.queries = value.into(),
            "--parquet" => a.parquet = Some(value.into()),
            "--answers" => a.answers = Some(value.into()),
            "--explain" => a.explain = Some(value.parse()?),
            "--htap-only" => a.htap_only = value != "0",
            "--cache-mb" => a.cache_mb = Some(value.parse()?),
            other => bail!("unknown flag {other}"),
        }
    }
    Ok(a)
}

/// Generates one table at scale factor `sf`, strings as Utf8 (what RustyDB
/// stores; DataFusion reads the same Parquet files).
fn generate(table: &str, sf: f64) -> Vec<RecordBatch> {
    use tpchgen::generators as g;
    use tpchgen_arrow as ta;
    let batches: Box<dyn Iterator<Item = Result<RecordBatch, ArrowError>>> = match table {
        "region" => Box::new(ta::RegionArrow::new(g::RegionGenerator::new(sf, 1, 1))),
        "nation" => Box::new(ta::NationArrow::new(g::NationGenerator::new(sf, 1, 1))),
        "supplier" => Box::new(ta::SupplierArrow::new(g::SupplierGenerator::new(sf, 1, 1))),
        "customer" => Box::new(ta::CustomerArrow::new(g::CustomerGenerator::new(sf, 1, 1))),
        "part" => Box::new(ta::PartArrow::new(g::PartGenerator::new(sf, 1, 1))),
        "partsupp" => Box::new(ta::PartSuppArrow::new(g::PartSuppGenerator::new(sf, 1, 1))),
        "orders" => Box::new(ta::OrderArrow::new(g::OrderGenerator::new(sf, 1, 1))),
        "lineitem" => Box::new(ta::LineItemArrow::new(g::LineItemGenerator::new(sf, 1, 1))),
        other => unreachable!("not a TPC-H table: {other}"),
    };
    batches.map(|b| to_utf8(b.expect("tpchgen builds valid batches"))).collect()
}

fn to_utf8(batch: RecordBatch) -> RecordBatch {
    let fields: Vec<Field> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::Utf8View => Field::new(f.name(), DataType::Utf8, f.is_nullable()),
            _ => f.as_ref().clone(),
        })
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(c, f)| cast(c, f.data_type()).expect("utf8view casts"))
        .collect();
    RecordBatch::try_new(schema, columns).expect("same shape")
}

/// Bytes of `table` as dbgen's text files (`.tbl`: one `|`-separated line
/// a row), the form TPC-H data is usually loaded from: the "CSV size" the
/// segments are compared with. Counted as the rows are formatted, not
/// written.
fn tbl_bytes(table: &str, sf: f64) -> u64 {
    use std::fmt::Write;
    use tpchgen::generators as g;
    struct Count(u64);
    impl Write for Count {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            self.0 += s.len() as u64;
            Ok(())
        }
    }
    fn lines<T: std::fmt::Display>(rows: impl Iterator<Item = T>) -> u64 {
        let mut count = Count(0);
        for row in rows {
            writeln!(count, "{row}").expect("counting cannot fail");
        }
        count.0
    }
    match table {
        "region" => lines(g::RegionGenerator::new(sf, 1, 1).iter()),
        "nation" => lines(g::NationGenerator::new(sf, 1, 1).iter()),
        "supplier" => lines(g::SupplierGenerator::new(sf, 1, 1).iter()),
        "customer" => lines(g::CustomerGenerator::new(sf, 1, 1).iter()),
        "part" => lines(g::PartGenerator::new(sf, 1, 1).iter()),
        "partsupp" => lines(g::PartSuppGenerator::new(sf, 1, 1).iter()),
        "orders" => lines(g::OrderGenerator::new(sf, 1, 1).iter()),
        "lineitem" => lines(g::LineItemGenerator::new(sf, 1, 1).iter()),
        other => unreachable!("not a TPC-H table: {other}"),
    }
}

/// Bytes of the files directly in `dir`.
fn dir_bytes(dir: &Path) -> Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        total += entry?.metadata()?.len();
    }
    Ok(total)
}

fn write_parquet(path: &Path, batches: &[RecordBatch]) -> Result<()> {
    let file = std::fs::File::create(path)?;
    let mut w = ArrowWriter::try_new(file, batches[0].schema(), None)?;
    for b in batches {
        w.write(b)?;
    }
    w.close()?;
    Ok(())
}

/// The query's SQL; q15's view becomes a CTE (RustyDB has no views yet), for
/// every engine alike.
fn query_sql(dir: &Path, n: usize) -> Result<String> {
    let text = std::fs::read_to_string(dir.join(format!("q{n}.sql")))?;
    let text: String = text.lines().filter(|l| !l.trim_start().starts_with("--")).collect::<Vec<_>>().join("\n");
    if n != 15 {
        return Ok(text);
    }
    let statements: Vec<&str> = text.split(';').map(str::trim).filter(|s| !s.is_empty()).collect();
    let view = statements[0].strip_prefix("create view").context("q15 starts with a view")?.trim();
    let (name_cols, body) = view.split_once(" as").context("view body")?;
    Ok(format!("with {name_cols} as ({body}) {}", statements[1]))
}

/// Rows as text, numbers rounded to 6 significant digits so the order of
/// float additions does not matter, sorted when the query does not order.
fn normalise(batches: &[RecordBatch], ordered: bool) -> Vec<String> {
    let opts = FormatOptions::default();
    let mut rows = Vec::new();
    for b in batches {
        let fmts: Vec<_> = b.columns().iter().map(|c| ArrayFormatter::try_new(c.as_ref(), &opts).unwrap()).collect();
        for i in 0..b.num_rows() {
            let cells: Vec<String> = fmts
                .iter()
                .map(|f| {
                    let s = f.value(i).to_string();
                    match s.parse::<f64>() {
                        Ok(v) if s.contains('.') => format!("{:.6e}", v),
                        _ => s,
                    }
                })
                .collect();
            rows.push(cells.join("|"));
        }
    }
    if !ordered {
        rows.sort();
    }
    rows
}

async fn run_rustydb(s: &mut Session, sql: &str) -> Result<Vec<RecordBatch>> {
    let mut out = Vec::new();
    for o in s.execute(sql).await? {
        if let StatementResult::Rows { stream, .. } = o {
            out = stream.try_collect().await?;
        }
    }
    Ok(out)
}

async fn run_datafusion(ctx: &SessionContext, sql: &str) -> Result<Vec<RecordBatch>> {
    Ok(ctx.sql(sql).await?.collect().await?)
}

fn df_context() -> SessionContext {
    SessionContext::new_with_config(SessionConfig::new().with_target_partitions(2))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let args = args()?;
    let tmp = tempfile::tempdir()?;
    let pq_dir = args.parquet.clone().unwrap_or_else(|| tmp.path().join("parquet"));
    std::fs::create_dir_all(&pq_dir)?;
    let db_dir = tmp.path().join("rustydb");

    println!("TPC-H SF{} on {} threads", args.sf, std::thread::available_parallelism()?.get());
    let mut data = Vec::new();
    let start = Instant::now();
    for t in TABLES {
        let batches = generate(t, args.sf);
        write_parquet(&pq_dir.join(format!("{t}.parquet")), &batches)?;
        data.push((t, batches));
    }
    let rows: usize = data.iter().flat_map(|(_, b)| b).map(|b| b.num_rows()).sum();
    println!("generated {rows} rows in {:.1} s", start.elapsed().as_secs_f64());

    // RustyDB: create, ingest in transactions of about a million rows (a
    // WAL record holds one transaction; each becomes a segment of about
    // the size a checkpoint makes), checkpoint after each table (writes
    // its segments as Parquet).
    let db = Database::open(&db_dir)?;
    let mut s = db.session();
    let (mut load, mut checkpoint) = (0.0, 0.0);
    for (t, batches) in &data {
        let start = Instant::now();
        s.execute(&create_table_sql(None, t, batches[0].schema().as_ref())?).await?;
        let mut chunk = Vec::new();
        let mut chunk_rows = 0;
        for (i, b) in batches.iter().enumerate() {
            chunk_rows += b.num_rows();
            chunk.push(b.clone());
            if chunk_rows >= 1_000_000 || i + 1 == batches.len() {
                let stream = futures::stream::iter(std::mem::take(&mut chunk).into_iter().map(Ok));
                s.ingest(None, t, Box::pin(stream)).await?;
                chunk_rows = 0;
            }
        }
        load += start.elapsed().as_secs_f64();
        let start = Instant::now();
        s.execute("CHECKPOINT").await?;
        checkpoint += start.elapsed().as_secs_f64();
    }
    // Restart: the manifest's segments are read back; no log to replay.
    drop(s);
    drop(db);
    let start = Instant::now();
    let mut options = rustydb_engine::api::DatabaseOptions::default();
    if let Some(mb) = args.cache_mb {
        options.storage.segment_cache_bytes = mb << 20;
    }
    let db = Database::open_with(&db_dir, options)?;
    println!(
        "RustyDB restart after the checkpoints: {:.1} s (segment cache {} MiB)",
        start.elapsed().as_secs_f64(),
        db.cache_stats().budget >> 20
    );
    let mut s = db.session();
    let (seg_bytes, pq_bytes) = (dir_bytes(&db_dir.join("segments"))?, dir_bytes(&pq_dir)?);
    let tbl: u64 = data.iter().map(|(t, _)| tbl_bytes(t, args.sf)).sum();
    println!(
        "RustyDB ingest {load:.1} s + checkpoints {checkpoint:.1} s ({:.0} rows/s overall), segments {:.1} MB \
         (plain Parquet {:.1} MB, dbgen text {:.1} MB: segments {:.0}% of it)",
        rows as f64 / (load + checkpoint),
        seg_bytes as f64 / 1e6,
        pq_bytes as f64 / 1e6,
        tbl as f64 / 1e6,
        100.0 * seg_bytes as f64 / tbl as f64
    );

    let parquet = df_context();
    let memory = df_context();
    for (t, batches) in &data {
        let path = pq_dir.join(format!("{t}.parquet"));
        parquet.register_parquet(*t, path.to_str().context("utf-8 path")?, ParquetReadOptions::default()).await?;
        memory.register_table(*t, Arc::new(MemTable::try_new(batches[0].schema(), vec![batches.clone()])?))?;
    }

    if let Some(n) = args.explain {
        let sql = format!("EXPLAIN ANALYZE {}", query_sql(&args.queries, n)?);
        for (who, batches) in [
            ("RustyDB", run_rustydb(&mut s, &sql).await?),
            ("DataFusion in memory", run_datafusion(&memory, &sql).await?),
        ] {
            println!("== {who}\n{}", datafusion::arrow::util::pretty::pretty_format_batches(&batches)?);
        }
        return Ok(());
    }
    if args.htap_only {
        return htap(&db, &args.queries).await;
    }
    println!("{:>4} {:>10} {:>10} {:>10} {:>6}", "q", "rustydb_s", "df_pq_s", "df_mem_s", "check");
    let (mut total_r, mut total_p, mut total_m, mut wrong) = (0.0, 0.0, 0.0, 0);
    // RustyDB's first run of each query, which after the restart reads the
    // columns it needs from the segment files.
    let mut first_r = 0.0;
    for n in 1..=22 {
        let sql = query_sql(&args.queries, n)?;
        // Best of three warm runs each, engines interleaved, so neither
        // pays for first touches of memory the other then reuses.
        let (mut r, mut p, mut m) = (f64::MAX, f64::MAX, f64::MAX);
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for _ in 0..3 {
            let t0 = Instant::now();
            ours = run_rustydb(&mut s, &sql).await.with_context(|| format!("RustyDB q{n}"))?;
            if r == f64::MAX {
                first_r += t0.elapsed().as_secs_f64();
            }
            r = r.min(t0.elapsed().as_secs_f64());
            let t0 = Instant::now();
            theirs = run_datafusion(&parquet, &sql).await.with_context(|| format!("DataFusion q{n}"))?;
            p = p.min(t0.elapsed().as_secs_f64());
            let t0 = Instant::now();
            run_datafusion(&memory, &sql).await?;
            m = m.min(t0.elapsed().as_secs_f64());
        }
        let ordered = sql.to_lowercase().contains("order by");
        let answer = normalise(&ours, ordered);
        let same = answer == normalise(&theirs, ordered);
        if let Some(dir) = &args.answers {
            std::fs::create_dir_all(dir)?;
            std::fs::write(dir.join(format!("q{n}.txt")), answer.join("\n"))?;
        }
        wrong += usize::from(!same);
        println!("{n:>4} {r:>10.3} {p:>10.3} {m:>10.3} {:>6}", if same { "ok" } else { "DIFF" });
        (total_r, total_p, total_m) = (total_r + r, total_p + p, total_m + m);
    }
    println!(
        "total {total_r:.2} s RustyDB, {total_p:.2} s DataFusion over Parquet ({:.2}x), {total_m:.2} s DataFusion in memory ({:.2}x); {wrong} answers differ",
        total_r / total_p,
        total_r / total_m
    );
    let cache = db.cache_stats();
    println!(
        "RustyDB first runs {first_r:.2} s; segment cache now {:.0} MiB of {} MiB, {} row-group columns read from files, {} evicted, {} hits",
        cache.bytes as f64 / 1048576.0,
        cache.budget >> 20,
        cache.reads,
        cache.evictions,
        cache.hits
    );
    htap(&db, &args.queries).await?;
    if wrong > 0 {
        bail!("{wrong} answers differ from DataFusion's");
    }
    Ok(())
}

/// Analytic latency (q1 then q6) idle and while a writer commits
/// pgbench-like single-row updates and inserts on another table, and the
/// writer's rate alone and alongside the queries. Once with the writer as
/// fast as one session goes, once held to `THROTTLED_RATE` (pgbench -R).
///
/// Idle and busy runs alternate over `HTAP_ROUNDS` rounds (which goes first
/// alternates too) and medians are reported: on this VM the same idle
/// queries took 0.33 s in one minute and 0.47 s in the next, so a best-of-3
/// idle block followed by a busy block measured mostly that drift.
async fn htap(db: &Arc<Database>, queries: &Path) -> Result<()> {
    /// Transactions a second of the throttled writer.
    const THROTTLED_RATE: u32 = 1000;
    let mut s = db.session();
    s.execute("CREATE TABLE accounts (aid BIGINT PRIMARY KEY, abalance BIGINT)").await?;
    s.execute("INSERT INTO accounts SELECT v, 0 FROM generate_series(1, 100000) AS t(v)").await?;
    s.execute("CREATE TABLE history (aid BIGINT, delta BIGINT)").await?;
    let sqls = [query_sql(queries, 1)?, query_sql(queries, 6)?];
    // Warm: the first run after the restart reads segments into the cache.
    run_all(&mut s, &sqls).await?;
    for rate in [None, Some(THROTTLED_RATE)] {
        htap_at(db, &mut s, &sqls, rate).await?;
    }
    Ok(())
}

/// Rounds of one idle and one busy run each.
const HTAP_ROUNDS: usize = 11;

async fn run_all(s: &mut Session, sqls: &[String]) -> Result<f64> {
    let t0 = Instant::now();
    for q in sqls {
        run_rustydb(s, q).await?;
    }
    Ok(t0.elapsed().as_secs_f64())
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// A writer session committing until `stop`; returns its transactions a second.
async fn writer(db: Arc<Database>, stop: Arc<AtomicBool>, rate: Option<u32>) -> Result<f64> {
    let mut w = db.session();
    let mut n = 0u64;
    let t0 = Instant::now();
    // Ticks of the throttled writer; missed ones are made up at once.
    let mut ticks = rate.map(|r| tokio::time::interval(Duration::from_secs(1) / r));
    while !stop.load(Ordering::Relaxed) {
        if let Some(ticks) = &mut ticks {
            ticks.tick().await;
        }
        let aid = (n * 7919) % 100_000 + 1;
        w.execute(&format!(
            "BEGIN; UPDATE accounts SET abalance = abalance + 1 WHERE aid = {aid}; INSERT INTO history VALUES ({aid}, 1); COMMIT"
        ))
        .await?;
        n += 1;
    }
    Ok(n as f64 / t0.elapsed().as_secs_f64())
}

/// Runs the queries once beside a writer started just before them.
async fn beside_writer(db: &Arc<Database>, s: &mut Session, sqls: &[String], rate: Option<u32>) -> Result<(f64, f64)> {
    let stop = Arc::new(AtomicBool::new(false));
    let w = tokio::spawn(writer(db.clone(), stop.clone(), rate));
    // Let the writer reach its pace before the queries start.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let secs = run_all(s, sqls).await;
    stop.store(true, Ordering::Relaxed);
    let tps = w.await??;
    Ok((secs?, tps))
}

async fn htap_at(db: &Arc<Database>, s: &mut Session, sqls: &[String], rate: Option<u32>) -> Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    let alone = tokio::spawn(writer(db.clone(), stop.clone(), rate));
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    let alone = alone.await??;

    // The query runtime's threads (engine/src/query/runtime.rs): how long they
    // ran, and how long they were runnable but had no core.
    // The others: the writer's session and commits, and the queries'
    // planning, on this process's main runtime.
    let query_threads = || rustydb_benches::thread_times("rustydb-query");
    let all_threads = || rustydb_benches::thread_times("");
    let (mut idle, mut busy, mut ratios, mut shared) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut idle_threads, mut busy_threads) = (ThreadTimes::default(), ThreadTimes::default());
    let (mut others_cpu, mut busy_secs) = (Duration::ZERO, 0.0);
    for round in 0..HTAP_ROUNDS {
        let (mut i, mut b) = (0.0, 0.0);
        for busy_turn in [round % 2 == 0, round % 2 == 1] {
            let before = query_threads();
            if busy_turn {
                let (all_before, t0) = (all_threads(), Instant::now());
                let (secs, tps) = beside_writer(db, s, sqls, rate).await?;
                let queries = query_threads() - before;
                others_cpu += (all_threads() - all_before).on_cpu.saturating_sub(queries.on_cpu);
                busy_secs += t0.elapsed().as_secs_f64();
                busy_threads += queries;
                b = secs;
                shared.push(tps);
            } else {
                i = run_all(s, sqls).await?;
                idle_threads += query_threads() - before;
            }
        }
        idle.push(i);
        busy.push(b);
        ratios.push(b / i);
    }
    let held = rate.map_or("unthrottled".to_owned(), |r| format!("held to {r} tx/s"));
    let (lo, hi) = ratios.iter().fold((f64::MAX, f64::MIN), |(lo, hi), &r| (lo.min(r), hi.max(r)));
    println!(
        "HTAP, writer {held}: q1+q6 median {:.3} s idle, {:.3} s under writes; ratio median {:.2}x (rounds {lo:.2}-{hi:.2}x, {HTAP_ROUNDS} rounds); writer {alone:.0} tx/s alone, {:.0} tx/s beside the queries",
        median(idle),
        median(busy),
        median(ratios),
        median(shared),
    );
    let secs = |d: Duration| d.as_secs_f64();
    println!(
        "HTAP, writer {held}: query threads over all rounds: {:.2} s on a core and {:.2} s waiting for one idle, {:.2} s and {:.2} s under writes",
        secs(idle_threads.on_cpu),
        secs(idle_threads.waiting),
        secs(busy_threads.on_cpu),
        secs(busy_threads.waiting),
    );
    println!(
        "HTAP, writer {held}: the other threads (writer, commits, planning) used {:.2} cores while it ran",
        secs(others_cpu) / busy_secs,
    );
    Ok(())
}
