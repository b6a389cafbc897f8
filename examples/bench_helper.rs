//! Helper of `scripts/bench`: writes the benchmark fixtures and times jube's unpacking alone.
//!
//! ```text
//! bench_helper big-zip ZIP MIB          an image zip (stored) with start.sh and MIB of random bytes
//! bench_helper image-dir DIR FILES      an image folder: start.sh/stop.sh/ports.properties and FILES
//!                                       files in 20 folders, ~10 KiB random + ~20 KiB text each
//! bench_helper unpack ZIP DEST          jube::container::install::unpack, as `jube create` calls it
//! ```
//! Random content keeps the zips incompressible where a real image's jars are, so neither the
//! server nor the unzipper gets an unrealistically easy job.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use rand::RngCore;
use zip::write::SimpleFileOptions;

/// A start.sh as the bench's images have it: background the app, record its pid.
const START_SH: &str =
    "#!/bin/sh\ncd \"$(dirname \"$0\")\"\nnohup sleep 100000 >/dev/null 2>&1 &\necho $! > process.pid\n";
const STOP_SH: &str = "#!/bin/sh\ncd \"$(dirname \"$0\")\"\n[ -f process.pid ] && kill \"$(cat process.pid)\" 2>/dev/null\nrm -f process.pid\n";

fn main() -> ExitCode {
    match run(&std::env::args().skip(1).collect::<Vec<_>>()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_helper: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<()> {
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["big-zip", zip, mib] => big_zip(Path::new(zip), mib.parse().context("MIB must be a number")?),
        ["image-dir", dir, files] => {
            image_dir(Path::new(dir), files.parse().context("FILES must be a number")?)
        }
        ["unpack", zip, dest] => {
            let limits = jube::container::install::UnpackLimits::default();
            let unpacked = jube::container::install::unpack(
                Path::new(zip),
                Path::new(dest),
                &limits,
                &jube::reporter::Silent,
            )?;
            jube::container::install::check_unpacked(Path::new(zip), &unpacked.app_base)?;
            Ok(())
        }
        _ => bail!("usage: bench_helper big-zip ZIP MIB | image-dir DIR FILES | unpack ZIP DEST"),
    }
}

/// A stored (uncompressed) zip: compressing random bytes only costs time and gains nothing.
fn big_zip(path: &Path, mib: usize) -> Result<()> {
    let file = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut zip = zip::ZipWriter::new(std::io::BufWriter::with_capacity(1 << 20, file));
    let stored = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(mib >= 4096);
    zip.start_file("start.sh", stored.unix_permissions(0o755))?;
    zip.write_all(START_SH.as_bytes())?;
    zip.start_file("lib/payload.bin", stored.unix_permissions(0o644))?;
    let mut rng = rand::rng();
    let mut chunk = vec![0u8; 1 << 20];
    for _ in 0..mib {
        rng.fill_bytes(&mut chunk);
        zip.write_all(&chunk)?;
    }
    zip.finish()?.flush()?;
    Ok(())
}

fn image_dir(dir: &Path, files: usize) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    write(&dir.join("start.sh"), START_SH.as_bytes())?;
    write(&dir.join("stop.sh"), STOP_SH.as_bytes())?;
    write(&dir.join("ports.properties"), b"HTTP=8080\n")?;
    let mut rng = rand::rng();
    let text: Vec<u8> = (0..20 * 1024)
        .map(|i| b"abcdefghijklmnopqrstuvwxyz =\n"[(i * 7 + i / 13) % 29])
        .collect();
    for i in 0..files {
        let sub = dir.join(format!("lib/part{:02}", i % 20));
        std::fs::create_dir_all(&sub).with_context(|| format!("creating {}", sub.display()))?;
        let mut data = vec![0u8; 10 * 1024 + (i % 7) * 100];
        rng.fill_bytes(&mut data);
        data.extend_from_slice(&text);
        write(&sub.join(format!("file{i:05}.dat")), &data)?;
    }
    Ok(())
}

fn write(path: &Path, data: &[u8]) -> Result<()> {
    std::fs::write(path, data).with_context(|| format!("writing {}", path.display()))
}
