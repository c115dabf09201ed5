//! What both docker backends share: the image they run, a static, stripped
//! `rumord` in a `FROM scratch` image (nothing is pulled) or an image the
//! user pushed (`--image`), and `rumord`'s command line in a container. A built image is tagged by its binary's content and by its
//! run, and the run removes its tag at the end: the layers are shared by
//! every tag of the same binary, so concurrent runs never pull an image
//! from under each other, and nothing is left behind.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::process::Command;

use super::cluster::{ClusterError, NodeFlags, NodeSpec};

const TARGET: &str = "x86_64-unknown-linux-gnu";
/// The p2p port inside every container.
pub(crate) const P2P_PORT: u16 = 9333;
/// The RPC port inside every container.
pub(crate) const RPC_PORT: u16 = 8332;

/// `rumord`'s arguments in a container: data in `/data`, p2p and RPC on
/// every interface of the container (RPC needs the run's credential), the
/// node's fixed key, a `--bootnode` per address, then the run's flags.
pub(crate) fn container_args(
    spec: &NodeSpec,
    flags: &NodeFlags,
    bootnodes: impl IntoIterator<Item = String>,
) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "--datadir".into(),
        "/data".into(),
        "--listen".into(),
        format!("/ip4/0.0.0.0/tcp/{P2P_PORT}"),
        "--rpc-bind".into(),
        format!("0.0.0.0:{RPC_PORT}"),
        "--node-key".into(),
        spec.key_hex.clone(),
    ];
    for addr in bootnodes {
        args.push("--bootnode".into());
        args.push(addr);
    }
    args.extend(flags.args());
    args
}

