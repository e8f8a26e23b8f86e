//! Finding, starting and stopping the anvil process.
//!
//! The pinned toolchain installs anvil through npm: `node_modules/.bin/anvil` is a Node launcher that starts
//! the real binary from the platform package (`node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil`). The
//! devnet runs that binary directly: it starts in a third of the time, and there is no launcher in between
//! that would keep running (or leave anvil running) when the devnet's process is killed.
//!
//! anvil listens on a port the operating system picks (`--port 0`) unless a port is asked for, and says which
//! on stdout; reading it back is free of the race that "find a free port, then start" has when many tests
//! start devnets at once.

use std::{
    collections::VecDeque,
    ffi::OsString,
    io::{BufRead, BufReader, Read},
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{mpsc, Arc, Mutex, OnceLock},
    thread,
    time::{Duration, Instant},
};

use crate::error::{DevnetError, Result};

/// The environment variable that names the anvil binary to run, before any search.
pub const ANVIL_ENV: &str = "LEASH_ANVIL";

/// How much of anvil's stderr is kept for error messages.
const STDERR_KEEP: usize = 8 * 1024;

/// How long a stopping anvil gets to exit after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(2);

/// Finds the anvil binary: `explicit` (the builder's setting), else [`ANVIL_ENV`], else the pinned toolchain's
/// `node_modules` searched from the current directory upward, then from this crate's source directory upward.
pub(crate) fn find_anvil(explicit: Option<&Path>) -> Result<PathBuf> {
    let configured = explicit
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os(ANVIL_ENV).filter(|v| !v.is_empty()).map(PathBuf::from));
    if let Some(path) = configured {
        if !path.is_file() {
            return Err(DevnetError::AnvilMissingAt { path });
        }
        // `.../node_modules/.bin/anvil` is the Node launcher: prefer the binary it would start.
        let modules = path.parent().filter(|dir| dir.ends_with(".bin")).and_then(Path::parent);
        let native = modules.filter(|dir| dir.ends_with("node_modules")).and_then(in_node_modules);
        return Ok(native.unwrap_or(path));
    }

    let mut searched = Vec::new();
    let starts = [std::env::current_dir().ok(), Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")))];
    for start in starts.into_iter().flatten() {
        for dir in start.ancestors() {
            let modules = dir.join("node_modules");
            if let Some(found) = in_node_modules(&modules) {
                return Ok(found);
            }
            if !searched.contains(&modules) {
                searched.push(modules);
            }
        }
    }
    let searched = searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ");
    Err(DevnetError::AnvilNotFound { searched })
}

/// The anvil in one `node_modules` folder: the platform binary if npm installed it, else the launcher.
fn in_node_modules(modules: &Path) -> Option<PathBuf> {
    let native = platform_package()
        .map(|package| modules.join("@foundry-rs").join(package).join("bin").join(binary_name()));
    let launcher = modules.join(".bin").join(binary_name());
    native.into_iter().chain([launcher]).find(|p| p.is_file())
}

/// The npm package that carries anvil's binary for this platform (`anvil-linux-amd64`, ...).
fn platform_package() -> Option<String> {
    let os = match std::env::consts::OS {
        "linux" => "linux",
        "macos" => "darwin",
        "windows" => "win32",
        _ => return None,
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        _ => return None,
    };
    Some(format!("anvil-{os}-{arch}"))
}

fn binary_name() -> &'static str {
    if cfg!(windows) {
        "anvil.exe"
    } else {
        "anvil"
    }
}

/// What anvil printed before it started serving.
#[derive(Debug)]
pub(crate) struct Banner {
    /// Where the RPC server listens.
    pub(crate) listen: SocketAddr,
    /// The dev accounts' private keys, hex, in anvil's order.
    pub(crate) private_keys: Vec<String>,
}

/// A running anvil. Dropping it stops anvil (SIGTERM, then SIGKILL after [`STOP_GRACE`]) and reaps it.
#[derive(Debug)]
pub(crate) struct AnvilProcess {
    child: Child,
    stderr: Arc<Mutex<VecDeque<u8>>>,
    stderr_reader: Option<thread::JoinHandle<()>>,
}

