// SPDX-License-Identifier: GPL-2.0

//! Taking on a process's credentials before it is restored.
//!
//! The kernel never grants credentials: each task that joins a restart must
//! already have exactly its process's uids, gids, supplementary groups,
//! capability sets and securebits (`EPERM` otherwise). crctl, usually root,
//! gives them to each task with the ordinary system calls, so the kernel's
//! own rules decide what it may become: `setgroups`/`setresgid` need
//! `CAP_SETGID`, `setresuid` `CAP_SETUID`, the bounding set and securebits
//! `CAP_SETPCAP`, and `capset` grants nothing beyond the permitted set.
//!
//! Every call is the raw system call, which changes the calling thread only
//! (the libc wrappers change every thread of the process): each thread of a
//! restored process takes them on itself. rustix's `thread` calls are such
//! raw calls, with no allocation and the errno returned rather than stored
//! in the C library's per-thread state, which a thread created with a raw
//! `clone3` shares with its creator. rustix has no `getres[ug]id` and no
//! `setfs[ug]id`: those four are made with `libc::syscall`.

use cr_image::format::Task;
use rustix::io::Errno;
use rustix::process::{Gid, Uid};
use rustix::thread::{self as rt, CapabilitiesSecureBits, CapabilitySet, CapabilitySets};

/// `SECBIT_KEEP_CAPS` and `SECBIT_KEEP_CAPS_LOCKED`.
const SECBIT_KEEP_CAPS: u32 = 1 << 4;
const SECBIT_KEEP_CAPS_LOCKED: u32 = 1 << 5;

/// The credentials of a task, as the image's [`Task`] record has them.
#[derive(PartialEq, Eq, Debug, Clone, Default)]
pub struct Creds {
    pub uids: [u32; 4],
    pub gids: [u32; 4],
    /// Inheritable, permitted, effective, bounding, ambient.
    pub caps: [u64; 5],
    pub securebits: u32,
    pub groups: Vec<u32>,
}

impl Creds {
    /// The credentials of process `t` with supplementary `groups`.
    pub fn of(t: &Task, groups: &[u32]) -> Self {
        Creds {
            uids: t.uids,
            gids: t.gids,
            caps: t.caps,
            securebits: t.securebits,
            groups: groups.to_vec(),
        }
    }
}

/// A system call that failed, named as the kernel documents it.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("{what}: {}", std::io::Error::from(*.errno))]
pub struct CallError {
    pub what: &'static str,
    pub errno: Errno,
}

/// The real, effective and saved ids (`getres[ug]id` number `get`) and the
/// fs id (`setfs[ug]id` number `setfs` with -1 changes nothing and returns
/// it): rustix has neither call.
fn ids(get: libc::c_long, setfs: libc::c_long, what: &'static str) -> Result<[u32; 4], CallError> {
    let (mut r, mut e, mut s) = (0u32, 0u32, 0u32);
    let failed = || CallError {
        what,
        errno: Errno::from_io_error(&std::io::Error::last_os_error()).unwrap_or(Errno::INVAL),
    };
    // SAFETY: `getres[ug]id` writes one id to each of three valid pointers.
    if unsafe {
        libc::syscall(
            get,
            &mut r as *mut u32,
            &mut e as *mut u32,
            &mut s as *mut u32,
        )
    } < 0
    {
        return Err(failed());
    }
    // SAFETY: `setfs[ug]id(-1)` takes an integer and changes nothing.
    let fs = unsafe { libc::syscall(setfs, u32::MAX) };
    if fs < 0 {
        return Err(failed());
    }
    Ok([r, e, s, fs as u32])
}

/// `setfs[ug]id` (system call `nr`) to `id`, which returns the old id and
/// reports no error: the caller compares the ids afterwards (the kernel
/// refuses a restart whose credentials differ, by name). Allocates nothing.
fn setfs(nr: libc::c_long, id: u32) {
    // SAFETY: A system call with one integer argument, which changes the
    // calling thread only.
    unsafe { libc::syscall(nr, id) };
}

/// Capability `cap` (0 to 63) as a set of one.
fn cap(cap: u32) -> CapabilitySet {
    CapabilitySet::from_bits_retain(1 << cap)
}

