# dwell hook for zsh. Install with, in ~/.zshrc:
#   eval "$(dwell hook zsh)"
#
# Runs before each prompt and on each directory change. If $PWD and the daemon's
# generation counter are unchanged since last time, it returns without a fork.

__dwell_exe='dwell'

__dwell_hook() {
  local __dwell_status=$? __dwell_gen=''
  # The counter file is the one the last `dwell export` named (only after it
  # found dwell's runtime directory private to this user), and it must be this
  # user's own regular file (not a link, not a FIFO): no other user can keep this shell on the fast path.
  if [[ -n ${__dwell_genfile-} && -f $__dwell_genfile && -O $__dwell_genfile && ! -L $__dwell_genfile ]]; then
    \builtin read -r __dwell_gen <"$__dwell_genfile" || __dwell_gen=''
  fi
  if [[ -n $__dwell_gen && $__dwell_gen == "${__dwell_seen-}" && $PWD == "${__dwell_pwd-}" ]]; then
    return $__dwell_status
  fi
  typeset -g __dwell_seen=$__dwell_gen
  typeset -g __dwell_pwd=$PWD
  local __dwell_code
  __dwell_code=$("$__dwell_exe" export zsh)
  # Applied whole, as direnv does: a Ctrl-C half-way through would leave half an
  # environment. (Only the eval: Ctrl-C still stops a slow export.) localtraps
  # puts the user's own INT trap back when the function returns.
  \builtin setopt localoptions localtraps
  \builtin trap '' INT
  \builtin eval "$__dwell_code"
  # An environment still being evaluated arrives while the prompt sits idle,
  # without a keypress: `dwell await` ends when it is ready, and the line
  # editor (zle -F) calls __dwell_arrived then. One waiter at a time.
  if (( ${__dwell_pending:-0} )) && [[ -o zle && -z ${__dwell_waiter-} ]]; then
    local __dwell_fd
    \builtin exec {__dwell_fd}< <("$__dwell_exe" await 2>/dev/null)
    typeset -g __dwell_waiter=$__dwell_fd
    \builtin zle -F -w $__dwell_fd __dwell_arrived
  fi
  return $__dwell_status
}

# The waiter ended: the environment is ready (or its evaluation failed, which
# the hook's next ask says). Applied now, and the prompt drawn again.
__dwell_arrived() {
  local __dwell_fd=$1
  \builtin zle -F $__dwell_fd
  \builtin exec {__dwell_fd}<&-
  typeset -g __dwell_waiter=''
  \builtin zle -I
  typeset -g __dwell_seen=''
  __dwell_hook
  \builtin zle reset-prompt
}

if [[ -o interactive ]]; then
  # Tells `dwell doctor` (a child process) that the hook is installed.
  export DWELL_SHELL=zsh
  \builtin autoload -Uz add-zsh-hook
  # add-zsh-hook adds a function once, however often this runs.
  add-zsh-hook precmd __dwell_hook
  add-zsh-hook chpwd __dwell_hook
  \builtin zle -N __dwell_arrived
fi
