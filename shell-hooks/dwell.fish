# dwell hook for fish. Install with, in ~/.config/fish/config.fish:
#   dwell hook fish | source
#
# Runs before each prompt and whenever PWD changes. If PWD and the daemon's
# generation counter are unchanged since last time, it returns without a fork.

set -g __dwell_exe 'dwell'

function __dwell_hook --on-event fish_prompt --on-variable PWD
    set -l __dwell_status $status
    set -l __dwell_gen ''
    if string match -q '/*' -- "$XDG_RUNTIME_DIR"
        set -f __dwell_file $XDG_RUNTIME_DIR/dwell/generation
    else if string match -q '/*' -- "$TMPDIR"
        set -f __dwell_file $TMPDIR/dwell-(id -u)/generation
    else
        set -f __dwell_file /tmp/dwell-(id -u)/generation
    end
    if test -r $__dwell_file
        read -l line <$__dwell_file; and set __dwell_gen $line
    end
    if test -n "$__dwell_gen"; and test "$__dwell_gen" = "$__dwell_seen"; and test "$PWD" = "$__dwell_pwd"
        return $__dwell_status
    end
    set -g __dwell_seen $__dwell_gen
    set -g __dwell_pwd $PWD
    $__dwell_exe export fish | source
    return $__dwell_status
end
