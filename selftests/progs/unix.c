// SPDX-License-Identifier: GPL-2.0
/*
 * Target of the cr_unix tests: unix domain sockets in the states a
 * checkpoint must save or refuse.  Every line goes out with one write(2)
 * (say()).  After its READY line(s), each process reads one byte from its
 * stdin (a pipe): the test writes one byte per process to make it check
 * its sockets, which it does at most once.
 *
 * Usage: unix MODE [ARG]
 *
 * pair TYPE SPLIT
 *	socketpair(AF_UNIX, TYPE) (stream, dgram or seqpacket); with SPLIT 1
 *	the process forks and the child keeps end B, the parent end A; with
 *	0 one process keeps both.  A sends 3 messages to B ("A<i>:" then
 *	i * 700 bytes of 'a' + i), B sends 3 to A likewise; then A receives
 *	the first 5 bytes of B's data (stream: part of B's first write; a
 *	datagram type: B's whole first message).  Prints "READY A <pid>" and
 *	"READY B <pid>" (once for SPLIT 0).  On its byte, each end receives
 *	what it must still have queued, exactly (message boundaries included
 *	for datagrams), and then nothing more but its peer's new message
 *	"after": "CHECK A ok" / "CHECK B ok" and "ALIVE A" / "ALIVE B", or
 *	"BAD <what>".  Exits 0 (the parent after reaping the child).
 *
 * opts
 *	Pair 1 (stream): SO_RCVBUF 12345, SO_SNDBUF 54321, SO_RCVTIMEO 1.5 s,
 *	SO_SNDTIMEO 0.25 s and SO_PASSCRED on end A; end B gets "hello
 *	world", sets SO_PEEK_OFF 0 and peeks 5 bytes (its peek offset is 5).
 *	Pair 2 (seqpacket): C sends "last" and shuts down writing.  Prints
 *	"OPTS <rcvbuf> <sndbuf> <rcvtimeo us> <sndtimeo us> <passcred>
 *	<peek_off>" and READY; on its byte, the OPTS line again, then "PEEK
 *	<next 6 bytes peeked>", and "SHUT <message> <recv after it> <send
 *	errno of C>" (want "SHUT last 0 32"), and exits 0.
 *
 * rights
 *	A dgram pair; A sends B a datagram carrying its fd of /dev/null
 *	(SCM_RIGHTS), not received.  READY, then waits for its byte.
 *
 * connect ADDR
 *	Connects a stream socket to the listening socket at ADDR (a path, or
 *	"@name" for an abstract name; outside the tree), prints READY, and
 *	waits for its byte.
 *
 * listen ADDR
 *	A stream socket bound to ADDR, listening (backlog 7).  READY; on its
 *	byte "NAME <address getsockname gives>", then it accepts one
 *	connection and prints "ACCEPTED <first bytes received>".
 *
 * server ADDR
 *	A stream socket listening on ADDR; the process forks a child that
 *	connects to it and sends "c2s"; the parent accepts and sends "s2c".
 *	"READY C <pid>" and "READY S <pid>".  On their bytes, the child prints
 *	"CLIENT <getpeername> <bytes received>", the parent "SERVER
 *	<getsockname of the accepted socket> <bytes received>", then both
 *	"ALIVE C" / "ALIVE S" as in pair.
 *
 * queued ADDR
 *	A stream socket listening on ADDR (backlog 4) and, in the same
 *	process, two clients connected to it, not accepted: the first sends
 *	"one" and shuts down writing, the second sends "two".  READY; on its
 *	byte it accepts both and prints "QUEUED <name of the first accepted>
 *	<its bytes> <its recv after them> <the second's bytes> <reply>",
 *	reply being what the first client receives of "back" sent on the
 *	first accepted socket (want "QUEUED ADDR one 0 two back"); "BAD ..."
 *	if the first accepted socket's SO_PEERCRED does not name it.
 *
 * dgram ADDR
 *	A datagram socket bound to ADDR.  READY; on its byte "NAME ...", then
 *	"GOT <first datagram received>".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include "prog.h"

#define NMSG	3
#define PART	5

static int type;

static void die(const char *what)
{
	say("BAD %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Message @i (1..NMSG) of end @who ('A' or 'B') into @buf; its length. */
