//! A PostgreSQL server of its own, for the tests and for `leash serve --devnet`: a new cluster in a temporary
//! directory, listening on a free loopback port only, with a random password, stopped (and its directory
//! removed) when dropped.
//!
//! It runs the PostgreSQL installed on the machine (Debian's `postgresql` package: `pg_config --bindir`, else
//! `/usr/lib/postgresql/*/bin`, else `$LEASH_PG_BIN`). `initdb` refuses to run as root, so under root the server
//! runs as the `postgres` user the package creates. On Linux the server is also stopped if the process (thread)
//! that started it dies, so a killed test leaves no server behind.

use rand::RngCore;
use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

/// Where clusters kept between runs live when the server runs as the `postgres` user (under root).
const SHARED_DIR: &str = "/var/lib/leash";

/// Why the server could not be started.
#[derive(Debug, thiserror::Error)]
pub enum PostgresError {
    /// The PostgreSQL programs are not installed.
    #[error(
        "PostgreSQL is not installed: no initdb in `pg_config --bindir`, /usr/lib/postgresql/*/bin or $LEASH_PG_BIN \
         (on Debian or Ubuntu: `apt-get install postgresql`)"
    )]
    NotInstalled,
    /// Running as root, and there is no `postgres` user to run the server as.
    #[error("running as root, and there is no `postgres` user to run PostgreSQL as (initdb refuses root)")]
    NoUser,
    /// A step failed.
    #[error("{step} failed: {reason}")]
    Step {
        /// What was being done.
        step: &'static str,
        /// Why.
        reason: String,
    },
}

fn step(step: &'static str) -> impl FnOnce(std::io::Error) -> PostgresError {
    move |e| PostgresError::Step { step, reason: e.to_string() }
}

/// A running server; dropped, it stops and its files go.
pub struct LocalPostgres {
    child: Option<Child>,
    port: u16,
    password: String,
    root: PathBuf,
    /// Removes a throwaway cluster's directory when dropped.
    _temp: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for LocalPostgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the password.
        f.debug_struct("LocalPostgres").field("port", &self.port).finish_non_exhaustive()
    }
}

impl LocalPostgres {
    /// Creates a cluster in a temporary directory and starts its server (for tests and `--devnet`: gone when
    /// dropped, and run without durability: no fsync).
    pub async fn start() -> Result<Self, PostgresError> {
        let temp = tempfile::Builder::new()
            .prefix("leash-pg-")
            .tempdir()
            .map_err(step("create a directory"))?;
        let root = temp.path().to_path_buf();
        Self::launch(root, Some(temp), false).await
    }

    /// Starts the cluster kept in `root`, creating it there the first time (`leash serve` without a database
    /// URL): durable, and stopped, not removed, when dropped. Its password is kept in `root/password` (0600).
    pub async fn open(root: &Path) -> Result<Self, PostgresError> {
        if let (Ok(Some(_)), Some(parent)) = (server_user(), root.parent()) {
            if parent == Path::new(SHARED_DIR) {
                // Under root the clusters live here; the server's user passes through it to its own only.
                use std::os::unix::fs::PermissionsExt;
                std::fs::create_dir_all(parent).map_err(step("create the directory"))?;
                std::fs::set_permissions(parent, std::fs::Permissions::from_mode(0o711))
                    .map_err(step("open the directory"))?;
            }
        }
        Self::launch(root.to_path_buf(), None, true).await
    }

    /// Where [`open`](Self::open) keeps the cluster of the data directory `home`: in it, or, under root (the
    /// server runs as `postgres`, which cannot enter root's home), in `/var/lib/leash`, named after it.
    pub fn default_dir(home: &Path) -> PathBuf {
        match server_user() {
            Ok(Some(_)) => {
                let digest = alloy::primitives::keccak256(home.to_string_lossy().as_bytes());
                PathBuf::from(format!(
                    "/var/lib/leash/postgres-{}",
                    alloy::hex::encode(&digest[..6])
                ))
            }
            _ => home.join("postgres"),
        }
    }

