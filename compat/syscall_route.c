/*
 * Raw io_* system calls on engine contexts (syscall_route.h): libc's
 * syscall() interposed, and syscall user dispatch over the text of the
 * objects that issue io_* system calls themselves.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>
#include "atomics.h"
#include "kernel_contract.h"
#include "syscall_route.h"

#define EXPORT __attribute__((visibility("default")))

#ifndef PR_SET_SYSCALL_USER_DISPATCH
#define PR_SET_SYSCALL_USER_DISPATCH 59
#endif
#ifndef PR_SYS_DISPATCH_EXCLUSIVE_ON
#define PR_SYS_DISPATCH_EXCLUSIVE_ON 1 /* Linux 5.11: dispatch all but [offset, offset + len) */
#endif
#ifndef PR_SYS_DISPATCH_INCLUSIVE_ON
#define PR_SYS_DISPATCH_INCLUSIVE_ON 2 /* Linux 6.17: dispatch only [offset, offset + len) */
#endif
#ifndef SYS_USER_DISPATCH
#define SYS_USER_DISPATCH 2            /* si_code of a dispatched system call */
#endif

/* The raw io_pgetevents's last argument (the kernel's struct __aio_sigset). */
struct raw_aio_sigset {
	const sigset_t *sigmask;
	size_t sigsetsize;
};

/* The kernel's sigset, as io_pgetevents checks sigsetsize against it. */
#define KERNEL_SIGSET_SIZE (_NSIG / 8)

/* Set once, by the first syscall_route_start; read on every raw io_* call. */
static const struct raw_io_ops *route_ops;

/* The one definition of name after the drop-in's: libc's, or an interposer's before it. */
static void *next_definition(const char *name)
{
	void *f = dlsym(RTLD_NEXT, name);

	if (f == NULL) {
		void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);

		f = libc ? dlsym(libc, name) : NULL;
	}
	return f;
}

typedef long (*syscall_fn)(long, ...);

static syscall_fn libc_syscall(void)
{
	static syscall_fn f;
	syscall_fn r = aior_load_acquire(&f);

	if (r == NULL) {
		r = (syscall_fn)next_definition("syscall");
		aior_store_release(&f, r);
	}
	return r;
}

/* As the kernel reads io_pgetevents's arguments: the timeout, then the sigset and its size. */
static int raw_pgetevents(const struct raw_io_ops *o, void *id, const long a[6])
{
	struct timespec *timeout = (struct timespec *)a[4];
	const struct raw_aio_sigset *usig = (const struct raw_aio_sigset *)a[5];
	struct raw_aio_sigset k = {NULL, 0};

	if (timeout && user_readable(timeout, sizeof(*timeout)))
		return -EFAULT;
	if (usig) {
		if (user_readable(usig, sizeof(*usig)))
			return -EFAULT;
		k = *usig;
	}
	if (k.sigmask && k.sigsetsize != KERNEL_SIGSET_SIZE)
		return -EINVAL;
	return o->getevents(id, a[1], a[2], (struct io_event *)a[3], timeout, k.sigmask);
}

/*
 * The raw system call nr with arguments a, when it names an engine
 * context: run by the drop-in, *result its raw result (negative errno),
 * and 1. Otherwise 0: the kernel's call.
 */
static int route_io(long nr, const long a[6], long *result)
{
	const struct raw_io_ops *o;
	void *id = (void *)a[0];

	if (nr != SYS_io_destroy && nr != SYS_io_submit && nr != SYS_io_cancel &&
	    nr != SYS_io_getevents && nr != SYS_io_pgetevents)
		return 0;
	o = aior_load_acquire(&route_ops);
	if (o == NULL || !o->is_engine(id))
		return 0;
	switch (nr) {
	case SYS_io_destroy:
		*result = o->destroy(id);
		break;
	case SYS_io_submit:
		*result = o->submit(id, a[1], (struct iocb **)a[2]);
		break;
	case SYS_io_cancel:
		*result = o->cancel(id, (struct iocb *)a[1], (struct io_event *)a[2]);
		break;
	case SYS_io_getevents:
		*result = o->getevents(id, a[1], a[2], (struct io_event *)a[3], (struct timespec *)a[4], NULL);
		break;
	default:
		*result = raw_pgetevents(o, id, a);
		break;
	}
	return 1;
}

/* The interposed syscall() with its six arguments: the raw io_* route, or libc's syscall(). */
__attribute__((used)) static long route_syscall(long nr, long a0, long a1, long a2, long a3, long a4, long a5)
{
	long a[6] = {a0, a1, a2, a3, a4, a5}, r;

	if (route_io(nr, a, &r)) {
		if (r < 0) {
			errno = (int)-r;
			return -1;
		}
		return r;
	}
	return libc_syscall()(nr, a0, a1, a2, a3, a4, a5);
}

