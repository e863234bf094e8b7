# shellcheck shell=bash
# install.sh's env files in /etc/linkfort: written once from the templates in deploy/env/, and
# afterwards only the lines a flag asks to change. Sourced after common.sh.

# A random password of hex digits: safe in a URL, in SQL and in an env file without quoting.
generate_password() { od -An -N24 -tx1 /dev/urandom | tr -d ' \n'; }

# Writes an env file from its template once; an existing one (maybe edited) is left alone.
write_env_once() {
  local template=$1 dest=$2 content key
  shift 2
  if [ -f "$dest" ]; then log "$dest exists: kept as it is"; return 0; fi
  content=$(cat "$template")
  while [ $# -gt 0 ]; do key=$1; content=${content//@$key@/$2}; shift 2; done
  (umask 077 && printf '%s\n' "$content" >"$dest.new") && mv "$dest.new" "$dest"
  log "wrote $dest"
}

# Changes one KEY=value line when an explicit flag asks for a different value (quoted when it
# holds spaces). Exit 0 = changed, 1 = it already had that value.
set_env_value() {
  local file=$1 key=$2 value=$3 line
  [ "$(env_value "$file" "$key")" = "$value" ] && return 1
  line="$key=$value"
  [[ $value != *" "* ]] || line="$key=\"$value\""
  awk -v key="$key" -v line="$line" 'BEGIN { done = 0 }
    $0 ~ "^[[:space:]]*" key "=" { if (!done) print line; done = 1; next } { print }
    END { if (!done) print line }' "$file" >"$file.new"
  chmod 0600 "$file.new" && mv "$file.new" "$file"
  log "$file: $line"
}
