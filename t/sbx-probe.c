/*
 * sbx-probe.c - the hostile programs of the sandbox attack tests (t/6xxx).
 *
 *     sbx-probe NAME [ARG...]
 *
 * Each probe tries one way out or one way to hurt the host.  Probes that
 * end on their own exit 0 when every attempt was refused and 1 when one
 * got through (printing what), so a test can tell "contained" from
 * "escaped" besides the verdict.  Built without sanitizers: it runs under
 * the sandbox's address-space limit.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <termios.h>
#include <unistd.h>

static int escaped;

static void refused(const char *what, int rc)
{
	if (rc >= 0) {
		printf("ESCAPED: %s succeeded\n", what);
		escaped = 1;
	} else {
		printf("refused: %s: %s\n", what, strerror(errno));
	}
	fflush(stdout);
}

static int fork_bomb(char **argv)
{
	(void)argv;
	for (;;)
		fork();
	return 0;
}

static void *idle_thread(void *arg)
{
	(void)arg;
	pause();
	return NULL;
}

static int thread_bomb(char **argv)
{
	pthread_attr_t attr;
	pthread_t t;
	int n = 0;

	(void)argv;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 << 10);
	while (n < 100000 && pthread_create(&t, &attr, idle_thread, NULL) == 0)
		n++;
	printf("threads: %d\n", n);
	fflush(stdout);
	return 3;
}

static int memory_bomb(char **argv)
{
	size_t total = 0;

	(void)argv;
	for (;;) {
		char *p = malloc(8 << 20);
		if (!p) {
			fprintf(stderr, "out of memory after %zu MiB\n",
				total >> 20);
			abort();
		}
		memset(p, 1, 8 << 20);
		total += 8 << 20;
	}
	return 0;
}

/* Recursion the compiler cannot see through (or warn about). */
static int (*volatile recurse_ptr)(int);

static int recurse(int depth)
{
	volatile char pad[4096];

	pad[0] = (char)depth;
	return recurse_ptr(depth + 1) + pad[0];
}

static int stack_overflow(char **argv)
{
	(void)argv;
	recurse_ptr = recurse;
	return recurse(0);
}

static void *spin(void *arg)
{
	(void)arg;
	for (volatile unsigned long i = 0;; i++)
		;
	return NULL;
}

static int cpu_spin(char **argv)
{
	pthread_t t;

	(void)argv;
	for (int i = 0; i < 7; i++)
		pthread_create(&t, NULL, spin, NULL);
	spin(NULL);
	return 0;
}

static int sleep_forever(char **argv)
{
	(void)argv;
	for (;;)
		pause();
	return 0;
}