#if defined(__x86_64__)
/*
 * libc's syscall(), interposed: the arguments are taken as six longs, as
 * libc's own takes them, whatever the caller passed (the kernel ignores
 * the rest). A jump, not C's va_arg: the sixth sits on the caller's stack
 * exactly where route_syscall's seventh parameter is read from, and a
 * caller that passed fewer has no such slot of its own for va_arg to read.
 */
__asm__(".text\n"
	".globl syscall\n"
	".type syscall, @function\n"
	"syscall:\n"
#ifdef __CET__
	"\tendbr64\n"
#endif
	"\tjmp route_syscall\n"
	".size syscall, .-syscall\n");
#else
EXPORT long syscall(long nr, ...)
{
	va_list ap;
	long a[6];
	int i;

	va_start(ap, nr);
	for (i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	return route_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}
#endif

/*
 * The dispatch route. The dispatched range is the text of the objects
 * that load an io_* number into eax shortly before a syscall instruction
 * (scan_object); libc, ld.so, the vDSO, libaio (the library the drop-in
 * replaces) and the drop-in itself are never in it, so their system calls,
 * and the SIGSYS handler's own, go straight to the kernel.
 */
static struct {
	uintptr_t start, len;  /* the dispatched range; len 0: nothing to dispatch */
	/* how each thread arms it: PR_SYS_DISPATCH_INCLUSIVE_ON over the range, or EXCLUSIVE_ON around it */
	unsigned long mode, offset, size;
	int on;                /* the SIGSYS handler is in: new threads arm themselves */
	const char *object;    /* the first object found in the range */
	pthread_mutex_t lock;  /* the start; program_sigsys's writers (signals blocked) */
	struct sigaction program_sigsys;
} dispatch = {.lock = PTHREAD_MUTEX_INITIALIZER};

static int arm_thread(void)
{
	return prctl(PR_SET_SYSCALL_USER_DISPATCH, dispatch.mode, dispatch.offset, dispatch.size, 0);
}

#if defined(__x86_64__)

/* A system call from the drop-in's own text (never dispatched): the raw result. */
static long raw_syscall6(long nr, long a, long b, long c, long d, long e, long f)
{
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	long r;

	__asm__ volatile("syscall"
			 : "=a"(r)
			 : "0"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return r;
}

/* How many bytes before a syscall instruction the io_* number may be loaded. */
#define NUMBER_LOOKBACK 32

static int is_io_number(uint32_t nr)
{
	return nr == SYS_io_setup || nr == SYS_io_destroy || nr == SYS_io_submit ||
	       nr == SYS_io_cancel || nr == SYS_io_getevents || nr == SYS_io_pgetevents;
}

/* Whether text holds `mov $io_nr, %eax` (b8 imm32) up to NUMBER_LOOKBACK bytes before a `syscall` (0f 05). */
static int makes_raw_io_calls(const unsigned char *text, size_t len)
{
	size_t i, j;

	for (i = 1; i < len; i++) {
		if (text[i - 1] != 0x0f || text[i] != 0x05)
			continue;
		for (j = i > NUMBER_LOOKBACK ? i - NUMBER_LOOKBACK : 0; j + 5 < i; j++) {
			uint32_t imm;

			if (text[j] != 0xb8)
				continue;
			memcpy(&imm, text + j + 1, sizeof(imm));
			if (is_io_number(imm))
				return 1;
		}
	}
	return 0;
}

#define MAX_EXCLUDED 32

struct scan {
	uintptr_t self;                  /* an address in the drop-in's text */
	uintptr_t start, end;            /* the objects that make raw io_* calls */
	uintptr_t direct_start, direct_end; /* the text of all the others */
	const char *object;
	uintptr_t excluded[MAX_EXCLUDED][2];
	unsigned nexcluded;
};

static int never_dispatched(const struct dl_phdr_info *info, uintptr_t self)
{
	static const char *const names[] = {"libc.so", "ld-linux", "linux-vdso", "libaio.so"};
	const char *slash = strrchr(info->dlpi_name, '/');
	const char *base = slash ? slash + 1 : info->dlpi_name;
	unsigned i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strncmp(base, names[i], strlen(names[i])) == 0)
			return 1;
	for (i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t at = info->dlpi_addr + ph->p_vaddr;

		if (ph->p_type == PT_LOAD && self - at < ph->p_memsz)
			return 1;
	}
	return 0;
}

static int scan_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct scan *s = arg;
	int skip = never_dispatched(info, s->self);
	unsigned i;

	(void)size;
	for (i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t at = info->dlpi_addr + ph->p_vaddr;

		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		if (skip && s->nexcluded < MAX_EXCLUDED) {
			s->excluded[s->nexcluded][0] = at;
			s->excluded[s->nexcluded++][1] = at + ph->p_memsz;
		}
		/* text that cannot be read is taken to make such calls */
		if (skip || ((ph->p_flags & PF_R) && !makes_raw_io_calls((const unsigned char *)at, ph->p_memsz))) {
			if (s->direct_start == s->direct_end || at < s->direct_start)
				s->direct_start = at;
			if (at + ph->p_memsz > s->direct_end)
				s->direct_end = at + ph->p_memsz;
			continue;
		}
		if (s->start == s->end) {
			s->start = at;
			s->end = at + ph->p_memsz;
			s->object = *info->dlpi_name ? info->dlpi_name : program_invocation_name;
		}
		if (at < s->start)
			s->start = at;
		if (at + ph->p_memsz > s->end)
			s->end = at + ph->p_memsz;
	}
	return 0;
}

