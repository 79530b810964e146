# dwell hook for bash. Install with, in ~/.bashrc:
#   eval "$(dwell hook bash)"
#
# On each prompt: if ${PWD} and the daemon's generation counter are what this shell
# saw last time, return at once (no fork: the counter is read with the builtin
# `read`). Otherwise ask dwell for the environment of ${PWD} and apply it.

__dwell_exe='dwell'

__dwell_hook() {
  local __dwell_status=$? __dwell_gen='' __dwell_code
  # The counter file is the one the last `dwell export` named (only after it
  # found dwell's runtime directory private to this user), and it must be this
  # user's own regular file (not a link, not a FIFO): no other user can keep this shell on the fast path.
  if [[ -n ${__dwell_genfile-} && -f ${__dwell_genfile} && -O ${__dwell_genfile} && ! -L ${__dwell_genfile} ]]; then
    \builtin read -r __dwell_gen <"${__dwell_genfile}" || __dwell_gen=''
  fi
  if [[ -n ${__dwell_gen} && ${__dwell_gen} == "${__dwell_seen-}" && ${PWD} == "${__dwell_pwd-}" ]]; then
    return "${__dwell_status}"
  fi
  __dwell_seen=${__dwell_gen}
  __dwell_pwd=${PWD}
  __dwell_code=$("${__dwell_exe}" export bash) || true
  # Applied whole, as direnv does: a Ctrl-C half-way through would leave half an
  # environment. (Only the eval: Ctrl-C still stops a slow export.) The user's
  # own INT trap is put back as it was.
  local __dwell_int
  __dwell_int=$(\builtin trap -p INT)
  \builtin trap -- '' INT
  \builtin eval "${__dwell_code}"
  \builtin trap - INT
  \builtin eval "${__dwell_int}"
  return "${__dwell_status}"
}

# Interactive shells only, and once: sourcing ~/.bashrc again adds nothing.
# PROMPT_COMMAND may be a string or (bash 5.1+) an array; both are kept.
if [[ $- == *i* ]]; then
  # Tells `dwell doctor` (a child process) that the hook is installed.
  export DWELL_SHELL=bash
  __dwell_pc=$(\builtin declare -p PROMPT_COMMAND 2>/dev/null) || __dwell_pc=''
  if [[ ${__dwell_pc} == "declare -a"* ]]; then
    if [[ " ${PROMPT_COMMAND[*]} " != *" __dwell_hook "* ]]; then
      PROMPT_COMMAND=(__dwell_hook "${PROMPT_COMMAND[@]}")
    fi
  elif [[ ";${PROMPT_COMMAND-};" != *";__dwell_hook;"* ]]; then
    # shellcheck disable=SC2128,SC2178 # the string form of PROMPT_COMMAND
    PROMPT_COMMAND="__dwell_hook${PROMPT_COMMAND:+;${PROMPT_COMMAND}}"
  fi
  unset __dwell_pc
fi
