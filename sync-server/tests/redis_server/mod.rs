//! A real Redis (Debian's `redis-server`, installed by `scripts/setup.sh`) on a free
//! loopback port, started and stopped by the test that needs it.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Redis {
    pub port: u16,
    child: Option<Child>,
    dir: tempfile::TempDir,
}

impl Redis {
    /// Starts a Redis with no persistence on a free port; waits until it answers.
    pub async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut redis = Self { port, child: None, dir: tempfile::tempdir().unwrap() };
        redis.restart().await;
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts it again on the same port (after [`Redis::kill`]): empty, as after a crash.
    pub async fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args([
                "--bind",
                "127.0.0.1",
                "--port",
                &self.port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(["--enable-debug-command", "yes", "--dir"])
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("redis-server cannot start ({e}); run scripts/setup.sh"));
        self.child = Some(child);
        let started = Instant::now();
        loop {
            if self.command(&["PING"]).await.is_ok() {
                return;
            }
            assert!(started.elapsed() < Duration::from_secs(10), "redis-server did not answer within 10 s");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Kills it (SIGKILL): what a crash does.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// One command on a fresh connection.
    pub async fn command(&self, args: &[&str]) -> redis::RedisResult<redis::Value> {
        self.command_bytes(&args.iter().map(|a| a.as_bytes().to_vec()).collect::<Vec<_>>()).await
    }

    pub async fn command_bytes(&self, args: &[Vec<u8>]) -> redis::RedisResult<redis::Value> {
        let client = redis::Client::open(self.url())?;
        let mut connection = client.get_multiplexed_async_connection().await?;
        let mut cmd = redis::Cmd::new();
        for a in args {
            cmd.arg(a.as_slice());
        }
        cmd.query_async(&mut connection).await
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}
