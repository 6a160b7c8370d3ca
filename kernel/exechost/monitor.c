/*
 * lomi-monitor: the parent of one pipeline (the conmon / containerd-shim
 * role). The execution host starts it detached; it outlives the host and the
 * kernel, so a pipeline runs on whatever happens to them, and its exit
 * status is kept on disk until the host reads it.
 *
 *   lomi-monitor <runDir> <logFile> <timeLimitMs> <graceMs> -- <command> [args...]
 *
 * Environment and working directory are the pipeline's (set by the host).
 *
 *   own session, child subreaper
 *   spawn: child = new process group, stdout+stderr appended to logFile, exec command
 *   write <runDir>/pids  "monitorPid monitorStartTime pipelinePgid"
 *   wait: leader exits | time limit (TERM group, grace, KILL, timedOut) |
 *         SIGTERM/SIGINT/SIGHUP to the monitor (TERM group, grace, KILL)
 *   leader gone: whatever is left in its group gets TERM, grace, KILL
 *   record the exit {"code":..,"signal":..,"timedOut":..} durably, then exit 0:
 *     with an exit slot (LOMI_MONITOR_EXIT_SLOT="<index> <token> <slotsFile>" in
 *     its environment, removed before the pipeline starts): "<token>\n<exit>\n"
 *     written in place into 512-byte slot <index> of slotsFile and fdatasynced
 *     (the file's blocks were written and synced when the host made it, so this
 *     is one flush and no journal commit), then <runDir>/exit (temp file and
 *     rename, not synced: the slot is what a crash leaves);
 *     without one (or if the slot cannot be written): <runDir>/exit through a
 *     temp file, fsync, rename, fsync dir.
 *
 * Exit status 0 means the exit is recorded (and, for a forked monitor, said on
 * the host's pipe); 4 means recorded but not said; anything else means it is
 * not recorded (the host then reports the run lost). Kept tiny: it is on the
 * hot path.
 *
 *   lomi-monitor --serve <padding>
 *
 * The fork server: the host starts one and sends it requests on stdin; each
 * is forked into a monitor (no exec: a fork of this small static process
 * costs a fraction of node's spawn, which forks the host's whole heap and
 * blocks its event loop meanwhile). A request is NUL-terminated fields:
 *
 *   id runDir logFile timeLimitMs graceMs cwd nEnv env... nArgv argv...
 *
 * and is answered on stdout by "<id> <pid> <startTime>\n" (or "<id> -<errno>\n")
 * once the server has written "<pid> <startTime>\n" to <runDir>/monitor (the
 * host's record of which process to follow, written here in C rather than by
 * the host's event loop). "x <pid>\n" says a monitor it forked has exited
 * (reaped) without saying "e" itself (its exit status is not 0): a monitor
 * that said "e" is reaped silently, so each end reaches the host once.
 *
 *   rm n path...
 *
 * asks for n directories (released run dirs, already renamed out of the
 * way by the host) to be removed: one forked child, niced, removes them all
 * without following symlinks or crossing mounts, so the host's event loop
 * does none of those unlinks and rmdirs. Not answered; its child's end is
 * not reported. The forked
 * monitor rewrites its argument area to "<monitor> <runDir>" so a restarted
 * host finds it in /proc exactly like a spawned one (argv[1] is the run dir;
 * the padding reserves the room). A forked monitor keeps the server's stdout
 * and, once its exit file is durable, says "e <pid>\n" there itself: the host
 * learns of the end without waiting for the monitor's exit and the server's
 * reaping (one process hop fewer; a loaded machine charges for each). stdin at EOF (the host is gone): the
 * server exits; its monitors go on, reparented like any orphan.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *names[] = {
  [SIGHUP] = "SIGHUP", [SIGINT] = "SIGINT", [SIGQUIT] = "SIGQUIT", [SIGILL] = "SIGILL",
  [SIGTRAP] = "SIGTRAP", [SIGABRT] = "SIGABRT", [SIGBUS] = "SIGBUS", [SIGFPE] = "SIGFPE",
  [SIGKILL] = "SIGKILL", [SIGUSR1] = "SIGUSR1", [SIGSEGV] = "SIGSEGV", [SIGUSR2] = "SIGUSR2",
  [SIGPIPE] = "SIGPIPE", [SIGALRM] = "SIGALRM", [SIGTERM] = "SIGTERM", [SIGCHLD] = "SIGCHLD",
  [SIGCONT] = "SIGCONT", [SIGSTOP] = "SIGSTOP", [SIGTSTP] = "SIGTSTP", [SIGTTIN] = "SIGTTIN",
  [SIGTTOU] = "SIGTTOU", [SIGURG] = "SIGURG", [SIGXCPU] = "SIGXCPU", [SIGXFSZ] = "SIGXFSZ",
  [SIGVTALRM] = "SIGVTALRM", [SIGPROF] = "SIGPROF", [SIGWINCH] = "SIGWINCH", [SIGIO] = "SIGIO",
  [SIGPWR] = "SIGPWR", [SIGSYS] = "SIGSYS",
};

/* The host's pipe (a forked monitor only): "e <pid>\n" once the exit is durable. */
static int notice_fd = -1;
static int forked = 0;

