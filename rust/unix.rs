// SPDX-License-Identifier: GPL-2.0

//! Unix domain sockets, a kind of file with an object ([`FileKind::Unix`]).
//! Records: [`format::UnixSock`], [`format::UnixData`].
//!
//! Checkpoint reads each socket of the tree without touching it: its type,
//! state, options, shutdown bits, its peer (by identity, matched to the
//! peer's own file in the tree, never saved) and the bytes queued in its
//! receive queue, peeked skb by skb under the queue's lock and never
//! consumed, datagram boundaries kept. The first end of a pair to appear
//! writes its record, its peer's, then both queues.
//!
//! Restart makes every socket as the caller while the image is read
//! (before the point of no return, so a failure is a clean error): a pair
//! again with `socketpair`, its options set with `setsockopt` (checked to
//! read back as saved), the queued bytes sent again from the peer, so
//! each lands in the receive queue it was read from, then the shutdown
//! bits and the peek offset when the file that opens it is made.
//!
//! Sockets bound to a name are bound again (a path only once the old
//! socket file is gone: it is never removed), listening ones listen again;
//! a connection accepted from a listening socket of the tree is a pair
//! whose accepted end gets its listener's name, unbound.
//!
//! A listening socket's connections not accepted yet (queued on it, each
//! a sock without a socket, connected to its client) are written after
//! it, in queue order, each with the bytes its client sent: restart
//! connects each client to the listener again (the connection lands in
//! its queue, after the previous ones), sends those bytes from the client
//! and then applies the client's shutdown bits.
//!
//! What is refused, by name: a connection not accepted yet whose client
//! is outside the tree, closed or bound, a socket connected to one
//! outside the tree, a closed peer, any other connected socket with a name, file descriptors in
//! flight (`SCM_RIGHTS`), out-of-band data, queued data on a socket that
//! receives credentials or security labels.

use crate::{
    error::{eaddrinuse, eopnotsupp, refuse, Refusal},
    format::{self, Record, UnixData, UnixQueued, UnixSock, UnixState},
    kapi::{self, NewSocket, PeerOf, Sk, SockRef},
    log::{fail, Log, Show},
    shared::{Kind, Object, SharedIds, SharedObjects},
    stream::ImageWriter,
};
use kernel::{alloc::KVVec, fs::File, prelude::*, sync::aref::ARef};

const SOCK_STREAM: i32 = 1;
const SOCK_DGRAM: i32 = 2;
const SOCK_SEQPACKET: i32 = 5;

// ------------------------------------------------------------ checkpoint

/// A unix socket of the tree.
pub(crate) struct UnixSnap {
    /// Its file, which keeps the socket alive until the image is written.
    file: ARef<File>,
    key: u64,
    /// The peer, held until the image is written.
    peer: Option<SockRef>,
    peer_key: u64,
    /// Its name's identity (0 unnamed), shared by an accepted socket with
    /// its listener.
    addr_key: u64,
    /// Its peer is a connection not accepted yet, queued on a listener.
    connecting: bool,
    /// A listener's connections not accepted yet, in queue order: each
    /// one's identity and its client's.
    queued: KVec<(u64, u64)>,
}

/// How an address reads in a message.
struct Addr<'a>(&'a [u8]);

impl core::fmt::Display for Addr<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            [] => f.write_str("an unnamed socket"),
            [0, rest @ ..] => write!(f, "@{}", Show(rest)),
            p => write!(f, "{}", Show(p)),
        }
    }
}

