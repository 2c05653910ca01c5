// SPDX-License-Identifier: GPL-2.0
/*
 * TCP and UDP sockets for cr_inet: makes the sockets its arguments
 * describe, prints one "SOCK <i> <state>" line for each (its address and
 * every option as getsockopt() reads them), then "READY", and serves:
 *
 *	a listening TCP socket accepts a connection, reads one line and
 *	answers "TCP <i> <line>" and closes it;
 *	a UDP socket answers each datagram "UDP <i> <datagram>" (to its
 *	sender, or to its peer if connected);
 *	a line on stdin prints the SOCK lines again, then "END".
 *
 * Each argument is "KIND,ADDR,PORT[,OPTION...]": KIND tcp or udp; ADDR an
 * IPv4 or IPv6 address (the family follows); PORT 0 for an ephemeral one;
 * OPTIONS: backlog=N (listen, tcp only; "nolisten" to stay bound), reuseaddr,
 * reuseport, v6only=0|1, keepalive, broadcast, nodelay, rcvbuf=N, sndbuf=N,
 * tos=N, ttl=N, hops=N, tclass=N, connect=ADDR:PORT or connect=[ADDR]:PORT
 * (udp), established (tcp: connect to itself and accept: an established
 * pair), pending (tcp: listen, and a connection to itself left in the accept
 * queue), queue (udp: a datagram sent to itself and left unread), unbound,
 * dup (the socket is also the next one, through dup(), not polled),
 * opt=LEVEL.NAME.VALUE (any int option, by number), cc=NAME
 * (TCP_CONGESTION), ucastif (IP_UNICAST_IF: the loopback interface).
 * After each SOCK line an "OPTS <i> ..." line gives the values of more
 * options (TCP, IP and IPv6 ancillary-data options, SO_LINGER...).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "prog.h"

#define MAX_SOCKS 16

struct s {
	int fd, family, type;
	int listening;
	int unread;	/* never read: its queue stays */
};

static struct s socks[MAX_SOCKS];
static int nsocks;

static void die(const char *what)
{
	say("FAIL %s: %s\n", what, strerror(errno));
	exit(1);
}

static int parse_addr(const char *a, int port, struct sockaddr_storage *ss,
		      socklen_t *len)
{
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, a, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		*len = sizeof(*in);
		return AF_INET;
	}
	if (inet_pton(AF_INET6, a, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		*len = sizeof(*in6);
		return AF_INET6;
	}
	say("FAIL bad address %s\n", a);
	exit(1);
}

static int geti(int fd, int level, int opt)
{
	int v = -12345;
	socklen_t l = sizeof(v);

	if (getsockopt(fd, level, opt, &v, &l))
		return -1000 - errno;
	return v;
}

/* The options of the OPTS line: level, number, IPv6 only. */
static const struct { int level, name, v6; } opts[] = {
	{ SOL_SOCKET, SO_RCVLOWAT }, { SOL_SOCKET, SO_MARK },
	{ SOL_SOCKET, SO_PASSCRED }, { SOL_SOCKET, SO_TIMESTAMP },
	{ SOL_SOCKET, SO_OOBINLINE },
	{ IPPROTO_IP, IP_PKTINFO }, { IPPROTO_IP, IP_RECVERR },
	{ IPPROTO_IP, IP_RECVTTL }, { IPPROTO_IP, IP_RECVTOS },
	{ IPPROTO_IP, IP_FREEBIND }, { IPPROTO_IP, IP_MULTICAST_TTL },
	{ IPPROTO_IP, IP_MULTICAST_LOOP }, { IPPROTO_IP, IP_MTU_DISCOVER },
	{ IPPROTO_IPV6, IPV6_RECVPKTINFO, 1 }, { IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1 },
	{ IPPROTO_IPV6, IPV6_RECVTCLASS, 1 }, { IPPROTO_IPV6, IPV6_RECVERR, 1 },
	{ IPPROTO_IPV6, IPV6_MULTICAST_HOPS, 1 }, { IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 1 },
	{ IPPROTO_TCP, TCP_MAXSEG }, { IPPROTO_TCP, TCP_KEEPIDLE },
	{ IPPROTO_TCP, TCP_KEEPINTVL }, { IPPROTO_TCP, TCP_KEEPCNT },
	{ IPPROTO_TCP, TCP_SYNCNT }, { IPPROTO_TCP, TCP_LINGER2 },
	{ IPPROTO_TCP, TCP_DEFER_ACCEPT }, { IPPROTO_TCP, TCP_WINDOW_CLAMP },
	{ IPPROTO_TCP, TCP_QUICKACK }, { IPPROTO_TCP, TCP_USER_TIMEOUT },
	{ IPPROTO_TCP, TCP_FASTOPEN }, { IPPROTO_TCP, TCP_NOTSENT_LOWAT },
};

