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
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
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

int main(int argc, char **argv) {
  if (argc < 7 || strcmp(argv[5], "--") != 0) {
    fprintf(stderr, "usage: lomi-monitor <runDir> <logFile> <timeLimitMs> <graceMs> -- <command> [args...]\n");
    return 2;
  }
  const char *run_dir = argv[1], *log_file = argv[2];
  long long limit_ms = atoll(argv[3]), grace_ms = atoll(argv[4]);
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
    spawn_error = posix_spawnp(&leader, argv[6], &actions, &attr, &argv[6], environ);
    if (spawn_error != 0) {
      leader = -1;
      dprintf(log_fd, "lomi-monitor: cannot run %s: %s\n", argv[6], strerror(spawn_error));
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
