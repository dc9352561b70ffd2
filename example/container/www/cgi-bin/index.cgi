#!/bin/sh
# GET / : who this container is, when it started, and how many requests it has served.
# The Container class probes readiness with Host "containerstarthealthcheck" and "ping":
# those are not counted.
count_file=/tmp/request-count
count=$(cat "$count_file" 2>/dev/null || echo 0)
case "${HTTP_HOST:-}" in
  containerstarthealthcheck|ping) ;;
  *) count=$((count + 1)); echo "$count" > "$count_file" ;;
esac
body="{\"hostname\":\"$(hostname)\",\"startedAt\":$(cat /tmp/started-at),\"requests\":$count,\"path\":\"${REQUEST_URI:-/}\"}"
# workerd needs a delimited body: always send Content-Length.
printf 'Content-Type: application/json\r\nContent-Length: %s\r\n\r\n%s' "${#body}" "$body"
