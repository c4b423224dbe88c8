package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/klog/v2"
)

// Processes are "containers"; the host's binaries are the "image".
const (
	defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	podMarker   = "GC_LOCAL_POD"
)

func namespacesAvailable() bool {
	if os.Geteuid() != 0 {
		return false
	}
	for _, b := range []string{"unshare", "nsenter", "env"} {
		if _, err := exec.LookPath(b); err != nil {
			return false
		}
	}
	cmd := exec.Command("unshare", "--mount", "--pid", "--uts", "--fork", "--mount-proc",
		"--propagation", "private", "true")
	return cmd.Run() == nil
}

// mount is one pod-level bind: host dir -> path in the pod.
type mount struct {
	src, dst string
	ro       bool
}

// sandbox is one pod's shared environment: its dirs, and (with namespaces) the
// mount+PID+UTS namespaces whose PID 1 is `node-agent pod-init`, with the pod's
// own root (see podRoot): the host's filesystem is never written for a pod.
type sandbox struct {
	a        *agent
	uid      string
	hostname string
	dir      string
	tmp      string
	home     string
	mounts   []mount // sorted by depth of dst
	useNS    bool
	init     *exec.Cmd
	initPid  int
	initDone chan struct{}
}

func (a *agent) newSandbox(uid, hostname, dir string, mounts []mount, workDirs []string) (*sandbox, error) {
	s := &sandbox{a: a, uid: uid, hostname: hostname, dir: dir,
		tmp: filepath.Join(dir, "tmp"), home: filepath.Join(dir, "home"), useNS: a.useNS}
	for _, d := range []string{s.tmp, s.home, filepath.Join(dir, "rootfs")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	_ = os.Chmod(s.tmp, 0o1777)
	all := []mount{{src: s.tmp, dst: "/tmp"}, {src: s.home, dst: "/root"}}
	seen := map[string]bool{"/tmp": true, "/root": true}
	for _, m := range mounts {
		m.dst = filepath.Clean(m.dst)
		if !seen[m.dst] {
			seen[m.dst] = true
			all = append(all, m)
		}
	}
	sort.SliceStable(all, func(i, j int) bool {
		return strings.Count(all[i].dst, "/") < strings.Count(all[j].dst, "/")
	})
	s.mounts = all
	if s.useNS {
		if err := s.startNamespaces(workDirs); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// source returns the mount containing p (deepest first), skipping `exclude`.
func (s *sandbox) source(p, exclude string) (mount, bool) {
	p = filepath.Clean(p)
	best, ok := mount{}, false
	for _, m := range s.mounts {
		if m.dst == exclude {
			continue
		}
		if p == m.dst || strings.HasPrefix(p, strings.TrimSuffix(m.dst, "/")+"/") {
			if !ok || len(m.dst) > len(best.dst) {
				best, ok = m, true
			}
		}
	}
	return best, ok
}

// hostPath is where a pod path lives on the host when there are no namespaces.
func (s *sandbox) hostPath(p string) string {
	if m, ok := s.source(p, ""); ok {
		rel, _ := filepath.Rel(m.dst, filepath.Clean(p))
		return filepath.Join(m.src, rel)
	}
	return filepath.Join(s.dir, "rootfs", strings.TrimPrefix(p, "/"))
}

// ensureDir makes p exist where the pod will see it: inside an enclosing
// mount's dir (a dir of the pod, or a hostPath the pod asked for), or else in
// the pod's own root, by a `mkdir` directive for pod-init: never on the host.
func (s *sandbox) ensureDir(p, exclude string) ([]string, error) {
	if m, ok := s.source(p, exclude); ok {
		rel, _ := filepath.Rel(m.dst, filepath.Clean(p))
		return nil, os.MkdirAll(filepath.Join(m.src, rel), 0o755)
	}
	return []string{"mkdir", p}, nil
}

func (s *sandbox) startNamespaces(workDirs []string) error {
	// The pod's root: an empty dir on the host; pod-init mounts its tmpfs there
	// inside the pod's private mount namespace only.
	root := filepath.Join(s.dir, "root")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	// --kill-child: unshare dying (killed with the agent's bed) takes pod-init, PID 1 of
	// the pod's PID namespace, and so every process of the pod, with it.
	args := []string{"--mount", "--pid", "--uts", "--fork", "--kill-child", "--mount-proc", "--propagation", "private",
		s.a.self, "pod-init", s.hostname, root}
	for _, m := range s.mounts {
		mk, err := s.ensureDir(m.dst, m.dst)
		if err != nil {
			return fmt.Errorf("mountpoint %s: %w", m.dst, err)
		}
		ro := "0"
		if m.ro {
			ro = "1"
		}
		args = append(append(args, mk...), "bind", m.src, m.dst, ro)
	}
	for _, wd := range workDirs {
		if wd != "" {
			mk, err := s.ensureDir(wd, "")
			if err != nil {
				return err
			}
			args = append(args, mk...)
		}
	}
	cmd := exec.Command("unshare", args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if strings.TrimSpace(line) != "ready" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return fmt.Errorf("pod sandbox failed: %s", stderr.String())
	}
	s.init = cmd
	s.initDone = make(chan struct{})
	go func() { _ = cmd.Wait(); close(s.initDone) }()
	if kids := children(cmd.Process.Pid); len(kids) > 0 {
		s.initPid = kids[0]
	} else {
		return fmt.Errorf("pod sandbox: no init process under unshare")
	}
	return nil
}

func children(pid int) []int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return nil
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, n)
		}
	}
	return out
}