static size_t msg(char who, int i, char *buf)
{
	size_t n = sprintf(buf, "%c%d:", who, i);

	memset(buf + n, (who == 'A' ? 'a' : 'A') + i, i * 700);
	return n + i * 700;
}

static void send_all(int fd, char who)
{
	char buf[4096];
	int i;

	for (i = 1; i <= NMSG; i++) {
		size_t n = msg(who, i, buf);

		if (send(fd, buf, n, MSG_NOSIGNAL) != (ssize_t)n)
			die("send");
	}
}

/* Reads exactly @n bytes of a stream. */
static bool read_n(int fd, char *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = recv(fd, buf + got, n - got, 0);

		if (r <= 0)
			return false;
		got += r;
	}
	return true;
}

/* Waits for this process's byte on stdin. */
static void wait_byte(void)
{
	char c;

	while (read(0, &c, 1) != 1)
		if (errno != EINTR)
			nap(100000);
}

/*
 * End @me checks what its peer @other sent it, minus what was received
 * before the checkpoint (@skip bytes of a stream, or @skip messages).
 */
static void check_end(int fd, char me, char other, int skip)
{
	char want[4096], got[4096 + 16];
	size_t n;
	ssize_t r;
	int i;

	if (type == SOCK_STREAM) {
		size_t total = 0;
		static char all[NMSG * 4096];

		for (i = 1; i <= NMSG; i++)
			total += msg(other, i, all + total);
		n = total - skip;
		{
			static char in[NMSG * 4096];

			if (!read_n(fd, in, n) || memcmp(in, all + skip, n)) {
				say("BAD %c stream data differs\n", me);
				exit(1);
			}
		}
	} else {
		for (i = 1 + skip; i <= NMSG; i++) {
			n = msg(other, i, want);
			r = recv(fd, got, sizeof(got), 0);
			if (r != (ssize_t)n || memcmp(got, want, n)) {
				say("BAD %c message %d: %zd bytes, want %zu\n", me, i, r, n);
				exit(1);
			}
		}
	}
	say("CHECK %c ok\n", me);
}

/* Sends "after" to the peer, and receives the peer's, and nothing else. */
static void alive(int fd, char me)
{
	char buf[64];
	ssize_t r;

	if (send(fd, "after", 5, MSG_NOSIGNAL) != 5)
		die("send after");
	if (type == SOCK_STREAM) {
		if (!read_n(fd, buf, 5))
			die("recv after");
		r = 5;
	} else {
		r = recv(fd, buf, sizeof(buf), 0);
	}
	if (r != 5 || memcmp(buf, "after", 5)) {
		say("BAD %c after: %zd bytes \"%.*s\"\n", me, r, (int)(r > 0 ? r : 0), buf);
		exit(1);
	}
	say("ALIVE %c\n", me);
}

/* A receives the first PART bytes (or message) of B's data. */
static void take_part(int a)
{
	char buf[4096];

	if (type == SOCK_STREAM) {
		if (!read_n(a, buf, PART) || memcmp(buf, "B1:", 3))
			die("partial read");
	} else if (recv(a, buf, sizeof(buf), 0) != 3 + 700) {
		die("first message");
	}
}

