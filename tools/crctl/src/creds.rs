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
//! restored process takes them on itself.

use cr_image::format::Task;

/// `SECBIT_KEEP_CAPS` and `SECBIT_KEEP_CAPS_LOCKED`.
const SECBIT_KEEP_CAPS: u32 = 1 << 4;
const SECBIT_KEEP_CAPS_LOCKED: u32 = 1 << 5;
/// `_LINUX_CAPABILITY_VERSION_3`.
const CAP_VERSION_3: u32 = 0x2008_0522;
/// Capabilities as the `capget`/`capset` system calls see them.
#[repr(C)]
#[derive(Default, Clone, Copy)]
struct CapHeader {
    version: u32,
    pid: i32,
}
#[repr(C)]
#[derive(Default, Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

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

fn check(r: libc::c_long, what: &str) -> Result<libc::c_long, String> {
    if r < 0 {
        Err(format!("{what}: {}", std::io::Error::last_os_error()))
    } else {
        Ok(r)
    }
}

/// The raw system call `nr`: it changes the calling thread only. Allocates
/// nothing (see [`Plan::apply`]).
fn syscall(nr: libc::c_long, a: [libc::c_ulong; 5]) -> libc::c_long {
    // SAFETY: Every caller passes integers, or pointers to memory that
    // outlives the call and has the layout the system call expects.
    unsafe { libc::syscall(nr, a[0], a[1], a[2], a[3], a[4]) }
}

fn sys(nr: libc::c_long, a: [libc::c_ulong; 3], what: &str) -> Result<libc::c_long, String> {
    check(syscall(nr, [a[0], a[1], a[2], 0, 0]), what)
}

fn prctl(opt: libc::c_int, arg: libc::c_ulong, what: &str) -> Result<libc::c_long, String> {
    sys(libc::SYS_prctl, [opt as libc::c_ulong, arg, 0], what)
}

/// The real, effective and saved ids (`getres[ug]id`) and the fs id
/// (`setfs[ug]id(-1)` changes nothing and returns it).
fn ids(get: libc::c_long, setfs: libc::c_long, what: &str) -> Result<[u32; 4], String> {
    let (mut r, mut e, mut s) = (0u32, 0u32, 0u32);
    let p = |x: &mut u32| x as *mut u32 as libc::c_ulong;
    sys(get, [p(&mut r), p(&mut e), p(&mut s)], what)?;
    let fs = sys(setfs, [u32::MAX as libc::c_ulong, 0, 0], what)?;
    Ok([r, e, s, fs as u32])
}

/// The calling thread's credentials.
pub fn current() -> Result<Creds, String> {
    let mut c = Creds {
        uids: [0; 4],
        gids: [0; 4],
        caps: [0; 5],
        securebits: 0,
        groups: vec![],
    };
    c.uids = ids(libc::SYS_getresuid, libc::SYS_setfsuid, "getresuid")?;
    c.gids = ids(libc::SYS_getresgid, libc::SYS_setfsgid, "getresgid")?;
    let n = sys(libc::SYS_getgroups, [0, 0, 0], "getgroups")? as usize;
    c.groups = vec![0; n];
    sys(
        libc::SYS_getgroups,
        [
            n as libc::c_ulong,
            c.groups.as_mut_ptr() as libc::c_ulong,
            0,
        ],
        "getgroups",
    )?;
    let mut h = CapHeader {
        version: CAP_VERSION_3,
        pid: 0,
    };
    let mut d = [CapData::default(); 2];
    sys(
        libc::SYS_capget,
        [
            &mut h as *mut CapHeader as libc::c_ulong,
            d.as_mut_ptr() as libc::c_ulong,
            0,
        ],
        "capget",
    )?;
    let w = |f: fn(&CapData) -> u32| u64::from(f(&d[0])) | (u64::from(f(&d[1])) << 32);
    c.caps[0] = w(|x| x.inheritable);
    c.caps[1] = w(|x| x.permitted);
    c.caps[2] = w(|x| x.effective);
    for cap in 0..64 {
        if prctl(libc::PR_CAPBSET_READ, cap, "PR_CAPBSET_READ").unwrap_or(0) == 1 {
            c.caps[3] |= 1 << cap;
        }
        let amb = prctl_ambient_is_set(cap);
        if amb {
            c.caps[4] |= 1 << cap;
        }
    }
    c.securebits = prctl(libc::PR_GET_SECUREBITS, 0, "PR_GET_SECUREBITS")? as u32;
    c.groups.sort_unstable();
    Ok(c)
}