static void report_opts(int i)
{
	struct s *s = &socks[i];
	char line[600], cc[32] = "-";
	struct linger lg = { -1, -1 };
	socklen_t l = sizeof(lg);
	size_t n = 0, k;

	for (k = 0; k < sizeof(opts) / sizeof(opts[0]); k++) {
		if (opts[k].v6 && s->family != AF_INET6)
			continue;
		if (opts[k].level == IPPROTO_TCP && s->type != SOCK_STREAM)
			continue;
		n += snprintf(line + n, sizeof(line) - n, " %d.%d=%d", opts[k].level,
			      opts[k].name, geti(s->fd, opts[k].level, opts[k].name));
	}
	getsockopt(s->fd, SOL_SOCKET, SO_LINGER, &lg, &l);
	if (s->type == SOCK_STREAM) {
		l = sizeof(cc) - 1;
		if (getsockopt(s->fd, IPPROTO_TCP, TCP_CONGESTION, cc, &l))
			strcpy(cc, "?");
		cc[l < sizeof(cc) ? l : sizeof(cc) - 1] = 0;
	}
	say("OPTS %d linger=%d,%d cc=%s%s\n", i, lg.l_onoff, lg.l_linger, cc, line);
}

static void show_addr(struct sockaddr_storage *ss, char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &in->sin_addr, a, sizeof(a));
		snprintf(buf, size, "%s:%d", a, ntohs(in->sin_port));
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, a, sizeof(a));
		snprintf(buf, size, "[%s]:%d", a, ntohs(in6->sin6_port));
	}
}

static void report(int i)
{
	struct s *s = &socks[i];
	struct sockaddr_storage ss, ps;
	socklen_t l = sizeof(ss), pl = sizeof(ps);
	char local[80], peer[80] = "-", v6[64] = "";
	int fd = s->fd;

	if (getsockname(fd, (struct sockaddr *)&ss, &l))
		die("getsockname");
	show_addr(&ss, local, sizeof(local));
	if (!getpeername(fd, (struct sockaddr *)&ps, &pl))
		show_addr(&ps, peer, sizeof(peer));
	if (s->family == AF_INET6)
		snprintf(v6, sizeof(v6), " v6only=%d hops=%d tclass=%d",
			 geti(fd, IPPROTO_IPV6, IPV6_V6ONLY),
			 geti(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS),
			 geti(fd, IPPROTO_IPV6, IPV6_TCLASS));
	say("SOCK %d fd=%d type=%d local=%s peer=%s listen=%d reuseaddr=%d reuseport=%d "
	    "keepalive=%d broadcast=%d rcvbuf=%d sndbuf=%d tos=%d ttl=%d nodelay=%d%s\n",
	    i, fd, geti(fd, SOL_SOCKET, SO_TYPE), local, peer,
	    geti(fd, SOL_SOCKET, SO_ACCEPTCONN),
	    geti(fd, SOL_SOCKET, SO_REUSEADDR), geti(fd, SOL_SOCKET, SO_REUSEPORT),
	    geti(fd, SOL_SOCKET, SO_KEEPALIVE), geti(fd, SOL_SOCKET, SO_BROADCAST),
	    geti(fd, SOL_SOCKET, SO_RCVBUF), geti(fd, SOL_SOCKET, SO_SNDBUF),
	    geti(fd, IPPROTO_IP, IP_TOS), geti(fd, IPPROTO_IP, IP_TTL),
	    s->type == SOCK_STREAM ? geti(fd, IPPROTO_TCP, TCP_NODELAY) : -1, v6);
	report_opts(i);
}

static void seti(int fd, int level, int opt, int v, const char *name)
{
	if (setsockopt(fd, level, opt, &v, sizeof(v)))
		die(name);
}

