#!/bin/sh
# The same as bin/docker-entrypoint, for apps that keep the script at the
# repository root: remove a stale server.pid, then exec the command.
set -e
rm -f tmp/pids/server.pid
exec "$@"
