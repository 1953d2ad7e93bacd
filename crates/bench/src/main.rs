//! `daftar-bench --tier fast|full [--out DIR]`: runs B1–B12 and writes `report.md`,
//! `report.json` and `growth.svg` into DIR (default `bench-results/`), printing the table.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Parser;
use daftar_bench::{BenchTier, Options};

#[derive(Parser)]
#[command(
    name = "daftar-bench",
    about = "Daftar's benchmarks B1–B12, as ratios against baselines measured in the same run"
)]
struct Args {
    /// fast: reduced sizes, under a minute in a debug build; full: the brief's sizes (use a
    /// release build).
    #[arg(long, default_value = "fast")]
    tier: String,
    /// Folder for report.md, report.json and growth.svg.
    #[arg(long, default_value = "bench-results")]
    out: PathBuf,
    /// Folder for the temporary databases (default: the system temp folder).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Run only these scenarios (B1 … B12), comma-separated.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Seed of every generator.
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    /// Admin URL of a PostgreSQL cluster for B12 (a database is created per run), e.g.
    /// postgres://daftar@127.0.0.1:55432/postgres
    #[arg(long, env = "DAFTAR_BENCH_POSTGRES")]
    postgres: Option<String>,
    /// B11 only: also run the reference peer on the same documents in the same run.
    /// `automerge-repo`: automerge-repo's sync server from its npm package (needs Node and
    /// npm; installs `crates/bench/peer/automerge-repo` with `npm ci` on first use).
    #[arg(long)]
    peer: Option<String>,
    /// Program to run B5's client with (default: this executable); e.g. a script that runs
    /// it under `valgrind --tool=callgrind` to profile the first replica.
    #[arg(long)]
    helper_exe: Option<PathBuf>,
    #[command(subcommand)]
    helper: Option<Helper>,
}

#[derive(clap::Subcommand)]
enum Helper {
    /// (internal) B5's client in a process of its own: replicate from a server, print JSON.
    #[command(hide = true)]
    Replicate {
        #[arg(long)]
        server: String,
        #[arg(long)]
        user: String,
        #[arg(long)]
        db: PathBuf,
    },
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,daftar_bench=info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    if let Some(Helper::Replicate { server, user, db }) = args.helper {
        let out = daftar_bench::scenarios::replicate::replicate_helper(&server, &user, &db)?;
        println!("{}", serde_json::to_string(&out)?);
        return Ok(());
    }
    let Some(tier) = BenchTier::parse(&args.tier) else {
        bail!("--tier must be fast or full, not {:?}", args.tier);
    };
    let mut opts = Options::new(tier);
    opts.out = Some(args.out.clone());
    opts.work_dir = args.work_dir;
    opts.only = args.only;
    opts.seed = args.seed;
    opts.postgres = args.postgres;
    opts.peer = match args.peer.as_deref() {
        None => None,
        Some(p) => match daftar_bench::peer::Peer::parse(p) {
            Some(p) => Some(p),
            None => bail!("--peer knows automerge-repo, not {p:?}"),
        },
    };
    opts.helper_exe = args.helper_exe.or_else(|| std::env::current_exe().ok());
    opts.command = std::env::args().collect::<Vec<_>>().join(" ");
    let report = daftar_bench::run(&opts)?;
    println!("{}", report.to_markdown());
    println!(
        "Wrote {}/report.md, report.json and growth.svg",
        args.out.display()
    );
    if !report.all_checks_passed() {
        bail!("a correctness check failed: its figures are not reported");
    }
    Ok(())
}
