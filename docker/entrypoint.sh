#!/bin/sh
# Entry point of every container of the image: prepare the data directory, then run the command.
set -eu

# The code's own var/ (/app/var in the image) holds the static files collected at build time.
app_var="$(cd "$(dirname "$0")/.." && pwd)/var"
var_dir="${PZ_VAR_DIR:-$app_var}"
image_static="$app_var/static"

# settings.py serves STATIC_ROOT = PZ_VAR_DIR/static, but the data volume outlives images, so
# the static files stay in the image: a symlink in the volume resolves inside each container,
# to that container's own image, so upgraded and old containers never mix their files.
if [ "$var_dir" != "$app_var" ]; then
    mkdir -p "$var_dir" 2>/dev/null || true
    if [ ! -L "$var_dir/static" ]; then
        # An empty directory there was made by settings.py (STATIC_ROOT.mkdir) in a process
        # started without this script; rmdir leaves a non-empty one alone.
        rmdir "$var_dir/static" 2>/dev/null || true
        # Another container starting at the same moment may win the race: that is fine.
        ln -s "$image_static" "$var_dir/static" 2>/dev/null || true
    fi
    if [ ! -L "$var_dir/static" ]; then
        echo "entrypoint: $var_dir/static is not a link to $image_static; static files may be stale" >&2
    fi
fi

exec "$@"
