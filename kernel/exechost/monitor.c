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
 *   write <runDir>/exit  {"code":..,"signal":..,"timedOut":..}
 *         (temp file, fsync, rename, fsync dir), then exit 0
 *
 * Exit status 0 means the exit file is written; anything else means it is
 * not (the host then reports the run lost). Kept tiny: it is on the hot path.
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
 * and is answered on stdout by "<id> <pid>\n" (or "<id> -<errno>\n").
 * "x <pid>\n" says a monitor it forked has exited (reaped). The forked
 * monitor rewrites its argument area to "<monitor> <runDir>" so a restarted
 * host finds it in /proc exactly like a spawned one (argv[1] is the run dir;
 * the padding reserves the room). stdin at EOF (the host is gone): the
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
#include <sys/prctl.h>
#include <sys/signalfd.h>
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

/* Field 22 of /proc/self/stat: start time in clock ticks since boot (defeats pid reuse). */
static unsigned long long start_time(void) {
  char buf[1024];
  int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
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
    return write_file(run_dir, "exit", text, 1) == 0 ? 0 : 1;
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
  return write_file(run_dir, "exit", text, 1) == 0 ? 0 : 1;
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
    snprintf(line, sizeof line, "x %d\n", (int)p);
    say(line);
  }
}

static pid_t fork_monitor(const struct request *r, const sigset_t *server_mask) {
  pid_t pid = fork();
  if (pid != 0) return pid;
  /* the monitor: a clean signal state, /dev/null for stdio, its own name in /proc */
  signal(SIGPIPE, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  (void)server_mask;
  int null_fd = open("/dev/null", O_RDWR);
  if (null_fd >= 0) { dup2(null_fd, 0); dup2(null_fd, 1); dup2(null_fd, 2); if (null_fd > 2) close(null_fd); }
  for (int fd = 3; fd < 64; fd++) close(fd);
  size_t len = strlen(r->run_dir);
  if (len + 1 <= arg_room) {
    memset(arg_area, 0, arg_room);
    memcpy(arg_area, r->run_dir, len);
  }
  if (r->cwd[0] != 0 && chdir(r->cwd) != 0) {
    int log_fd = open(r->log_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd >= 0) dprintf(log_fd, "lomi-monitor: cannot enter %s: %s\n", r->cwd, strerror(errno));
    write_file(r->run_dir, "exit", "{\"code\":127,\"signal\":null,\"timedOut\":false}\n", 1);
    _exit(0);
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
        struct request r;
        long used = parse_request(buf, len, &r);
        if (used == 0) break;
        if (used < 0) { say("? malformed request\n"); return 2; }
        pid_t pid = fork_monitor(&r, &mask);
        char line[128];
        snprintf(line, sizeof line, "%s %d\n", r.id, pid < 0 ? -errno : (int)pid);
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
