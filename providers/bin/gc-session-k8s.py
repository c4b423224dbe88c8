#!python
"""gc-session-k8s, the program (`gc_session_k8s.hot.main`). `gc-session-k8s` beside this file
starts it without Python's site setup (-S): gc starts a fresh process for every op of every
session, and a tick's read needs only our packages and the standard library. Run directly,
it starts as any script does."""
import sys

ours = None  # where our packages were found without site: site is still to be set up
if sys.flags.no_site:
    # A venv, pipx or uv tool holds us in its own site-packages (found from the interpreter's
    # path: without site, sys.prefix names the base installation); an editable install, in a
    # directory a .pth file there names. Other layouts are left to site.
    import posix

    def has_our_packages(place: str) -> bool:
        try:
            posix.stat(f"{place}/gc_session_k8s/hot.py")
        except (OSError, ValueError):
            return False
        return True

    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    lib = f"{sys.executable.rsplit('/', 2)[0]}/lib/{version}/site-packages"
    if has_our_packages(lib):
        ours = lib
    else:
        try:
            for pth in sorted(name for name in posix.listdir(lib) if name.endswith(".pth")):
                with open(f"{lib}/{pth}", encoding="utf-8") as lines:
                    ours = next((line.strip() for line in lines
                                 if line.startswith("/") and has_our_packages(line.strip())), None)
                if ours:
                    break
        except (OSError, ValueError):
            pass
    if ours:
        sys.path.append(ours)
    else:
        import site

        site.main()

from gc_session_k8s.hot import main  # noqa: E402

main(sys.argv, ours)