static int pair(const char *ty, int split)
{
	int sv[2], skip;
	pid_t kid;

	type = !strcmp(ty, "stream") ? SOCK_STREAM :
	       !strcmp(ty, "dgram") ? SOCK_DGRAM : SOCK_SEQPACKET;
	skip = type == SOCK_STREAM ? PART : 1;
	if (socketpair(AF_UNIX, type, 0, sv))
		die("socketpair");
	if (!split) {
		send_all(sv[0], 'A');
		send_all(sv[1], 'B');
		take_part(sv[0]);
		say("READY A %d\n", getpid());
		wait_byte();
		check_end(sv[0], 'A', 'B', skip);
		check_end(sv[1], 'B', 'A', 0);
		if (send(sv[0], "after", 5, 0) != 5 || send(sv[1], "after", 5, 0) != 5)
			die("send after");
		{
			char b[16];

			if ((type == SOCK_STREAM ? read_n(sv[1], b, 5) :
			     recv(sv[1], b, 16, 0) == 5) && !memcmp(b, "after", 5))
				say("ALIVE B\n");
			if ((type == SOCK_STREAM ? read_n(sv[0], b, 5) :
			     recv(sv[0], b, 16, 0) == 5) && !memcmp(b, "after", 5))
				say("ALIVE A\n");
		}
		return 0;
	}
	kid = fork();
	if (kid < 0)
		die("fork");
	if (!kid) {
		close(sv[0]);
		send_all(sv[1], 'B');
		say("READY B %d\n", getpid());
		wait_byte();
		check_end(sv[1], 'B', 'A', 0);
		alive(sv[1], 'B');
		return 0;
	}
	close(sv[1]);
	send_all(sv[0], 'A');
	take_part(sv[0]);
	say("READY A %d\n", getpid());
	wait_byte();
	check_end(sv[0], 'A', 'B', skip);
	alive(sv[0], 'A');
	{
		int st;

		if (waitpid(kid, &st, 0) != kid || !WIFEXITED(st) || WEXITSTATUS(st))
			die("child");
	}
	return 0;
}

static void show_opts(int a, int b)
{
	int rcv, snd, cred, peek;
	struct timeval rt, st;
	socklen_t l = sizeof(int);

	getsockopt(a, SOL_SOCKET, SO_RCVBUF, &rcv, &l);
	l = sizeof(int);
	getsockopt(a, SOL_SOCKET, SO_SNDBUF, &snd, &l);
	l = sizeof(int);
	getsockopt(a, SOL_SOCKET, SO_PASSCRED, &cred, &l);
	l = sizeof(int);
	getsockopt(b, SOL_SOCKET, SO_PEEK_OFF, &peek, &l);
	l = sizeof(rt);
	getsockopt(a, SOL_SOCKET, SO_RCVTIMEO, &rt, &l);
	l = sizeof(st);
	getsockopt(a, SOL_SOCKET, SO_SNDTIMEO, &st, &l);
	say("OPTS %d %d %lld %lld %d %d\n", rcv, snd,
	    rt.tv_sec * 1000000LL + rt.tv_usec, st.tv_sec * 1000000LL + st.tv_usec,
	    cred, peek);
}

static int opts(void)
{
	int p[2], q[2], v, e;
	struct timeval rt = { 1, 500000 }, st = { 0, 250000 };
	char buf[64];
	ssize_t r, r2;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, p) ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET, 0, q))
		die("socketpair");
	v = 12345;
	setsockopt(p[0], SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
	v = 54321;
	setsockopt(p[0], SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
	setsockopt(p[0], SOL_SOCKET, SO_RCVTIMEO, &rt, sizeof(rt));
	setsockopt(p[0], SOL_SOCKET, SO_SNDTIMEO, &st, sizeof(st));
	v = 1;
	setsockopt(p[0], SOL_SOCKET, SO_PASSCRED, &v, sizeof(v));
	if (send(p[0], "hello world", 11, 0) != 11)
		die("send hello");
	v = 0;
	if (setsockopt(p[1], SOL_SOCKET, SO_PEEK_OFF, &v, sizeof(v)))
		die("SO_PEEK_OFF");
	if (recv(p[1], buf, 5, MSG_PEEK) != 5)
		die("peek");
	if (send(q[0], "last", 4, 0) != 4 || shutdown(q[0], SHUT_WR))
		die("shutdown");
	show_opts(p[0], p[1]);
	say("READY\n");
	wait_byte();
	show_opts(p[0], p[1]);
	r = recv(p[1], buf, 6, MSG_PEEK | MSG_DONTWAIT);
	say("PEEK %.*s\n", (int)(r > 0 ? r : 0), buf);
	r = recv(q[1], buf, sizeof(buf), MSG_DONTWAIT);
	r2 = recv(q[1], buf + 32, 16, MSG_DONTWAIT);
	e = send(q[0], "x", 1, MSG_NOSIGNAL) < 0 ? errno : 0;
	say("SHUT %.*s %zd %d\n", (int)(r > 0 ? r : 0), buf, r2, e);
	return 0;
}

static int rights(void)
{
	int sv[2], fd = open("/dev/null", O_RDWR);
	char c = 'x';
	struct iovec iov = { &c, 1 };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);

	if (fd < 0 || socketpair(AF_UNIX, SOCK_DGRAM, 0, sv))
		die("setup");
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	if (sendmsg(sv[0], &m, 0) != 1)
		die("sendmsg");
	say("READY\n");
	wait_byte();
	return 0;
}

