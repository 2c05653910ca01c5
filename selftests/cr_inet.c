// SPDX-License-Identifier: GPL-2.0
/*
 * TCP and UDP sockets, IPv4 and IPv6: listening TCP sockets come back on
 * their address and port with their backlog and options, bound and
 * connected UDP sockets on theirs, with their TCP, IP and IPv6 options
 * (each read back through getsockopt); what cr cannot restore yet (an
 * established connection, queued datagrams, IP_UNICAST_IF) is refused by name
 * at checkpoint, and a port taken at restart fails the restart cleanly,
 * before the point of no return, leaving the image usable.
 *
 * progs/inet.c makes the sockets, reports each (getsockname and every
 * option through getsockopt) and answers requests on them; the tests
 * compare its reports before the checkpoint and after the restart.  The
 * real program is python3 -m http.server, which must serve the same files
 * after its restart.
 *
 * The VM the tests run in is emulated (TCG), 10-30 times slower than
 * native: every wait has a generous timeout and nothing waits forever.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/cr.h>
#include "kselftest_harness.h"
#include "cr_test.h"

#define TEST_TIMEOUT	300	/* s: one whole test */
#define PORT_BASE	17300	/* the tests' fixed ports: PORT_BASE + 0..49 */
#define MAX_REPORT	16

FIXTURE(cr) {
	struct cr_env env;
};

FIXTURE_SETUP(cr)
{
	loopback_up();
	cr_env_setup_flags(_metadata, &self->env, "cr_inet", 0);
}

FIXTURE_TEARDOWN(cr)
{
	cr_env_teardown(&self->env);
}

static socklen_t mkaddr(const char *a, int port, struct sockaddr_storage *ss)
{
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, a, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		return sizeof(*in);
	}
	if (inet_pton(AF_INET6, a, &in6->sin6_addr) != 1)
		return 0;
	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons(port);
	return sizeof(*in6);
}

/* Connects to @a:@port, sends @req, returns what comes back up to EOF. */
static int tcp_ask(const char *a, int port, const char *req, char *out, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t len = mkaddr(a, port, &ss);
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ssize_t n = strlen(req);

	out[0] = 0;
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&ss, len) || write(fd, req, n) != n) {
		int e = errno;

		close(fd);
		return -e;
	}
	slurp(fd, out, size, START_TIMEOUT);
	close(fd);
	return 0;
}

/* Sends @req from @fd to @a:@port; the answer, or "" after a timeout. */
static void udp_ask(int fd, const char *a, int port, const char *req, char *out,
		    size_t size)
{
	struct sockaddr_storage ss;
	socklen_t len = mkaddr(a, port, &ss);
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;

	out[0] = 0;
	if (sendto(fd, req, strlen(req), 0, (struct sockaddr *)&ss, len) < 0)
		return;
	if (poll(&p, 1, START_TIMEOUT) != 1)
		return;
	n = recv(fd, out, size - 1, 0);
	out[n > 0 ? n : 0] = 0;
}