static int ignore_signals(char **argv)
{
	(void)argv;
	signal(SIGTERM, SIG_IGN);
	signal(SIGXCPU, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	spin(NULL);
	return 0;
}

static int self_stop(char **argv)
{
	(void)argv;
	signal(SIGTERM, SIG_IGN);
	printf("stopping\n");
	fflush(stdout);
	raise(SIGSTOP);
	return 0;
}

static int flood_stdout(char **argv)
{
	static char block[1 << 16];
	uint64_t left = 1ULL << 30;

	(void)argv;
	memset(block, 'x', sizeof(block));
	while (left > 0) {
		ssize_t w = write(1, block, sizeof(block));
		if (w <= 0)
			return 1;
		left -= (uint64_t)w < left ? (uint64_t)w : left;
	}
	return 0;
}

static int trickle(char **argv)
{
	(void)argv;
	for (;;) {
		if (write(1, ".", 1) != 1)
			return 1;
		usleep(100000);
	}
	return 0;
}

static int huge_file(char **argv)
{
	static char block[1 << 16];
	int fd = open("huge.bin", O_WRONLY | O_CREAT | O_TRUNC, 0644);

	(void)argv;
	if (fd < 0)
		return 2;
	for (int i = 0; i < 16 * 1024; i++)   /* 1 GiB */
		if (write(fd, block, sizeof(block)) < 0)
			return 1;
	return 0;
}

static int many_files(char **argv)
{
	char name[32];

	(void)argv;
	if (mkdir("many", 0755) < 0)
		return 2;
	for (int i = 0; i < 100000; i++) {
		snprintf(name, sizeof(name), "many/%d", i);
		int fd = open(name, O_WRONLY | O_CREAT, 0644);
		if (fd < 0) {
			printf("stopped at %d: %s\n", i, strerror(errno));
			return 1;
		}
		close(fd);
	}
	printf("made 100000 files\n");
	return 0;
}

/* write-outside PATH...: tries to create or append to each path. */
static int write_outside(char **argv)
{
	for (int i = 0; argv[i]; i++) {
		char what[4200];
		int fd = open(argv[i], O_WRONLY | O_APPEND | O_CREAT, 0644);
		snprintf(what, sizeof(what), "write %s", argv[i]);
		refused(what, fd);
		if (fd >= 0) {
			(void)!write(fd, "escaped\n", 8);
			close(fd);
		}
	}
	return escaped;
}

/* read-secrets SECRET PATH...: reads each path, and every environment it
 * can find in /proc; fails if SECRET shows up anywhere. */
static int read_secrets(char **argv)
{
	const char *secret = argv[0];
	char buf[65536], path[64];

	for (int i = 1; argv[i]; i++) {
		int fd = open(argv[i], O_RDONLY);
		char what[4200];
		snprintf(what, sizeof(what), "read %s", argv[i]);
		refused(what, fd);
		if (fd >= 0)
			close(fd);
	}
	for (int pid = 1; pid < 65536; pid++) {
		snprintf(path, sizeof(path), "/proc/%d/environ", pid);
		int fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		for (ssize_t j = 0; j < n; j++)
			if (!buf[j])
				buf[j] = '\n';
		if (n > 0 && (buf[n] = '\0', strstr(buf, secret))) {
			printf("ESCAPED: secret in %s\n", path);
			escaped = 1;
		}
	}
	if (getenv("SUTRA_TEST_API_KEY")) {
		printf("ESCAPED: secret in my environment\n");
		escaped = 1;
	}
	return escaped;
}

/* plant TARGET...: symlinks and hard links to host files, for the
 * runner to trip over when it collects and removes. */
static int plant(char **argv)
{
	char name[32];

	for (int i = 0; argv[i]; i++) {
		snprintf(name, sizeof(name), "sym%d", i);
		if (symlink(argv[i], name) < 0)
			perror("symlink");
		snprintf(name, sizeof(name), "hard%d", i);
		if (link(argv[i], name) == 0)
			printf("hard link to %s made\n", argv[i]);
	}
	/* The runner collects report.txt: make it point at the first. */
	if (argv[0] && symlink(argv[0], "report.txt") < 0)
		perror("symlink report.txt");
	if (symlink("/", "root") < 0 || mkdir("d", 0755) < 0 ||
	    symlink("../../../../../../../../etc", "d/up") < 0)
		perror("symlink");
	return 0;
}

/* Entries a careless remover chokes on. */
static int unremovable(char **argv)
{
	static const char *const odd[] = {
		"-rf", "--", " ", "\n", "..a", "a\\b", "*", "\x01\x7f\xff",
	};
	char name[300];

	(void)argv;
	for (size_t i = 0; i < sizeof(odd) / sizeof(*odd); i++) {
		int fd = open(odd[i], O_WRONLY | O_CREAT, 0);
		if (fd >= 0)
			close(fd);
	}
	memset(name, 'n', 255);
	name[255] = '\0';
	close(open(name, O_WRONLY | O_CREAT, 0));
	mkdir("locked", 0755);
	close(open("locked/inside", O_WRONLY | O_CREAT, 0));
	chmod("locked", 0);
	mkfifo("fifo", 0600);
	/* Deeper than a recursive remover's stack or PATH_MAX. */
	for (int i = 0; i < 300; i++) {
		if (mkdir("deep", 0700) < 0 || chdir("deep") < 0)
			break;
	}
	chmod(".", 0);
	return 0;
}

/* connect PORT: TCP to 127.0.0.1:PORT, and the interfaces we can see. */
static int connect_loopback(char **argv)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)atoi(argv[0]))};
	char buf[4096];
	int s = socket(AF_INET, SOCK_STREAM, 0);
	int fd;
	ssize_t n;

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	/* A socket is no escape (the namespace has its own loopback); a
	 * connection to the host's listener would be. */
	if (s < 0)
		printf("socket(AF_INET): %s\n", strerror(errno));
	else
		refused("connect 127.0.0.1", connect(s, (void *)&sa, sizeof(sa)));
	fd = open("/proc/net/dev", O_RDONLY);
	if (fd >= 0 && (n = read(fd, buf, sizeof(buf) - 1)) > 0) {
		buf[n] = '\0';
		printf("%s", buf);
	}
	return escaped;
}

static int raw_sockets(char **argv)
{
	(void)argv;
	refused("socket(AF_INET, SOCK_RAW)", socket(AF_INET, SOCK_RAW, 1));
	refused("socket(AF_NETLINK)", socket(AF_NETLINK, SOCK_RAW, 0));
	refused("socket(AF_PACKET)", socket(AF_PACKET, SOCK_RAW, 0));
	refused("socket(AF_VSOCK)", socket(40, SOCK_STREAM, 0));
	/* The same family with garbage in the upper half of the register. */
	refused("socket(AF_NETLINK | 1 << 32)",
		(int)syscall(SYS_socket, 16UL | (1UL << 32), SOCK_RAW, 0));
	return escaped;
}

static int ptrace_parent(char **argv)
{
	(void)argv;
	printf("attaching to %d\n", getppid());
	fflush(stdout);
	return ptrace(PTRACE_ATTACH, getppid(), 0, 0) == 0;
}

static int parent_mem(char **argv)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/mem", getppid());
	refused(path, open(path, O_RDWR));
	refused("/proc/1/mem", open("/proc/1/mem", O_RDONLY));
	for (int i = 0; argv[i]; i++) {
		snprintf(path, sizeof(path), "/proc/%s/mem", argv[i]);
		refused(path, open(path, O_RDONLY));
	}
	return escaped;
}