/// Reads a unix socket file, refusing what cannot be restored.
pub(crate) fn gather(pid: i32, fd: u32, f: &File) -> Result<UnixSnap, Refusal> {
    let sk =
        Sk::of_file(f).ok_or_else(|| refuse!(EINVAL, "pid {pid} fd {fd}: not a unix socket"))?;
    let i = sk.info();
    let nope = |what: &dyn core::fmt::Display| {
        refuse!(
            eopnotsupp(),
            "pid {pid} fd {fd}: unix socket {what}: not supported yet"
        )
    };
    if !matches!(i.ty, SOCK_STREAM | SOCK_DGRAM | SOCK_SEQPACKET) {
        return Err(nope(&"of an unknown type"));
    }
    // Restart gives `SO_PEERCRED` the restarting caller's credentials,
    // which are the process's own (see `restart::ProcPlan::check`).
    if !sk.peer_cred_is_own() {
        return Err(nope(
            &"whose peer credentials (SO_PEERCRED, SO_PEERGROUPS) are not the process's own (effective uid, gid or groups)",
        ));
    }
    let addr = &i.addr[..i.addr_len];
    if addr.first().is_some_and(|&c| c != 0 && c != b'/') {
        return Err(nope(&format_args!(
            "bound to the relative path {}",
            Addr(addr)
        )));
    }
    if i.oob {
        return Err(nope(&"with out-of-band data (MSG_OOB)"));
    }
    if i.state == kapi::SK_LISTEN {
        let queued = gather_queued(sk, &nope)?;
        return Ok(UnixSnap {
            file: f.into(),
            key: sk.key(),
            peer: None,
            peer_key: 0,
            addr_key: i.addr_key,
            connecting: false,
            queued,
        });
    }
    let peer = sk.peer();
    let mut peer_key = 0;
    let mut connecting = false;
    if let Some(p) = &peer {
        let pi = p.sk().info();
        if pi.dead {
            return Err(nope(&"whose peer has closed"));
        }
        if i.state != kapi::SK_ESTABLISHED {
            return Err(nope(&"with a peer but not connected"));
        }
        if !pi.has_socket {
            // Its connection is queued on a listener, not accepted yet
            // (check_peers finds the listener in the tree).
            if i.addr_len != 0 {
                return Err(nope(&format_args!(
                    "bound to {} and connected to a connection not accepted yet",
                    Addr(addr)
                )));
            }
            if i.qlen > 0 {
                return Err(nope(
                    &"connected to a connection not accepted yet, with queued data",
                ));
            }
            connecting = true;
        }
        peer_key = p.sk().key();
    } else if i.state != kapi::SK_CLOSE {
        return Err(nope(&"in an unknown state"));
    }
    if i.qlen > 0 {
        if i.passcred || i.passpidfd || i.passsec {
            return Err(nope(
                &"with queued data and SO_PASSCRED, SO_PASSPIDFD or SO_PASSSEC",
            ));
        }
        if peer.is_none() {
            return Err(nope(&"unconnected with queued data"));
        }
        let mut fds = false;
        let mut other = false;
        sk.for_each_queued(|q| {
            fds |= q.has_fds();
            other |= q.sender() != peer_key;
            Ok(())
        })?;
        if fds {
            return Err(refuse!(
                eopnotsupp(),
                "pid {pid} fd {fd}: unix socket with file descriptors in flight (SCM_RIGHTS): not supported yet"
            ));
        }
        if other {
            return Err(nope(&"with data queued by another socket than its peer"));
        }
    }
    Ok(UnixSnap {
        file: f.into(),
        key: sk.key(),
        peer,
        peer_key,
        addr_key: i.addr_key,
        connecting,
        queued: KVec::new(),
    })
}

/// The connections queued on listening socket `sk`, not accepted yet, in
/// order: each one's identity and its client's, refusing what cannot be
/// queued again (`nope` names the socket).
fn gather_queued(
    sk: Sk<'_>,
    nope: &dyn Fn(&dyn core::fmt::Display) -> Refusal,
) -> Result<KVec<(u64, u64)>, Refusal> {
    let i = sk.info();
    let addr = Addr(&i.addr[..i.addr_len]);
    let mut out = KVec::new();
    let mut bad: Option<&'static str> = None;
    sk.for_each_queued(|q| {
        let Some(e) = q.owner() else {
            bad = Some("an unknown skb");
            return Ok(());
        };
        let ei = e.info();
        let client = e.peer();
        let Some(c) = client.as_ref().filter(|c| !c.sk().info().dead) else {
            bad = Some("a connection not accepted yet, from a socket outside the tree or closed");
            return Ok(());
        };
        let ckey = c.sk().key();
        if ei.dead || ei.oob {
            bad = Some("a connection not accepted yet, closed or with out-of-band data");
            return Ok(());
        }
        if ei.qlen > 0 {
            if ei.passcred || ei.passpidfd || ei.passsec {
                bad = Some("a connection not accepted yet, with queued data and SO_PASSCRED, SO_PASSPIDFD or SO_PASSSEC");
                return Ok(());
            }
            e.for_each_queued(|d| {
                if d.has_fds() || d.sender() != ckey {
                    bad = Some("a connection not accepted yet, with file descriptors in flight (SCM_RIGHTS) or data of another socket");
                }
                Ok(())
            })?;
        }
        out.push((e.key(), ckey), GFP_KERNEL)?;
        Ok(())
    })?;
    if let Some(what) = bad {
        return Err(nope(&format_args!("listening on {addr} with {what}")));
    }
    Ok(out)
}

impl UnixSnap {
    /// Its identity among the shared objects.
    pub(crate) fn key(&self) -> u64 {
        self.key
    }

    /// The open file description it holds a reference to, by identity.
    pub(crate) fn file_key(&self) -> u64 {
        self.file.as_ptr() as usize as u64
    }