    async fn launch(
        root: PathBuf,
        temp: Option<tempfile::TempDir>,
        durable: bool,
    ) -> Result<Self, PostgresError> {
        let bin = bin_dir().ok_or(PostgresError::NotInstalled)?;
        let user = server_user()?;
        {
            let mut builder = std::fs::DirBuilder::new();
            std::os::unix::fs::DirBuilderExt::mode(builder.recursive(true), 0o700);
            builder.create(&root).map_err(step("create the directory"))?;
        }
        if user.is_some() {
            // The server's user must pass through the directory to its data (it reads nothing else here).
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o711))
                .map_err(step("open the directory"))?;
        }
        let data = root.join("data");
        let password = match std::fs::read_to_string(root.join("password")) {
            Ok(password) if data.join("PG_VERSION").exists() => password.trim().to_owned(),
            _ => {
                let mut secret = [0u8; 24];
                rand::rngs::OsRng.fill_bytes(&mut secret);
                let password = alloy::hex::encode(secret);
                private_file(&root.join("password"), &password)?;
                initdb(&bin, user, &root, &data, &password, durable)?;
                password
            }
        };
        let port = free_port().map_err(step("find a free port"))?;
        let log_path = root.join("server.log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(step("open the log"))?;
        if let Some((uid, gid)) = user {
            std::os::unix::fs::chown(&log_path, Some(uid), Some(gid))
                .map_err(step("hand over the log"))?;
        }
        let mut command = as_user(Command::new(bin.join("postgres")), user);
        command
            .arg("-D")
            .arg(&data)
            .args([
                "-p",
                &port.to_string(),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "unix_socket_directories=",
            ])
            .args(["-c", "max_connections=200"]);
        if !durable {
            // A throwaway server: no durability across power loss.
            command.args([
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ]);
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(step("start postgres"))?;
        let server = Self { child: Some(child), port, password, root, _temp: temp };
        server.wait_ready().await?;
        Ok(server)
    }

    /// Creates database `name` if it does not exist yet, and returns its URL.
    pub async fn ensure_database(&self, name: &str) -> Result<String, PostgresError> {
        use sqlx::Connection;
        let mut admin = sqlx::PgConnection::connect(&self.url("postgres"))
            .await
            .map_err(|e| PostgresError::Step { step: "connect", reason: e.to_string() })?;
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                .bind(name)
                .fetch_one(&mut admin)
                .await
                .map_err(|e| PostgresError::Step {
                    step: "list databases",
                    reason: e.to_string(),
                })?;
        if exists {
            return Ok(self.url(name));
        }
        self.create_database(name).await
    }

    /// The URL of database `name` (created by [`create_database`](Self::create_database); `postgres` exists).
    pub fn url(&self, name: &str) -> String {
        format!("postgres://leash:{}@127.0.0.1:{}/{name}", self.password, self.port)
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Creates an empty database and returns its URL.
    pub async fn create_database(&self, name: &str) -> Result<String, PostgresError> {
        use sqlx::Connection;
        let mut admin = sqlx::PgConnection::connect(&self.url("postgres"))
            .await
            .map_err(|e| PostgresError::Step { step: "connect", reason: e.to_string() })?;
        sqlx::query(&format!("CREATE DATABASE \"{}\"", name.replace('"', "")))
            .execute(&mut admin)
            .await
            .map_err(|e| PostgresError::Step { step: "create database", reason: e.to_string() })?;
        Ok(self.url(name))
    }

    /// The server's log so far (for a test's failure message).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.root.join("server.log")).unwrap_or_default()
    }

    async fn wait_ready(&self) -> Result<(), PostgresError> {
        use sqlx::Connection;
        // The server accepts connections once recovery and start-up are done; it says so by accepting one.
        let mut last = String::new();
        for _ in 0..300 {
            match sqlx::PgConnection::connect(&self.url("postgres")).await {
                Ok(connection) => {
                    let _ = connection.close().await;
                    return Ok(());
                }
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(PostgresError::Step {
            step: "wait for the server",
            reason: format!("{last}\n{}", self.log()),
        })
    }
}

impl Drop for LocalPostgres {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGINT: PostgreSQL's fast shutdown (ends sessions, no checkpoint wait).
            #[cfg(unix)]
            unsafe {
                libc::kill(child.id() as libc::pid_t, libc::SIGINT);
            }
            for _ in 0..100 {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Writes `text` to a new file readable by its owner only, from its creation.
fn private_file(path: &Path, text: &str) -> Result<(), PostgresError> {
    use std::{io::Write, os::unix::fs::OpenOptionsExt};
    let _ = std::fs::remove_file(path);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(step("write a private file"))?;
    file.write_all(text.as_bytes()).map_err(step("write a private file"))
}

/// Creates the cluster in `data`, its superuser `leash` with `password`.
fn initdb(
    bin: &Path,
    user: Option<(u32, u32)>,
    root: &Path,
    data: &Path,
    password: &str,
    durable: bool,
) -> Result<(), PostgresError> {
    let _ = std::fs::remove_dir_all(data);
    let pwfile = root.join("initdb-password");
    private_file(&pwfile, password)?;
    if let Some((uid, gid)) = user {
        // initdb, run as the server's user, reads the password from a file only it can read.
        std::os::unix::fs::chown(&pwfile, Some(uid), Some(gid))
            .map_err(step("hand over the password"))?;
        std::fs::create_dir(data).map_err(step("create the data directory"))?;
        std::os::unix::fs::chown(data, Some(uid), Some(gid))
            .map_err(step("hand over the data directory"))?;
    }
    let mut command = as_user(Command::new(bin.join("initdb")), user);
    command.arg("-D").arg(data).args([
        "-U",
        "leash",
        "--auth=scram-sha-256",
        "--encoding=UTF8",
        "--no-locale",
    ]);
    if !durable {
        command.arg("--no-sync");
    }
    let output = command
        .arg(format!("--pwfile={}", pwfile.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(step("run initdb"));
    let _ = std::fs::remove_file(&pwfile);
    let output = output?;
    if !output.status.success() {
        return Err(PostgresError::Step {
            step: "initdb",
            reason: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    Ok(())
}

/// Where the server programs are.
fn bin_dir() -> Option<PathBuf> {
    let has_initdb = |dir: &Path| dir.join("initdb").is_file();
    if let Some(dir) = std::env::var_os("LEASH_PG_BIN").map(PathBuf::from) {
        return has_initdb(&dir).then_some(dir);
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success() && has_initdb(&dir) {
            return Some(dir);
        }
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|d| has_initdb(d))
        .collect();
    versions.sort();
    versions.pop()
}

/// Under root, the `postgres` user's ids; otherwise none (the server runs as the caller).
fn server_user() -> Result<Option<(u32, u32)>, PostgresError> {
    // SAFETY: getuid has no preconditions; getpwnam returns a pointer into static storage, read at once.
    unsafe {
        if libc::getuid() != 0 {
            return Ok(None);
        }
        let entry = libc::getpwnam(c"postgres".as_ptr());
        if entry.is_null() {
            return Err(PostgresError::NoUser);
        }
        Ok(Some(((*entry).pw_uid, (*entry).pw_gid)))
    }
}

fn as_user(mut command: Command, user: Option<(u32, u32)>) -> Command {
    use std::os::unix::process::CommandExt;
    if let Some((uid, gid)) = user {
        command.uid(uid).gid(gid);
        command.env("HOME", "/tmp");
    }
    #[cfg(target_os = "linux")]
    // SAFETY: prctl is async-signal-safe; the closure allocates nothing. It runs after the user change, which
    // would otherwise clear the setting.
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGQUIT);
            Ok(())
        });
    }
    command
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
