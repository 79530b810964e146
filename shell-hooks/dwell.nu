# dwell hook for Nushell. Nushell reads the files it sources when it parses
# config.nu, so the hook is a file of its own. Install with:
#   dwell hook nu | save -f ($nu.default-config-dir | path join dwell.nu)
# and in config.nu:
#   source ($nu.default-config-dir | path join dwell.nu)
#
# Runs before each prompt and after each cd. If the directory and the daemon's
# generation counter are unchanged since last time, it returns using builtins
# only (a path test, a listing and a read of a small file): no process.

$env.__dwell_exe = 'dwell'
# Who may own the counter file: the user this shell runs as (Nushell's own
# `whoami`, once, when the hook is sourced).
$env.__dwell_user = (whoami)
$env.__dwell_seen = ''
$env.__dwell_pwd = ''
# The counter file the last `dwell export` named (only after it found dwell's
# runtime directory private to this user).
$env.__dwell_genfile = ''
# Tells `dwell doctor` (a child process) that the hook is installed.
$env.DWELL_SHELL = 'nu'

def --env __dwell_hook [] {
  let file = $env.__dwell_genfile
  # This user's own regular file, not a link: only then is it read (a FIFO
  # would block the prompt).
  let own = (
    $file != '' and ($file | path type) == 'file'
    and (try { ls -l $file | get 0.user } catch { '' }) == $env.__dwell_user
  )
  let gen = if $own { try { open --raw $file | decode utf-8 } catch { '' } } else { '' }
  if $gen != '' and $gen == $env.__dwell_seen and $env.PWD == $env.__dwell_pwd {
    return
  }
  $env.__dwell_seen = $gen
  $env.__dwell_pwd = $env.PWD
  # What to change, as data (Nushell evaluates no code it is handed at run
  # time): {set: {NAME: value}, unset: [NAME], genfile: path}.
  let answer = try { ^$env.__dwell_exe export nu | from json } catch { null }
  if $answer == null {
    return
  }
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
  $env.__dwell_genfile = $answer.genfile
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
