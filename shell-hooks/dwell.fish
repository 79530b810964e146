# dwell hook for fish. Install with, in ~/.config/fish/config.fish:
#   dwell hook fish | source
#
# Runs before each prompt and whenever PWD changes (also a cd made by a key binding,
# without a new prompt). If PWD and the daemon's generation counter are unchanged
# since last time, it returns using builtins only: no fork.

set -g __dwell_exe dwell

if status is-interactive
    # Tells `dwell doctor` (a child process) that the hook is installed.
    set -gx DWELL_SHELL fish
    # The counter file's path, as the daemon computes it (uid looked up once).
    if string match -q -- '/*' "$XDG_RUNTIME_DIR"
        set -g __dwell_file $XDG_RUNTIME_DIR/dwell/generation
    else if string match -q -- '/*' "$TMPDIR"
        set -g __dwell_file $TMPDIR/dwell-(command id -u)/generation
    else
        set -g __dwell_file /tmp/dwell-(command id -u)/generation
    end

    # Defining the function again replaces it and its event handlers: sourcing the
    # hook twice does not stack it.
    function __dwell_hook --on-event fish_prompt --on-variable PWD
        set -l __dwell_status $status
        set -l __dwell_gen ''
        if test -r $__dwell_file
            read -l __dwell_line <$__dwell_file; and set __dwell_gen $__dwell_line
        end
        if test -n "$__dwell_gen"; and test "$__dwell_gen" = "$__dwell_seen"; and test "$PWD" = "$__dwell_pwd"
            return $__dwell_status
        end
        set -g __dwell_seen $__dwell_gen
        set -g __dwell_pwd $PWD
        $__dwell_exe export fish | source
        return $__dwell_status
    end
end