/* 0 when said (or there is nobody to say it to), 4 when a forked monitor could not say it: the server's "x" then does. */
static int notice_exit(void) {
  if (!forked) return 0;
  if (notice_fd < 0) return 4;
  signal(SIGPIPE, SIG_IGN); /* a host gone meanwhile: nobody to tell (EPIPE: the "x" goes nowhere either) */
  char line[32];
  int n = snprintf(line, sizeof line, "e %d\n", (int)getpid());
  if (write(notice_fd, line, (size_t)n) == n) return 0;
  return errno == EPIPE ? 0 : 4;
}

/* The exit slot (see the header): open from before the pipeline starts until the exit is recorded. */
#define SLOT_BYTES 512
static int slot_fd = -1;
static long long slot_index = -1;
static char slot_token[128];

static void open_slot(void) {
  const char *spec = getenv("LOMI_MONITOR_EXIT_SLOT");
  if (spec == NULL) return;
  char copy[4096];
  snprintf(copy, sizeof copy, "%s", spec);
  unsetenv("LOMI_MONITOR_EXIT_SLOT"); /* the pipeline's environment is its own */
  char *token = strchr(copy, ' ');
  if (token == NULL) return;
  *token++ = 0;
  char *file = strchr(token, ' ');
  if (file == NULL) return;
  *file++ = 0;
  char *end = NULL;
  long long index = strtoll(copy, &end, 10);
  if (end == copy || *end != 0 || index < 0 || strlen(token) >= sizeof slot_token) return;
  int fd = open(file, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return;
  slot_fd = fd;
  slot_index = index;
  memcpy(slot_token, token, strlen(token) + 1);
}

/* "<token>\n<text>" in place in the slot, fdatasynced: 0 when durable. */
static int record_in_slot(const char *text) {
  if (slot_fd < 0) return -1;
  char record[SLOT_BYTES];
  memset(record, 0, sizeof record);
  int n = snprintf(record, sizeof record, "%s\n%s", slot_token, text);
  if (n < 0 || n >= (int)sizeof record) return -1;
  if (pwrite(slot_fd, record, sizeof record, (off_t)slot_index * SLOT_BYTES) != (ssize_t)sizeof record) return -1;
  return fdatasync(slot_fd);
}

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Writes `text` to dir/name through dir/name.tmp; durable when `sync`. */
static int write_file(const char *dir, const char *name, const char *text, int sync) {
  char tmp[4096], dst[4096];
  snprintf(tmp, sizeof tmp, "%s/%s.tmp", dir, name);
  snprintf(dst, sizeof dst, "%s/%s", dir, name);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return -1;
  size_t len = strlen(text);
  if (write(fd, text, len) != (ssize_t)len || (sync && fsync(fd) != 0)) { close(fd); return -1; }
  if (close(fd) != 0 || rename(tmp, dst) != 0) return -1;
  if (!sync) return 0;
  int d = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (d < 0) return -1;
  int rc = fsync(d);
  close(d);
  return rc;
}

/* Field 22 of /proc/<pid>/stat: start time in clock ticks since boot (defeats pid reuse). */
static unsigned long long start_time_of(const char *stat_file) {
  char buf[1024];
  int fd = open(stat_file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  char *p = strrchr(buf, ')');
  if (p == NULL) return 0;
  unsigned long long value = 0;
  /* after ") ": state(3) ... starttime(22) is the 20th field after the name */
  for (int field = 3; p != NULL && field <= 22; field++) {
    p = strchr(p + 1, ' ');
    if (p != NULL && field == 22) value = strtoull(p + 1, NULL, 10);
  }
  return value;
}

static unsigned long long start_time(void) { return start_time_of("/proc/self/stat"); }

/* The exit, durable before anyone is told: in the slot when there is one (the exit file then need not be synced), else in a synced exit file. */
static int record_exit(const char *run_dir, const char *text) {
  if (record_in_slot(text) == 0) {
    if (write_file(run_dir, "exit", text, 0) != 0) { /* the slot has it: the host reads it there */ }
    return 0;
  }
  return write_file(run_dir, "exit", text, 1);
}

/* The monitor proper: the caller's environment and cwd are the pipeline's. */
static int run_monitor(const char *run_dir, const char *log_file, long long limit_ms, long long grace_ms, char **command) {
  setsid();
  prctl(PR_SET_CHILD_SUBREAPER, 1);

  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  sigprocmask(SIG_BLOCK, &set, &old);
  open_slot();

  /* posix_spawn (vfork-like, no page-table copy): the child leads a new group, stdin is /dev/null */
  int log_fd = open(log_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  pid_t leader = -1;
  int spawn_error = log_fd < 0 ? errno : 0;
  if (log_fd >= 0) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, log_fd, 1);
    posix_spawn_file_actions_adddup2(&actions, log_fd, 2);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setsigmask(&attr, &old);
    spawn_error = posix_spawnp(&leader, command[0], &actions, &attr, command, environ);
    if (spawn_error != 0) {
      leader = -1;
      dprintf(log_fd, "lomi-monitor: cannot run %s: %s\n", command[0], strerror(spawn_error));
    }
  }
  char text[256];
  if (leader < 0) {
    snprintf(text, sizeof text, "{\"code\":127,\"signal\":null,\"timedOut\":false}\n");
    if (record_exit(run_dir, text) != 0) return 1;
    return notice_exit();
  }
  setpgid(leader, leader);
  close(log_fd);
  snprintf(text, sizeof text, "%d %llu %d\n", (int)getpid(), start_time(), (int)leader);
  write_file(run_dir, "pids", text, 0);

  long long start = now_ms(), kill_at = -1;
  int status = 0, leader_done = 0, timed_out = 0, killed = 0, terminating = 0;
  for (;;) {
    int st;
    pid_t p;
    while ((p = waitpid(-1, &st, WNOHANG)) > 0)
      if (p == leader) { status = st; leader_done = 1; }
    int group_left = kill(-leader, 0) == 0;
    if (leader_done && !group_left) break;
    long long now = now_ms();
    if (!terminating && (leader_done || (limit_ms > 0 && now - start >= limit_ms))) {
      /* time limit, or leftovers of a finished pipeline: TERM the group, KILL after the grace */
      if (!leader_done) timed_out = 1;
      terminating = 1;
      kill(-leader, SIGTERM);
      kill_at = now + grace_ms;
    }
    if (terminating && !killed && now >= kill_at) { kill(-leader, SIGKILL); killed = 1; kill_at = now + 5000; }
    if (killed && leader_done && now >= kill_at) break; /* unkillable leftovers: give up waiting on them */
    long long wait_ms = 1000;
    if (terminating) wait_ms = kill_at - now;
    else if (limit_ms > 0) wait_ms = limit_ms - (now - start);
    if (leader_done && wait_ms > 20) wait_ms = 20; /* leftovers that are not our children: poll */
    if (wait_ms < 1) wait_ms = 1;
    struct timespec ts = { wait_ms / 1000, (wait_ms % 1000) * 1000000 };
    int sig = sigtimedwait(&set, NULL, &ts);
    if ((sig == SIGTERM || sig == SIGINT || sig == SIGHUP) && !terminating) {
      terminating = 1;
      kill(-leader, SIGTERM);
      kill_at = now_ms() + grace_ms;
    }
  }

  if (WIFSIGNALED(status)) {
    int s = WTERMSIG(status);
    const char *name = s > 0 && s < (int)(sizeof names / sizeof names[0]) && names[s] != NULL ? names[s] : "SIGKILL";
    snprintf(text, sizeof text, "{\"code\":null,\"signal\":\"%s\",\"timedOut\":%s}\n", name, timed_out ? "true" : "false");
  } else {
    snprintf(text, sizeof text, "{\"code\":%d,\"signal\":null,\"timedOut\":%s}\n", WEXITSTATUS(status), timed_out ? "true" : "false");
  }
  if (record_exit(run_dir, text) != 0) return 1;
  return notice_exit();
}

/* ---- fork server ---- */

static char *arg_area;      /* argv[1] of the server: rewritten in each forked monitor */
static size_t arg_room;     /* bytes from argv[1] to the end of the argument area */

/* One request parsed from buf[0..len): fields are NUL-terminated. Returns bytes used, 0 if incomplete, -1 if malformed. */
struct request {
  const char *id, *run_dir, *log_file, *cwd;
  long long limit_ms, grace_ms;
  char **env, **argv;
};

/* ---- removal of released dirs (the "rm" request) ---- */

/* Removes `name` (a directory on device `dev`) under `parent`: no symlink is followed, no other mount entered. */
static void remove_dir_at(int parent, const char *name, dev_t dev) {
  int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 && errno == EACCES && fchmodat(parent, name, 0700, 0) == 0)
    fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return;
  struct stat st;
  if (fstat(fd, &st) != 0 || st.st_dev != dev) { close(fd); return; } /* a mount point: left alone */
  DIR *d = fdopendir(fd);
  if (d == NULL) { close(fd); return; }
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    if (e->d_type == DT_DIR) remove_dir_at(fd, e->d_name, dev);
    else if (unlinkat(fd, e->d_name, 0) != 0 && errno == EISDIR) remove_dir_at(fd, e->d_name, dev);
  }
  closedir(d);
  unlinkat(parent, name, AT_REMOVEDIR);
}