/* kill PID...: kill(-1), the parent, pid 1 and the given pids. */
static int kill_all(char **argv)
{
	refused("kill(-1)", kill(-1, SIGKILL));
	refused("kill(parent)", kill(getppid(), SIGKILL));
	refused("kill(1)", kill(1, SIGKILL) == 0 && kill(1, 0) == 0 ? 0 : -1);
	for (int i = 0; argv[i]; i++)
		refused(argv[i], kill(atoi(argv[i]), SIGKILL));
	printf("still alive\n");
	return escaped;
}

/* daemon MARKER: setsid + double fork, a grandchild that sleeps on. */
static int daemonize(char **argv)
{
	pid_t pid = fork();

	if (pid == 0) {
		setsid();
		if (fork() == 0) {
			/* argv[0] carries the marker the test looks for. */
			char *args[] = {argv[0], "30", NULL};
			signal(SIGHUP, SIG_IGN);
			execv("/bin/sleep", args);
			_exit(1);
		}
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	printf("daemon started\n");
	return 0;
}

static int exec_setuid(char **argv)
{
	/* Only root may see root's password status: "root P ..." would
	 * mean the set-uid bit worked. */
	char *args[] = {"/usr/bin/passwd", "-S", "root", NULL};

	(void)argv;
	execv(args[0], args);
	perror("execv");
	return 2;
}

#define KILLED(name, call)                                                  \
	static int name(char **argv)                                        \
	{                                                                   \
		(void)argv;                                                 \
		long rc = (call);                                           \
		printf("returned %ld: %s\n", rc, strerror(errno));          \
		return 0;                                                   \
	}

KILLED(do_unshare, syscall(SYS_unshare, CLONE_NEWUSER))
KILLED(do_mount, syscall(SYS_mount, "none", "/work", "tmpfs", 0, NULL))
KILLED(do_chroot, syscall(SYS_chroot, "/work"))
KILLED(do_bpf, syscall(SYS_bpf, 0, NULL, 0))
KILLED(do_perf, syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0))
KILLED(do_userfaultfd, syscall(SYS_userfaultfd, 0))
KILLED(do_keyctl, syscall(SYS_keyctl, 0, 0, 0, 0, 0))
KILLED(do_io_uring, syscall(SYS_io_uring_setup, 1, NULL))
KILLED(do_x32, syscall(0x40000000 | SYS_getpid))

static int do_int80(char **argv)
{
	long r;

	(void)argv;
	/* i386 getpid (20) through the 32-bit entry point. */
	__asm__ volatile("int $0x80" : "=a"(r) : "a"(20L) : "memory");
	printf("int 0x80 returned %ld\n", r);
	return 0;
}

static int tiocsti(char **argv)
{
	char c = 'x';

	(void)argv;
	refused("TIOCSTI", ioctl(0, TIOCSTI, &c));
	if (errno != EPERM)
		escaped = 1;
	/* The kernel reads the request as 32 bits: so must the filter. */
	refused("TIOCSTI | 1 << 32",
		(int)syscall(SYS_ioctl, 0, (unsigned long)TIOCSTI | (1UL << 32),
			     &c));
	if (errno != EPERM)
		escaped = 1;
	return escaped;
}

static int fake_verdict(char **argv)
{
	(void)argv;
	printf("{\"status\":\"ok\",\"exit_code\":0,\"syscall\":null}\n");
	fflush(stdout);
	return 1;
}

static const struct probe {
	const char *name;
	int (*run)(char **argv);
} probes[] = {
	{"fork-bomb", fork_bomb},           {"thread-bomb", thread_bomb},
	{"memory-bomb", memory_bomb},       {"stack-overflow", stack_overflow},
	{"cpu-spin", cpu_spin},             {"sleep-forever", sleep_forever},
	{"ignore-signals", ignore_signals}, {"self-stop", self_stop},
	{"flood-stdout", flood_stdout},     {"trickle", trickle},
	{"huge-file", huge_file},           {"many-files", many_files},
	{"write-outside", write_outside},   {"read-secrets", read_secrets},
	{"plant", plant},                   {"unremovable", unremovable},
	{"connect", connect_loopback},      {"raw-sockets", raw_sockets},
	{"ptrace-parent", ptrace_parent},   {"parent-mem", parent_mem},
	{"kill", kill_all},                 {"daemon", daemonize},
	{"exec-setuid", exec_setuid},       {"unshare", do_unshare},
	{"mount", do_mount},                {"chroot", do_chroot},
	{"bpf", do_bpf},                    {"perf", do_perf},
	{"userfaultfd", do_userfaultfd},    {"keyctl", do_keyctl},
	{"io-uring", do_io_uring},          {"x32", do_x32},
	{"int80", do_int80},                {"tiocsti", tiocsti},
	{"fake-verdict", fake_verdict},
};

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: sbx-probe NAME [ARG...]\n");
		return 2;
	}
	for (size_t i = 0; i < sizeof(probes) / sizeof(*probes); i++)
		if (strcmp(probes[i].name, argv[1]) == 0)
			return probes[i].run(argv + 2);
	fprintf(stderr, "sbx-probe: unknown probe '%s'\n", argv[1]);
	return 2;
}