static void make(char *spec)
{
	char *kind = strtok(spec, ","), *addr = strtok(NULL, ","),
	     *port = strtok(NULL, ","), *o;
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, family, type, backlog = 5, listening = 1, bind_it = 1, unread = 0, dup_it = 0;
	struct s *s = &socks[nsocks];

	if (!kind || !addr || !port || nsocks == MAX_SOCKS) {
		say("FAIL bad spec\n");
		exit(1);
	}
	family = parse_addr(addr, atoi(port), &ss, &len);
	type = strcmp(kind, "tcp") ? SOCK_DGRAM : SOCK_STREAM;
	fd = socket(family, type, 0);
	if (fd < 0)
		die("socket");
	while ((o = strtok(NULL, ","))) {
		char *eq = strchr(o, '=');
		int v = eq ? atoi(eq + 1) : 1;

		if (!strncmp(o, "backlog=", 8))
			backlog = v;
		else if (!strcmp(o, "nolisten"))
			listening = 0;
		else if (!strcmp(o, "unbound"))
			bind_it = 0, listening = 0;
		else if (!strcmp(o, "reuseaddr"))
			seti(fd, SOL_SOCKET, SO_REUSEADDR, 1, o);
		else if (!strcmp(o, "reuseport"))
			seti(fd, SOL_SOCKET, SO_REUSEPORT, 1, o);
		else if (!strncmp(o, "v6only=", 7))
			seti(fd, IPPROTO_IPV6, IPV6_V6ONLY, v, o);
		else if (!strcmp(o, "keepalive"))
			seti(fd, SOL_SOCKET, SO_KEEPALIVE, 1, o);
		else if (!strcmp(o, "broadcast"))
			seti(fd, SOL_SOCKET, SO_BROADCAST, 1, o);
		else if (!strcmp(o, "nodelay"))
			seti(fd, IPPROTO_TCP, TCP_NODELAY, 1, o);
		else if (!strncmp(o, "rcvbuf=", 7))
			seti(fd, SOL_SOCKET, SO_RCVBUF, v, o);
		else if (!strncmp(o, "sndbuf=", 7))
			seti(fd, SOL_SOCKET, SO_SNDBUF, v, o);
		else if (!strncmp(o, "tos=", 4))
			seti(fd, IPPROTO_IP, IP_TOS, v, o);
		else if (!strncmp(o, "ttl=", 4))
			seti(fd, IPPROTO_IP, IP_TTL, v, o);
		else if (!strncmp(o, "hops=", 5))
			seti(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, v, o);
		else if (!strncmp(o, "tclass=", 7))
			seti(fd, IPPROTO_IPV6, IPV6_TCLASS, v, o);
		else if (!strncmp(o, "opt=", 4)) {
			int level, name, val;

			if (sscanf(o + 4, "%d.%d.%d", &level, &name, &val) != 3)
				die(o);
			seti(fd, level, name, val, o);
		} else if (!strncmp(o, "cc=", 3)) {
			if (setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, o + 3, strlen(o + 3)))
				die(o);
		} else if (!strcmp(o, "ucastif"))
			seti(fd, IPPROTO_IP, IP_UNICAST_IF, htonl(1), o);
		else if (!strcmp(o, "linger")) {
			struct linger lg = { 1, 5 };

			if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)))
				die(o);
		} else if (!strncmp(o, "connect=", 8)) {
			char a[64], *colon;
			struct sockaddr_storage ps;
			socklen_t pl;

			snprintf(a, sizeof(a), "%s", eq + 1);
			colon = strrchr(a, ':');
			if (!colon)
				die("connect=");
			*colon = 0;
			if (a[0] == '[') {
				memmove(a, a + 1, strlen(a));
				a[strlen(a) - 1] = 0;
			}
			parse_addr(a, atoi(colon + 1), &ps, &pl);
			if (bind_it && bind(fd, (struct sockaddr *)&ss, len))
				die("bind");
			bind_it = 0;
			if (connect(fd, (struct sockaddr *)&ps, pl))
				die("connect");
		} else if (!strcmp(o, "established")) {
			struct sockaddr_storage ls;
			socklen_t ll = sizeof(ls);
			int c;

			if (bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 1))
				die("bind+listen");
			if (getsockname(fd, (struct sockaddr *)&ls, &ll))
				die("getsockname");
			c = socket(family, SOCK_STREAM, 0);
			if (c < 0 || connect(c, (struct sockaddr *)&ls, ll))
				die("connect to itself");
			/* The accepted end stays open, the listener is closed. */
			s->fd = accept(fd, NULL, NULL);
			if (s->fd < 0)
				die("accept");
			close(fd);
			fd = s->fd;
			bind_it = 0;
			listening = 0;
		} else if (!strcmp(o, "dup")) {
			dup_it = 1;
		} else if (!strcmp(o, "pending")) {
			struct sockaddr_storage ls;
			socklen_t ll = sizeof(ls);
			int c;

			if (bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 1))
				die("bind+listen");
			if (getsockname(fd, (struct sockaddr *)&ls, &ll))
				die("getsockname");
			c = socket(family, SOCK_STREAM, 0);
			if (c < 0 || connect(c, (struct sockaddr *)&ls, ll))
				die("connect to itself");
			bind_it = 0;
			listening = 1;
			unread = 1;
		} else if (!strcmp(o, "queue")) {
			struct sockaddr_storage ls;
			socklen_t ll = sizeof(ls);
			int c;

			if (bind(fd, (struct sockaddr *)&ss, len))
				die("bind");
			bind_it = 0;
			if (getsockname(fd, (struct sockaddr *)&ls, &ll))
				die("getsockname");
			c = socket(family, SOCK_DGRAM, 0);
			if (c < 0 || sendto(c, "x", 1, 0, (struct sockaddr *)&ls, ll) != 1)
				die("sendto itself");
			close(c);
			unread = 1;
			nap(100000);
		} else {
			say("FAIL bad option %s\n", o);
			exit(1);
		}
	}
	if (bind_it && bind(fd, (struct sockaddr *)&ss, len))
		die("bind");
	if (type == SOCK_STREAM && bind_it && listening && listen(fd, backlog))
		die("listen");
	s->fd = fd;
	s->family = family;
	s->type = type;
	s->listening = type == SOCK_STREAM && listening && (bind_it || unread);
	s->unread = unread;
	nsocks++;
	if (dup_it && nsocks < MAX_SOCKS) {
		socks[nsocks] = *s;
		socks[nsocks].fd = dup(fd);
		socks[nsocks].unread = 1;	/* served through the first */
		if (socks[nsocks].fd < 0)
			die("dup");
		nsocks++;
	}
}

