#!/usr/bin/env bash
# Create the ACLs of acls.yaml on the cluster (run by the kafka-acls service in compose.yaml).
set -euo pipefail
CONFIG=/etc/kafka/secrets/admin.properties
BOOTSTRAP=${BOOTSTRAP:-kafka-1:9093}
python3 - "$@" <<'PY' | while read -r op principal topic kind; do
import yaml, sys
acls = yaml.safe_load(open("/etc/ehx/acls.yaml"))["principals"]
for principal, rights in acls.items():
    for op in ("read", "write", "delete"):
        for topic in rights.get(op, []):
            print(op, principal, topic, "topic")
    for group in rights.get("groups", []):
        print("read", principal, group, "group")
    for group in rights.get("describe_groups", []):
        print("describe", principal, group, "group")
PY
  case "$kind" in
    topic) /opt/kafka/bin/kafka-acls.sh --bootstrap-server "$BOOTSTRAP" --command-config "$CONFIG" \
             --add --allow-principal "User:$principal" --operation "${op^}" --topic "$topic" ;;
    group) /opt/kafka/bin/kafka-acls.sh --bootstrap-server "$BOOTSTRAP" --command-config "$CONFIG" \
             --add --allow-principal "User:$principal" --operation "${op^}" --group "$topic" ;;
  esac
done
