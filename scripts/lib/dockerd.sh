# shellcheck shell=bash
# A private Docker engine for culprit's tests and fixtures: its own data-root, exec-root, socket
# and logs under /var/tmp, no bridge, no iptables rules, so that it changes nothing on the
# machine beyond its own directory. Source this file, then:
#
#   culprit_dockerd_start     starts dockerd (or reuses the one this file started), waits for its
#                             socket, exports DOCKER_HOST; returns non-zero if it does not answer
#   culprit_docker ARGS...    the Docker CLI of the engine's own version, against that socket
#   culprit_dockerd_stop      removes the containers it still has, stops dockerd (and the
#                             containerd it started) by their pids, waits for them to go
#
# Settings (environment): CULPRIT_DOCKER_ROOT (default /var/tmp/culprit-docker),
# CULPRIT_DOCKERD_TIMEOUT (seconds to wait for the socket, default 60), CULPRIT_DOCKER_CLI
# (default /usr/bin/docker: Debian's docker.io client, the daemon's own version; a newer client
# elsewhere on PATH would negotiate an older API).
#
# Only one helper may run a dockerd on a machine at a time; this one never touches another
# engine's socket (/var/run/docker.sock) or processes.

CULPRIT_DOCKER_ROOT=${CULPRIT_DOCKER_ROOT:-/var/tmp/culprit-docker}
CULPRIT_DOCKER_CLI=${CULPRIT_DOCKER_CLI:-/usr/bin/docker}
CULPRIT_DOCKERD_TIMEOUT=${CULPRIT_DOCKERD_TIMEOUT:-60}

culprit_docker() {
  DOCKER_HOST="unix://$CULPRIT_DOCKER_ROOT/docker.sock" "$CULPRIT_DOCKER_CLI" "$@"
}

# Prints the pid of the dockerd this file started, if it is still running.
_culprit_dockerd_pid() {
  local pid
  pid=$(cat "$CULPRIT_DOCKER_ROOT/dockerd.pid" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ -d "/proc/$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ] || return 1
  echo "$pid"
}

culprit_dockerd_start() {
  mkdir -p "$CULPRIT_DOCKER_ROOT/data" "$CULPRIT_DOCKER_ROOT/exec"
  export DOCKER_HOST="unix://$CULPRIT_DOCKER_ROOT/docker.sock"
  if _culprit_dockerd_pid >/dev/null && culprit_docker version >/dev/null 2>&1; then
    return 0
  fi
  # --bridge=none: no docker0; --iptables/--ip-masq/--ip-forward=false: no firewall or sysctl
  # changes. Containers are run with --network none anyway.
  # The daemon outlives this shell, so it must not keep any descriptor of its caller's: a
  # caller waiting for its end of a pipe or socket to close (Foundation's Process, in the
  # tests, detects a child's exit that way) would wait until the daemon stops. Every
  # descriptor above 2 is closed before the exec; stdin is /dev/null.
  (
    for fd in /proc/self/fd/*; do
      fd=${fd##*/}
      [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null
    done
    exec dockerd \
      --data-root "$CULPRIT_DOCKER_ROOT/data" \
      --exec-root "$CULPRIT_DOCKER_ROOT/exec" \
      --pidfile "$CULPRIT_DOCKER_ROOT/dockerd.pid" \
      --host "$DOCKER_HOST" \
      --bridge=none --iptables=false --ip-masq=false --ip-forward=false
  ) </dev/null >>"$CULPRIT_DOCKER_ROOT/dockerd.log" 2>&1 &
  local deadline=$((SECONDS + CULPRIT_DOCKERD_TIMEOUT))
  until culprit_docker version >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then
      echo "dockerd did not answer on $DOCKER_HOST within ${CULPRIT_DOCKERD_TIMEOUT}s; see $CULPRIT_DOCKER_ROOT/dockerd.log" >&2
      return 1
    fi
    sleep 0.2
  done
}

culprit_dockerd_stop() {
  local pid children
  pid=$(_culprit_dockerd_pid) || return 0
  local containers
  containers=$(culprit_docker ps -aq 2>/dev/null)
  # shellcheck disable=SC2086
  [ -n "$containers" ] && culprit_docker rm -f $containers >/dev/null 2>&1
  # The containerd that dockerd started for itself is its child; it is told to stop by dockerd,
  # and killed below if it outlives it.
  children=$(cat "/proc/$pid/task/$pid/children" 2>/dev/null)
  kill -TERM "$pid"
  local deadline=$((SECONDS + 30))
  while [ -d "/proc/$pid" ] && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
  [ -d "/proc/$pid" ] && kill -KILL "$pid"
  for child in $children; do
    [ -d "/proc/$child" ] && kill -TERM "$child"
  done
  rm -f "$CULPRIT_DOCKER_ROOT/dockerd.pid"
}