    /// Writes its record with id `id` (its first appearance), and, if its
    /// peer has not appeared yet, the peer's, then the queued bytes of both.
    pub(crate) fn write(&self, id: u32, w: &mut ImageWriter<'_>, ids: &mut SharedIds) -> Result {
        let sk = Sk::of_file(&self.file).ok_or(EINVAL)?;
        if self.connecting {
            // Its peer comes back through its listener's record.
            return write_sock(sk, id, 0, 0, true, w);
        }
        if sk.info().state == kapi::SK_LISTEN {
            return self.write_listener(sk, id, w, ids);
        }
        let mut peer_id = 0;
        let mut peer_first = false;
        if let Some(p) = &self.peer {
            (peer_id, peer_first) = ids.id_first(Kind::Unix, p.sk().key())?;
        }
        let n = count_queue(sk)?;
        write_sock(sk, id, peer_id, n, false, w)?;
        let peer = match (&self.peer, peer_first) {
            (Some(p), true) => {
                let pn = count_queue(p.sk())?;
                write_sock(p.sk(), peer_id, id, pn, false, w)?;
                Some((p.sk(), peer_id, pn))
            }
            _ => None,
        };
        let mut buf = KVVec::from_elem(0u8, format::MAX_UNIX_DATA, GFP_KERNEL_ACCOUNT)?;
        // The queues of parked tasks do not change: what was counted is
        // what is written, or the image would be refused at restart.
        if write_queue(sk, id, self.peer_key, &mut buf, w)? != n {
            return Err(EAGAIN);
        }
        if let Some((psk, pid, pn)) = peer {
            if write_queue(psk, pid, self.key, &mut buf, w)? != pn {
                return Err(EAGAIN);
            }
        }
        Ok(())
    }
}

impl UnixSnap {
    /// Writes listener `sk`'s record, then each connection queued on it,
    /// in order: its client's record if that is its first appearance, the
    /// connection's record and the bytes queued in it.
    fn write_listener(
        &self,
        sk: Sk<'_>,
        id: u32,
        w: &mut ImageWriter<'_>,
        ids: &mut SharedIds,
    ) -> Result {
        write_sock(sk, id, 0, 0, false, w)?;
        let mut buf = KVVec::new();
        let mut k = 0;
        sk.for_each_queued(|q| {
            // The queue may have grown since gather (a connection from
            // outside): the checkpoint is tried again.
            let e = q.owner().ok_or(EAGAIN)?;
            let c = e.peer().ok_or(EAGAIN)?;
            if self.queued.get(k) != Some(&(e.key(), c.sk().key())) {
                return Err(EAGAIN);
            }
            k += 1;
            let (cid, first) = ids.id_first(Kind::Unix, c.sk().key())?;
            if first {
                write_sock(c.sk(), cid, 0, 0, true, w)?;
            }
            let n = count_queue(e)?;
            let r = UnixQueued {
                listener: id,
                client: cid,
                data_records: n,
                peer_pid: e.peer_pid(),
            };
            w.record(|b| r.encode(b))?;
            if n != 0 {
                if buf.is_empty() {
                    buf = KVVec::from_elem(0u8, format::MAX_UNIX_DATA, GFP_KERNEL_ACCOUNT)?;
                }
                if write_queue(e, cid, c.sk().key(), &mut buf, w)? != n {
                    return Err(EAGAIN);
                }
            }
            Ok(())
        })?;
        if k != self.queued.len() {
            return Err(EAGAIN);
        }
        Ok(())
    }
}

fn write_sock(
    sk: Sk<'_>,
    id: u32,
    peer: u32,
    records: u32,
    connecting: bool,
    w: &mut ImageWriter<'_>,
) -> Result {
    let i = sk.info();
    let mut flags = 0;
    for (on, bit) in [
        (i.passcred, format::UNIX_PASSCRED),
        (i.passsec, format::UNIX_PASSSEC),
        (i.passpidfd, format::UNIX_PASSPIDFD),
        (i.passrights, format::UNIX_PASSRIGHTS),
        (i.rcvbuf_locked, format::UNIX_RCVBUF_LOCK),
        (i.sndbuf_locked, format::UNIX_SNDBUF_LOCK),
    ] {
        if on {
            flags |= bit;
        }
    }
    let rec = UnixSock {
        id,
        ty: i.ty as u32,
        state: if connecting {
            UnixState::Connecting
        } else if peer != 0 {
            UnixState::Connected
        } else if i.state == kapi::SK_LISTEN {
            UnixState::Listening
        } else {
            UnixState::Unconnected
        } as u32,
        peer,
        shutdown: i.shutdown,
        flags,
        rcvbuf: if i.rcvbuf_locked { i.rcvbuf } else { 0 },
        sndbuf: if i.sndbuf_locked { i.sndbuf } else { 0 },
        peek_off: i.peek_off.max(-1),
        backlog: if i.state == kapi::SK_LISTEN {
            i.backlog
        } else {
            0
        },
        rcvtimeo_us: i.rcvtimeo_us,
        sndtimeo_us: i.sndtimeo_us,
        addr_len: i.addr_len as u32,
        data_records: records,
        addr: i.addr,
        // The caller runs this: the pid is in its namespace, as the image's.
        peer_pid: sk.peer_pid(),
    };
    w.record(|b| rec.encode(b))
}

