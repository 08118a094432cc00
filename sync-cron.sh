#!/usr/bin/env bash
# Run one bitrix-sync pass from the host crontab; all arguments go to cli.py.
#
#   # every night at 03:00, from any directory, even through a symlink:
#   0 3 * * * /opt/bitrix-sync/sync-cron.sh
#
# - Runs in the project folder (where this script really lives), so .env and
#   mapping.toml are found whatever cron's working directory is.
# - Python: .venv or venv in the project folder if present, else python3 / python.
# - Output (stdout + stderr) is appended to $SYNC_CRON_LOG (default
#   bitrix-sync-cron.log in the project folder; a relative path is taken from the
#   project folder) between timestamped start / finish lines. When run from a
#   terminal it is shown there too; under cron nothing is printed, so cron sends
#   no mail unless the log itself cannot be written.
# - The exit code is cli.py's (127 if no Python was found; 4 if another sync, e.g.
#   the service, was running and this one did not start).
# - The run is recorded in the run history as triggered by cron (`cli.py --status`).

# Resolve symlinks one hop at a time: macOS has no `readlink -f`.
source_path="${BASH_SOURCE[0]}"
while [ -L "$source_path" ]; do
    link_dir="$(cd -P "$(dirname -- "$source_path")" >/dev/null 2>&1 && pwd)"
    target="$(readlink -- "$source_path")"
    case "$target" in
        /*) source_path="$target" ;;
        *) source_path="$link_dir/$target" ;;
    esac
done
project_dir="$(cd -P "$(dirname -- "$source_path")" >/dev/null 2>&1 && pwd)" || {
    echo "sync-cron.sh: cannot find the project folder of $source_path" >&2
    exit 1
}

python=""
for candidate in \
    "$project_dir/.venv/bin/python" "$project_dir/venv/bin/python" \
    "$project_dir/.venv/Scripts/python.exe" "$project_dir/venv/Scripts/python.exe"; do
    if [ -x "$candidate" ]; then
        python="$candidate"
        break
    fi
done
if [ -z "$python" ]; then
    python="$(command -v python3 || command -v python || true)"
fi

log_file="${SYNC_CRON_LOG:-bitrix-sync-cron.log}"
case "$log_file" in
    /*) ;;
    *) log_file="$project_dir/$log_file" ;;
esac

# UTF-8 everywhere: Cyrillic names from the portal must survive the log and a
# Windows (Git Bash) console.
export PYTHONIOENCODING=utf-8
export PYTHONUTF8=1

stamp() { date '+%Y-%m-%d %H:%M:%S %z'; }

cd "$project_dir" || exit 1

if [ -z "$python" ]; then
    message="[$(stamp)] sync-cron.sh: no Python found (looked for .venv, venv, python3, python)"
    { echo "$message" >>"$log_file"; } 2>/dev/null
    echo "$message" >&2
    exit 127
fi

# --trigger cron: the run history tells these runs from manual ones.
cli=("$project_dir/cli.py" --trigger cron)

mkdir -p -- "$(dirname -- "$log_file")" 2>/dev/null
if ! { : >>"$log_file"; } 2>/dev/null; then
    # Better an unlogged run than none: cron mails this output to the owner.
    echo "sync-cron.sh: cannot write the log file $log_file; running without it" >&2
    "$python" "${cli[@]}" "$@"
    exit $?
fi

printf '[%s] start: cli.py' "$(stamp)" >>"$log_file"
[ "$#" -gt 0 ] && printf ' %q' "$@" >>"$log_file"
printf ' (pid %s, python %s)\n' "$$" "$python" >>"$log_file"

if [ -t 1 ]; then
    # tee ignores Ctrl+C so cli.py can still log its graceful stop to the terminal and file.
    "$python" "${cli[@]}" "$@" 2>&1 | (trap '' INT; exec tee -a "$log_file")
    code=${PIPESTATUS[0]}
else
    "$python" "${cli[@]}" "$@" >>"$log_file" 2>&1
    code=$?
fi

printf '[%s] finish: exit code %s\n' "$(stamp)" "$code" >>"$log_file"
exit "$code"
