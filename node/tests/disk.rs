//! Disk failures through the real binary, on small tmpfs mounts: a node whose
//! disk fills up while it mines stops by itself with a clear error and a
//! non-zero exit code, and its store is intact (it verifies against a replay
//! of its chain, and the node starts again) once space is freed; a node on a
//! full or read-only data directory refuses to start with a clear error and
//! changes nothing.
//!
//! Mounting needs root (CI runs as root). Without it the tests say so on
//! stderr and pass without checking anything: there is no other way to make
//! writes fail for root, and no way to mount without it.
//! `RUMOR_RELIABILITY_OUT=DIR` writes the outcome to `DIR/disk.json`.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{base_args, run_to_exit, start, start_with, wait_until};

fn rumord() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_rumord"))
}

/// A tmpfs mounted on a directory, unmounted on drop.
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (e.g. `8m`) on `dir`, or says why it cannot.
    fn mount(dir: &Path, size: &str) -> Result<Self, String> {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if out.status.success() {
            Ok(Self {
                dir: dir.to_owned(),
            })
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
        }
    }

    fn remount(&self, opts: &str) {
        let ok = Command::new("mount")
            .args(["-o", &format!("remount,{opts}")])
            .arg(&self.dir)
            .status()
            .expect("mount -o remount")
            .success();
        assert!(ok, "remount {opts} failed");
    }

    /// Fills the free space with a file; returns its path.
    fn fill(&self) -> PathBuf {
        let mut n = 0;
        while self.dir.join(format!("filler{n}")).exists() {
            n += 1;
        }
        let path = self.dir.join(format!("filler{n}"));
        let mut f = std::fs::File::create(&path).expect("filler");
        let chunk = vec![0xa5u8; 64 * 1024];
        while f.write_all(&chunk).is_ok() {}
        let small = [0u8; 512];
        while f.write_all(&small).is_ok() {}
        let _ = f.sync_all();
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}

fn skipped(test: &str, why: &str) {
    eprintln!(
        "SKIPPED {test}: cannot mount a tmpfs here ({why}); run as root to test disk failures"
    );
}

