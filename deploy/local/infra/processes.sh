# shellcheck shell=bash
# Sourced by infra.sh: pid files, ports, detached servers. Needs say/die.

# pid_of PIDFILE MARKER: print the pid if it is alive and its command line contains MARKER.
pid_of() {
  local pidfile="$1" marker="$2" pid
  [[ -f "$pidfile" ]] || return 1
  pid="$(cat "$pidfile" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$marker" || return 1
  echo "$pid"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_port NAME PORT PID LOG TIMEOUT
wait_port() {
  local name="$1" port="$2" pid="$3" log="$4" timeout="$5" waited=0
  while ! port_open "$port"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      say "$name exited during start; last lines of $log:" >&2
      tail -n 40 "$log" >&2 || true
      die "$name did not start"
    fi
    if ((waited >= timeout * 5)); then
      say "$name not listening on 127.0.0.1:$port after ${timeout}s; last lines of $log:" >&2
      tail -n 40 "$log" >&2 || true
      die "$name did not start (still running as pid $pid; '$0 stop' ends it)"
    fi
    sleep 0.2
    waited=$((waited + 1))
  done
}

# stop_pid NAME PIDFILE MARKER
stop_pid() {
  local name="$1" pidfile="$2" marker="$3" pid i
  if ! pid="$(pid_of "$pidfile" "$marker")"; then
    rm -f "$pidfile"
    say "$name: not running"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 200; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "$name: pid $pid still running after 20s, sending SIGKILL"
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    sleep 0.5
  fi
  rm -f "$pidfile"
  say "$name: stopped (pid $pid)"
}

# close_inherited_fds: close every descriptor above stderr in this (sub)shell.
close_inherited_fds() {
  local fd
  for fd in /proc/$BASHPID/fd/*; do
    fd="${fd##*/}"
    if ((fd > 2)); then eval "exec $fd>&-" 2>/dev/null || true; fi
  done
}

# launch LOG PIDFILE CMD...: start CMD detached from this shell (own session, no stdin).
launch() {
  local log="$1" pidfile="$2"
  shift 2
  # setsid execs in place here (we are not a process-group leader), so $! is the server's pid.
  # The server inherits no descriptor but stdio: an inherited lock (.run/infra.lock, or the
  # callers' /tmp/connectflo-e2e.lock) would otherwise be held for the server's whole life.
  (
    close_inherited_fds
    exec setsid nohup "$@" >>"$log" 2>&1 </dev/null
  ) &
  echo $! >"$pidfile"
}

sha_of() { cat "$@" | sha256sum | cut -d' ' -f1; }
