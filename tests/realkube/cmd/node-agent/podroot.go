package main

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// podRoot is a pod's own root directory, built inside the pod's (private) mount
// namespace: a tmpfs that mirrors the host's / entry by entry with bind mounts,
// never copies. A mountpoint or working dir the host lacks (/workspace,
// /opt/x) is made on a tmpfs of the pod, so the host's filesystem never changes
// and everything vanishes with the pod's mount namespace. The same design as
// protocol/conformance/fakekube/backends/pod_init.py.
type podRoot struct {
	root string
	// private holds pod paths whose children may be created directly: dirs on
	// the pod's tmpfs and volume mountpoints. Any other dir is still a host dir
	// bound 1:1, and is shadowed by a mirror before a child is made in it.
	private map[string]bool
}

func newPodRoot(root string) (*podRoot, error) {
	r := &podRoot{root: root, private: map[string]bool{"/": true}}
	return r, mirror("/", root)
}

// at is where pod path p lives before the chroot.
func (r *podRoot) at(p string) string { return filepath.Join(r.root, p) }

// mirror makes target a tmpfs showing hostDir's entries (dirs recursively bound,
// files bound onto empty files, symlinks recreated).
func mirror(hostDir, target string) error {
	if err := syscall.Mount("tmpfs", target, "tmpfs", 0, "mode=755"); err != nil {
		return fmt.Errorf("tmpfs on %s: %w", target, err)
	}
	ents, err := os.ReadDir(hostDir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		src, dst := filepath.Join(hostDir, e.Name()), filepath.Join(target, e.Name())
		fi, err := os.Lstat(src)
		if err != nil {
			continue // gone meanwhile
		}
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			link, err := os.Readlink(src)
			if err == nil {
				err = os.Symlink(link, dst)
			}
			if err != nil {
				return err
			}
			continue
		case fi.IsDir():
			err = os.Mkdir(dst, 0o755)
		default:
			var f *os.File
			if f, err = os.Create(dst); err == nil {
				err = f.Close()
			}
		}
		if err != nil {
			return err
		}
		if err := syscall.Mount(src, dst, "", syscall.MS_BIND|syscall.MS_REC, ""); err != nil {
			return fmt.Errorf("bind %s: %w", src, err)
		}
	}
	return nil
}

// resolve turns pod path p into the pod path it names once symlinks are
// followed as the chrooted pod would follow them (/var/run/x -> /run/x), so
// nothing is ever created through a symlink that points at the host.
func (r *podRoot) resolve(p string) string {
	parts := strings.Split(filepath.Clean("/"+p), "/")
	cur := "/"
	for hops := 0; len(parts) > 0; {
		name := parts[0]
		parts = parts[1:]
		if name == "" || name == "." {
			continue
		}
		next := filepath.Join(cur, name)
		link, err := os.Readlink(r.at(next))
		if err != nil || hops >= 40 {
			cur = next // not a symlink (or missing): taken as is
			continue
		}
		hops++
		if !filepath.IsAbs(link) {
			link = filepath.Join(cur, link)
		}
		parts = append(strings.Split(filepath.Clean(link), "/"), parts...)
		cur = "/"
	}
	return cur
}

// ensureDir makes pod path p (already resolved) a directory, the first missing
// level being created where it is private to the pod: under a dir still bound
// from the host, that dir is first re-mirrored on a tmpfs of its own.
func (r *podRoot) ensureDir(p string) error {
	if fi, err := os.Stat(r.at(p)); err == nil && fi.IsDir() {
		return nil
	}
	parent := filepath.Dir(p)
	if err := r.ensureDir(parent); err != nil {
		return err
	}
	if !r.private[parent] {
		if err := mirror(parent, r.at(parent)); err != nil {
			return err
		}
		r.private[parent] = true
	}
	if err := os.Mkdir(r.at(p), 0o755); err != nil {
		return err
	}
	r.private[p] = true
	return nil
}

func (r *podRoot) bind(src, dst string, ro bool) error {
	dst = r.resolve(dst)
	if err := r.ensureDir(dst); err != nil {
		return fmt.Errorf("mountpoint %s: %w", dst, err)
	}
	if err := syscall.Mount(src, r.at(dst), "", syscall.MS_BIND|syscall.MS_REC, ""); err != nil {
		return fmt.Errorf("bind %s %s: %w", src, dst, err)
	}
	if ro {
		if err := syscall.Mount("", r.at(dst), "", syscall.MS_REMOUNT|syscall.MS_BIND|syscall.MS_RDONLY, ""); err != nil {
			return fmt.Errorf("remount ro %s: %w", dst, err)
		}
	}
	r.private[dst] = true
	return nil
}

// podInit is PID 1 of a pod's namespaces (run by unshare with a private mount
// namespace): set the hostname, build the pod's root in ROOT (a dir of the pod
// on the host, empty there), apply the directives in order, chroot into it, say
// "ready", then reap orphans and fan SIGTERM out to the pod, as a runtime's
// pause process would. Containers and execs join with `nsenter --root`.
func podInit(args []string) int {
	if len(args) < 2 {
		fmt.Fprintln(os.Stderr, "pod-init HOSTNAME ROOT [bind SRC DST RO | mkdir PATH]...")
		return 2
	}
	if err := syscall.Sethostname([]byte(args[0])); err != nil {
		fmt.Fprintln(os.Stderr, "sethostname:", err)
		return 1
	}
	r, err := newPodRoot(args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "pod root:", err)
		return 1
	}
	for rest := args[2:]; len(rest) > 0; {
		switch {
		case rest[0] == "bind" && len(rest) >= 4:
			err, rest = r.bind(rest[1], rest[2], rest[3] == "1"), rest[4:]
		case rest[0] == "mkdir" && len(rest) >= 2:
			err, rest = r.ensureDir(r.resolve(rest[1])), rest[2:]
		default:
			fmt.Fprintln(os.Stderr, "bad directive", rest[0])
			return 2
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	if err := syscall.Chroot(r.root); err != nil {
		fmt.Fprintln(os.Stderr, "chroot:", err)
		return 1
	}
	_ = os.Chdir("/")
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	go func() {
		for s := range sigs {
			_ = syscall.Kill(-1, s.(syscall.Signal))
		}
	}()
	fmt.Println("ready")
	if dn, err := os.OpenFile(os.DevNull, os.O_RDWR, 0); err == nil {
		_ = syscall.Dup2(int(dn.Fd()), 1)
	}
	for {
		var ws syscall.WaitStatus
		_, err := syscall.Wait4(-1, &ws, 0, nil)
		if err == syscall.ECHILD {
			time.Sleep(200 * time.Millisecond)
		}
	}
}
