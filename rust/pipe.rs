// SPDX-License-Identifier: GPL-2.0

//! Anonymous pipes. Records: [`format::Pipe`], [`format::PipeData`].
//!
//! Checkpoint: a pipe whose every open file description is in the tree
//! (the tree's reading and writing descriptions of it account for all its
//! readers and writers) is saved once, with its capacity and the bytes
//! buffered in it, peeked under the pipe's lock without consuming them (the
//! target keeps running by default), packet by packet for the buffers an
//! `O_DIRECT` writer made. A pipe with a party outside the tree is the
//! caller's on fds 0-2 (`FileKind::Inherit`) and refused elsewhere
//! (`files::check_tree`).
//!
//! Restart: a module cannot create a pipe (`create_pipe_files` is not
//! exported), so the caller (crctl) makes one per pipe record, with its
//! capacity, and hands it over (`struct cr_restart_obj`); this module checks
//! it is an empty pipe of that capacity that nothing else has open, writes
//! the buffered bytes back into it (one write per packet), and opens each
//! description of the image as a new open file description of it, with its
//! access mode and status flags.

use crate::{
    error::{eopnotsupp, refuse, Refusal},
    format,
    kapi::{self, current, pipe as kpipe},
    log::{fail, Log, Show},
    shared::{Kind, Object, SharedObjects},
    stream::ImageWriter,
    uapi::{RestartObj, CR_RESTART_OBJ_INHERIT},
};
use kernel::{
    alloc::{KVVec, KVec},
    fs::File,
    prelude::*,
    sync::aref::ARef,
};

const O_WRONLY: u32 = 0o1;
const O_NONBLOCK: u32 = 0o4000;
const O_DIRECT: u32 = 0o40000;

// ------------------------------------------------------------ checkpoint

/// A pipe of the tree, through one of its files.
pub(crate) struct PipeSnap {
    file: ARef<File>,
    key: u64,
    /// A FIFO's path (as `d_path` gives it), else empty.
    path: KVec<u8>,
    /// An external pipe's inode number ([`PipeSnap::set_external`]), else 0.
    external: u32,
    /// A deleted FIFO's permission bits ([`PipeSnap::set_deleted`]).
    deleted: Option<u32>,
}

/// The pipe a pipe's or FIFO's file `f` (at `fd` of `pid`) opens, and for
/// a FIFO its path; notification pipes are refused.
pub(crate) fn classify(pid: i32, fd: u32, f: &File, path: &[u8]) -> Result<PipeSnap, Refusal> {
    let g = kpipe::lock(f).ok_or(EINVAL)?;
    if g.state().watch_queue {
        return Err(refuse!(
            eopnotsupp(),
            "pid {pid} fd {fd}: notification pipe (O_NOTIFICATION_PIPE) not supported"
        ));
    }
    let key = g.key();
    drop(g);
    let mut p = KVec::with_capacity(path.len(), GFP_KERNEL_ACCOUNT)?;
    p.extend_from_slice(path, GFP_KERNEL_ACCOUNT)?;
    Ok(PipeSnap {
        file: f.into(),
        key,
        path: p,
        external: 0,
        deleted: None,
    })
}

/// The inode number of an anonymous pipe's file, as `/proc` shows it
/// (`pipe:[INO]`).
pub(crate) fn pipe_ino(f: &File) -> Option<u32> {
    let mut b = [0u8; 64];
    let p = kapi::file_path(f, &mut b).ok()?;
    let n = p.strip_prefix(b"pipe:[")?.strip_suffix(b"]")?;
    let s = core::str::from_utf8(n).ok()?;
    s.parse::<u32>().ok().filter(|&i| i != 0)
}

impl PipeSnap {
    /// Its identity: the pipe (never saved).
    pub(crate) fn key(&self) -> u64 {
        self.key
    }

    /// The open file description it holds a reference to, by identity.
    pub(crate) fn file_key(&self) -> u64 {
        self.file.as_ptr() as usize as u64
    }

    /// A FIFO's path, else empty.
    pub(crate) fn fifo_path(&self) -> &[u8] {
        &self.path
    }

    /// Makes it an external pipe, inode number `ino`: saved by name, without
    /// its bytes (they are the outside world's), and restored from the pipe
    /// the caller hands over for it (`crctl restart --inherit-fd`).
    pub(crate) fn set_external(&mut self, ino: u32) {
        self.external = ino;
    }