/* @addr: a path, or "@name" for an abstract name; returns the length. */
static socklen_t mkaddr(struct sockaddr_un *a, const char *addr)
{
	size_t n = strlen(addr);

	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	if (n >= sizeof(a->sun_path))
		die("address too long");
	memcpy(a->sun_path, addr, n);
	if (addr[0] == '@') {
		a->sun_path[0] = 0;
		return offsetof(struct sockaddr_un, sun_path) + n;
	}
	return sizeof(*a);
}

/* Prints "NAME <address>" as getsockname() says ("@name" for abstract). */
static void show_name(int s)
{
	struct sockaddr_un a;
	socklen_t l = sizeof(a);
	size_t n;

	if (getsockname(s, (void *)&a, &l))
		die("getsockname");
	n = l - offsetof(struct sockaddr_un, sun_path);
	if (n && !a.sun_path[0])
		say("NAME @%.*s\n", (int)n - 1, a.sun_path + 1);
	else
		say("NAME %s\n", a.sun_path);
}

static int named(const char *mode, const char *addr)
{
	struct sockaddr_un a;
	socklen_t len = mkaddr(&a, addr);
	int dgram = !strcmp(mode, "dgram");
	int s = socket(AF_UNIX, dgram ? SOCK_DGRAM : SOCK_STREAM, 0), c;
	char buf[256];
	ssize_t r;

	if (s < 0)
		die("socket");
	if (!strcmp(mode, "connect")) {
		if (connect(s, (void *)&a, len))
			die("connect");
		say("READY\n");
		wait_byte();
		return 0;
	}
	if (bind(s, (void *)&a, len) || (!dgram && listen(s, 7)))
		die("bind/listen");
	say("READY\n");
	wait_byte();
	show_name(s);
	if (dgram) {
		r = recv(s, buf, sizeof(buf), 0);
		say("GOT %.*s\n", (int)(r > 0 ? r : 0), buf);
		return 0;
	}
	c = accept(s, NULL, NULL);
	if (c < 0)
		die("accept");
	r = recv(c, buf, sizeof(buf), 0);
	say("ACCEPTED %.*s\n", (int)(r > 0 ? r : 0), buf);
	return 0;
}

/* Prints "<what> <name> <first bytes received>" for an accepted or connecting socket. */
static void show_conn(const char *what, int s, bool peer)
{
	struct sockaddr_un a;
	socklen_t l = sizeof(a);
	char buf[64], name[128];
	size_t n;
	ssize_t r;

	if ((peer ? getpeername : getsockname)(s, (void *)&a, &l))
		die("getname");
	n = l - offsetof(struct sockaddr_un, sun_path);
	if (n && !a.sun_path[0])
		snprintf(name, sizeof(name), "@%.*s", (int)n - 1, a.sun_path + 1);
	else
		snprintf(name, sizeof(name), "%s", a.sun_path);
	r = recv(s, buf, 3, MSG_DONTWAIT);
	say("%s %s %.*s\n", what, name, (int)(r > 0 ? r : 0), buf);
}