type procSpec struct {
	argv       []string
	env        map[string]string
	workingDir string
	uid, gid   *int64
	groups     []int64
	tty        bool
}

// command builds the exec.Cmd that runs spec inside the pod.
func (s *sandbox) command(p procSpec) *exec.Cmd {
	env := map[string]string{"PATH": defaultPath, "HOSTNAME": s.hostname, "HOME": "/root",
		"LANG": "C.UTF-8", podMarker: s.uid}
	if !s.useNS {
		env["HOME"], env["TMPDIR"], env["TMUX_TMPDIR"] = s.home, s.tmp, s.tmp
	}
	if p.tty {
		env["TERM"] = "xterm"
	}
	for k, v := range p.env {
		env[k] = v
	}
	wd := p.workingDir
	if wd == "" {
		wd = "/"
	}
	if !s.useNS {
		wd = s.hostPath(wd)
		_ = os.MkdirAll(wd, 0o755)
	}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	inner := []string{"env", "-i", "-C", wd}
	for _, k := range keys {
		inner = append(inner, k+"="+env[k])
	}
	inner = append(inner, p.argv...)
	var argv []string
	attr := &syscall.SysProcAttr{Setpgid: !p.tty, Setsid: p.tty}
	if s.useNS {
		// --root: the pod's own root (pod-init chroots into it), as a container's rootfs.
		argv = []string{"nsenter", "--target", strconv.Itoa(s.initPid), "--mount", "--pid", "--uts", "--root"}
		if p.gid != nil {
			argv = append(argv, "--setgid", strconv.FormatInt(*p.gid, 10))
		}
		if p.uid != nil {
			argv = append(argv, "--setuid", strconv.FormatInt(*p.uid, 10))
		}
		argv = append(argv, inner...)
	} else {
		argv = inner
		if p.uid != nil {
			cred := &syscall.Credential{Uid: uint32(*p.uid), Gid: uint32(*p.uid)}
			if p.gid != nil {
				cred.Gid = uint32(*p.gid)
			}
			for _, g := range p.groups {
				cred.Groups = append(cred.Groups, uint32(g))
			}
			attr.Credential = cred
		}
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = attr
	return cmd
}

// markedPids are the processes carrying this pod's marker in their environment
// (how a pod's daemonized leftovers are found without a PID namespace).
func (s *sandbox) markedPids() []int {
	marker := []byte(podMarker + "=" + s.uid)
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil {
			continue
		}
		for _, kv := range strings.Split(string(b), "\x00") {
			if kv == string(marker) {
				out = append(out, pid)
				break
			}
		}
	}
	return out
}

func (s *sandbox) signalAll(sig syscall.Signal) {
	if s.useNS && s.initPid > 0 {
		if sig == syscall.SIGKILL {
			_ = syscall.Kill(s.initPid, syscall.SIGKILL) // PID 1 dying takes the namespace with it
		} else {
			_ = syscall.Kill(s.initPid, sig) // pod-init fans it out
		}
		return
	}
	for _, pid := range s.markedPids() {
		_ = syscall.Kill(pid, sig)
	}
}

func (s *sandbox) destroy() {
	s.signalAll(syscall.SIGKILL)
	if s.init != nil {
		select {
		case <-s.initDone:
		case <-time.After(10 * time.Second):
			_ = s.init.Process.Kill()
		}
	}
}

var _ = klog.Info
