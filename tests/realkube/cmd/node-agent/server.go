package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
	v1 "k8s.io/api/core/v1"
	// Since v1.36 the kubelet's streaming server is its own staging module
	// (before: k8s.io/kubelet/pkg/cri/streaming, with types.UID and
	// client-go's remotecommand.TerminalSize in the interfaces).
	"k8s.io/cri-streaming/pkg/streaming/portforward"
	remotecommandserver "k8s.io/cri-streaming/pkg/streaming/remotecommand"
	"k8s.io/klog/v2"
	utilexec "k8s.io/utils/exec"
)

const (
	streamIdleTimeout     = 4 * time.Hour
	streamCreationTimeout = remotecommandserver.DefaultStreamCreationTimeout
)

// routes are the kubelet API paths the apiserver proxies to.
//
//	/exec/{ns}/{pod}[/{uid}]/{container}?command=...&input=1&output=1&error=1&tty=0
//	/attach/{ns}/{pod}[/{uid}]/{container}
//	/portForward/{ns}/{pod}[/{uid}]
//	/containerLogs/{ns}/{pod}/{container}?follow=&tailLines=&limitBytes=&previous=
func (a *agent) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	mux.HandleFunc("/exec/", a.serveExec)
	mux.HandleFunc("/attach/", a.serveAttach)
	mux.HandleFunc("/portForward/", a.servePortForward)
	mux.HandleFunc("/containerLogs/", a.serveLogs)
	mux.HandleFunc("/pods", a.servePods)
	return logRequests(mux)
}

func logRequests(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user := ""
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			user = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		klog.V(2).InfoS("kubelet API", "method", r.Method, "path", r.URL.Path, "query", r.URL.RawQuery, "user", user)
		h.ServeHTTP(w, r)
	})
}

// target parses {ns}/{pod}[/{uid}]/{container} after the prefix.
func (a *agent) target(w http.ResponseWriter, path, prefix string, wantContainer bool) (*podRun, string, bool) {
	parts := strings.Split(strings.Trim(strings.TrimPrefix(path, prefix), "/"), "/")
	var ns, name, uid, container string
	switch {
	case wantContainer && len(parts) == 3:
		ns, name, container = parts[0], parts[1], parts[2]
	case wantContainer && len(parts) == 4:
		ns, name, uid, container = parts[0], parts[1], parts[2], parts[3]
	case !wantContainer && len(parts) == 2:
		ns, name = parts[0], parts[1]
	case !wantContainer && len(parts) == 3:
		ns, name, uid = parts[0], parts[1], parts[2]
	default:
		http.Error(w, "bad path", http.StatusBadRequest)
		return nil, "", false
	}
	pr := a.podByName(ns, name, uid)
	if pr == nil {
		http.Error(w, fmt.Sprintf("pod %s/%s not found on this node", ns, name), http.StatusNotFound)
		return nil, "", false
	}
	return pr, container, true
}

func (pr *podRun) container(name string) *ctr {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	for _, c := range append(append([]*ctr{}, pr.ctrs...), pr.inits...) {
		if c.spec.Name == name {
			return c
		}
	}
	return nil
}