static int udp_socket(const char *a, int port)
{
	struct sockaddr_storage ss;
	socklen_t len = mkaddr(a, port, &ss);
	int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd >= 0 && bind(fd, (struct sockaddr *)&ss, len)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The SOCK lines of progs/inet up to READY (or END). */
struct report {
	int n, nopts;
	char line[MAX_REPORT][512];
	char opts[MAX_REPORT][512];	/* the OPTS lines */
};

static void read_report(struct __test_metadata *_metadata, struct proc *p,
			struct report *r, const char *last, int timeout)
{
	char line[512];

	r->n = 0;
	r->nopts = 0;
	for (;;) {
		next_line(_metadata, p, line, sizeof(line), timeout);
		if (!strcmp(line, last))
			return;
		if (!strncmp(line, "OPTS ", 5)) {
			ASSERT_GT(MAX_REPORT, r->nopts);
			strcpy(r->opts[r->nopts++], line);
			continue;
		}
		ASSERT_EQ(0, strncmp(line, "SOCK ", 5)) TH_LOG("inet: %s", line);
		ASSERT_GT(MAX_REPORT, r->n);
		strcpy(r->line[r->n++], line);
	}
}

static struct proc *start_inet(struct __test_metadata *_metadata,
			       FIXTURE_DATA(cr) *self, struct report *r,
			       char *const specs[])
{
	char path[PATH_MAX + 16], *argv[MAX_REPORT + 2];
	struct proc *p;
	int i;

	snprintf(path, sizeof(path), "%s/inet", self->env.bin);
	argv[0] = path;
	for (i = 0; specs[i] && i < MAX_REPORT; i++)
		argv[i + 1] = specs[i];
	argv[i + 1] = NULL;
	p = start(_metadata, &self->env, argv, -1, -1);
	read_report(_metadata, p, r, "READY", START_TIMEOUT);
	return p;
}

/* The restored program reports exactly what the original did. */
static void same_report(struct __test_metadata *_metadata, struct proc *copy,
			const struct report *before)
{
	struct report after;
	int i;

	ASSERT_EQ(2, write(copy->in, "R\n", 2));
	read_report(_metadata, copy, &after, "END", START_TIMEOUT);
	ASSERT_EQ(before->n, after.n);
	for (i = 0; i < before->n; i++)
		EXPECT_STREQ(before->line[i], after.line[i]);
	ASSERT_EQ(before->nopts, after.nopts);
	for (i = 0; i < before->nopts; i++)
		EXPECT_STREQ(before->opts[i], after.opts[i]);
}

/* The local port of socket @i of a report. */
static int report_port(const struct report *r, int i)
{
	const char *l = strstr(r->line[i], " local="), *c;

	if (!l)
		return -1;
	c = strchr(l, ' ');
	c = strchr(c + 1, ' ');
	while (c > l && c[-1] != ':')
		c--;
	return atoi(c);
}

/* Socket @idx of @p, on @a:@port, answers a connection. */
static void expect_tcp(struct __test_metadata *_metadata, struct proc *p,
		       const char *a, int port, int idx, const char *word)
{
	char req[64], want[96], out[256];
	int r;

	snprintf(req, sizeof(req), "%s\n", word);
	snprintf(want, sizeof(want), "TCP %d %s\n", idx, word);
	r = tcp_ask(a, port, req, out, sizeof(out));
	if (r)
		show_stderr(_metadata, p);
	ASSERT_EQ(0, r) {
		TH_LOG("%s: connect to %s port %d: %s", word, a, port, strerror(-r));
	}
	EXPECT_STREQ(want, out) TH_LOG("from %s port %d", a, port);
}

/* The first "inet" element of the image's JSON with @key == @want. */
static bool image_has(struct __test_metadata *_metadata, FIXTURE_DATA(cr) *self,
		      const char *img, const char *key, const char *want)
{
	struct json j;
	int list, e;
	bool found = false;

	crctl_info(_metadata, &self->env, img, &j);
	list = json_find(&j, 0, "inet");
	if (list >= 0)
		for (e = j.v[list].child; e >= 0 && !found; e = j.v[e].next) {
			const char *s = json_str(&j, e, key);

			found = s && !strcmp(s, want);
		}
	json_free(&j);
	return found;
}

/*
 * Listening TCP over IPv4 with SO_REUSEADDR, SO_REUSEPORT, a backlog,
 * buffer sizes, SO_KEEPALIVE, TCP_NODELAY, IP_TOS and IP_TTL: after the
 * restart a client connects and is answered, and every option reads back
 * as before; crctl info shows the socket.
 */
TEST_F_TIMEOUT(cr, tcp4_listen, TEST_TIMEOUT)
{
	char spec[128], local[32], img[PATH_MAX];
	char *specs[] = { spec, NULL };
	struct report before;
	struct proc *orig, *copy;
	int port = PORT_BASE;

	snprintf(spec, sizeof(spec),
		 "tcp,127.0.0.1,%d,reuseaddr,reuseport,backlog=7,rcvbuf=50000,"
		 "sndbuf=70000,keepalive,nodelay,tos=16,ttl=33", port);
	orig = start_inet(_metadata, self, &before, specs);
	expect_tcp(_metadata, orig, "127.0.0.1", port, 0, "before");
	checkpoint(_metadata, &self->env, orig->pid, tmp_path(&self->env, img, "tcp4.img"));
	expect_sigkill(_metadata, orig);
	snprintf(local, sizeof(local), "127.0.0.1:%d", port);
	EXPECT_TRUE(image_has(_metadata, self, img, "local", local));
	EXPECT_TRUE(image_has(_metadata, self, img, "state", "listen"));

	copy = restart(_metadata, &self->env, img, 0);
	expect_tcp(_metadata, copy, "127.0.0.1", port, 0, "after");
	expect_tcp(_metadata, copy, "127.0.0.1", port, 0, "again");
	same_report(_metadata, copy, &before);
}

/* Whether fds @a and @b of @pid are one open file (the same socket inode). */
static bool same_file(pid_t pid, int a, int b)
{
	char pa[64], pb[64], la[64] = "", lb[64] = "";

	snprintf(pa, sizeof(pa), "/proc/%d/fd/%d", pid, a);
	snprintf(pb, sizeof(pb), "/proc/%d/fd/%d", pid, b);
	if (readlink(pa, la, sizeof(la) - 1) <= 0 || readlink(pb, lb, sizeof(lb) - 1) <= 0)
		return false;
	return !strcmp(la, lb) && !strncmp(la, "socket:[", 8);
}

/*
 * A listening socket on two fds (dup()): restored once, one open file on
 * both fds again.
 */
TEST_F_TIMEOUT(cr, tcp_dup, TEST_TIMEOUT)
{
	char spec[96], img[PATH_MAX], out[256];
	char *specs[] = { spec, NULL };
	struct report before;
	struct proc *orig, *copy;
	int port = PORT_BASE + 5;

	snprintf(spec, sizeof(spec), "tcp,127.0.0.1,%d,reuseaddr,dup", port);
	orig = start_inet(_metadata, self, &before, specs);
	ASSERT_EQ(2, before.n);
	ASSERT_TRUE(same_file(orig->pid, 3, 4));
	checkpoint(_metadata, &self->env, orig->pid, tmp_path(&self->env, img, "dup.img"));
	expect_sigkill(_metadata, orig);

	copy = restart(_metadata, &self->env, img, 0);
	/* The program serves it through fd 3. */
	ASSERT_EQ(0, tcp_ask("127.0.0.1", port, "x\n", out, sizeof(out)));
	EXPECT_STREQ("TCP 0 x\n", out);
	same_report(_metadata, copy, &before);
	EXPECT_TRUE(same_file(orig->pid, 3, 4));
}

/*
 * Listening TCP over IPv6: one IPV6_V6ONLY on ::1, one dual-stack on ::
 * that IPv4 clients reach too, and one bound but not listening.
 */
TEST_F_TIMEOUT(cr, tcp6_listen, TEST_TIMEOUT)
{
	char s0[96], s1[96], s2[96], img[PATH_MAX];
	char *specs[] = { s0, s1, s2, NULL };
	struct report before;
	struct proc *orig, *copy;
	int p0 = PORT_BASE + 1, p1 = PORT_BASE + 2;

	snprintf(s0, sizeof(s0), "tcp,::1,%d,v6only=1,backlog=3,hops=9,tclass=32", p0);
	snprintf(s1, sizeof(s1), "tcp,::,%d,v6only=0,reuseaddr", p1);
	snprintf(s2, sizeof(s2), "tcp,::1,%d,nolisten", PORT_BASE + 3);
	orig = start_inet(_metadata, self, &before, specs);
	/*
	 * Not the first: a connection it served leaves its port in TIME_WAIT,
	 * which only SO_REUSEADDR lets the restart bind again.
	 */
	expect_tcp(_metadata, orig, "127.0.0.1", p1, 1, "mapped");
	checkpoint(_metadata, &self->env, orig->pid, tmp_path(&self->env, img, "tcp6.img"));
	expect_sigkill(_metadata, orig);

	copy = restart(_metadata, &self->env, img, 0);
	expect_tcp(_metadata, copy, "::1", p0, 0, "v6-after");
	expect_tcp(_metadata, copy, "::1", p1, 1, "dual-after");
	expect_tcp(_metadata, copy, "127.0.0.1", p1, 1, "mapped-after");
	same_report(_metadata, copy, &before);
}

/*
 * UDP: bound over IPv4 and IPv6, and connected to a peer (the test's own
 * socket, which alone it answers): datagrams sent after the restart
 * arrive and are answered.
 */
TEST_F_TIMEOUT(cr, udp, TEST_TIMEOUT)
{
	char s0[96], s1[96], s2[96], s3[96], img[PATH_MAX], out[256];
	char *specs[] = { s0, s1, s2, s3, NULL };
	int p0 = PORT_BASE + 10, p1 = PORT_BASE + 11, peer_port = PORT_BASE + 12;
	struct report before;
	struct proc *orig, *copy;
	int c4, c6, peer, cport;

	c4 = udp_socket("127.0.0.1", 0);
	c6 = udp_socket("::1", 0);
	peer = udp_socket("127.0.0.1", peer_port);
	ASSERT_LE(0, c4);
	ASSERT_LE(0, c6);
	ASSERT_LE(0, peer);
	snprintf(s0, sizeof(s0), "udp,127.0.0.1,%d,broadcast,rcvbuf=30000", p0);
	snprintf(s1, sizeof(s1), "udp,::1,%d,v6only=1", p1);
	snprintf(s2, sizeof(s2), "udp,0.0.0.0,0,connect=127.0.0.1:%d", peer_port);
	snprintf(s3, sizeof(s3), "udp,0.0.0.0,0,unbound");
	orig = start_inet(_metadata, self, &before, specs);
	cport = report_port(&before, 2);
	ASSERT_LT(0, cport);
	udp_ask(c4, "127.0.0.1", p0, "a", out, sizeof(out));
	EXPECT_STREQ("UDP 0 a", out);
	checkpoint(_metadata, &self->env, orig->pid, tmp_path(&self->env, img, "udp.img"));
	expect_sigkill(_metadata, orig);
	EXPECT_TRUE(image_has(_metadata, self, img, "state", "connected"));

	copy = restart(_metadata, &self->env, img, 0);
	udp_ask(c4, "127.0.0.1", p0, "b", out, sizeof(out));
	EXPECT_STREQ("UDP 0 b", out);
	udp_ask(c6, "::1", p1, "c", out, sizeof(out));
	EXPECT_STREQ("UDP 1 c", out);
	/* The connected one hears only its peer. */
	udp_ask(peer, "127.0.0.1", cport, "d", out, sizeof(out));
	EXPECT_STREQ("UDP 2 d", out);
	same_report(_metadata, copy, &before);
	close(c4);
	close(c6);
	close(peer);
}

/*
 * The port is taken when the image is restarted: crctl restart fails
 * before the point of no return, saying which fd, address and why; once
 * the port is free, the same image restarts.
 */
TEST_F_TIMEOUT(cr, port_taken, TEST_TIMEOUT)
{
	char spec[96], img[PATH_MAX], err[4096], want[128];
	char *specs[] = { spec, NULL };
	char *argv[] = { "crctl", "restart", "-i", img, NULL };
	struct sockaddr_storage ss;
	struct report before;
	struct proc *orig, *copy;
	int port = PORT_BASE + 20, squat, status;
	socklen_t len;

	snprintf(spec, sizeof(spec), "tcp,127.0.0.1,%d,reuseaddr", port);
	orig = start_inet(_metadata, self, &before, specs);
	checkpoint(_metadata, &self->env, orig->pid, tmp_path(&self->env, img, "taken.img"));
	expect_sigkill(_metadata, orig);

	len = mkaddr("127.0.0.1", port, &ss);
	squat = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, squat);
	ASSERT_EQ(0, bind(squat, (struct sockaddr *)&ss, len));
	ASSERT_EQ(0, listen(squat, 1));
	status = run(_metadata, &self->env, argv, -1, err, sizeof(err));
	EXPECT_TRUE(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) != 0) {
		TH_LOG("crctl restart with the port taken: status %#x", status);
	}
	snprintf(want, sizeof(want), "cannot bind TCP 127.0.0.1:%d: address in use (EADDRINUSE)", port);
	EXPECT_NE(NULL, strstr(err, want)) TH_LOG("crctl restart stderr: %s", err);
	EXPECT_NE(NULL, strstr(err, "fd 3:")) TH_LOG("crctl restart stderr: %s", err);
	close(squat);

	copy = restart(_metadata, &self->env, img, 0);
	expect_tcp(_metadata, copy, "127.0.0.1", port, 0, "free");
	same_report(_metadata, copy, &before);
}

