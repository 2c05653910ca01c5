// SPDX-License-Identifier: GPL-2.0
/*
 * Target of the cr refusal tests: holds a file descriptor that checkpoint
 * does not support and counts like counter.c.  The first line names the
 * descriptors it holds, "FD <n> [<m>]"; then 1, 2, 3, ... one a line.
 *
 * Usage: holder unix|epoll [DELAY_US]
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	useconds_t delay = argc > 2 ? strtoul(argv[2], NULL, 0) : 20000;
	unsigned long i = 0;
	int fds[2];

	if (argc > 1 && !strcmp(argv[1], "unix")) {
		/* Unix sockets are restored, but not a file descriptor in
		 * flight: fds[0] sends its own fd to fds[1], not received. */
		char c = 'x';
		struct iovec iov = { &c, 1 };
		union {
			char buf[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} u;
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
				    .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
		struct cmsghdr *cm = CMSG_FIRSTHDR(&m);

		if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds)) {
			perror("socketpair");
			return 2;
		}
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fds[0], sizeof(int));
		if (sendmsg(fds[0], &m, 0) != 1) {
			perror("sendmsg");
			return 2;
		}
		printf("FD %d %d\n", fds[0], fds[1]);
	} else if (argc > 1 && !strcmp(argv[1], "epoll")) {
		/* Inotify instances are restored, epoll sets not yet. */
		struct epoll_event ev = { .events = EPOLLIN };
		int p[2];

		fds[0] = epoll_create1(0);
		if (fds[0] < 0 || pipe(p) || epoll_ctl(fds[0], EPOLL_CTL_ADD, p[0], &ev)) {
			perror("epoll");
			return 2;
		}
		printf("FD %d\n", fds[0]);
	} else {
		fprintf(stderr, "usage: holder unix|epoll [DELAY_US]\n");
		return 2;
	}

	for (;;) {
		printf("%lu\n", ++i);
		if (fflush(stdout))
			return 1;
		usleep(delay);
	}
}