impl AnvilProcess {
    /// Starts `path` with `args` and returns at once with the process and a receiver for its banner; the
    /// receiver errs when anvil's stdout closes before it says where it listens (it exited).
    pub(crate) fn spawn(
        path: &Path,
        args: &[OsString],
    ) -> Result<(Self, tokio::sync::oneshot::Receiver<Result<Banner>>)> {
        let mut command = Command::new(path);
        command.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        die_with_parent(&mut command);

        let mut child = spawn_from_long_lived_thread(command)
            .map_err(|source| DevnetError::Spawn { path: path.to_path_buf(), source })?;
        let pid = child.id();
        tracing::debug!(pid, path = %path.display(), "started anvil");

        let stdout = child.stdout.take();
        let stderr_pipe = child.stderr.take();
        let stderr = Arc::new(Mutex::new(VecDeque::with_capacity(STDERR_KEEP)));
        let mut process = Self { child, stderr: stderr.clone(), stderr_reader: None };

        let (banner_tx, banner_rx) = tokio::sync::oneshot::channel();
        let stdout =
            stdout.ok_or_else(|| DevnetError::UnexpectedOutput("anvil has no stdout".into()))?;
        thread::Builder::new()
            .name(format!("anvil-{pid}-stdout"))
            .spawn(move || read_stdout(stdout, banner_tx))
            .map_err(|source| DevnetError::Spawn { path: path.to_path_buf(), source })?;
        if let Some(pipe) = stderr_pipe {
            let reader = thread::Builder::new()
                .name(format!("anvil-{pid}-stderr"))
                .spawn(move || read_stderr(pipe, &stderr))
                .map_err(|source| DevnetError::Spawn { path: path.to_path_buf(), source })?;
            process.stderr_reader = Some(reader);
        }
        Ok((process, banner_rx))
    }

    /// The operating system's id of the anvil process.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// After anvil's stdout closed early: waits for it to exit and says how, with its stderr.
    pub(crate) fn exited_error(&mut self) -> DevnetError {
        let deadline = Instant::now() + STOP_GRACE;
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break status.to_string(),
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(5)),
                Ok(None) => break "closed its stdout but is still running".to_string(),
                Err(e) => break format!("unknown: {e}"),
            }
        };
        if let Some(reader) = self.stderr_reader.take() {
            let _ = reader.join();
        }
        let stderr = self
            .stderr
            .lock()
            .map(|buf| buf.iter().copied().collect::<Vec<u8>>())
            .unwrap_or_default();
        let stderr = String::from_utf8_lossy(&stderr).trim().to_string();
        let stderr = if stderr.is_empty() { "(empty)".to_string() } else { stderr };
        DevnetError::AnvilExited { status, stderr }
    }

    fn stop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        if terminate(&self.child) {
            let deadline = Instant::now() + STOP_GRACE;
            while Instant::now() < deadline {
                if matches!(self.child.try_wait(), Ok(Some(_))) {
                    return;
                }
                thread::sleep(Duration::from_millis(2));
            }
            tracing::warn!(pid = self.child.id(), "anvil ignored SIGTERM; killing it");
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for AnvilProcess {
    fn drop(&mut self) {
        self.stop();
        tracing::debug!(pid = self.child.id(), "stopped anvil");
    }
}

/// Asks the process to exit (SIGTERM), so anvil can finish what it writes (a `--dump-state`, say). Returns
/// whether the signal was sent; without signals the caller kills at once.
#[cfg(unix)]
fn terminate(child: &Child) -> bool {
    let Ok(pid) = libc::pid_t::try_from(child.id()) else { return false };
    // SAFETY: `kill` has no memory-safety preconditions; `pid` is our own child, not yet reaped (reaping
    // happens only in `stop`), so the id cannot have been reused by another process.
    unsafe { libc::kill(pid, libc::SIGTERM) == 0 }
}

#[cfg(not(unix))]
fn terminate(_child: &Child) -> bool {
    false
}

/// On Linux, makes the kernel SIGKILL anvil when the thread that started it exits, which for this crate is
/// when the whole process exits (see [`spawn_from_long_lived_thread`]): a test that panics, is killed with
/// SIGKILL or interrupted leaves no anvil behind. Elsewhere only `Drop` stops anvil.
#[cfg(target_os = "linux")]
fn die_with_parent(command: &mut Command) {
    use std::os::unix::process::CommandExt;

    let parent = libc::pid_t::try_from(std::process::id()).unwrap_or(0);
    // SAFETY: the closure runs in the forked child before exec and only makes async-signal-safe system
    // calls (prctl, getppid); it allocates nothing (the errors are built from raw OS codes).
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl; then no signal would ever come.
            if libc::getppid() != parent {
                return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_command: &mut Command) {}

type SpawnRequest = (Command, mpsc::Sender<std::io::Result<Child>>);

/// Spawns `command` from a thread that lives as long as the process.
///
/// `PR_SET_PDEATHSIG` fires when the *thread* that forked the child exits, not the process. Test harnesses
/// and async runtimes end threads all the time (a test's thread when the test ends, a runtime's blocking
/// threads when idle), and a devnet shared between tests outlives the thread that started it; so every anvil
/// is forked by one thread that never exits.
fn spawn_from_long_lived_thread(command: Command) -> std::io::Result<Child> {
    static SPAWNER: OnceLock<std::io::Result<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        thread::Builder::new().name("leash-devnet-spawner".into()).spawn(move || {
            for (mut command, reply) in rx {
                let _ = reply.send(command.spawn());
            }
        })?;
        Ok(tx)
    });
    let spawner = spawner.as_ref().map_err(|e| std::io::Error::new(e.kind(), e.to_string()))?;
    let (reply_tx, reply_rx) = mpsc::channel();
    spawner
        .send((command, reply_tx))
        .map_err(|_| std::io::Error::other("the devnet spawner thread is gone"))?;
    reply_rx.recv().map_err(|_| std::io::Error::other("the devnet spawner thread is gone"))?
}