static void serve_tcp(int i)
{
	char buf[256], out[300];
	ssize_t n = 0, r;
	int c;

	c = accept(socks[i].fd, NULL, NULL);
	if (c < 0)
		die("accept");
	while (n < (ssize_t)sizeof(buf) - 1 && (r = read(c, buf + n, sizeof(buf) - 1 - n)) > 0) {
		n += r;
		if (memchr(buf, '\n', n))
			break;
	}
	buf[n > 0 ? n : 0] = 0;
	buf[strcspn(buf, "\n")] = 0;
	n = snprintf(out, sizeof(out), "TCP %d %s\n", i, buf);
	if (write(c, out, n) != n)
		die("write");
	close(c);
}

static void serve_udp(int i)
{
	struct sockaddr_storage from;
	socklen_t fl = sizeof(from);
	char buf[256], out[300];
	ssize_t n;
	int len;

	n = recvfrom(socks[i].fd, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&from, &fl);
	if (n < 0)
		die("recvfrom");
	buf[n] = 0;
	len = snprintf(out, sizeof(out), "UDP %d %s", i, buf);
	if (sendto(socks[i].fd, out, len, 0, (struct sockaddr *)&from, fl) != len)
		die("sendto");
}

int main(int argc, char **argv)
{
	struct pollfd p[MAX_SOCKS + 1];
	int i;

	for (i = 1; i < argc; i++)
		make(argv[i]);
	for (i = 0; i < nsocks; i++)
		report(i);
	say("READY\n");
	for (;;) {
		for (i = 0; i < nsocks; i++) {
			p[i].fd = socks[i].fd;
			p[i].events = POLLIN;
			if ((socks[i].type == SOCK_STREAM && !socks[i].listening) ||
			    socks[i].unread)
				p[i].fd = -1;
		}
		p[nsocks].fd = 0;
		p[nsocks].events = POLLIN;
		if (poll(p, nsocks + 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		for (i = 0; i < nsocks; i++) {
			if (!(p[i].revents & POLLIN))
				continue;
			if (socks[i].type == SOCK_STREAM)
				serve_tcp(i);
			else
				serve_udp(i);
		}
		if (p[nsocks].revents & (POLLIN | POLLHUP)) {
			char c[64];

			if (read(0, c, sizeof(c)) <= 0)
				return 0;
			for (i = 0; i < nsocks; i++)
				report(i);
			say("END\n");
		}
	}
}
