#!/bin/sh
# plugins/manifest.sh TEMPLATE.yaml FILE: prints the manifest template with
# the sha256 of FILE appended (the catalog checks it at load).
set -e
cat "$1"
printf 'sha256: %s\n' "$(sha256sum "$2" | cut -d' ' -f1)"
