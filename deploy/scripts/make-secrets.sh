#!/usr/bin/env bash
# Make a throwaway CA, broker certificates and SCRAM passwords for the Compose stack.
# For a real deployment use the organisation's PKI and secret store instead.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p secrets && cd secrets
openssl req -x509 -newkey rsa:3072 -nodes -days 365 -subj "/CN=ehx-dev-ca" -keyout ca.key -out ca.crt
for n in 1 2 3; do
  openssl req -newkey rsa:3072 -nodes -subj "/CN=kafka-$n" -keyout kafka-$n.key -out kafka-$n.csr
  openssl x509 -req -in kafka-$n.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 365 \
    -extfile <(printf "subjectAltName=DNS:kafka-%s" "$n") -out kafka-$n.crt
  cat kafka-$n.key kafka-$n.crt > kafka-$n.pem
done
for p in admin agency-police agency-health agency-schools agency-housing ehx-intake ehx-linker \
         ehx-consent ehx-timeline ehx-api ehx-audit ehx-admin ehx-rights; do
  openssl rand -hex 24 > "$p.password"
done
cat > admin.properties <<PROPS
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$(cat admin.password)";
ssl.truststore.type=PEM
ssl.truststore.location=/etc/kafka/secrets/ca.crt
PROPS
# Compose reads the services' passwords from deploy/.env (never commit it).
{
  echo "EHX_ADMIN_PASSWORD=$(cat ehx-admin.password)"
  echo "EHX_INTAKE_PASSWORD=$(cat ehx-intake.password)"
} > ../.env
echo "secrets written to $(pwd); service passwords to deploy/.env"