/// Data records [`write_queue`] writes for `sk`'s receive queue.
fn count_queue(sk: Sk<'_>) -> Result<u32> {
    let stream = sk.info().ty == SOCK_STREAM;
    let max = format::MAX_UNIX_DATA as u32;
    let mut n = 0u32;
    sk.for_each_queued(|q| {
        let (_, left) = q.unread();
        n += match (stream, left) {
            (true, 0) => 0,
            (false, 0) => 1,
            _ => left.div_ceil(max),
        };
        Ok(())
    })?;
    Ok(n)
}

/// Writes the unread bytes of `sk`'s receive queue as data records of
/// socket `id`: one message per skb for datagrams, the bytes for streams.
/// Returns the number of records written.
fn write_queue(
    sk: Sk<'_>,
    id: u32,
    peer_key: u64,
    buf: &mut [u8],
    w: &mut ImageWriter<'_>,
) -> Result<u32> {
    let stream = sk.info().ty == SOCK_STREAM;
    let mut count = 0u32;
    sk.for_each_queued(|q| {
        // The target is parked; only its peer (in the tree, parked) could
        // have queued more: anything else changed since gather.
        if q.has_fds() || q.sender() != peer_key {
            return Err(EAGAIN);
        }
        let (mut off, mut left) = q.unread();
        if stream && left == 0 {
            return Ok(());
        }
        loop {
            let n = (left as usize).min(buf.len());
            q.copy(off, &mut buf[..n])?;
            off += n as u32;
            left -= n as u32;
            let d = UnixData {
                id,
                flags: if left == 0 || stream {
                    format::UNIX_DATA_EOR
                } else {
                    0
                },
                data: &buf[..n],
            };
            w.record(|b| d.encode(b))?;
            count += 1;
            if left == 0 {
                return Ok(());
            }
        }
    })?;
    Ok(count)
}

/// Refuses a socket whose peer is not a socket of the tree, or is
/// connected elsewhere. `socks` are every unix socket of the tree with its
/// pid and fd.
/// Refuses a socket whose `SO_PEERCRED` names a process restart cannot
/// name again: one that is not a live process of the tree (`tree`), such
/// as the process that made a pair and exited. Runs in the caller, whose
/// pid namespace the tree's ids are in.
pub(crate) fn check_peer_pids<'a>(
    socks: impl Iterator<Item = (i32, u32, &'a UnixSnap)>,
    tree: impl Iterator<Item = format::TreeEntry> + Clone,
) -> Result<(), Refusal> {
    // Whether SO_PEERCRED's pid `n` can be named again: none, or a live
    // process of the tree.
    let nameable = |n: i32| {
        n == 0
            || tree
                .clone()
                .any(|e| e.flags & format::TREE_ZOMBIE == 0 && e.pid == n && e.tgid == n)
    };
    for (pid, fd, s) in socks {
        let Some(sk) = Sk::of_file(&s.file) else {
            continue;
        };
        // A listener's connections not accepted yet name their clients.
        let mut embryo = 0;
        sk.for_each_queued(|q| {
            if let Some(n) = q.owner().map(|e| e.peer_pid()).filter(|&n| !nameable(n)) {
                embryo = n;
            }
            Ok(())
        })?;
        if embryo != 0 {
            return Err(refuse!(
                eopnotsupp(),
                "pid {pid} fd {fd}: unix socket with a connection not accepted yet whose SO_PEERCRED names pid {embryo}, which is not a live process of the tree: not supported yet"
            ));
        }
        let n = sk.peer_pid();
        if !nameable(n) {
            return Err(refuse!(
                eopnotsupp(),
                "pid {pid} fd {fd}: unix socket whose SO_PEERCRED names pid {n}, which is not a live process of the tree: not supported yet"
            ));
        }
    }
    Ok(())
}