static void remove_tree(const char *path) {
  struct stat st;
  if (lstat(path, &st) != 0) return;
  if (!S_ISDIR(st.st_mode)) { unlink(path); return; }
  remove_dir_at(AT_FDCWD, path, st.st_dev);
}

static pid_t removers[64];

static int is_remover(pid_t pid) {
  for (size_t k = 0; k < sizeof removers / sizeof removers[0]; k++)
    if (removers[k] == pid) { removers[k] = 0; return 1; }
  return 0;
}

/* Parses "rm n path..." at buf; returns bytes used, 0 if incomplete, -1 if malformed; forks the remover. */
static long remove_request(char *buf, size_t len) {
  size_t pos = 3; /* "rm\0" */
  char *end = memchr(buf + pos, 0, len - pos);
  if (end == NULL) return 0;
  long n = atol(buf + pos);
  if (n < 0 || n > 100000) return -1;
  pos = (size_t)(end - buf) + 1;
  size_t first = pos;
  for (long k = 0; k < n; k++) {
    end = memchr(buf + pos, 0, len - pos);
    if (end == NULL) return 0;
    pos = (size_t)(end - buf) + 1;
  }
  pid_t pid = fork();
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    close_range(0, ~0U, 0); /* the server's pipes stay the server's */
    if (nice(10) == -1) { /* best effort: removal is background work */ }
    for (size_t at = first; at < pos; at += strlen(buf + at) + 1) remove_tree(buf + at);
    _exit(0);
  }
  if (pid > 0)
    for (size_t k = 0; k < sizeof removers / sizeof removers[0]; k++)
      if (removers[k] == 0) { removers[k] = pid; break; }
  return (long)pos;
}

