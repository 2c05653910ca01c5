// SPDX-License-Identifier: GPL-2.0

//! cr: checkpoint/restart of Linux processes.
//!
//! Registers the misc device `/dev/cr`. Its ioctls, declared in
//! `include/uapi/linux/cr.h` and documented in `Documentation/cr/ioctl.rst`,
//! report what the module can do, checkpoint a process into an image written
//! to a caller-supplied fd, and turn the caller into the program saved in an
//! image.

use kernel::{
    fs::File,
    ioctl::{_IOC_NR, _IOC_TYPE},
    miscdevice::{MiscDevice, MiscDeviceRegistration},
    prelude::*,
};

#[path = "../image/src/format/mod.rs"]
pub mod format;

mod anonfile;
mod checkpoint;
mod epoll;
mod error;
mod evfd;
mod files;
mod inet;
mod kapi;
mod locks;
mod log;
mod memory;
mod pipe;
mod regs;
mod restart;
mod shared;
mod signals;
mod stream;
mod task;
mod thread;
mod timers;
mod uapi;
mod unix;

module! {
    type: CrModule,
    name: "cr",
    authors: ["The cr developers"],
    description: "In-kernel checkpoint/restart of Linux processes",
    license: "GPL",
}

#[pin_data]
struct CrModule {
    /// `/dev/cr`; each open file (and so each checkpoint or restart in
    /// progress) holds a reference to the module.
    #[pin]
    _miscdev: kapi::OwnedMiscDevice<CrDevice>,
}

impl kernel::InPlaceModule for CrModule {
    fn init(module: &'static ThisModule) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            _miscdev <- kapi::OwnedMiscDevice::register(c"cr", module),
        })
    }
}

/// An open file of `/dev/cr`. Its only state is the tree restart it may be
/// coordinating: the launcher and every task of the tree share the file.
#[pin_data]
struct CrDevice {
    #[pin]
    restart: restart::RestartSlot,
}

#[vtable]
impl MiscDevice for CrDevice {
    type Ptr = Pin<KBox<Self>>;

    fn open(_file: &File, _misc: &MiscDeviceRegistration<Self>) -> Result<Self::Ptr> {
        KBox::try_pin_init(
            try_pin_init!(CrDevice { restart <- restart::RestartSlot::new() }),
            GFP_KERNEL,
        )
    }

    fn ioctl(me: Pin<&CrDevice>, file: &File, cmd: u32, arg: usize) -> Result<isize> {
        // Only the type and number select a command: the size bits belong to
        // the first version of each struct, whose real size travels in its
        // `size` field (see `uapi::read_args`).
        if _IOC_TYPE(cmd) != uapi::CR_IOC_MAGIC {
            return Err(ENOTTY);
        }
        match _IOC_NR(cmd) {
            uapi::CR_IOC_NR_INFO => uapi::info(arg),
            uapi::CR_IOC_NR_CHECKPOINT => checkpoint::ioctl(file, arg),
            uapi::CR_IOC_NR_RESTART => restart::ioctl(&me.restart, file, arg),
            uapi::CR_IOC_NR_EPOLL_WATCHES => restart::epoll_watches(&me.restart, arg),
            uapi::CR_IOC_NR_EPOLL_SETS => restart::epoll_sets(&me.restart, arg),
            _ => Err(ENOTTY),
        }
    }
}