pub(crate) fn check_peers<'a, I>(socks: impl Fn() -> I) -> Result<(), Refusal>
where
    I: Iterator<Item = (i32, u32, &'a UnixSnap)>,
{
    for (pid, fd, s) in socks() {
        for &(_, c) in s.queued.iter() {
            if !socks().any(|(_, _, t)| t.key == c && t.connecting) {
                let i = Sk::of_file(&s.file).map(|k| k.info());
                let own = i.as_ref().map_or(&[][..], |i| &i.addr[..i.addr_len]);
                return Err(refuse!(
                    eopnotsupp(),
                    "pid {pid} fd {fd}: unix socket listening on {} with a connection not accepted yet, from a socket outside the tree: not supported",
                    Addr(own)
                ));
            }
        }
        let Some(p) = &s.peer else { continue };
        if s.connecting {
            let listener = socks().any(|(_, _, t)| t.queued.contains(&(s.peer_key, s.key)));
            if !listener {
                return Err(refuse!(
                    eopnotsupp(),
                    "pid {pid} fd {fd}: unix socket connected to a connection not accepted yet by a listening socket outside the tree: not supported"
                ));
            }
            continue;
        }
        match socks().find(|(_, _, t)| t.key == s.peer_key) {
            None => {
                let pi = p.sk().info();
                return Err(refuse!(
                    eopnotsupp(),
                    "pid {pid} fd {fd}: unix socket connected to {}: not supported (peer outside the tree)",
                    Addr(&pi.addr[..pi.addr_len])
                ));
            }
            Some((ppid, pfd, t)) if t.peer_key != s.key => {
                return Err(refuse!(
                    eopnotsupp(),
                    "pid {pid} fd {fd}: unix socket connected to pid {ppid} fd {pfd}, which is connected elsewhere: not supported yet"
                ));
            }
            Some(_) => {}
        }
        // A connected socket with a name is an accepted one, which has the
        // name of its listener, in the tree; any other is not restored.
        if s.addr_key != 0 {
            let listener = socks()
                .any(|(_, _, t)| t.key != s.key && t.addr_key == s.addr_key && t.peer.is_none());
            if !listener {
                let i = Sk::of_file(&s.file).map(|k| k.info());
                let own = i.as_ref().map_or(&[][..], |i| &i.addr[..i.addr_len]);
                return Err(refuse!(
                    eopnotsupp(),
                    "pid {pid} fd {fd}: unix socket connected through {}, not accepted from a listening socket of the tree: not supported yet",
                    Addr(own)
                ));
            }
        }
    }
    Ok(())
}

// ------------------------------------------------------------ restart

/// Takes a unix socket record or a data record (`Ok(false)` for any
/// other), making the socket, pairing it and queueing its bytes again.
pub(crate) fn add(rec: &Record<'_>, shared: &mut SharedObjects, log: &Log) -> Result<bool> {
    match rec {
        Record::UnixSock(u) => add_sock(u, shared, log)?,
        Record::UnixData(d) => add_data(d, shared, log)?,
        Record::UnixQueued(q) => add_queued(q, shared, log)?,
        _ => return Ok(false),
    }
    Ok(true)
}

/// Makes each unix socket's `SO_PEERCRED` name the process it named at
/// checkpoint ([`UnixSock::peer_pid`]), with the caller's credentials,
/// which are the tree's: `task_of` finds the restored process of an
/// image tgid. Runs once every task of the tree exists, before the point
/// of no return; the sockets were made by the caller (`socketpair`,
/// `listen`, `connect`), which those calls made their peer.
pub(crate) fn set_peer_creds<'t>(
    shared: &mut SharedObjects,
    task_of: impl Fn(i32) -> Option<PeerOf<'t>>,
    log: &Log,
) -> Result {
    for id in 1..=shared.count(Kind::Unix) as u32 {
        let Some(Object::Unix {
            rec,
            sock,
            queued_peer_pid,
            ..
        }) = shared.get(Kind::Unix, id)
        else {
            continue;
        };
        let who = |n: i32| {
            if n == 0 {
                return Ok(PeerOf::Nobody);
            }
            task_of(n).ok_or_else(|| {
                fail!(
                    log,
                    EINVAL,
                    "bad image: unix socket {id}: SO_PEERCRED names pid {n}, not a process of the image"
                )
            })
        };
        let sk = sock.sk()?;
        sk.set_peer(who(rec.peer_pid)?)
            .map_err(|e| fail!(log, e, "unix socket {id}: cannot set its SO_PEERCRED"))?;
        // A client's connection queued on a listener, not accepted yet.
        if rec.state() == UnixState::Connecting {
            let embryo = sk.peer().ok_or(EINVAL)?;
            embryo.sk().set_peer(who(*queued_peer_pid)?).map_err(|e| {
                fail!(
                    log,
                    e,
                    "unix socket {id}: cannot set its connection's SO_PEERCRED"
                )
            })?;
        }
    }
    Ok(())
}