static long parse_request(char *buf, size_t len, struct request *r) {
  char *fields[6];
  size_t pos = 0;
  for (int f = 0; f < 6; f++) {
    char *end = memchr(buf + pos, 0, len - pos);
    if (end == NULL) return 0;
    fields[f] = buf + pos;
    pos = (size_t)(end - buf) + 1;
  }
  r->id = fields[0]; r->run_dir = fields[1]; r->log_file = fields[2];
  r->limit_ms = atoll(fields[3]); r->grace_ms = atoll(fields[4]); r->cwd = fields[5];
  char **lists[2] = { NULL, NULL };
  for (int l = 0; l < 2; l++) {
    char *end = memchr(buf + pos, 0, len - pos);
    if (end == NULL) { free(lists[0]); return 0; }
    long n = atol(buf + pos);
    pos = (size_t)(end - buf) + 1;
    if (n < 0 || n > 100000) { free(lists[0]); return -1; }
    lists[l] = calloc((size_t)n + 1, sizeof(char *));
    if (lists[l] == NULL) { free(lists[0]); return -1; }
    for (long k = 0; k < n; k++) {
      end = memchr(buf + pos, 0, len - pos);
      if (end == NULL) { free(lists[0]); free(lists[1]); return 0; }
      lists[l][k] = buf + pos;
      pos = (size_t)(end - buf) + 1;
    }
  }
  r->env = lists[0];
  r->argv = lists[1];
  if (r->argv[0] == NULL) { free(r->env); free(r->argv); return -1; }
  return (long)pos;
}