/// The calling thread's credentials.
pub fn current() -> Result<Creds, CallError> {
    let call = |what| move |errno| CallError { what, errno };
    let mut c = Creds {
        uids: ids(libc::SYS_getresuid, libc::SYS_setfsuid, "getresuid")?,
        gids: ids(libc::SYS_getresgid, libc::SYS_setfsgid, "getresgid")?,
        caps: [0; 5],
        securebits: 0,
        groups: rustix::process::getgroups()
            .map_err(call("getgroups"))?
            .into_iter()
            .map(Gid::as_raw)
            .collect(),
    };
    let sets = rt::capabilities(None).map_err(call("capget"))?;
    c.caps[0] = sets.inheritable.bits();
    c.caps[1] = sets.permitted.bits();
    c.caps[2] = sets.effective.bits();
    for n in 0..64 {
        // Capabilities this kernel does not know are in neither set.
        if rt::capability_is_in_bounding_set(cap(n)).unwrap_or(false) {
            c.caps[3] |= 1 << n;
        }
        if rt::capability_is_in_ambient_set(cap(n)).unwrap_or(false) {
            c.caps[4] |= 1 << n;
        }
    }
    c.securebits = rt::capabilities_secure_bits()
        .map_err(call("PR_GET_SECUREBITS"))?
        .bits();
    c.groups.sort_unstable();
    Ok(c)
}

/// The calls that give a thread a process's credentials, decided once (in
/// the process, which allocates) and applied by each of its threads
/// (which must not: a raw thread shares its creator's libc state).
pub struct Plan {
    want: Creds,
    /// `want.groups` as `setgroups` takes them, if they must change.
    set_groups: Option<Vec<Gid>>,
    /// Capabilities to drop from the bounding set.
    drop_bset: u64,
    /// Securebits before the uid change: the image's, with
    /// `SECBIT_KEEP_CAPS` unless the image locks it clear.
    first_sb: Option<u32>,
    /// Securebits the thread has now.
    have_sb: u32,
}

impl Plan {
    /// What the calling thread must do to have `want`; `None` if it has
    /// it already.
    pub fn new(want: &Creds) -> Result<Option<Plan>, CallError> {
        let mut want = want.clone();
        want.groups.sort_unstable();
        let have = current()?;
        if have == want {
            return Ok(None);
        }
        let sb = want.securebits;
        let keep = sb & SECBIT_KEEP_CAPS_LOCKED == 0 || sb & SECBIT_KEEP_CAPS != 0;
        let first = if keep { sb | SECBIT_KEEP_CAPS } else { sb };
        Ok(Some(Plan {
            set_groups: (have.groups != want.groups).then(|| {
                want.groups
                    .iter()
                    .map(|&g| Gid::from_raw_unchecked(g))
                    .collect()
            }),
            drop_bset: have.caps[3] & !want.caps[3],
            first_sb: (first != have.securebits).then_some(first),
            have_sb: have.securebits,
            want,
        }))
    }

    /// Applies the plan to the calling thread, with raw system calls and
    /// no allocation. On an error (the call and its errno) the thread may
    /// hold part of the credentials; the kernel then refuses the restart
    /// by name, which is where the user learns why.
    pub fn apply(&self) -> Result<(), CallError> {
        let w = &self.want;
        let call = |what| move |errno| CallError { what, errno };
        let uid = Uid::from_raw_unchecked;
        let gid = Gid::from_raw_unchecked;
        if let Some(g) = &self.set_groups {
            rt::set_thread_groups(g).map_err(call("setgroups"))?;
        }
        let [g0, g1, g2, g3] = w.gids;
        rt::set_thread_res_gid(gid(g0), gid(g1), gid(g2)).map_err(call("setresgid"))?;
        setfs(libc::SYS_setfsgid, g3);
        for n in 0..64u32 {
            if self.drop_bset >> n & 1 != 0 {
                rt::remove_capability_from_bounding_set(cap(n)).map_err(call("PR_CAPBSET_DROP"))?;
            }
        }
        if let Some(sb) = self.first_sb {
            rt::set_capabilities_secure_bits(CapabilitiesSecureBits::from_bits_retain(sb))
                .map_err(call("PR_SET_SECUREBITS"))?;
        }
        let [u0, u1, u2, u3] = w.uids;
        rt::set_thread_res_uid(uid(u0), uid(u1), uid(u2)).map_err(call("setresuid"))?;
        setfs(libc::SYS_setfsuid, u3);
        let sets = CapabilitySets {
            effective: CapabilitySet::from_bits_retain(w.caps[2]),
            permitted: CapabilitySet::from_bits_retain(w.caps[1]),
            inheritable: CapabilitySet::from_bits_retain(w.caps[0]),
        };
        rt::set_capabilities(None, sets).map_err(call("capset"))?;
        rt::clear_ambient_capability_set().map_err(call("PR_CAP_AMBIENT_CLEAR_ALL"))?;
        for n in 0..64u32 {
            if w.caps[4] >> n & 1 != 0 {
                rt::configure_capability_in_ambient_set(cap(n), true)
                    .map_err(call("PR_CAP_AMBIENT_RAISE"))?;
            }
        }
        if self.first_sb.unwrap_or(self.have_sb) != w.securebits {
            rt::set_keep_capabilities(w.securebits & SECBIT_KEEP_CAPS != 0)
                .map_err(call("PR_SET_KEEPCAPS"))?;
        }
        Ok(())
    }
}