fn add_sock(r: &UnixSock, shared: &mut SharedObjects, log: &Log) -> Result {
    let id = r.id;
    if id as usize != shared.count(Kind::Unix) + 1 {
        return Err(fail!(
            log,
            EINVAL,
            "bad image: unix socket {id} out of order"
        ));
    }
    let sock = NewSocket::create(r.ty as i32)
        .map_err(|e| fail!(log, e, "unix socket {id}: cannot create it"))?;
    set_options(&sock, r, log)?;
    if r.addr_len != 0 && r.peer != 0 {
        // An accepted socket: it has its listener's name, unbound.
        sock.set_name(r.addr()).map_err(|e| {
            fail!(
                log,
                e,
                "unix socket {id}: cannot name it {}",
                Addr(r.addr())
            )
        })?;
    } else if r.addr_len != 0 {
        // A path left by the checkpointed socket is in use: it is never
        // removed here (it may be another socket's, or not a socket).
        sock.bind(r.addr()).map_err(|e| {
            let hint = if e == eaddrinuse() {
                " (address in use: remove a stale socket file first)"
            } else {
                ""
            };
            fail!(
                log,
                e,
                "unix socket {id}: cannot bind to {}{hint}",
                Addr(r.addr())
            )
        })?;
    }
    if r.state() == UnixState::Listening {
        sock.listen(r.backlog).map_err(|e| {
            fail!(
                log,
                e,
                "unix socket {id}: cannot listen on {}",
                Addr(r.addr())
            )
        })?;
    }
    let mut paired = false;
    if r.peer != 0 && r.peer < id {
        let Some(Object::Unix {
            rec: prec,
            sock: psock,
            paired: ppaired,
            ..
        }) = shared.get(Kind::Unix, r.peer)
        else {
            return Err(fail!(
                log,
                EINVAL,
                "bad image: unix socket {id}: no peer {}",
                r.peer
            ));
        };
        if prec.peer != id || prec.ty != r.ty || *ppaired {
            return Err(fail!(
                log,
                EINVAL,
                "bad image: unix socket {id}: peer {} is not its pair",
                r.peer
            ));
        }
        NewSocket::pair(psock, &sock)
            .map_err(|e| fail!(log, e, "unix socket {id}: cannot connect it to {}", r.peer))?;
        *ppaired = true;
        paired = true;
    }
    shared.insert(
        id,
        Object::Unix {
            rec: *r,
            sock,
            partial: KVVec::new(),
            paired,
            opened: false,
            queued_peer_pid: 0,
        },
    )
}

/// Sets the socket options of `r`, checking that they read back as saved.
fn set_options(s: &NewSocket, r: &UnixSock, log: &Log) -> Result {
    let id = r.id;
    let bad = |e, what: &str| fail!(log, e, "unix socket {id}: cannot set {what}");
    for (bit, opt, name) in [
        (format::UNIX_PASSCRED, kapi::SO_PASSCRED, "SO_PASSCRED"),
        (format::UNIX_PASSSEC, kapi::SO_PASSSEC, "SO_PASSSEC"),
        (format::UNIX_PASSPIDFD, kapi::SO_PASSPIDFD, "SO_PASSPIDFD"),
    ] {
        if r.flags & bit != 0 {
            s.setsockopt(opt, 1).map_err(|e| bad(e, name))?;
        }
    }
    if r.flags & format::UNIX_PASSRIGHTS == 0 {
        s.setsockopt(kapi::SO_PASSRIGHTS, 0)
            .map_err(|e| bad(e, "SO_PASSRIGHTS"))?;
    }
    // setsockopt doubles the value it is given (and clamps it to
    // rmem_max/wmem_max): give half of what getsockopt read.
    if r.flags & format::UNIX_RCVBUF_LOCK != 0 {
        s.setsockopt(kapi::SO_RCVBUF, (r.rcvbuf / 2) as i32)
            .map_err(|e| bad(e, "SO_RCVBUF"))?;
    }
    if r.flags & format::UNIX_SNDBUF_LOCK != 0 {
        s.setsockopt(kapi::SO_SNDBUF, (r.sndbuf / 2) as i32)
            .map_err(|e| bad(e, "SO_SNDBUF"))?;
    }
    if r.rcvtimeo_us != 0 {
        s.set_timeo(kapi::SO_RCVTIMEO_NEW, r.rcvtimeo_us)
            .map_err(|e| bad(e, "SO_RCVTIMEO"))?;
    }
    if r.sndtimeo_us != 0 {
        s.set_timeo(kapi::SO_SNDTIMEO_NEW, r.sndtimeo_us)
            .map_err(|e| bad(e, "SO_SNDTIMEO"))?;
    }
    let i = s.sk()?.info();
    let same = i.passcred == (r.flags & format::UNIX_PASSCRED != 0)
        && i.passsec == (r.flags & format::UNIX_PASSSEC != 0)
        && i.passpidfd == (r.flags & format::UNIX_PASSPIDFD != 0)
        && i.passrights == (r.flags & format::UNIX_PASSRIGHTS != 0)
        && (r.flags & format::UNIX_RCVBUF_LOCK == 0 || i.rcvbuf == r.rcvbuf)
        && (r.flags & format::UNIX_SNDBUF_LOCK == 0 || i.sndbuf == r.sndbuf)
        && i.rcvtimeo_us == r.rcvtimeo_us
        && i.sndtimeo_us == r.sndtimeo_us;
    if !same {
        return Err(fail!(
            log,
            EINVAL,
            "unix socket {id}: its options do not read back as saved (SO_RCVBUF {} for {}, SO_SNDBUF {} for {}: above rmem_max/wmem_max?)",
            i.rcvbuf,
            r.rcvbuf,
            i.sndbuf,
            r.sndbuf
        ));
    }
    Ok(())
}