/// Runs `docker args…` and returns its stdout.
///
/// # Errors
/// [`ClusterError::Docker`] with docker's own message.
pub(crate) async fn docker(args: &[&str]) -> Result<String, ClusterError> {
    let out = Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| ClusterError::Docker(format!("docker not found: {e}")))?;
    if !out.status.success() {
        return Err(ClusterError::Docker(format!(
            "docker {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The workspace root (for the static build): the nearest parent with `Cargo.lock`.
pub fn workspace_root() -> Option<PathBuf> {
    let mut dir = std::env::current_dir().ok()?;
    loop {
        if dir.join("Cargo.lock").is_file() && dir.join("node").is_dir() {
            return Some(dir);
        }
        dir = dir.parent()?.to_owned();
    }
}

/// `RUSTFLAGS` of the image's build: static, stripped, and no debug info to
/// generate (the image holds only the binary: a release one 100 MB smaller,
/// a dev one 250 MB).
const STATIC_RUSTFLAGS: &str = "-C target-feature=+crt-static -C debuginfo=0 -C strip=symbols";

/// `cargo build` of the image's `rumord` in `workspace`, with cargo
/// `profile`, for [`TARGET`].
fn static_build(cargo: &str, workspace: &Path, profile: &str) -> std::process::Command {
    let mut cmd = std::process::Command::new(cargo);
    cmd.current_dir(workspace)
        .env("RUSTFLAGS", STATIC_RUSTFLAGS)
        .args([
            "build",
            "--profile",
            profile,
            "--target",
            TARGET,
            "-p",
            "rumor-node",
            "--bin",
            "rumord",
        ]);
    cmd
}

/// The tag of an image of `binary` built by run `run_tag`:
/// `rumor-node:<first 12 hex of its sha256>-<run_tag>`. Runs of one binary
/// share its layers, each under a tag of its own that it removes.
fn image_name(binary: &[u8], run_tag: &str) -> String {
    let digest = rumor_chain::sha256(binary);
    format!("rumor-node:{}-{run_tag}", &hex::encode(digest)[..12])
}

/// The image a run's nodes use.
#[derive(Debug, Clone)]
pub struct NodeImage {
    name: String,
    built: bool,
}

impl NodeImage {
    /// Builds a statically linked, stripped `rumord` with cargo `profile`
    /// and a `FROM scratch` image of it, tagged
    /// `rumor-node:<content>-<run_tag>`. `ctx` (the build context) is
    /// removed once the image is built.
    ///
    /// # Errors
    /// [`ClusterError`] if this is not the rumor workspace, or cargo or
    /// docker fail.
    pub async fn build(ctx: &Path, profile: &str, run_tag: &str) -> Result<Self, ClusterError> {
        let workspace = workspace_root().ok_or_else(|| {
            ClusterError::Binary(
                "the docker backends build rumord from source: run inside the rumor workspace, or pass --image"
                    .into(),
            )
        })?;
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::from(static_build(&cargo, &workspace, profile))
            .status()
            .await
            .map_err(|e| ClusterError::Binary(format!("running cargo: {e}")))?;
        if !status.success() {
            return Err(ClusterError::Binary("static build of rumord failed".into()));
        }
        let target_dir = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace.join("target"));
        let profile_dir = if profile == "dev" { "debug" } else { profile };
        let bin = target_dir.join(TARGET).join(profile_dir).join("rumord");
        let io = |e: std::io::Error| ClusterError::Io(format!("{}: {e}", ctx.display()));
        std::fs::create_dir_all(ctx).map_err(io)?;
        std::fs::copy(&bin, ctx.join("rumord"))
            .map_err(|e| ClusterError::Io(format!("{}: {e}", bin.display())))?;
        // No `# syntax` line and a scratch base: nothing is pulled.
        std::fs::write(
            ctx.join("Dockerfile"),
            "FROM scratch\nCOPY rumord /rumord\nENTRYPOINT [\"/rumord\"]\n",
        )
        .map_err(io)?;
        let name = image_name(&std::fs::read(ctx.join("rumord")).map_err(io)?, run_tag);
        let built = docker(&["build", "-q", "-t", &name, &ctx.display().to_string()]).await;
        let _ = std::fs::remove_dir_all(ctx);
        built?;
        Ok(Self { name, built: true })
    }

    /// An image built elsewhere (`--image`): present on this engine, or
    /// pulled now (so a missing or unreachable one fails before anything
    /// starts). Never removed by the run.
    ///
    /// # Errors
    /// [`ClusterError::ImageMissing`] if it is neither here nor pullable.
    pub async fn given(name: &str) -> Result<Self, ClusterError> {
        if docker(&["image", "inspect", "--format", "{{.Id}}", name])
            .await
            .is_err()
        {
            docker(&["pull", "--quiet", name])
                .await
                .map_err(|e| ClusterError::ImageMissing {
                    image: name.to_owned(),
                    reason: e.to_string(),
                })?;
        }
        Ok(Self {
            name: name.to_owned(),
            built: false,
        })
    }

    /// The image reference for compose and stack files.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether this run built it (and so removes it).
    pub fn built(&self) -> bool {
        self.built
    }

    /// Removes the run's tag once its containers are gone (the image itself
    /// goes with its last tag). A given image is left alone.
    pub async fn remove(&self) {
        if self.built
            && let Err(e) = docker(&["rmi", &self.name]).await
        {
            eprintln!("warning: could not remove image {} ({e})", self.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_image_is_tagged_by_its_binarys_content_and_its_run() {
        let a = image_name(b"rumord one", "rumor0123abcd");
        // sha256("rumord one"), its first 12 hex digits.
        let content = &hex::encode(rumor_chain::sha256(b"rumord one"))[..12];
        assert_eq!(a, format!("rumor-node:{content}-rumor0123abcd"));
        let tag = a.strip_prefix("rumor-node:").unwrap();
        assert!(tag[..12].chars().all(|c| c.is_ascii_hexdigit()), "{a}");
        // Another run of the same binary: the same content, its own tag
        // (so removing one run's tag leaves the other's image alone).
        let b = image_name(b"rumord one", "rumor-ci");
        assert_eq!(b, format!("rumor-node:{content}-rumor-ci"));
        assert_ne!(a, b);
        // Another binary: another content part.
        let c = image_name(b"rumord two", "rumor0123abcd");
        assert_ne!(c[..23], a[..23], "{c} vs {a}");
    }

    #[test]
    fn the_image_binary_is_built_static_and_stripped() {
        let cmd = static_build("cargo", Path::new("/ws"), "dev");
        let flags: Vec<&str> = cmd
            .get_envs()
            .find(|(k, _)| *k == "RUSTFLAGS")
            .and_then(|(_, v)| v)
            .and_then(|v| v.to_str())
            .expect("RUSTFLAGS set")
            .split(" -C ")
            .map(|f| f.trim_start_matches("-C "))
            .collect();
        for flag in ["strip=symbols", "debuginfo=0", "target-feature=+crt-static"] {
            assert!(flags.contains(&flag), "{flag} missing from {flags:?}");
        }
        let args: Vec<&str> = cmd.get_args().filter_map(|a| a.to_str()).collect();
        assert_eq!(
            args,
            [
                "build",
                "--profile",
                "dev",
                "--target",
                TARGET,
                "-p",
                "rumor-node",
                "--bin",
                "rumord"
            ]
        );
        assert_eq!(cmd.get_current_dir(), Some(Path::new("/ws")));
    }
}