    /// Whether it is an external pipe ([`PipeSnap::set_external`]).
    pub(crate) fn is_external(&self) -> bool {
        self.external != 0
    }

    /// Makes it a FIFO whose path was unlinked, with permission bits `mode`:
    /// saved with the path it had (`d_path` without its ` (deleted)`), if
    /// it has one (else false).
    pub(crate) fn set_deleted(&mut self, mode: u32) -> bool {
        const DELETED: &[u8] = b" (deleted)";
        if self.path.first() != Some(&b'/') || !self.path.ends_with(DELETED) {
            return false;
        }
        self.path.truncate(self.path.len() - DELETED.len());
        self.deleted = Some(mode);
        true
    }

    /// Readers and writers of the pipe, anywhere.
    pub(crate) fn ends(&self) -> (u32, u32) {
        match kpipe::lock(&self.file) {
            Some(g) => {
                let s = g.state();
                (s.readers, s.writers)
            }
            None => (0, 0),
        }
    }

    /// Writes the pipe record and its data records, with image id `id`.
    /// The tree is held still: nothing reads or writes the pipe meanwhile
    /// (checked: `EAGAIN` if it changes).
    pub(crate) fn write(&self, id: u32, w: &mut ImageWriter<'_>) -> Result {
        let g = kpipe::lock(&self.file).ok_or(EINVAL)?;
        if self.external != 0 {
            let capacity = g.state().capacity;
            drop(g);
            let rec = format::Pipe {
                head: format::PipeHead {
                    id,
                    capacity,
                    data_len: 0,
                    flags: format::PIPE_EXTERNAL,
                    ino: self.external,
                    mode: 0,
                },
                path: b"",
            };
            return w.record(|b| rec.encode(b));
        }
        let st = g.state();
        let mut total = 0u64;
        for n in 0..st.nr_bufs {
            total += u64::from(g.buf(n)?.len);
        }
        drop(g);
        let rec = format::Pipe {
            head: format::PipeHead {
                id,
                capacity: st.capacity,
                data_len: total,
                flags: if self.path.is_empty() {
                    0
                } else if self.deleted.is_some() {
                    format::PIPE_FIFO | format::PIPE_DELETED
                } else {
                    format::PIPE_FIFO
                },
                ino: 0,
                mode: self.deleted.unwrap_or(0),
            },
            path: &self.path,
        };
        w.record(|b| rec.encode(b))?;
        if total == 0 {
            return Ok(());
        }
        let mut tmp = KVVec::from_elem(0u8, format::MAX_PIPE_DATA, GFP_KERNEL_ACCOUNT)?;
        let (mut n, mut at) = (0u32, 0u32);
        let mut written = 0u64;
        while n < st.nr_bufs {
            let g = kpipe::lock(&self.file).ok_or(EINVAL)?;
            if g.state() != st {
                return Err(EAGAIN);
            }
            let b = g.buf(n)?;
            let mut len = 0usize;
            let packet = b.packet;
            if packet {
                // One buffer, one packet (within a page, so within a record).
                len = b.len as usize;
                g.copy(n, 0, &mut tmp[..len])?;
                n += 1;
            } else {
                while n < st.nr_bufs && len < tmp.len() {
                    let b = g.buf(n)?;
                    if b.packet {
                        break;
                    }
                    let take = ((b.len - at) as usize).min(tmp.len() - len);
                    g.copy(n, at, &mut tmp[len..len + take])?;
                    len += take;
                    at += take as u32;
                    if at == b.len {
                        n += 1;
                        at = 0;
                    }
                }
            }
            drop(g);
            if len == 0 {
                // An empty buffer: nothing to carry.
                continue;
            }
            let d = format::PipeData {
                id,
                flags: if packet { format::PIPE_DATA_PACKET } else { 0 },
                data: &tmp[..len],
            };
            w.record(|b| d.encode(b))?;
            written += len as u64;
        }
        if written != total {
            return Err(EAGAIN);
        }
        Ok(())
    }
}

/// Whether `f` is an end of an anonymous pipe (else a FIFO, or no pipe).
pub(crate) fn is_anon_pipe(f: &File) -> bool {
    kpipe::is_anon_pipe(f)
}

// ------------------------------------------------------------ restart