/// Connects client `q.client` to listener `q.listener` again: the
/// connection lands at the end of the listener's queue.
fn add_queued(q: &UnixQueued, shared: &mut SharedObjects, log: &Log) -> Result {
    let (lid, cid) = (q.listener, q.client);
    let bad = || {
        fail!(
            log,
            EINVAL,
            "bad image: unix connection queued on socket {lid} from socket {cid}: not a listener and a connecting socket"
        )
    };
    let Some(Object::Unix { rec: lrec, .. }) = shared.get(Kind::Unix, lid) else {
        return Err(bad());
    };
    if lrec.state() != UnixState::Listening {
        return Err(bad());
    }
    let (laddr, lty) = (lrec.addr, lrec.addr_len as usize);
    let lsock_ty = lrec.ty;
    let Some(Object::Unix {
        rec,
        sock,
        paired,
        opened,
        queued_peer_pid,
        ..
    }) = shared.get(Kind::Unix, cid)
    else {
        return Err(bad());
    };
    if rec.state() != UnixState::Connecting || *paired || rec.ty != lsock_ty {
        return Err(bad());
    }
    *queued_peer_pid = q.peer_pid;
    let addr = &laddr[..lty.min(laddr.len())];
    sock.connect(addr).map_err(|e| {
        fail!(
            log,
            e,
            "unix socket {cid}: cannot connect it to {} again (a connection queued there)",
            Addr(addr)
        )
    })?;
    let embryo = sock.sk()?.peer().map(|p| p.sk().key()).ok_or(EINVAL)?;
    *paired = true;
    rec.data_records = q.data_records;
    if q.data_records == 0 && *opened {
        finish(sock, rec, cid, log)?;
    }
    // The connection must be in our listener's queue, not another's that
    // answers at that address.
    let Some(Object::Unix { sock: lsock, .. }) = shared.get(Kind::Unix, lid) else {
        return Err(bad());
    };
    let mut last = 0;
    lsock.sk()?.for_each_queued(|s| {
        last = s.owner().map_or(0, |o| o.key());
        Ok(())
    })?;
    if last != embryo {
        return Err(fail!(
            log,
            eaddrinuse(),
            "unix socket {cid}: connected to {}, which is not unix socket {lid}",
            Addr(addr)
        ));
    }
    Ok(())
}