/*
 * A refused socket: crctl checkpoint fails (exit status 1, @what and "not
 * supported yet" on stderr), the ioctl with EOPNOTSUPP, and the target
 * serves on as before.
 */
static void refused(struct __test_metadata *_metadata, FIXTURE_DATA(cr) *self,
		    char *spec, int fd, const char *what)
{
	char img[PATH_MAX], pidstr[16], err[4096], line[1024], fdstr[64];
	char *argv[] = { "crctl", "checkpoint", "-o", img, pidstr, NULL };
	char *specs[] = { spec, NULL };
	struct cr_checkpoint_args args;
	struct report before;
	struct proc *orig;
	int status, dev, imgfd, logp[2], r, e;

	orig = start_inet(_metadata, self, &before, specs);
	tmp_path(&self->env, img, "refused.img");
	snprintf(pidstr, sizeof(pidstr), "%d", orig->pid);
	snprintf(fdstr, sizeof(fdstr), "pid %d fd %d: ", orig->pid, fd);
	status = run(_metadata, &self->env, argv, -1, err, sizeof(err));
	EXPECT_TRUE(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 1);
	EXPECT_TRUE(strstr(err, what) && strstr(err, ": not supported yet") &&
		    strstr(err, fdstr)) {
		TH_LOG("crctl checkpoint stderr: %s", err);
	}

	dev = open(CR_DEVICE, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, dev);
	imgfd = open(img, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ASSERT_LE(0, imgfd);
	ASSERT_EQ(0, pipe2(logp, O_CLOEXEC));
	memset(&args, 0, sizeof(args));
	args.size = sizeof(args);
	args.pid = orig->pid;
	args.fd = imgfd;
	args.logfd = logp[1];
	r = ioctl(dev, CR_IOC_CHECKPOINT, &args);
	e = errno;
	close(logp[1]);
	slurp(logp[0], line, sizeof(line), LINE_TIMEOUT);
	close(logp[0]);
	close(imgfd);
	close(dev);
	EXPECT_EQ(-1, r);
	EXPECT_EQ(EOPNOTSUPP, e) TH_LOG("errno %d (%s)", e, strerror(e));
	EXPECT_NE(NULL, strstr(line, what)) TH_LOG("CR_IOC_CHECKPOINT log: %s", line);

	/* Left as it was. */
	same_report(_metadata, orig, &before);
}

TEST_F_TIMEOUT(cr, refuse_established, TEST_TIMEOUT)
{
	char spec[] = "tcp,127.0.0.1,0,established";

	/* The connecting end, fd 4, comes first; the accepted one is fd 5. */
	refused(_metadata, self, spec, 4, "established TCP connection 127.0.0.1:");
}

TEST_F_TIMEOUT(cr, refuse_accept_queue, TEST_TIMEOUT)
{
	char spec[] = "tcp,127.0.0.1,0,pending";

	refused(_metadata, self, spec, 3, "with 1 connections not yet accepted");
}

TEST_F_TIMEOUT(cr, refuse_queued_datagram, TEST_TIMEOUT)
{
	char spec[] = "udp,127.0.0.1,0,queue";

	refused(_metadata, self, spec, 3, "with 1 datagrams queued");
}

/* IP_UNICAST_IF (getsockopt reads another form than setsockopt takes). */
TEST_F_TIMEOUT(cr, refuse_unicast_if, TEST_TIMEOUT)
{
	char spec[] = "udp,127.0.0.1,0,ucastif";

	refused(_metadata, self, spec, 3, "with option IP_UNICAST_IF");
}

/*
 * A listening TCP socket with the TCP options a server sets
 * (TCP_DEFER_ACCEPT, keepalive timing, TCP_FASTOPEN's queue,
 * TCP_USER_TIMEOUT, TCP_MAXSEG, TCP_WINDOW_CLAMP, TCP_SYNCNT, TCP_LINGER2,
 * TCP_NOTSENT_LOWAT, TCP_QUICKACK, another congestion control), SO_LINGER,
 * SO_RCVLOWAT, IP_FREEBIND and IP_RECVTOS: after the restart every option
 * reads back as before (the OPTS lines) and the socket serves.
 */
TEST_F_TIMEOUT(cr, tcp_options, TEST_TIMEOUT)
{
	char spec[512], img[PATH_MAX];
	char *specs[] = { spec, NULL };
	struct report before;
	struct proc *orig, *copy;
	int port = PORT_BASE + 20;

	snprintf(spec, sizeof(spec),
		 "tcp,127.0.0.1,%d,reuseaddr,keepalive,opt=6.9.5,opt=6.4.77,opt=6.5.9,"
		 "opt=6.6.4,opt=6.18.3000,opt=6.23.8,opt=6.8.20,opt=6.25.4096,"
		 "opt=6.10.20000,opt=6.7.3,opt=6.2.1000,opt=6.12.0,cc=reno,linger,"
		 "opt=1.18.2,opt=0.15.1,opt=0.13.1", port);
	orig = start_inet(_metadata, self, &before, specs);
	ASSERT_EQ(1, before.nopts);
	EXPECT_NE(NULL, strstr(before.opts[0], "cc=reno"));
	EXPECT_NE(NULL, strstr(before.opts[0], " 6.4=77 "));
	EXPECT_NE(NULL, strstr(before.opts[0], "linger=1,5"));
	expect_tcp(_metadata, orig, "127.0.0.1", port, 0, "before");
	checkpoint(_metadata, &self->env, orig->pid, tmp_path(&self->env, img, "tcpopt.img"));
	expect_sigkill(_metadata, orig);

	copy = restart(_metadata, &self->env, img, 0);
	expect_tcp(_metadata, copy, "127.0.0.1", port, 0, "after");
	same_report(_metadata, copy, &before);
}

/*
 * UDP over IPv6 and IPv4 with the ancillary-data options (IPV6_RECVPKTINFO,
 * IPV6_RECVTCLASS, IPV6_RECVHOPLIMIT, IPV6_RECVERR, IP_PKTINFO, IP_RECVTTL,
 * IP_RECVERR) and multicast sending options: all read back as before.
 */
TEST_F_TIMEOUT(cr, udp_ancillary_options, TEST_TIMEOUT)
{
	char s0[256], s1[256], img[PATH_MAX], out[256];
	char *specs[] = { s0, s1, NULL };
	int p0 = PORT_BASE + 21, p1 = PORT_BASE + 22;
	struct report before;
	struct proc *orig, *copy;
	int c6;

	snprintf(s0, sizeof(s0),
		 "udp,::1,%d,opt=41.49.1,opt=41.66.1,opt=41.51.1,opt=41.25.1,"
		 "opt=41.18.5,opt=41.19.0,opt=0.8.1,opt=0.33.7", p0);
	snprintf(s1, sizeof(s1),
		 "udp,127.0.0.1,%d,opt=0.8.1,opt=0.12.1,opt=0.11.1,opt=0.33.9,"
		 "opt=0.34.0,opt=1.29.1", p1);
	orig = start_inet(_metadata, self, &before, specs);
	ASSERT_EQ(2, before.nopts);
	EXPECT_NE(NULL, strstr(before.opts[0], " 41.49=1 "));
	checkpoint(_metadata, &self->env, orig->pid, tmp_path(&self->env, img, "udpopt.img"));
	expect_sigkill(_metadata, orig);

	copy = restart(_metadata, &self->env, img, 0);
	c6 = udp_socket("::1", 0);
	ASSERT_LE(0, c6);
	udp_ask(c6, "::1", p0, "v6", out, sizeof(out));
	EXPECT_STREQ("UDP 0 v6", out);
	same_report(_metadata, copy, &before);
	close(c6);
}

/* Fetches http://127.0.0.1:@port/@name: the body, after the headers. */
static char *http_get(const char *name, int port, char *out, size_t size)
{
	char req[256], *body;

	snprintf(req, sizeof(req), "GET /%s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", name);
	if (tcp_ask("127.0.0.1", port, req, out, size))
		return NULL;
	if (strncmp(out, "HTTP/1.0 200", 12))
		return NULL;
	body = strstr(out, "\r\n\r\n");
	return body ? body + 4 : NULL;
}

/* Waits until @pid is one thread with fds 0 to 3 only (its listener). */
static bool quiet(pid_t pid, int timeout)
{
	long long end = now_ms() + timeout;
	char path[64];
	pid_t tids[8];

	snprintf(path, sizeof(path), "/proc/%d/fd/4", pid);
	while (now_ms() < end) {
		if (task_ids(pid, tids, 8) == 1 && access(path, F_OK))
			return true;
		usleep(100000);
	}
	return false;
}

/*
 * The real program: python3 -m http.server, checkpointed once it listens,
 * restarted, serves the same files.
 */
TEST_F_TIMEOUT(cr, http_server, TEST_TIMEOUT)
{
	char dir[PATH_MAX], file[PATH_MAX + 16], img[PATH_MAX], line[256];
	char portstr[16], out[8192], want[4096], *body;
	char *argv[] = { "/usr/bin/python3", "-u", "-m", "http.server", portstr,
			 "--bind", "127.0.0.1", "--directory", dir, NULL };
	int port = PORT_BASE + 30, fd, i;
	struct proc *orig, *copy;
	size_t n = 0;

	if (access(argv[0], X_OK))
		SKIP(return, "no %s", argv[0]);
	snprintf(portstr, sizeof(portstr), "%d", port);
	tmp_path(&self->env, dir, "www");
	ASSERT_EQ(0, mkdir(dir, 0755));
	snprintf(file, sizeof(file), "%s/page.txt", dir);
	for (i = 0; n < sizeof(want) - 64; i++)
		n += snprintf(want + n, sizeof(want) - n, "line %d of the page\n", i);
	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ((ssize_t)n, write(fd, want, n));
	close(fd);

	orig = start(_metadata, &self->env, argv, -1, -1);
	next_line(_metadata, orig, line, sizeof(line), START_TIMEOUT);
	ASSERT_EQ(0, strncmp(line, "Serving HTTP on 127.0.0.1 port", 30)) TH_LOG("%s", line);
	body = http_get("page.txt", port, out, sizeof(out));
	ASSERT_NE(NULL, body) TH_LOG("before: %s", out);
	EXPECT_STREQ(want, body);
	/* The thread that served it is gone, and its connection. */
	ASSERT_TRUE(quiet(orig->pid, START_TIMEOUT));
	checkpoint(_metadata, &self->env, orig->pid, tmp_path(&self->env, img, "http.img"));
	expect_sigkill(_metadata, orig);

	copy = restart(_metadata, &self->env, img, 0);
	for (i = 0; i < 2; i++) {
		body = http_get("page.txt", port, out, sizeof(out));
		ASSERT_NE(NULL, body) TH_LOG("after restart, request %d: %s", i, out);
		EXPECT_STREQ(want, body);
	}
	(void)copy;
}

TEST_HARNESS_MAIN