/// Takes a pipe or FIFO the caller handed over into `shared` (before the
/// image is read): its fd must be a pipe or a FIFO (an anonymous pipe for
/// `CR_RESTART_OBJ_INHERIT`), each id once.
pub(crate) fn take_handed(o: &RestartObj, shared: &mut SharedObjects, log: &Log) -> Result {
    let (id, fd) = (o.id, o.fd);
    let inherited = o.kind == CR_RESTART_OBJ_INHERIT;
    if id == 0 || shared.get(Kind::Pipe, id).is_some() {
        return Err(fail!(
            log,
            EINVAL,
            "restart object {id}: bad or repeated pipe id"
        ));
    }
    let f = kapi::fget(fd).map_err(|e| fail!(log, e, "pipe {id}: fd {fd}: not an open file"))?;
    let fifo = !kpipe::is_anon_pipe(&f);
    if kpipe::lock(&f).is_none() {
        return Err(fail!(log, EINVAL, "pipe {id}: fd {fd}: not a pipe or FIFO"));
    }
    if inherited && fifo {
        return Err(fail!(
            log,
            EINVAL,
            "pipe {id}: fd {fd} (--inherit-fd): not an anonymous pipe"
        ));
    }
    let _ = current::close_fd(fd as u32);
    shared.insert(
        id,
        Object::Pipe {
            file: f,
            fifo,
            taken: false,
            reopened: false,
            data_left: 0,
            write: None,
            inherited,
        },
    )
}

/// Takes a pipe record: the handed-over pipe of its id must be what the
/// record says (a pipe, or the FIFO at its path), empty, with the recorded
/// capacity, and open nowhere else.
pub(crate) fn add_pipe(r: &format::Pipe<'_>, shared: &mut SharedObjects, log: &Log) -> Result {
    let rp = r.path;
    let r = &r.head;
    let id = r.id;
    let Some(Object::Pipe {
        file,
        fifo,
        taken,
        data_left,
        write,
        inherited,
        ..
    }) = shared.get(Kind::Pipe, id)
    else {
        if r.flags & format::PIPE_EXTERNAL != 0 {
            return Err(fail!(
                log,
                EINVAL,
                "pipe {id}: the image's external pipe:[{}] needs a pipe (crctl restart --inherit-fd FD:pipe:[{}])",
                r.ino,
                r.ino
            ));
        }
        return Err(fail!(
            log,
            EINVAL,
            "pipe {id}: the caller handed over no pipe for it (restart images with pipes with crctl)"
        ));
    };
    if *taken {
        return Err(fail!(log, EINVAL, "bad image: pipe {id} twice"));
    }
    // An external pipe is the caller's, as it is: its bytes, capacity and
    // other parties are the outside world's.
    if *inherited != (r.flags & format::PIPE_EXTERNAL != 0) {
        return Err(fail!(
            log,
            EINVAL,
            "pipe {id}: {}",
            if *inherited {
                "the caller handed over an inherited fd for a pipe of the tree"
            } else {
                "the caller handed over a new pipe for an external one"
            }
        ));
    }
    if *inherited {
        *taken = true;
        *data_left = 0;
        return Ok(());
    }
    if *fifo != (r.flags & format::PIPE_FIFO != 0) {
        return Err(fail!(
            log,
            EINVAL,
            "pipe {id}: the caller handed over a {} for a {}",
            if *fifo { "FIFO" } else { "pipe" },
            if *fifo { "pipe" } else { "FIFO" }
        ));
    }
    if *fifo {
        let mut buf = KVec::from_elem(0u8, 4096, GFP_KERNEL)?;
        let p = kapi::file_path(file, &mut buf).unwrap_or(b"");
        // A deleted FIFO: the one made at its path and unlinked again.
        let deleted = r.flags & format::PIPE_DELETED != 0;
        let p = if deleted {
            p.strip_suffix(b" (deleted)").unwrap_or(b"")
        } else {
            p
        };
        if deleted && kapi::file_info(file).mode & 0o7777 != r.mode {
            return Err(fail!(
                log,
                EINVAL,
                "pipe {id}: the deleted FIFO handed over has mode {:o}, not {:o}",
                kapi::file_info(file).mode & 0o7777,
                r.mode
            ));
        }
        if p != rp {
            return Err(fail!(
                log,
                EINVAL,
                "pipe {id}: the FIFO handed over is {}, not {}",
                Show(p),
                Show(rp)
            ));
        }
    }
    let st = kpipe::lock(file).ok_or(EINVAL)?.state();
    let own = kapi::file_info(file).fmode;
    let own = (
        u32::from(own & kapi::FMODE_READ != 0),
        u32::from(own & kapi::FMODE_WRITE != 0),
    );
    if st.nr_bufs != 0 || (st.readers, st.writers) != own {
        return Err(fail!(
            log,
            EBUSY,
            "pipe {id}: the pipe handed over is not empty or is open elsewhere"
        ));
    }
    if st.capacity != r.capacity {
        return Err(fail!(
            log,
            EINVAL,
            "pipe {id}: the pipe handed over holds {} bytes, the image's {}",
            st.capacity,
            r.capacity
        ));
    }
    *taken = true;
    *data_left = r.data_len;
    if r.data_len != 0 {
        let wf = kpipe::reopen(file, O_WRONLY | O_NONBLOCK)
            .map_err(|e| fail!(log, e, "pipe {id}: cannot open it for writing"))?;
        *write = Some(wf);
    }
    Ok(())
}

