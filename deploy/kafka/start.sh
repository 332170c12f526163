#!/usr/bin/env bash
# Start one KRaft node (controller and broker) of the Compose cluster. On first start it
# formats storage and creates every SCRAM principal of acls.yaml with its password file.
set -euo pipefail
ID=$1
CONFIG=/tmp/server.properties
cat > "$CONFIG" <<PROPS
node.id=$ID
process.roles=broker,controller
controller.quorum.voters=1@kafka-1:9094,2@kafka-2:9094,3@kafka-3:9094
listeners=INTERNAL://:9092,CLIENT://:9093,CONTROLLER://:9094
advertised.listeners=INTERNAL://kafka-$ID:9092,CLIENT://kafka-$ID:9093
listener.security.protocol.map=INTERNAL:SSL,CLIENT:SASL_SSL,CONTROLLER:SSL
inter.broker.listener.name=INTERNAL
controller.listener.names=CONTROLLER
sasl.enabled.mechanisms=SCRAM-SHA-512
ssl.keystore.type=PEM
ssl.keystore.location=/etc/kafka/secrets/kafka-$ID.pem
ssl.truststore.type=PEM
ssl.truststore.location=/etc/kafka/secrets/ca.crt
ssl.client.auth=required
listener.name.client.ssl.client.auth=none
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:admin;User:CN=kafka-1;User:CN=kafka-2;User:CN=kafka-3
auto.create.topics.enable=false
default.replication.factor=3
min.insync.replicas=2
offsets.topic.replication.factor=3
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
log.dirs=/var/lib/kafka/data
PROPS
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
