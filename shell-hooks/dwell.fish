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
    # Defining the function again replaces it and its event handlers: sourcing the
    # hook twice does not stack it.
    function __dwell_hook --on-event fish_prompt --on-variable PWD
        set -l __dwell_status $status
        set -l __dwell_gen ''
        # The counter file is the one the last `dwell export` named (only after
        # it found dwell's runtime directory private to this user), and it must
        # be this user's own file (not a link).
        if set -q __dwell_genfile; and test -n "$__dwell_genfile"; and test -f $__dwell_genfile; and test -O $__dwell_genfile; and not test -L $__dwell_genfile
            read -l __dwell_line <$__dwell_genfile; and set __dwell_gen $__dwell_line
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