static int overlap(uintptr_t a, uintptr_t b, uintptr_t c, uintptr_t d)
{
	return a < d && c < b;
}

/*
 * Find the range to dispatch, and arm the calling thread: NULL, or why
 * not. PR_SYS_DISPATCH_INCLUSIVE_ON dispatches the range alone; where the
 * kernel predates it (EINVAL), EXCLUSIVE_ON lets the span of every other
 * object's text run direct (libc's signal return among them), which works
 * when that span and the range are apart, as the program's own text and
 * the shared libraries are.
 */
static const char *find_range_and_arm(void)
{
	struct scan s;
	unsigned i;

	memset(&s, 0, sizeof(s));
	s.self = (uintptr_t)&find_range_and_arm;
	dl_iterate_phdr(scan_object, &s);
	dispatch.object = s.object;
	dispatch.start = s.start;
	dispatch.len = s.end - s.start;
	if (dispatch.len == 0)
		return NULL;
	for (i = 0; i < s.nexcluded; i++)
		if (overlap(s.excluded[i][0], s.excluded[i][1], s.start, s.end))
			return "the objects that make them lie around libc's text";
	dispatch.mode = PR_SYS_DISPATCH_INCLUSIVE_ON;
	dispatch.offset = s.start;
	dispatch.size = dispatch.len;
	if (arm_thread() == 0)
		return NULL;
	if (errno != EINVAL)
		return strerror(errno);
	if (overlap(s.direct_start, s.direct_end, s.start, s.end))
		return "this kernel has no PR_SYS_DISPATCH_INCLUSIVE_ON, and the objects that make them lie among the others";
	dispatch.mode = PR_SYS_DISPATCH_EXCLUSIVE_ON;
	dispatch.offset = s.direct_start;
	dispatch.size = s.direct_end - s.direct_start;
	return arm_thread() == 0 ? NULL : strerror(errno);
}

typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);

static int libc_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	static sigaction_fn f;
	sigaction_fn r = aior_load_acquire(&f);

	if (r == NULL) {
		r = (sigaction_fn)next_definition("sigaction");
		aior_store_release(&f, r);
	}
	return r(sig, act, old);
}

/* A SIGSYS that is not a dispatch: what the program asked for it. */
static void to_program(int sig, siginfo_t *si, void *context)
{
	struct sigaction p;
	sigset_t only;

	p = dispatch.program_sigsys;
	if (p.sa_flags & SA_SIGINFO) {
		p.sa_sigaction(sig, si, context);
		return;
	}
	if (p.sa_handler == SIG_IGN)
		return;
	if (p.sa_handler != SIG_DFL) {
		p.sa_handler(sig);
		return;
	}
	/* the default action: the process ends of it, as it would without the drop-in */
	memset(&p, 0, sizeof(p));
	p.sa_handler = SIG_DFL;
	libc_sigaction(SIGSYS, &p, NULL);
	sigemptyset(&only);
	sigaddset(&only, SIGSYS);
	pthread_sigmask(SIG_UNBLOCK, &only, NULL);
	raise(SIGSYS);
}

/*
 * A dispatched system call: the kernel rolled it back and left the
 * instruction pointer after it, so the call's result goes in rax. io_*
 * calls on engine contexts run in the drop-in; everything else is the
 * same call re-issued from here.
 */
static void on_sigsys(int sig, siginfo_t *si, void *context)
{
	greg_t *g = ((ucontext_t *)context)->uc_mcontext.gregs;
	int saved = errno;
	long a[6], r;

	if (si->si_code != SYS_USER_DISPATCH) {
		to_program(sig, si, context);
		return;
	}
	a[0] = g[REG_RDI];
	a[1] = g[REG_RSI];
	a[2] = g[REG_RDX];
	a[3] = g[REG_R10];
	a[4] = g[REG_R8];
	a[5] = g[REG_R9];
	if (!route_io(si->si_syscall, a, &r))
		r = raw_syscall6(si->si_syscall, a[0], a[1], a[2], a[3], a[4], a[5]);
	g[REG_RAX] = r;
	errno = saved;
}

