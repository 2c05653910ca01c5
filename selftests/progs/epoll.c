// SPDX-License-Identifier: GPL-2.0
/*
 * Target of the cr_epoll tests: event notification descriptors.
 *
 * Usage: epoll inotify DIR1 DIR2 DIR3 | queued DIR | fanotify | epoll
 *
 * epoll inotify: an inotify instance on fd 20 (blocking) watching DIR1
 * (wd 1, IN_CREATE), DIR2 (wd 2, removed again: a gap) and DIR3 (wd 3,
 * IN_CREATE | IN_DELETE), and a second one on fd 21 (IN_NONBLOCK) with no
 * watch; prints "READY", then blocks in read() on fd 20 and prints each
 * event as "EVENT <wd> <mask in hex> <name>"; after two it checks that fd
 * 21 is still non-blocking and empty (EAGAIN), that a new watch on DIR2
 * gets wd 4, prints "DONE" and exits 0. Any failure (an EINTR included)
 * prints "BAD ..." and exits 1.
 * epoll queued: an inotify instance watching DIR with one event queued
 * (a file it creates there), then "READY", then sleeps until killed.
 * epoll fanotify: a fanotify group on fd 22, "READY" (or "NOFAN" if the
 * kernel has none), then sleeps. epoll epoll: an epoll set on fd 23
 * watching both ends of a pipe (fds 24, 25), "READY", then sleeps.
 * epoll wait: an epoll set on fd 23 watching stdin, "READY", then blocks
 * in epoll_wait() with no timeout: "EVENT <line>" for a line on stdin
 * and exit 0; "BAD epoll_wait ..." (an EINTR included) and exit 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/fanotify.h>
#include <sys/inotify.h>
#include "prog.h"

static void bad(const char *what)
{
	say("BAD %s (errno %d)\n", what, errno);
	_exit(1);
}

static int at(int fd, int want)
{
	if (fd < 0 || dup2(fd, want) != want)
		bad("dup2");
	close(fd);
	return want;
}

static void sleep_forever(void)
{
	for (;;)
		nap(1000000);
}

static int do_inotify(char **dirs)
{
	char buf[4096] __attribute__((aligned(8)));
	int fd = at(inotify_init1(0), 20), nb = at(inotify_init1(IN_NONBLOCK), 21);
	int events = 0;

	if (inotify_add_watch(fd, dirs[0], IN_CREATE) != 1 ||
	    inotify_add_watch(fd, dirs[1], IN_CREATE) != 2 ||
	    inotify_add_watch(fd, dirs[2], IN_CREATE | IN_DELETE) != 3)
		bad("inotify_add_watch");
	if (inotify_rm_watch(fd, 2))
		bad("inotify_rm_watch");
	/* Read away the IN_IGNORED of wd 2: the queue is empty. */
	if (read(fd, buf, sizeof(buf)) <= 0)
		bad("read IN_IGNORED");
	say("READY\n");
	while (events < 2) {
		ssize_t n = read(fd, buf, sizeof(buf)), off = 0;

		if (n <= 0)
			bad("read");
		while (off < n) {
			struct inotify_event *e = (void *)(buf + off);

			say("EVENT %d %x %s\n", e->wd, e->mask, e->len ? e->name : "");
			off += sizeof(*e) + e->len;
			events++;
		}
	}
	if (!(fcntl(nb, F_GETFL) & O_NONBLOCK))
		bad("fd 21 lost O_NONBLOCK");
	if (read(nb, buf, sizeof(buf)) != -1 || errno != EAGAIN)
		bad("fd 21 not empty");
	if (fcntl(fd, F_GETFL) & O_NONBLOCK)
		bad("fd 20 became non-blocking");
	if (inotify_add_watch(fd, dirs[1], IN_CREATE) != 4)
		bad("next wd is not 4");
	say("DONE\n");
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";

	if (!strcmp(mode, "inotify") && argc == 5)
		return do_inotify(argv + 2);
	if (!strcmp(mode, "queued") && argc == 3) {
		char path[4096];
		int fd = at(inotify_init1(0), 20);

		if (inotify_add_watch(fd, argv[2], IN_CREATE) != 1)
			bad("inotify_add_watch");
		snprintf(path, sizeof(path), "%s/queued", argv[2]);
		close(open(path, O_CREAT | O_WRONLY, 0644));
		say("READY\n");
		sleep_forever();
	}
	if (!strcmp(mode, "fanotify")) {
		int fd = fanotify_init(FAN_CLASS_NOTIF, O_RDONLY);

		if (fd < 0) {
			say("NOFAN\n");
			sleep_forever();
		}
		at(fd, 22);
		say("READY\n");
		sleep_forever();
	}
	if (!strcmp(mode, "epoll")) {
		struct epoll_event ev = { .events = EPOLLIN };
		int p[2], ep = at(epoll_create1(0), 23);

		if (pipe(p))
			bad("pipe");
		at(p[0], 24);
		at(p[1], 25);
		if (epoll_ctl(ep, EPOLL_CTL_ADD, 24, &ev))
			bad("epoll_ctl");
		ev.events = EPOLLOUT | EPOLLET;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, 25, &ev))
			bad("epoll_ctl");
		say("READY\n");
		sleep_forever();
	}
	if (!strcmp(mode, "wait")) {
		struct epoll_event ev = { .events = EPOLLIN };
		int ep = at(epoll_create1(0), 23);
		char buf[64];
		ssize_t n;

		if (epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev))
			bad("epoll_ctl");
		say("READY\n");
		if (epoll_wait(ep, &ev, 1, -1) != 1)
			bad("epoll_wait");
		n = read(0, buf, sizeof(buf) - 1);
		if (n <= 0)
			bad("read");
		buf[n] = 0;
		buf[strcspn(buf, "\n")] = 0;
		say("EVENT %s\n", buf);
		return 0;
	}
	say("BAD usage\n");
	return 2;
}
