#!/usr/bin/env bash
# Container roles: metaserver ID | chunkserver | client. Settings come from the environment
# (see docker-compose.yml): CHUNKFS_PEERS, CHUNKFS_META, CHUNKFS_CLUSTER_ID, and optionally
# CHUNKFS_SECRET_FILE (a 0600 cluster secret mounted into every container: authentication on)
# and CHUNKFS_TOKEN_SECRET_FILE (a 0600 chunk token secret for the server containers only).
set -euo pipefail
role=${1:?role: metaserver ID | chunkserver | client}
case "$role" in
metaserver)
  id=${2:?metaserver id}
  if [ ! -e /data/cluster.ini ]; then
    chunkfs-metaserver format --data-dir /data --cluster-id "$CHUNKFS_CLUSTER_ID"
  fi
  exec chunkfs-metaserver --id "$id" --listen "0.0.0.0:9400" \
    --peers "$CHUNKFS_PEERS" --data-dir /data ${CHUNKFS_SECRET_FILE:+--secret-file "$CHUNKFS_SECRET_FILE"} \
    ${CHUNKFS_TOKEN_SECRET_FILE:+--token-secret-file "$CHUNKFS_TOKEN_SECRET_FILE"}
  ;;
chunkserver)
  exec chunkfs-chunkserver --listen "0.0.0.0:9500" --advertise "$(hostname):9500" \
    --meta "$CHUNKFS_META" --data-dir /data --cluster-id "$CHUNKFS_CLUSTER_ID" \
    --domain "${CHUNKFS_DOMAIN:-$(hostname)}" ${CHUNKFS_SECRET_FILE:+--secret-file "$CHUNKFS_SECRET_FILE"} \
    ${CHUNKFS_TOKEN_SECRET_FILE:+--token-secret-file "$CHUNKFS_TOKEN_SECRET_FILE"}
  ;;
client)
  mkdir -p /mnt/chunkfs
  chunkfs-mount "$CHUNKFS_META" /mnt/chunkfs
  exec sleep infinity
  ;;
*)
  echo "unknown role $role" >&2
  exit 2
  ;;
esac