/// `rumord verify` on a stopped node's datadir.
fn verify(datadir: &Path) -> Result<Value, String> {
    let mut args = base_args(datadir);
    args.insert(0, "verify".into());
    let out = Command::new(rumord())
        .args(&args)
        .env_remove("RUMOR_DATADIR")
        .output()
        .expect("run rumord verify");
    if out.status.success() {
        serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Merges `value` into `DIR/disk.json` under `key`.
fn write_result(key: &str, value: Value) {
    let Some(dir) = std::env::var_os("RUMOR_RELIABILITY_OUT") else {
        return;
    };
    let dir = Path::new(&dir);
    std::fs::create_dir_all(dir).expect("results dir");
    let path = dir.join("disk.json");
    // Both tests write here; a lock file keeps their updates apart.
    let lock = std::fs::File::create(dir.join("disk.json.lock")).expect("lock");
    lock.lock().expect("lock");
    let mut all: Value = std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_else(|| json!({}));
    all[key] = value;
    std::fs::write(&path, serde_json::to_string_pretty(&all).expect("json")).expect("write");
}

#[test]
fn a_full_disk_stops_the_node_cleanly_and_the_store_survives() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("disk");
    let fs = match Tmpfs::mount(&dir, "16m") {
        Ok(m) => m,
        Err(why) => {
            skipped("full disk", &why);
            write_result("full_disk", json!({ "skipped": why }));
            return;
        }
    };
    // The datadir is the mount itself; the log (datadir + ".log") is outside it.
    let mut args = base_args(&dir);
    args.extend(
        [
            "--mine",
            "--block-interval-ms",
            "30",
            "--mine-address",
            &support::burn_address(),
        ]
        .map(str::to_owned),
    );
    let mut node = start_with(rumord(), &dir, &args);
    wait_until(Duration::from_secs(30), "a few mined blocks", || {
        node.height() >= 3
    });
    let filler = fs.fill();
    // Mining goes on until a commit needs space the disk does not have.
    let mut last_height = 0;
    let started = Instant::now();
    let mut child = node.child.take().expect("running");
    let status = loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            break s;
        }
        if let Ok(info) = node.call_quiet("getblockchaininfo") {
            last_height = info["blocks"].as_u64().unwrap_or(last_height);
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the node kept running on a full disk for a minute (height {last_height})"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let stop_secs = started.elapsed().as_secs_f64();
    let log = node.log_text();
    assert!(
        !status.success(),
        "exit status on a full disk: {status}\n{log}"
    );
    let error_line = log
        .lines()
        .find(|l| l.starts_with("rumord: error:"))
        .unwrap_or_else(|| panic!("no error line:\n{log}"))
        .to_owned();
    assert!(
        error_line.contains("chain store failure") && error_line.contains("No space left"),
        "{error_line}"
    );
    assert!(
        log.contains("stopped"),
        "the node did not shut down in order:\n{log}"
    );

    // Still full (the stop freed the cookie's page: fill that too): a start
    // is refused with a clear error, and changes nothing.
    let filler2 = fs.fill();
    let (status2, log2) = run_to_exit(rumord(), &base_args(&dir), Duration::from_secs(30));
    assert!(!status2.success());
    let start_error = log2
        .lines()
        .find(|l| l.starts_with("rumord: error:"))
        .unwrap_or_else(|| panic!("no error line:\n{log2}"))
        .to_owned();
    assert!(start_error.contains("No space left"), "{start_error}");

    // Space freed: the store verifies and holds everything reported before.
    std::fs::remove_file(&filler).unwrap();
    std::fs::remove_file(&filler2).unwrap();
    let report = verify(&dir).unwrap_or_else(|e| panic!("store corrupt after ENOSPC: {e}"));
    let height = report["height"].as_u64().unwrap();
    assert!(
        height >= last_height,
        "height {height} < reported {last_height}"
    );
    let mut again = start(rumord(), &dir, &[]);
    assert_eq!(again.height(), height);
    assert!(again.terminate().success());
    write_result(
        "full_disk",
        json!({
            "tmpfs": "16m",
            "height_when_full": last_height,
            "height_after": height,
            "exit_code": status.code(),
            "stopped_within_s": stop_secs,
            "error": error_line,
            "start_on_full_disk_error": start_error,
            "exit_code_start_on_full_disk": status2.code(),
            "verify_after_freeing_space": "ok",
        }),
    );
}

#[test]
fn a_read_only_datadir_is_refused_cleanly_and_left_untouched() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("ro");
    let fs = match Tmpfs::mount(&dir, "16m") {
        Ok(m) => m,
        Err(why) => {
            skipped("read-only datadir", &why);
            write_result("read_only", json!({ "skipped": why }));
            return;
        }
    };
    let mut node = start(rumord(), &dir, &[]);
    node.ok("generatetoaddress", json!([5, support::burn_address()]));
    assert!(node.terminate().success());
    let before = verify(&dir).expect("verifies");
    let snapshot = |p: &Path| std::fs::read(p.join("chain.redb")).unwrap();
    let db_before = snapshot(&dir);

    fs.remount("ro");
    let (status, log) = run_to_exit(rumord(), &base_args(&dir), Duration::from_secs(30));
    assert!(!status.success(), "started on a read-only datadir:\n{log}");
    let error = log
        .lines()
        .find(|l| l.starts_with("rumord: error:"))
        .unwrap_or_else(|| panic!("no error line:\n{log}"))
        .to_owned();
    assert!(error.contains("Read-only file system"), "{error}");
    assert!(snapshot(&dir) == db_before, "the database changed");

    fs.remount("rw");
    let after = verify(&dir).expect("verifies after the refused start");
    assert_eq!(before, after);
    write_result(
        "read_only",
        json!({
            "exit_code": status.code(),
            "error": error,
            "height": after["height"],
            "store_unchanged": true,
        }),
    );
}