/// Reads anvil's start-up banner (dev keys, then "Listening on ..."), reports it, then drains stdout for the
/// rest of anvil's life so anvil never blocks on a full pipe; later lines go to `tracing` at trace level.
fn read_stdout(stdout: impl Read, banner: tokio::sync::oneshot::Sender<Result<Banner>>) {
    let mut lines = BufReader::new(stdout).lines();
    let mut private_keys = Vec::new();
    let mut in_keys = false;
    let mut banner = Some(banner);
    for line in lines.by_ref() {
        let Ok(line) = line else { break };
        let line = line.trim();
        if line == "Private Keys" {
            in_keys = true;
            continue;
        }
        if in_keys {
            match line.strip_prefix('(').and_then(|rest| rest.split_once(") ")) {
                Some((_, key)) => private_keys.push(key.trim().to_string()),
                None if line.is_empty() || line.starts_with('=') => {}
                None => in_keys = false,
            }
        }
        if let Some(addr) = line.strip_prefix("Listening on ") {
            let result = addr
                .trim()
                .parse::<SocketAddr>()
                .map(|listen| Banner { listen, private_keys: std::mem::take(&mut private_keys) })
                .map_err(|e| {
                    DevnetError::UnexpectedOutput(format!("listen address {addr:?}: {e}"))
                });
            if let Some(banner) = banner.take() {
                let _ = banner.send(result);
            }
            break;
        }
    }
    // Dropping an unsent `banner` tells the starter that anvil exited before it listened.
    drop(banner);
    for line in lines {
        let Ok(line) = line else { break };
        tracing::trace!(target: "leash_devnet::anvil", "{line}");
    }
}

/// Keeps the last [`STDERR_KEEP`] bytes of anvil's stderr for error messages.
fn read_stderr(mut pipe: impl Read, keep: &Mutex<VecDeque<u8>>) {
    let mut chunk = [0u8; 4096];
    loop {
        match pipe.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                tracing::debug!(target: "leash_devnet::anvil", "{}", String::from_utf8_lossy(&chunk[..n]).trim_end());
                if let Ok(mut buf) = keep.lock() {
                    buf.extend(&chunk[..n]);
                    let excess = buf.len().saturating_sub(STDERR_KEEP);
                    buf.drain(..excess);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_banner() {
        let out = "\n Available Accounts\n==================\n\n(0) 0xf39F (10000.000000000000000000 ETH)\n\n\
                   Private Keys\n==================\n\n(0) 0xaa\n(1) 0xbb\n\nWallet\n==================\n\
                   Mnemonic:          test test\n\nListening on 127.0.0.1:40123\neth_chainId\n";
        let (tx, mut rx) = tokio::sync::oneshot::channel();
        read_stdout(out.as_bytes(), tx);
        let banner = rx.try_recv().expect("a banner was sent").expect("the banner parses");
        assert_eq!(banner.listen, "127.0.0.1:40123".parse().expect("valid address"));
        assert_eq!(banner.private_keys, ["0xaa", "0xbb"]);
    }

    #[test]
    fn closed_stdout_means_exited() {
        let (tx, mut rx) = tokio::sync::oneshot::channel();
        read_stdout("error: unexpected argument '--nope'\n".as_bytes(), tx);
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn the_node_launcher_is_replaced_by_the_binary_it_starts() {
        let modules = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../node_modules");
        let launcher = modules.join(".bin").join(binary_name());
        let Some(native) = platform_package()
            .map(|package| {
                modules.join("@foundry-rs").join(package).join("bin").join(binary_name())
            })
            .filter(|native| launcher.is_file() && native.is_file())
        else {
            return; // no toolchain installed here (`make toolchain`)
        };
        assert_eq!(find_anvil(Some(&launcher)).expect("the launcher exists"), native);
    }

    #[test]
    fn a_missing_configured_path_is_reported() {
        let err =
            find_anvil(Some(Path::new("/nonexistent/anvil"))).expect_err("the path does not exist");
        assert!(matches!(err, DevnetError::AnvilMissingAt { .. }), "{err}");
    }
}
