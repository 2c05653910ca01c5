// SPDX-License-Identifier: GPL-2.0

//! crctl: the userspace companion of the cr checkpoint/restart module.

mod uapi;

use std::fs::OpenOptions;
use std::os::fd::AsRawFd;
use std::process::ExitCode;

const USAGE: &str = "\
usage: crctl <command> [options]

commands:
  info-module            print what the loaded cr module reports (CR_IOC_INFO)
  help                   this text
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = args.first() else {
        eprint!("{USAGE}");
        return ExitCode::from(2);
    };
    let result = match cmd.as_str() {
        "info-module" => info_module(),
        "help" | "--help" | "-h" => {
            print!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown command '{other}' (see 'crctl help')")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("crctl: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Opens /dev/cr with a message that says what to do when it is missing.
fn open_device() -> Result<std::fs::File, String> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(uapi::CR_DEVICE)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ENOENT) => format!(
                "{}: no such device; is the cr module loaded? (insmod cr.ko)",
                uapi::CR_DEVICE
            ),
            _ => format!("{}: {e}", uapi::CR_DEVICE),
        })
}

fn query_info() -> Result<uapi::CrInfo, String> {
    let dev = open_device()?;
    let mut info = uapi::CrInfo {
        size: std::mem::size_of::<uapi::CrInfo>() as u32,
        ..Default::default()
    };
    // SAFETY: CR_IOC_INFO writes at most `info.size` bytes into `info`.
    let r = unsafe { libc::ioctl(dev.as_raw_fd(), uapi::CR_IOC_INFO, &mut info) };
    if r < 0 {
        let e = std::io::Error::last_os_error();
        return Err(match e.raw_os_error() {
            Some(libc::ENOTTY) => format!(
                "{}: CR_IOC_INFO not understood; the loaded module is too old for this crctl",
                uapi::CR_DEVICE
            ),
            _ => format!("CR_IOC_INFO: {e}"),
        });
    }
    Ok(info)
}

fn info_module() -> Result<(), String> {
    let info = query_info()?;
    println!(
        "module version: {}",
        uapi::version_string(info.module_version)
    );
    println!("image format:   {}", info.format_version);
    println!("page size:      {}", info.page_size);
    println!(
        "features:       {}",
        uapi::feature_names(info.features).join(" ")
    );
    if info.format_version != cr_image::format::FORMAT_VERSION {
        println!(
            "warning: crctl speaks image format {}, the module format {}",
            cr_image::format::FORMAT_VERSION,
            info.format_version
        );
    }
    Ok(())
}
