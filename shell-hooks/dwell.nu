# dwell hook for Nushell. Nushell reads the files it sources when it parses
# config.nu, so the hook is a file of its own. Install with:
#   dwell hook nu | save -f ($nu.default-config-dir | path join dwell.nu)
# and in config.nu:
#   source ($nu.default-config-dir | path join dwell.nu)
#
# Runs before each prompt and after each cd. If the directory and the daemon's
# generation counter are unchanged since last time, it returns using builtins
# only (a path test, a listing and a read of a small file): no process.

# The hook's state, a record: Nushell passes only strings to the programs it
# runs, so none of this leaks into their environment.
$env.__dwell = {
  exe: 'dwell'
  # Who may own the counter file: the user this shell runs as (Nushell's own
  # `whoami`, once, when the hook is sourced).
  user: (whoami)
  # The counter and directory of the last look.
  seen: ''
  pwd: ''
  # The counter file the last `dwell export` named (only after it found
  # dwell's runtime directory private to this user).
  genfile: ''
}
# Tells `dwell doctor` (a child process) that the hook is installed.
$env.DWELL_SHELL = 'nu'

def --env __dwell_hook [] {
  let file = $env.__dwell.genfile
  # A regular file, not a link: only then is it read (a FIFO would block the
  # prompt). Its owner was checked when dwell named it (__dwell_apply), in
  # dwell's private directory.
  let gen = if $file != '' and ($file | path type) == 'file' {
    try { open --raw $file | decode utf-8 } catch { '' }
  } else { '' }
  if $gen != '' and $gen == $env.__dwell.seen and $env.PWD == $env.__dwell.pwd {
    return
  }
  $env.__dwell.seen = $gen
  $env.__dwell.pwd = $env.PWD
  # What to change, as data (Nushell evaluates no code it is handed at run
  # time): {set: {NAME: value}, unset: [NAME], genfile: path}.
  let answer = try { ^$env.__dwell.exe export nu | from json } catch { null }
  if $answer != null {
    __dwell_apply $answer
  }
}

# Applies one answer of `dwell export nu`.
def --env __dwell_apply [answer] {
  for name in $answer.unset {
    hide-env -i $name
  }
  for change in ($answer.set | transpose name value) {
    # PATH is a list in Nushell; every other value stays a string.
    let value = if $change.name == 'PATH' {
      $change.value | split row (char esep)
    } else {
      $change.value
    }
    load-env {($change.name): $value}
  }
  # The counter file: only this user's own regular file (`ls -l` is the one
  # costly check, made here, not at every prompt).
  let file = $answer.genfile
  let own = (
    $file != '' and ($file | path type) == 'file'
    and (try { ls -l $file | get 0.user } catch { '' }) == $env.__dwell.user
  )
  $env.__dwell.genfile = if $own { $file } else { '' }
}

# Installing the hook again replaces it (dwell's hooks are the code
# `__dwell_hook`): it never runs twice.
def __dwell_others [hooks] {
  $hooks | default [] | where {|h| $h != '__dwell_hook' }
}
$env.config.hooks.pre_prompt = (__dwell_others $env.config.hooks.pre_prompt? | append '__dwell_hook')
$env.config.hooks.env_change = (
  $env.config.hooks.env_change? | default {}
  | upsert PWD {|hooks| __dwell_others ($hooks.PWD? | default []) | append '__dwell_hook' }
)