static int server(const char *addr)
{
	struct sockaddr_un a;
	socklen_t len = mkaddr(&a, addr);
	int l = socket(AF_UNIX, SOCK_STREAM, 0), c, st;
	pid_t kid;

	type = SOCK_STREAM;
	if (l < 0 || bind(l, (void *)&a, len) || listen(l, 4))
		die("bind/listen");
	kid = fork();
	if (kid < 0)
		die("fork");
	if (!kid) {
		close(l);
		c = socket(AF_UNIX, SOCK_STREAM, 0);
		if (c < 0 || connect(c, (void *)&a, len) || send(c, "c2s", 3, 0) != 3)
			die("connect");
		say("READY C %d\n", getpid());
		wait_byte();
		show_conn("CLIENT", c, true);
		alive(c, 'C');
		return 0;
	}
	c = accept(l, NULL, NULL);
	if (c < 0 || send(c, "s2c", 3, 0) != 3)
		die("accept");
	say("READY S %d\n", getpid());
	wait_byte();
	show_conn("SERVER", c, false);
	alive(c, 'S');
	if (waitpid(kid, &st, 0) != kid || !WIFEXITED(st) || WEXITSTATUS(st))
		die("child");
	return 0;
}

static int queued(const char *addr)
{
	struct sockaddr_un a, n;
	socklen_t len = mkaddr(&a, addr), nl = sizeof(n);
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	int c1 = socket(AF_UNIX, SOCK_STREAM, 0), c2 = socket(AF_UNIX, SOCK_STREAM, 0);
	int a1, a2;
	char b1[16] = "", b2[16] = "", b3[16] = "", name[128];
	ssize_t r1, r2, r3, rend;

	if (l < 0 || c1 < 0 || c2 < 0 || bind(l, (void *)&a, len) || listen(l, 4))
		die("bind/listen");
	if (connect(c1, (void *)&a, len) || connect(c2, (void *)&a, len))
		die("connect");
	if (send(c1, "one", 3, 0) != 3 || shutdown(c1, SHUT_WR) || send(c2, "two", 3, 0) != 3)
		die("send");
	say("READY\n");
	wait_byte();
	a1 = accept(l, (void *)&n, &nl);
	a2 = accept(l, NULL, NULL);
	if (a1 < 0 || a2 < 0)
		die("accept");
	/* Both connections were made by this process: SO_PEERCRED says so. */
	{
		struct ucred uc;
		socklen_t ul = sizeof(uc);

		if (getsockopt(a1, SOL_SOCKET, SO_PEERCRED, &uc, &ul) || uc.pid != getpid())
			die("SO_PEERCRED of the accepted connection is not this process");
	}
	nl = sizeof(n);
	if (getsockname(a1, (void *)&n, &nl))
		die("getsockname");
	nl -= offsetof(struct sockaddr_un, sun_path);
	if (nl && !n.sun_path[0])
		snprintf(name, sizeof(name), "@%.*s", (int)nl - 1, n.sun_path + 1);
	else
		snprintf(name, sizeof(name), "%s", n.sun_path);
	r1 = recv(a1, b1, sizeof(b1) - 1, MSG_DONTWAIT);
	rend = recv(a1, b3, sizeof(b3) - 1, MSG_DONTWAIT);
	r2 = recv(a2, b2, sizeof(b2) - 1, MSG_DONTWAIT);
	if (send(a1, "back", 4, 0) != 4)
		die("send back");
	r3 = recv(c1, b3, sizeof(b3) - 1, 0);
	say("QUEUED %s %.*s %zd %.*s %.*s\n", name, (int)(r1 > 0 ? r1 : 0), b1, rend,
	    (int)(r2 > 0 ? r2 : 0), b2, (int)(r3 > 0 ? r3 : 0), b3);
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc == 4 && !strcmp(argv[1], "pair"))
		return pair(argv[2], atoi(argv[3]));
	if (argc == 2 && !strcmp(argv[1], "opts"))
		return opts();
	if (argc == 2 && !strcmp(argv[1], "rights"))
		return rights();
	if (argc == 3 && !strcmp(argv[1], "server"))
		return server(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "queued"))
		return queued(argv[2]);
	if (argc == 3 && (!strcmp(argv[1], "connect") || !strcmp(argv[1], "listen") ||
			  !strcmp(argv[1], "dgram")))
		return named(argv[1], argv[2]);
	say("BAD usage\n");
	return 2;
}
