#!/usr/bin/env bash
# YOURS: the deploy hook. `make deploy ENV=... VERSION=...` runs it, and deploy.yml runs that after moving the
# serving image's ENV tag (docs/release.md). Put your platform's command here; no template update touches this file.
#   ENV        the environment: staging (after each release) or production (a promotion by hand)
#   VERSION    the released version, e.g. v1.2.0
#   IMAGE_REF  the serving image to run (deploy.yml passes it by its version tag)
# Platform secrets come from the GitHub Environment of ENV (deploy.yml's `environment:`), never from this file.
set -euo pipefail

: "${ENV:?ENV is not set (run: make deploy ENV=staging VERSION=v1.2.0)}"
: "${VERSION:?VERSION is not set (run: make deploy ENV=staging VERSION=v1.2.0)}"
: "${IMAGE_REF:?IMAGE_REF is not set (make deploy sets it)}"

# Examples (one, with your names, in place of the echo below):
#   kubectl --context "$ENV" set image deployment/model model="$IMAGE_REF" && kubectl rollout status deployment/model
#   gcloud run deploy "model-$ENV" --image "$IMAGE_REF" --region europe-west1 --quiet
#   flyctl deploy --app "model-$ENV" --image "$IMAGE_REF"
echo "deploy hook: $VERSION ($IMAGE_REF) -> $ENV: no platform command yet (edit scripts/deploy.sh)"
