#!/bin/sh
# Container entrypoint: run one service on :8000, or apply one service's migrations.
set -eu
case "${1:-}" in
  registry|subsidy|projects|gateway)
    exec python -m uvicorn "services.$1.app:create_app" --factory --host 0.0.0.0 --port "${PORT:-8000}" \
      --proxy-headers --no-access-log ;;
  migrate)
    exec python -m devstack migrate "${2:?name the service to migrate}" ;;
  *)
    echo "usage: entrypoint registry|subsidy|projects|gateway | migrate SERVICE" >&2; exit 2 ;;
esac
