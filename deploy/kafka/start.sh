#!/usr/bin/env bash
# Start one KRaft node (controller and broker) of the Compose cluster from server.properties.
# On first start it formats storage and creates every SCRAM principal of acls.yaml with its
# password file.
set -euo pipefail
export ID=$1 HOST=kafka-$1 BIND="" INTERNAL_PORT=9092 CLIENT_PORT=9093 CONTROLLER_PORT=9094
export VOTERS=1@kafka-1:9094,2@kafka-2:9094,3@kafka-3:9094 DATA=/var/lib/kafka/data
export SECRETS=/etc/kafka/secrets
CONFIG=/tmp/server.properties
while IFS= read -r line; do
  eval "printf '%s\n' \"$line\""
done < <(grep -v '^#' /etc/ehx/server.properties) > "$CONFIG"
if [ ! -f /var/lib/kafka/data/meta.properties ]; then
  SCRAM=()
  for f in /etc/kafka/secrets/*.password; do
    user=$(basename "$f" .password)
    SCRAM+=(--add-scram "SCRAM-SHA-512=[name=$user,password=$(cat "$f")]")
  done
  /opt/kafka/bin/kafka-storage.sh format --config "$CONFIG" \
    --cluster-id "${CLUSTER_ID:-ehx-local-cluster-0001}" "${SCRAM[@]}"
fi
exec /opt/kafka/bin/kafka-server-start.sh "$CONFIG"
