# dwell hook for elvish. Install with, in ~/.config/elvish/rc.elv:
#   eval (dwell hook elvish | slurp)
# or, where the NixOS or home-manager module installed it as the module dwell:
#   use dwell
#
# Runs before each prompt and after each cd. If the directory and the daemon's
# generation counter are unchanged since last time, it returns using builtins
# only (a path test and `slurp` of a small file): no process.

use path
use str

var __dwell_exe = 'dwell'
var __dwell_seen = ''
var __dwell_pwd = ''
# The counter file the last `dwell export` named (only after it found dwell's
# runtime directory private to this user).
var __dwell_genfile = ''

# Tells `dwell doctor` (a child process) that the hook is installed.
set-env DWELL_SHELL elvish

fn __dwell_hook {
  var gen = ''
  # It must be a regular file, not a link.
  if (and (not-eq $__dwell_genfile '') ^
          (path:is-regular &follow-symlink=$false $__dwell_genfile)) {
    try { set gen = (slurp < $__dwell_genfile) } catch { }
  }
  if (and (not-eq $gen '') (eq $gen $__dwell_seen) (eq $pwd $__dwell_pwd)) {
    return
  }
  set __dwell_seen = $gen
  set __dwell_pwd = $pwd
  var dwell = (external $__dwell_exe)
  var code = ''
  try { set code = ($dwell export elvish | slurp) } catch { }
  eval $code &on-end={|ns|
    if (has-key $ns __dwell_genfile) { set __dwell_genfile = $ns[__dwell_genfile] }
  }
}

# Installing the hook again replaces it (a hook of dwell's is a function whose
# body names __dwell_): it never runs twice.
fn __dwell_others {|hooks|
  each {|h|
    if (not (and (eq (kind-of $h) fn) (str:contains $h[body] '__dwell_'))) {
      put $h
    }
  } $hooks
}
set edit:before-readline = [(__dwell_others $edit:before-readline) $__dwell_hook~]
set after-chdir = [(__dwell_others $after-chdir) {|_| __dwell_hook }]