static void say(const char *text) {
  /* the host reads these; if it is gone (EPIPE) nobody needs them */
  size_t len = strlen(text);
  while (len > 0) {
    ssize_t n = write(1, text, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    text += n;
    len -= (size_t)n;
  }
}

static void reap(void) {
  int st;
  pid_t p;
  char line[64];
  while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
    if (is_remover(p)) continue;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) continue; /* it said "e" itself */
    snprintf(line, sizeof line, "x %d\n", (int)p);
    say(line);
  }
}

static pid_t fork_monitor(const struct request *r, const sigset_t *server_mask) {
  pid_t pid = fork();
  if (pid != 0) return pid;
  /* the monitor: a clean signal state, /dev/null for stdio, its own name in /proc */
  forked = 1;
  signal(SIGPIPE, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  (void)server_mask;
  /* above the fds closed below, and never the pipeline's (close-on-exec) */
  notice_fd = fcntl(1, F_DUPFD_CLOEXEC, 100);
  int null_fd = open("/dev/null", O_RDWR);
  if (null_fd >= 0) { dup2(null_fd, 0); dup2(null_fd, 1); dup2(null_fd, 2); if (null_fd > 2) close(null_fd); }
  /* one system call, not one per fd; the notice fd (above 100) is kept */
  if (notice_fd > 3) {
    close_range(3, (unsigned)notice_fd - 1, 0);
    close_range((unsigned)notice_fd + 1, ~0U, 0);
  } else {
    close_range(3, ~0U, 0);
  }
  size_t len = strlen(r->run_dir);
  if (len + 1 <= arg_room) {
    memset(arg_area, 0, arg_room);
    memcpy(arg_area, r->run_dir, len);
  }
  if (r->cwd[0] != 0 && chdir(r->cwd) != 0) {
    int log_fd = open(r->log_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd >= 0) dprintf(log_fd, "lomi-monitor: cannot enter %s: %s\n", r->cwd, strerror(errno));
    if (write_file(r->run_dir, "exit", "{\"code\":127,\"signal\":null,\"timedOut\":false}\n", 1) != 0) _exit(1);
    _exit(notice_exit());
  }
  environ = r->env;
  _exit(run_monitor(r->run_dir, r->log_file, r->limit_ms, r->grace_ms, r->argv));
}

static int serve(void) {
  signal(SIGPIPE, SIG_IGN);
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) return 1;
  size_t cap = 1 << 16, len = 0;
  char *buf = malloc(cap);
  if (buf == NULL) return 1;
  for (;;) {
    struct pollfd fds[2] = { { 0, POLLIN, 0 }, { sfd, POLLIN, 0 } };
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    if (fds[1].revents & POLLIN) {
      struct signalfd_siginfo info;
      while (read(sfd, &info, sizeof info) > 0) {}
      reap();
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      if (len == cap) {
        char *bigger = realloc(buf, cap * 2);
        if (bigger == NULL) return 1;
        buf = bigger;
        cap *= 2;
      }
      ssize_t n = read(0, buf + len, cap - len);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return 0; /* the host is gone */
      len += (size_t)n;
      for (;;) {
        if (len >= 3 && memcmp(buf, "rm\0", 3) == 0) {
          long used = remove_request(buf, len);
          if (used == 0) break;
          if (used < 0) { say("? malformed request\n"); return 2; }
          memmove(buf, buf + used, len - (size_t)used);
          len -= (size_t)used;
          continue;
        }
        struct request r;
        long used = parse_request(buf, len, &r);
        if (used == 0) break;
        if (used < 0) { say("? malformed request\n"); return 2; }
        pid_t pid = fork_monitor(&r, &mask);
        char line[128];
        if (pid < 0) {
          snprintf(line, sizeof line, "%s %d\n", r.id, -errno);
        } else {
          /* The host's record of the monitor, before the answer: a host that dies after it knows what to follow. */
          char stat_file[64], text[64];
          snprintf(stat_file, sizeof stat_file, "/proc/%d/stat", (int)pid);
          unsigned long long started = start_time_of(stat_file);
          snprintf(text, sizeof text, "%d %llu\n", (int)pid, started);
          /* in place (no rename): a server that dies mid-write never answers, and the host then records the monitor itself */
          char file[4096];
          snprintf(file, sizeof file, "%s/monitor", r.run_dir);
          int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
          if (fd >= 0) {
            if (write(fd, text, strlen(text)) < 0) { /* the monitor's own pids and the /proc scan still find it */ }
            close(fd);
          }
          snprintf(line, sizeof line, "%s %d %llu\n", r.id, (int)pid, started);
        }
        say(line);
        free(r.env);
        free(r.argv);
        memmove(buf, buf + used, len - (size_t)used);
        len -= (size_t)used;
      }
    }
  }
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "--serve") == 0) {
    arg_area = argv[1];
    arg_room = (size_t)(argv[2] + strlen(argv[2]) + 1 - argv[1]);
    return serve();
  }
  if (argc < 7 || strcmp(argv[5], "--") != 0) {
    fprintf(stderr, "usage: lomi-monitor <runDir> <logFile> <timeLimitMs> <graceMs> -- <command> [args...]\n"
                    "       lomi-monitor --serve <padding>\n");
    return 2;
  }
  return run_monitor(argv[1], argv[2], atoll(argv[3]), atoll(argv[4]), &argv[6]);
}