fn add_data(d: &UnixData<'_>, shared: &mut SharedObjects, log: &Log) -> Result {
    let id = d.id;
    let Some(Object::Unix {
        rec,
        partial,
        paired,
        opened,
        ..
    }) = shared.get(Kind::Unix, id)
    else {
        return Err(fail!(
            log,
            EINVAL,
            "bad image: data for unix socket {id}, which is none"
        ));
    };
    // A connecting socket's data records are the bytes it sent, queued in
    // its connection: sent again from it, its file open or not.
    let connecting = rec.state() == UnixState::Connecting;
    if connecting {
        if !*paired || rec.data_records == 0 {
            return Err(fail!(
                log,
                EINVAL,
                "bad image: data for unix socket {id}, which is not connected again"
            ));
        }
        rec.data_records -= 1;
    } else if !*paired || *opened {
        return Err(fail!(
            log,
            EINVAL,
            "bad image: data for unix socket {id}, which is not connected or already open"
        ));
    }
    let peer = rec.peer;
    let stream = rec.ty == format::SOCK_STREAM;
    // A datagram is sent whole, once its last record is in.
    let msg = if stream {
        None
    } else {
        if partial.len() + d.data.len() > format::MAX_UNIX_DGRAM {
            return Err(fail!(
                log,
                EINVAL,
                "bad image: unix socket {id}: datagram too large"
            ));
        }
        partial.extend_from_slice(d.data, GFP_KERNEL_ACCOUNT)?;
        if d.flags & format::UNIX_DATA_EOR == 0 {
            return Ok(());
        }
        Some(core::mem::take(partial))
    };
    let bytes: &[u8] = msg.as_deref().unwrap_or(d.data);
    if connecting {
        let Some(Object::Unix {
            rec, sock, opened, ..
        }) = shared.get(Kind::Unix, id)
        else {
            return Err(EINVAL);
        };
        send_all(sock, bytes, stream, id, log)?;
        if rec.data_records == 0 && *opened {
            finish(sock, rec, id, log)?;
        }
        return Ok(());
    }
    let Some(Object::Unix { sock, opened, .. }) = shared.get(Kind::Unix, peer) else {
        return Err(fail!(
            log,
            EINVAL,
            "bad image: unix socket {id}: no peer {peer}"
        ));
    };
    if *opened {
        return Err(fail!(
            log,
            EINVAL,
            "bad image: unix socket {id}: its peer is already open"
        ));
    }
    send_all(sock, bytes, stream, id, log)
}

/// Sends `bytes` from `sock` (one message unless `stream`), for the
/// receive queue of socket `id`.
fn send_all(sock: &NewSocket, bytes: &[u8], stream: bool, id: u32, log: &Log) -> Result {
    let mut done = 0;
    while done < bytes.len() || (done == 0 && bytes.is_empty()) {
        let n = sock.send(&bytes[done..]).map_err(|e| {
            fail!(
                log,
                e,
                "unix socket {id}: cannot queue {} bytes again",
                bytes.len() - done
            )
        })?;
        if !stream && n != bytes.len() {
            return Err(fail!(log, EIO, "unix socket {id}: datagram queued short"));
        }
        if n == 0 {
            break;
        }
        done += n;
    }
    Ok(())
}

/// Applies socket `id`'s shutdown bits and peek offset, its data being in.
fn finish(sock: &NewSocket, rec: &UnixSock, id: u32, log: &Log) -> Result {
    let bad = |e, what: &str| fail!(log, e, "unix socket {id}: cannot set {what}");
    if rec.shutdown & format::UNIX_RCV_SHUTDOWN != 0 {
        sock.shutdown(0).map_err(|e| bad(e, "its shutdown state"))?;
    }
    if rec.shutdown & format::UNIX_SEND_SHUTDOWN != 0 {
        sock.shutdown(1).map_err(|e| bad(e, "its shutdown state"))?;
    }
    if rec.peek_off >= 0 {
        sock.setsockopt(kapi::SO_PEEK_OFF, rec.peek_off)
            .map_err(|e| bad(e, "SO_PEEK_OFF"))?;
    }
    Ok(())
}

/// The file of unix socket `obj`, for the file record of `fd` (with its
/// `open_flags`): its shutdown bits and peek offset are set now, its data
/// being in.
pub(crate) fn open(
    fd: u32,
    obj: u32,
    open_flags: u32,
    shared: &mut SharedObjects,
    log: &Log,
) -> Result<ARef<File>> {
    let Some(Object::Unix {
        rec,
        sock,
        partial,
        paired,
        opened,
        ..
    }) = shared.get(Kind::Unix, obj)
    else {
        return Err(fail!(
            log,
            EINVAL,
            "bad image: fd {fd}: no unix socket {obj}"
        ));
    };
    let connecting = rec.state() == UnixState::Connecting;
    if *opened || !partial.is_empty() || (!connecting && (rec.peer != 0) != *paired) {
        return Err(fail!(
            log,
            EINVAL,
            "bad image: fd {fd}: unix socket {obj} is opened twice, unpaired or has a datagram cut short"
        ));
    }
    // A connecting socket not connected again yet, or whose bytes are not
    // all sent again, gets them once they are (add_queued, add_data).
    if !connecting || (*paired && rec.data_records == 0) {
        finish(sock, rec, obj, log)?;
    }
    *opened = true;
    let f = sock
        .file(open_flags & 0o4000 != 0)
        .map_err(|e| fail!(log, e, "fd {fd}: unix socket {obj}: cannot make its file"))?;
    Ok(f)
}