static void rearm_child(void)
{
	arm_thread();
}

/* Install the handler and arm the calling thread: NULL, or why not. */
static const char *start_dispatch(void)
{
	struct sigaction act;
	const char *why;

	memset(&act, 0, sizeof(act));
	act.sa_sigaction = on_sigsys;
	act.sa_flags = SA_SIGINFO | SA_RESTART;
	if (libc_sigaction(SIGSYS, &act, &dispatch.program_sigsys) != 0)
		return strerror(errno);
	why = find_range_and_arm();
	if (why != NULL || dispatch.len == 0) {
		libc_sigaction(SIGSYS, &dispatch.program_sigsys, NULL);
		return why;
	}
	pthread_atfork(NULL, NULL, rearm_child);
	aior_store_release(&dispatch.on, 1);
	return NULL;
}

#else

static const char *start_dispatch(void)
{
	return NULL;
}

#endif

int syscall_route_start(const struct raw_io_ops *ops, const char *opt_in)
{
	static int started;
	static const char *why;

	pthread_mutex_lock(&dispatch.lock);
	if (!started) {
		started = 1;
		why = start_dispatch();
		aior_store_release(&route_ops, ops);
	} else if (why == NULL && dispatch.on) {
		arm_thread();
	}
	pthread_mutex_unlock(&dispatch.lock);
	if (why != NULL && opt_in != NULL)
		fprintf(stderr,
			"aioring: %s refused: %s makes raw io_* system calls and syscall user dispatch is unavailable (%s); using the kernel's contexts\n",
			opt_in, dispatch.object, why);
	return why ? -1 : 0;
}

/*
 * While dispatch is on, the SIGSYS handler stays the drop-in's: a program
 * setting its own SIGSYS disposition sets what the handler passes on to
 * (every SIGSYS that is not a dispatch), and reads it back.
 */
static int set_program_sigsys(const struct sigaction *act, struct sigaction *old)
{
	sigset_t all, was;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &was);
	pthread_mutex_lock(&dispatch.lock);
	if (old)
		*old = dispatch.program_sigsys;
	if (act)
		dispatch.program_sigsys = *act;
	pthread_mutex_unlock(&dispatch.lock);
	pthread_sigmask(SIG_SETMASK, &was, NULL);
	return 0;
}

EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	if (sig == SIGSYS && aior_load_acquire(&dispatch.on))
		return set_program_sigsys(act, old);
	return libc_sigaction(sig, act, old);
}

typedef sighandler_t (*signal_fn)(int, sighandler_t);

EXPORT sighandler_t signal(int sig, sighandler_t handler)
{
	static signal_fn f;
	signal_fn libc_signal;

	if (sig == SIGSYS && aior_load_acquire(&dispatch.on)) {
		struct sigaction act, old;

		/* glibc's signal(): BSD semantics */
		memset(&act, 0, sizeof(act));
		act.sa_handler = handler;
		act.sa_flags = SA_RESTART;
		set_program_sigsys(&act, &old);
		return old.sa_flags & SA_SIGINFO ? (sighandler_t)(uintptr_t)old.sa_sigaction : old.sa_handler;
	}
	libc_signal = aior_load_acquire(&f);
	if (libc_signal == NULL) {
		libc_signal = (signal_fn)next_definition("signal");
		aior_store_release(&f, libc_signal);
	}
	return libc_signal(sig, handler);
}

/* A thread the program starts while dispatch is on: armed before its own code runs. */
struct armed_start {
	void *(*start)(void *);
	void *arg;
};

static void *start_armed(void *p)
{
	struct armed_start s = *(struct armed_start *)p;
	static int warned;

	free(p);
	if (arm_thread() != 0 && !aior_exchange_relaxed(&warned, 1))
		fprintf(stderr, "aioring: a new thread could not arm syscall user dispatch (%s); its raw io_* system calls reach the kernel\n",
			strerror(errno));
	return s.start(s.arg);
}

typedef int (*pthread_create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);

EXPORT int pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*start)(void *), void *arg)
{
	static pthread_create_fn f;
	pthread_create_fn libc_create = aior_load_acquire(&f);
	struct armed_start *s;
	int r;

	if (libc_create == NULL) {
		libc_create = (pthread_create_fn)next_definition("pthread_create");
		aior_store_release(&f, libc_create);
	}
	if (!aior_load_acquire(&dispatch.on))
		return libc_create(thread, attr, start, arg);
	s = malloc(sizeof(*s));
	if (s == NULL)
		return EAGAIN;
	s->start = start;
	s->arg = arg;
	r = libc_create(thread, attr, start_armed, s);
	if (r != 0)
		free(s);
	return r;
}
