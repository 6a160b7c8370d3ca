/*
 * lomi-enter: the first step of a sandboxed run, in one small process instead
 * of the shell chain `sh launch.sh → unshare → sh mount.sh → mount → prlimit`
 * (each a process start that costs 10-50 times its idle price on a loaded
 * machine). It does the same steps, in the same order, then execs bwrap, so
 * the process the monitor started ends as bwrap itself:
 *
 *   lomi-enter [--cgroup PROCS]... [--userns] [--overlay LOWER UPPER WORK MERGED]... [--bind SOURCE TARGET]...
 *              [--fsize BYTES] [--as BYTES] [--args-file FILE] -- BWRAP ARGS...
 *
 *   --cgroup    join a cgroup first (its cgroup.procs), so every descendant is counted
 *   --userns    a user namespace mapping this uid/gid to root in it (unprivileged
 *               host, as `unshare -Ur`); the overlays then get `userxattr`
 *   (always)    a private mount namespace, propagation private (`unshare -m --propagation private`)
 *   --overlay   mount -t overlay -o nosuid,nodev,lowerdir=..,upperdir=..,workdir=..,volatile at MERGED
 *               (volatile: the unmount when the run's namespace dies does not sync the whole
 *               upper filesystem, which cost two ext4 syncfs per overlay per run; a commit reads
 *               upper through the page cache all the same. Retried without it on a kernel
 *               older than 5.10, which refuses the option.)
 *   --bind      bind SOURCE at TARGET, nosuid,nodev (a patient with no folder yet in a tree: P is
 *               the run's empty upper dir itself; no overlay, nothing under it to copy up)
 *   --fsize/--as  RLIMIT_FSIZE / RLIMIT_AS, soft and hard (as prlimit)
 *   --args-file bwrap's options, NUL-separated: opened here and passed as `--args <fd>`
 *               right after BWRAP
 *
 * Any failed step prints one line to stderr (the run's log) and exits 126;
 * nothing of the run has started then.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <unistd.h>

#define MAX_ITEMS 16

static int fail(const char *step, const char *what) {
  fprintf(stderr, "lomi-enter: %s %s: %s\n", step, what, strerror(errno));
  return 126;
}

static int write_text(const char *file, const char *text) {
  int fd = open(file, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t len = strlen(text);
  ssize_t n = write(fd, text, len);
  int saved = errno;
  close(fd);
  errno = saved;
  return n == (ssize_t)len ? 0 : -1;
}

static int set_limit(int resource, const char *value) {
  char *end = NULL;
  errno = 0;
  unsigned long long v = strtoull(value, &end, 10);
  if (errno != 0 || end == value || *end != 0) { errno = EINVAL; return -1; }
  struct rlimit rl = { (rlim_t)v, (rlim_t)v };
  return setrlimit(resource, &rl);
}

int main(int argc, char **argv) {
  const char *cgroups[MAX_ITEMS];
  const char *overlays[MAX_ITEMS][4];
  const char *binds[MAX_ITEMS][2];
  int ncg = 0, nov = 0, nbind = 0, userns = 0, i = 1;
  const char *fsize = NULL, *as = NULL, *args_file = NULL;
  for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
    if (strcmp(argv[i], "--cgroup") == 0 && i + 1 < argc && ncg < MAX_ITEMS) cgroups[ncg++] = argv[++i];
    else if (strcmp(argv[i], "--userns") == 0) userns = 1;
    else if (strcmp(argv[i], "--overlay") == 0 && i + 4 < argc && nov < MAX_ITEMS) {
      for (int k = 0; k < 4; k++) overlays[nov][k] = argv[i + 1 + k];
      nov++;
      i += 4;
    } else if (strcmp(argv[i], "--bind") == 0 && i + 2 < argc && nbind < MAX_ITEMS) {
      binds[nbind][0] = argv[i + 1];
      binds[nbind][1] = argv[i + 2];
      nbind++;
      i += 2;
    } else if (strcmp(argv[i], "--fsize") == 0 && i + 1 < argc) fsize = argv[++i];
    else if (strcmp(argv[i], "--as") == 0 && i + 1 < argc) as = argv[++i];
    else if (strcmp(argv[i], "--args-file") == 0 && i + 1 < argc) args_file = argv[++i];
    else {
      fprintf(stderr, "lomi-enter: bad option %s\n", argv[i]);
      return 2;
    }
  }
  if (i + 1 >= argc) {
    fprintf(stderr, "usage: lomi-enter [--cgroup PROCS]... [--userns] [--overlay LOWER UPPER WORK MERGED]... [--bind SOURCE TARGET]... "
                    "[--fsize BYTES] [--as BYTES] [--args-file FILE] -- PROGRAM ARGS...\n");
    return 2;
  }
  char **command = &argv[i + 1];
  int ncommand = argc - i - 1;

  char text[64];
  snprintf(text, sizeof text, "%d\n", (int)getpid());
  for (int k = 0; k < ncg; k++)
    if (write_text(cgroups[k], text) != 0) return fail("cannot join cgroup", cgroups[k]);

  uid_t uid = getuid();
  gid_t gid = getgid();
  if (unshare(CLONE_NEWNS | (userns ? CLONE_NEWUSER : 0)) != 0) return fail("unshare", userns ? "user+mount" : "mount");
  if (userns) {
    /* setgroups must be denied before an unprivileged gid_map write */
    if (write_text("/proc/self/setgroups", "deny") != 0) return fail("cannot write", "/proc/self/setgroups");
    snprintf(text, sizeof text, "0 %u 1", (unsigned)uid);
    if (write_text("/proc/self/uid_map", text) != 0) return fail("cannot write", "/proc/self/uid_map");
    snprintf(text, sizeof text, "0 %u 1", (unsigned)gid);
    if (write_text("/proc/self/gid_map", text) != 0) return fail("cannot write", "/proc/self/gid_map");
  }
  if (mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) return fail("cannot make / private", "");

  for (int k = 0; k < nov; k++) {
    char options[8192];
    int n = snprintf(options, sizeof options, "lowerdir=%s,upperdir=%s,workdir=%s%s,volatile", overlays[k][0], overlays[k][1],
                     overlays[k][2], userns ? ",userxattr" : "");
    if (n < 0 || (size_t)n >= sizeof options) { errno = ENAMETOOLONG; return fail("overlay options for", overlays[k][3]); }
    if (mount("overlay", overlays[k][3], "overlay", MS_NOSUID | MS_NODEV, options) != 0) {
      if (errno != EINVAL) return fail("cannot mount overlay at", overlays[k][3]);
      options[n - (int)strlen(",volatile")] = 0;
      if (mount("overlay", overlays[k][3], "overlay", MS_NOSUID | MS_NODEV, options) != 0) return fail("cannot mount overlay at", overlays[k][3]);
    }
  }
  for (int k = 0; k < nbind; k++) {
    if (mount(binds[k][0], binds[k][1], NULL, MS_BIND, NULL) != 0) return fail("cannot bind", binds[k][1]);
    if (mount("none", binds[k][1], NULL, MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV, NULL) != 0) return fail("cannot remount nosuid,nodev", binds[k][1]);
  }

  if (fsize != NULL && set_limit(RLIMIT_FSIZE, fsize) != 0) return fail("cannot set RLIMIT_FSIZE to", fsize);
  if (as != NULL && set_limit(RLIMIT_AS, as) != 0) return fail("cannot set RLIMIT_AS to", as);

  char **exec_argv = calloc((size_t)ncommand + 3, sizeof *exec_argv);
  if (exec_argv == NULL) return fail("out of memory", "");
  int e = 0;
  exec_argv[e++] = command[0];
  char fd_text[16];
  if (args_file != NULL) {
    int fd = open(args_file, O_RDONLY); /* inherited by bwrap on purpose */
    if (fd < 0) return fail("cannot open", args_file);
    snprintf(fd_text, sizeof fd_text, "%d", fd);
    exec_argv[e++] = "--args";
    exec_argv[e++] = fd_text;
  }
  for (int k = 1; k < ncommand; k++) exec_argv[e++] = command[k];
  exec_argv[e] = NULL;
  execvp(command[0], exec_argv);
  return fail("cannot run", command[0]);
}