fn prctl_ambient_is_set(cap: libc::c_ulong) -> bool {
    let (amb, is_set) = (libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_IS_SET);
    syscall(
        libc::SYS_prctl,
        [amb as libc::c_ulong, is_set as libc::c_ulong, cap, 0, 0],
    ) == 1
}

/// The calls that give a thread a process's credentials, decided once (in
/// the process, which allocates) and applied by each of its threads
/// (which must not: a raw thread shares its creator's libc state).
pub struct Plan {
    want: Creds,
    set_groups: bool,
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
    pub fn new(want: &Creds) -> Result<Option<Plan>, String> {
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
            set_groups: have.groups != want.groups,
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
    pub fn apply(&self) -> Result<(), (&'static str, i32)> {
        let w = &self.want;
        let u = |x: u32| libc::c_ulong::from(x);
        let raw = |nr: libc::c_long, a: [libc::c_ulong; 5], what: &'static str| {
            if syscall(nr, a) < 0 {
                // SAFETY: errno of the failed call (this thread's libc
                // state is its creator's: the value may be another
                // thread's, which only spoils the message).
                Err((what, unsafe { *libc::__errno_location() }))
            } else {
                Ok(())
            }
        };
        if self.set_groups {
            let g = &w.groups;
            raw(
                libc::SYS_setgroups,
                [
                    g.len() as libc::c_ulong,
                    g.as_ptr() as libc::c_ulong,
                    0,
                    0,
                    0,
                ],
                "setgroups",
            )?;
        }
        let [g0, g1, g2, g3] = w.gids;
        raw(
            libc::SYS_setresgid,
            [u(g0), u(g1), u(g2), 0, 0],
            "setresgid",
        )?;
        raw(libc::SYS_setfsgid, [u(g3), 0, 0, 0, 0], "setfsgid")?;
        let prctl = libc::SYS_prctl;
        for cap in 0..64u32 {
            if self.drop_bset >> cap & 1 != 0 {
                let o = libc::PR_CAPBSET_DROP as libc::c_ulong;
                raw(prctl, [o, u(cap), 0, 0, 0], "PR_CAPBSET_DROP")?;
            }
        }
        if let Some(sb) = self.first_sb {
            let o = libc::PR_SET_SECUREBITS as libc::c_ulong;
            raw(prctl, [o, u(sb), 0, 0, 0], "PR_SET_SECUREBITS")?;
        }
        let [u0, u1, u2, u3] = w.uids;
        raw(
            libc::SYS_setresuid,
            [u(u0), u(u1), u(u2), 0, 0],
            "setresuid",
        )?;
        raw(libc::SYS_setfsuid, [u(u3), 0, 0, 0, 0], "setfsuid")?;
        let h = CapHeader {
            version: CAP_VERSION_3,
            pid: 0,
        };
        let half = |v: u64, i: usize| (v >> (32 * i)) as u32;
        let d: [CapData; 2] = core::array::from_fn(|i| CapData {
            effective: half(w.caps[2], i),
            permitted: half(w.caps[1], i),
            inheritable: half(w.caps[0], i),
        });
        let hp = &h as *const CapHeader as libc::c_ulong;
        raw(
            libc::SYS_capset,
            [hp, d.as_ptr() as libc::c_ulong, 0, 0, 0],
            "capset",
        )?;
        let amb = libc::PR_CAP_AMBIENT as libc::c_ulong;
        let clear = libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong;
        raw(prctl, [amb, clear, 0, 0, 0], "PR_CAP_AMBIENT_CLEAR_ALL")?;
        for cap in 0..64u32 {
            if w.caps[4] >> cap & 1 != 0 {
                let raise = libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong;
                raw(prctl, [amb, raise, u(cap), 0, 0], "PR_CAP_AMBIENT_RAISE")?;
            }
        }
        if self.first_sb.unwrap_or(self.have_sb) != w.securebits {
            let keep = u32::from(w.securebits & SECBIT_KEEP_CAPS != 0);
            let o = libc::PR_SET_KEEPCAPS as libc::c_ulong;
            raw(prctl, [o, u(keep), 0, 0, 0], "PR_SET_KEEPCAPS")?;
        }
        Ok(())
    }
}
