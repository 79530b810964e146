# dwell hook for xonsh. Install with, in ~/.xonshrc:
#   execx($(dwell hook xonsh))
#
# Runs before each prompt and after each cd. If the directory and the daemon's
# generation counter are unchanged since last time, it returns after reading one
# small file in Python: no process.


def __dwell_install():
    import os
    import stat
    import subprocess
    import sys

    exe = 'dwell'
    env = __xonsh__.env
    state = {'seen': None, 'pwd': None, 'genfile': ''}

    def generation():
        # The counter file the last `dwell export` named (only after it found
        # dwell's runtime directory private to this user): this user's own
        # regular file, not a link, read without blocking.
        path = state['genfile']
        if not path:
            return ''
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            return ''
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid():
                return ''
            return os.read(fd, 64).decode('ascii', 'replace')
        except OSError:
            return ''
        finally:
            os.close(fd)

    def set_var(name, value):
        # One value xonsh refuses must not leave the others unset.
        try:
            env[os.fsdecode(name)] = os.fsdecode(value)
        except Exception as e:
            print(f'dwell: skipped {os.fsdecode(name)!r}: {e}', file=sys.stderr)

    def unset_var(name):
        name = os.fsdecode(name)
        if name in env:
            del env[name]

    def set_genfile(path):
        state['genfile'] = os.fsdecode(path)

    def export():
        # The shell's own environment, as a child process gets it: dwell reads
        # what is loaded from it.
        try:
            child = subprocess.Popen(
                [exe, 'export', 'xonsh'],
                stdout=subprocess.PIPE,
                env=env.detype(),
            )
        except OSError:
            return b''
        # Ctrl-C reaches dwell too, which then answers at once with the last
        # good environment: wait for that answer.
        while True:
            try:
                out, _ = child.communicate()
                return out
            except KeyboardInterrupt:
                continue

    def __dwell_hook(**_):
        gen = generation()
        try:
            pwd = os.getcwd()
        except OSError:
            pwd = ''
        if gen and gen == state['seen'] and pwd == state['pwd']:
            return
        state['seen'], state['pwd'] = gen, pwd
        code = export()
        if code:
            exec(
                code.decode('ascii'),
                {
                    '__dwell_set': set_var,
                    '__dwell_unset': unset_var,
                    '__dwell_genfile': set_genfile,
                },
            )

    # Installing the hook again replaces it: it never runs twice.
    for event in (events.on_pre_prompt, events.on_chdir):
        for handler in list(event):
            if getattr(handler, '__name__', '') == '__dwell_hook':
                event.discard(handler)
        event(__dwell_hook)
    # Tells `dwell doctor` (a child process) that the hook is installed.
    env['DWELL_SHELL'] = 'xonsh'


if __xonsh__.env.get('XONSH_INTERACTIVE'):
    __dwell_install()
del __dwell_install