func (a *agent) serveExec(w http.ResponseWriter, r *http.Request) {
	pr, container, ok := a.target(w, r.URL.Path, "/exec/", true)
	if !ok {
		return
	}
	opts, err := remotecommandserver.NewOptions(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	cmd := r.URL.Query()[v1.ExecCommandParam]
	remotecommandserver.ServeExec(w, r, pr, pr.name, string(pr.uid), container, cmd, opts,
		streamIdleTimeout, streamCreationTimeout, remotecommandserver.SupportedStreamingProtocols)
}

func (a *agent) serveAttach(w http.ResponseWriter, r *http.Request) {
	pr, container, ok := a.target(w, r.URL.Path, "/attach/", true)
	if !ok {
		return
	}
	opts, err := remotecommandserver.NewOptions(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	remotecommandserver.ServeAttach(w, r, pr, pr.name, string(pr.uid), container, opts,
		streamIdleTimeout, streamCreationTimeout, remotecommandserver.SupportedStreamingProtocols)
}

func (a *agent) servePortForward(w http.ResponseWriter, r *http.Request) {
	pr, _, ok := a.target(w, r.URL.Path, "/portForward/", false)
	if !ok {
		return
	}
	opts, err := portforward.NewV4Options(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	portforward.ServePortForward(w, r, pr, pr.name, string(pr.uid), opts,
		streamIdleTimeout, streamCreationTimeout, portforward.SupportedProtocols)
}

func (a *agent) servePods(w http.ResponseWriter, _ *http.Request) {
	a.mu.Lock()
	var out []string
	for _, pr := range a.pods {
		out = append(out, pr.ns+"/"+pr.name)
	}
	a.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// ExecInContainer implements remotecommandserver.Executor: the command runs in
// the pod's sandbox with the container's env, user and working dir.
func (pr *podRun) ExecInContainer(ctx context.Context, _ string, _ string, container string, cmd []string,
	in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan remotecommandserver.TerminalSize, _ time.Duration) error {
	c := pr.container(container)
	if c == nil {
		return fmt.Errorf("container %q not found in pod %s/%s", container, pr.ns, pr.name)
	}
	pr.mu.Lock()
	running := c.state == stRunning
	pod, sb := pr.pod, pr.sb
	spec := c.spec
	pr.mu.Unlock()
	if !running || sb == nil {
		return fmt.Errorf("container %q is not running", container)
	}
	if len(cmd) == 0 {
		return fmt.Errorf("no command")
	}
	ps, err := pr.procSpec(pod, &spec, cmd)
	if err != nil {
		return err
	}
	ps.tty = tty
	proc := sb.command(ps)
	klog.V(2).InfoS("exec", "pod", pr.ns+"/"+pr.name, "container", container, "cmd", cmd, "tty", tty, "stdin", in != nil)

	if tty {
		ptmx, err := pty.Start(proc)
		if err != nil {
			return err
		}
		defer ptmx.Close()
		go func() {
			for size := range resize {
				_ = pty.Setsize(ptmx, &pty.Winsize{Rows: size.Height, Cols: size.Width})
			}
		}()
		if in != nil {
			go func() { _, _ = io.Copy(ptmx, in) }()
		}
		outDone := make(chan struct{})
		go func() {
			if out != nil {
				_, _ = io.Copy(out, ptmx) // ends with EIO once the last holder of the tty exits
			} else {
				_, _ = io.Copy(io.Discard, ptmx)
			}
			close(outDone)
		}()
		err = proc.Wait()
		select {
		case <-outDone:
		case <-time.After(2 * time.Second):
		}
		return exitErr(err)
	}

	var stdinW *os.File
	if in != nil {
		r, w, err := os.Pipe()
		if err != nil {
			return err
		}
		proc.Stdin, stdinW = r, w
		defer r.Close()
	}
	if out != nil {
		proc.Stdout = out
	}
	if errw != nil {
		proc.Stderr = errw
	}
	// A backgrounded child that keeps stdout open must not hold the exec open forever.
	proc.WaitDelay = 2 * time.Second
	if err := proc.Start(); err != nil {
		if stdinW != nil {
			stdinW.Close()
		}
		return err
	}
	var once sync.Once
	closeStdin := func() {
		once.Do(func() {
			if stdinW != nil {
				stdinW.Close()
			}
		})
	}
	if stdinW != nil {
		proc.Stdin.(*os.File).Close()
		go func() {
			_, _ = io.Copy(stdinW, in) // EOF when the client closes stdin
			closeStdin()
		}()
	}
	go func() {
		<-ctx.Done()
		if proc.Process != nil {
			_ = syscall.Kill(-proc.Process.Pid, syscall.SIGKILL)
		}
	}()
	err = proc.Wait()
	closeStdin()
	return exitErr(err)
}

func exitErr(err error) error {
	if err == nil || err == exec.ErrWaitDelay {
		return nil
	}
	if ee, ok := err.(*exec.ExitError); ok {
		code := ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
		return utilexec.CodeExitError{Err: err, Code: code}
	}
	return err
}

// AttachContainer implements remotecommandserver.Attacher: output is the
// container's log from now on; stdin goes to the container's stdin (spec.stdin).
func (pr *podRun) AttachContainer(ctx context.Context, _ string, _ string, container string,
	in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan remotecommandserver.TerminalSize) error {
	c := pr.container(container)
	if c == nil {
		return fmt.Errorf("container %q not found", container)
	}
	pr.mu.Lock()
	running := c.state == stRunning
	logPath, stdinW, ptmx, exited, spec := c.logPath, c.stdinW, c.ptmx, c.exited, c.spec
	pr.mu.Unlock()
	if !running {
		return fmt.Errorf("container %q is not running", container)
	}
	if ptmx != nil && resize != nil {
		go func() {
			for size := range resize {
				_ = pty.Setsize(ptmx, &pty.Winsize{Rows: size.Height, Cols: size.Width})
			}
		}()
	}
	done := make(chan struct{})
	if in != nil && stdinW != nil {
		go func() {
			_, _ = io.Copy(stdinW, in)
			if spec.StdinOnce && !spec.TTY {
				stdinW.Close()
			}
			close(done)
		}()
	}
	if out == nil {
		select {
		case <-exited:
		case <-ctx.Done():
		case <-done:
		}
		return nil
	}
	f, err := os.Open(logPath)
	if err != nil {
		return err
	}
	defer f.Close()
	_, _ = f.Seek(0, io.SeekEnd)
	return follow(ctx, f, out, exited, done)
}

// follow copies f to w as it grows until `exited` (then drains) or ctx/done ends.
func follow(ctx context.Context, f *os.File, w io.Writer, exited, done <-chan struct{}) error {
	buf := make([]byte, 32*1024)
	for {
		n, err := f.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return nil
			}
			continue
		}
		if err != nil && err != io.EOF {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-done:
			return nil
		case <-exited:
			_, _ = io.Copy(w, f)
			return nil
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// PortForward implements portforward.PortForwarder: pods share the host's
// network, so the pod's port is the loopback port.
func (pr *podRun) PortForward(ctx context.Context, _ string, _ string, port int32, stream io.ReadWriteCloser) error {
	defer stream.Close()
	conn, err := (&net.Dialer{Timeout: 10 * time.Second}).DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))))
	if err != nil {
		return fmt.Errorf("dial port %d: %w", port, err)
	}
	defer conn.Close()
	errc := make(chan error, 2)
	go func() { _, err := io.Copy(conn, stream); errc <- err }()
	go func() { _, err := io.Copy(stream, conn); errc <- err }()
	return <-errc
}

// serveLogs: GET /containerLogs/{ns}/{pod}/{container} with the kubelet's
// query parameters follow, previous, tailLines, limitBytes (timestamps and
// sinceSeconds/sinceTime are accepted and ignored: logs carry no timestamps).
func (a *agent) serveLogs(w http.ResponseWriter, r *http.Request) {
	pr, container, ok := a.target(w, r.URL.Path, "/containerLogs/", true)
	if !ok {
		return
	}
	c := pr.container(container)
	if c == nil {
		http.Error(w, fmt.Sprintf("container %q not found in pod %s/%s", container, pr.ns, pr.name), http.StatusNotFound)
		return
	}
	q := r.URL.Query()
	pr.mu.Lock()
	path, exited, running := c.logPath, c.exited, c.state == stRunning
	if q.Get("previous") == "true" {
		path, exited, running = c.prevLogPath, nil, false
	}
	pr.mu.Unlock()
	if path == "" {
		http.Error(w, fmt.Sprintf("container %q in pod %q is waiting to start", container, pr.name), http.StatusBadRequest)
		return
	}
	f, err := os.Open(path)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer f.Close()
	var limit int64 = -1
	if s := q.Get("limitBytes"); s != "" {
		limit, _ = strconv.ParseInt(s, 10, 64)
	}
	if s := q.Get("tailLines"); s != "" {
		if n, err := strconv.Atoi(s); err == nil {
			seekTail(f, n)
		}
	}
	w.Header().Set("Content-Type", "text/plain")
	var dst io.Writer = w
	if limit >= 0 {
		dst = &limitWriter{w: w, n: limit}
	}
	fw := flushWriter{dst, w}
	if q.Get("follow") == "true" && running {
		_ = follow(r.Context(), f, fw, exited, nil)
		return
	}
	_, _ = io.Copy(fw, f)
}

type flushWriter struct {
	w  io.Writer
	hw http.ResponseWriter
}

func (f flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if fl, ok := f.hw.(http.Flusher); ok {
		fl.Flush()
	}
	return n, err
}

type limitWriter struct {
	w io.Writer
	n int64
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, io.ErrShortWrite
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.w.Write(p)
	l.n -= int64(n)
	return n, err
}

// seekTail positions f at the start of its last n lines.
func seekTail(f *os.File, n int) {
	if n < 0 {
		return
	}
	var offsets []int64
	var pos int64
	rd := bufio.NewReader(f)
	offsets = append(offsets, 0)
	for {
		line, err := rd.ReadBytes('\n')
		pos += int64(len(line))
		if len(line) > 0 && err == nil {
			offsets = append(offsets, pos)
		}
		if err != nil {
			break
		}
	}
	// offsets[i] = start of line i; the last entry may be EOF.
	lines := len(offsets) - 1
	if pos > offsets[len(offsets)-1] {
		lines++ // unterminated last line
		offsets = append(offsets, pos)
	}
	start := int64(0)
	if n < lines {
		start = offsets[lines-n]
	}
	_, _ = f.Seek(start, io.SeekStart)
}
