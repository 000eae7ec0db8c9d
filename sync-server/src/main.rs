//! `sync-server serve | token`: see `--help`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::http::HeaderValue;
use clap::{Parser, Subcommand, ValueEnum};
use sync_server::store::cassandra::{CassandraConfig, CassandraStore, Replication};
use sync_server::store::embedded::EmbeddedStore;
use sync_server::store::redis_cache::{CacheConfig, RedisCache};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(version, about = "One region of the offline-first cart service")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve one region.
    Serve(Box<Serve>),
    /// Print a bearer token for a user (and device), for tests and the demo.
    Token(Token),
}

#[derive(Clone, Copy, ValueEnum)]
enum StoreKind {
    /// redb in --data-dir: runs anywhere with no set-up.
    Embedded,
    /// Apache Cassandra: this region's datacenter of a multi-datacenter cluster.
    Cassandra,
}

#[derive(clap::Args)]
struct Serve {
    /// Address to listen on.
    #[arg(long, env = "CART_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// This region's name, e.g. us-west.
    #[arg(long, env = "CART_REGION", default_value = "us-west")]
    region: String,
    /// Directory of the embedded store.
    #[arg(long, env = "CART_DATA_DIR", default_value = "data/us-west")]
    data_dir: PathBuf,
    /// Which store to use.
    #[arg(long, env = "CART_STORE", value_enum, default_value = "embedded")]
    store: StoreKind,
    /// Base URL of a peer region (repeat for each), for replication without a database.
    #[arg(long = "peer", env = "CART_PEERS", value_delimiter = ',')]
    peers: Vec<String>,
    /// Secret that signs bearer tokens; every region of a deployment shares it.
    #[arg(long, env = "CART_TOKEN_SECRET")]
    token_secret: String,
    /// Cassandra nodes to contact first (host:port), for --store cassandra.
    #[arg(
        long,
        env = "CART_CASSANDRA_CONTACT_POINTS",
        value_delimiter = ',',
        default_value = "127.0.0.1:9042"
    )]
    cassandra_contact_points: Vec<String>,
    /// This region's Cassandra datacenter (default: the region's name). A name the
    /// cluster does not have stops the server at start.
    #[arg(long, env = "CART_CASSANDRA_LOCAL_DC")]
    cassandra_local_dc: Option<String>,
    /// The keyspace (created when missing).
    #[arg(long, env = "CART_CASSANDRA_KEYSPACE", default_value = "offline_cart")]
    cassandra_keyspace: String,
    /// Replication of a keyspace this creates: DC:FACTOR,... (default: the local DC, 1).
    #[arg(long, env = "CART_CASSANDRA_REPLICATION")]
    cassandra_replication: Option<Replication>,
    /// Send requests to other datacenters when the local one cannot answer. Off: the
    /// region answers 503 with Retry-After and acknowledges nothing it could not store.
    #[arg(long, env = "CART_CASSANDRA_DC_FAILOVER")]
    cassandra_dc_failover: bool,
    /// A Redis cache in front of the store (redis://HOST:PORT): device reads are served
    /// from it when it holds all the device has seen. Off by default.
    #[arg(long, env = "CART_CACHE")]
    cache: Option<String>,
    /// How long a cached cart may be served after the store last gave it: the bound on
    /// how late a change replicated from another region reaches this region's readers.
    #[arg(long, env = "CART_CACHE_FRESH_FOR", default_value = "5s", value_parser = humantime::parse_duration)]
    cache_fresh_for: std::time::Duration,
    /// Prefix of the cache's keys, so that several deployments can share one Redis.
    #[arg(long, env = "CART_CACHE_PREFIX", default_value = "offline-cart:")]
    cache_prefix: String,
    /// Directory of static files (the web demo) to serve at `/`, beside the API.
    #[arg(long, env = "CART_WEB_ROOT")]
    web_root: Option<PathBuf>,
    /// Origin (scheme://host[:port]) whose pages may call this API (repeat for each), so
    /// a page served by one region can sync with the other.
    #[arg(long = "allow-origin", env = "CART_ALLOW_ORIGINS", value_delimiter = ',',
          value_parser = sync_server::app::parse_origin)]
    allow_origins: Vec<HeaderValue>,
    /// Hand a token for any user to anyone at POST /api/v1/demo/token. For the demo
    /// only: never turn it on in production.
    #[arg(long, env = "CART_DEMO_TOKENS")]
    demo_tokens: bool,
}

