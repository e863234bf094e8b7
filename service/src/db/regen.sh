#!/usr/bin/env bash
# Regenerates the single initial migration from schema.ts. Only valid while no release has
# shipped 0000_init; after that, add migrations with `npx drizzle-kit generate --name <why>`.
set -euo pipefail
cd "$(dirname "$0")/../../.."
exec 9>/tmp/linkfort-regen.lock; flock 9
rm -rf service/src/db/migrations
npx drizzle-kit generate --name init >/dev/null
echo "regenerated service/src/db/migrations/0000_init.sql"