/// Writes a pipe-data record's bytes back into its pipe (one write: a
/// packet stays one).
pub(crate) fn add_data(d: &format::PipeData<'_>, shared: &mut SharedObjects, log: &Log) -> Result {
    let id = d.id;
    let Some(Object::Pipe {
        taken: true,
        data_left,
        write,
        ..
    }) = shared.get(Kind::Pipe, id)
    else {
        return Err(fail!(
            log,
            EINVAL,
            "bad image: data of pipe {id} out of place"
        ));
    };
    let Some(wf) = write.as_ref() else {
        return Err(fail!(
            log,
            EINVAL,
            "bad image: data of pipe {id} out of place"
        ));
    };
    let len = d.data.len() as u64;
    if len > *data_left {
        return Err(fail!(log, EINVAL, "bad image: too much data for pipe {id}"));
    }
    let packet = d.flags & format::PIPE_DATA_PACKET != 0;
    if packet {
        kpipe::set_flags(wf, O_DIRECT, 0);
    }
    let r = kapi::file_write(wf, d.data);
    if packet {
        kpipe::set_flags(wf, 0, O_DIRECT);
    }
    match r {
        Ok(n) if n as u64 == len => {}
        Ok(_) => {
            return Err(fail!(
                log,
                ENOSPC,
                "pipe {id}: its buffered bytes do not fit back in it"
            ))
        }
        Err(e) => {
            return Err(fail!(
                log,
                e,
                "pipe {id}: cannot write its buffered bytes back"
            ))
        }
    }
    *data_left -= len;
    if *data_left == 0 {
        *write = None;
    }
    Ok(())
}

/// Opens a description of kind `FileKind::Pipe` (`fifo` false) or
/// `FileKind::Fifo` of pipe `obj`, at `fd`. It is opened `O_NONBLOCK`, so
/// a FIFO's open never waits for the other side (while the handed-over
/// `O_RDWR` end, or a reading description that replaced it, keeps a
/// reader, a writer's does not fail either), then given the recorded
/// flags.
pub(crate) fn open(
    fd: u32,
    obj: u32,
    want_fifo: bool,
    open_flags: u32,
    shared: &mut SharedObjects,
    log: &Log,
) -> Result<ARef<File>> {
    let Some(Object::Pipe {
        file,
        fifo,
        taken: true,
        reopened,
        data_left: 0,
        ..
    }) = shared.get(Kind::Pipe, obj)
    else {
        return Err(fail!(log, EINVAL, "bad image: fd {fd}: no pipe {obj}"));
    };
    if *fifo != want_fifo {
        return Err(fail!(
            log,
            EINVAL,
            "bad image: fd {fd}: pipe {obj} is of another kind"
        ));
    }
    let f = kpipe::reopen(file, (open_flags & !O_DIRECT) | O_NONBLOCK)
        .map_err(|e| fail!(log, e, "fd {fd}: cannot open pipe {obj}"))?;
    kpipe::set_flags(&f, open_flags & O_DIRECT, !open_flags & O_NONBLOCK);
    let reads = kapi::file_info(&f).fmode & kapi::FMODE_READ != 0;
    if !*reopened && (!*fifo || reads) {
        // The image's own description stands for the pipe from now on:
        // the handed-over end is let go.
        *file = f.clone();
        *reopened = true;
    }
    Ok(f)
}