#[derive(clap::Args)]
struct Token {
    /// The user the token is for.
    #[arg(long)]
    user: String,
    /// The device's replica id (a UUID), for a device that syncs.
    #[arg(long)]
    device: Option<String>,
    /// Validity in seconds.
    #[arg(long, default_value_t = 7 * 24 * 3600)]
    ttl: u64,
    /// Secret that signs bearer tokens.
    #[arg(long, env = "CART_TOKEN_SECRET")]
    token_secret: String,
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tower_http=warn".into()),
        )
        .init();
    let outcome = match Cli::parse().command {
        Command::Token(args) => token(&args),
        Command::Serve(args) => serve(*args),
    };
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn token(args: &Token) -> Result<(), String> {
    let device = args
        .device
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(|e: cart_core::ReplicaIdError| format!("--device: {e}"))?;
    let auth =
        sync_server::auth::Auth::new(&args.token_secret).map_err(|e| format!("--token-secret: {e}"))?;
    println!("{}", auth.issue(&args.user, device, args.ttl).map_err(|e| e.message)?);
    Ok(())
}

fn serve(args: Serve) -> Result<(), String> {
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        let store: Arc<dyn sync_server::store::CartStore> = match args.store {
            StoreKind::Embedded => Arc::new(
                EmbeddedStore::open(&args.data_dir)
                    .map_err(|e| format!("--data-dir {}: {e}", args.data_dir.display()))?,
            ),
            StoreKind::Cassandra => {
                let local_dc = args.cassandra_local_dc.clone().unwrap_or_else(|| args.region.clone());
                let mut config =
                    CassandraConfig::new(args.cassandra_contact_points.clone(), &local_dc, &args.region);
                config.keyspace.clone_from(&args.cassandra_keyspace);
                if let Some(Replication(replication)) = &args.cassandra_replication {
                    config.replication.clone_from(replication);
                }
                config.dc_failover = args.cassandra_dc_failover;
                Arc::new(
                    CassandraStore::connect(config).await.map_err(|e| format!("--store cassandra: {e}"))?,
                )
            }
        };
        let store: Arc<dyn sync_server::store::CartStore> = match &args.cache {
            None => store,
            Some(url) => {
                if args.cache_fresh_for.is_zero() {
                    return Err("--cache-fresh-for: must be more than zero".into());
                }
                let mut config = CacheConfig::new(url);
                config.fresh_for = args.cache_fresh_for;
                config.prefix.clone_from(&args.cache_prefix);
                tracing::info!(url = %url, fresh_for = ?config.fresh_for, "Redis cache in front of the store");
                Arc::new(RedisCache::new(store, config).map_err(|e| format!("--cache {url}: {e}"))?)
            }
        };
        if let Some(dir) = &args.web_root
            && !dir.is_dir()
        {
            return Err(format!("--web-root {}: not a directory", dir.display()));
        }
        if args.demo_tokens {
            tracing::warn!("--demo-tokens is on: anyone can get a token for any cart; never in production");
        }
        let options = sync_server::app::Options {
            web_root: args.web_root.clone(),
            allow_origins: args.allow_origins.clone(),
            demo_tokens: args.demo_tokens,
        };
        let state = sync_server::build(&args.region, store, &args.peers, &args.token_secret)
            .map_err(|e| format!("--{}: {}", e.field.unwrap_or_default().replace('_', "-"), e.message))?;
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|e| format!("--listen {}: {e}", args.listen))?;
        let local = listener.local_addr().map_err(|e| e.to_string())?;
        tracing::info!(region = %args.region, address = %local, peers = ?args.peers, "serving");
        println!("region {} listening on http://{local}", args.region);
        let region = state.region.clone();
        axum::serve(listener, sync_server::app::app_with(state, &options))
            .with_graceful_shutdown(async move {
                shutdown().await;
                region.events.close();
            })
            .await
            .map_err(|e| e.to_string())
    })
}

async fn shutdown() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
