package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
)

type agent struct {
	cfg    config
	client kubernetes.Interface
	sched  kubernetes.Interface
	useNS  bool
	self   string
	bootID string
	ctx    context.Context

	mu   sync.Mutex
	pods map[types.UID]*podRun
}

func newAgent(c config, client, sched kubernetes.Interface, useNS bool) *agent {
	self, err := os.Executable()
	if err != nil {
		klog.Fatal(err)
	}
	return &agent{cfg: c, client: client, sched: sched, useNS: useNS, self: self,
		bootID: randHex(16), pods: map[types.UID]*podRun{}, ctx: context.Background()}
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (a *agent) runPodInformer(ctx context.Context) {
	a.ctx = ctx
	sel := fields.OneTermEqualSelector("spec.nodeName", a.cfg.nodeName).String()
	f := informers.NewSharedInformerFactoryWithOptions(a.client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.FieldSelector = sel }))
	inf := f.Core().V1().Pods().Informer()
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o interface{}) { a.syncPod(o.(*v1.Pod)) },
		UpdateFunc: func(_, n interface{}) { a.syncPod(n.(*v1.Pod)) },
		DeleteFunc: func(o interface{}) {
			if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
				o = t.Obj
			}
			if p, ok := o.(*v1.Pod); ok {
				a.podGone(p.UID)
			}
		},
	})
	f.Start(ctx.Done())
	<-ctx.Done()
}

// podByName is the pod ns/name now means (uid, when given, must match): a pod deleted
// and recreated under its name (a start recycling a half-made session) has two runs
// here until the old one's teardown is done, and an exec or log request for the name
// is for the new one. Picking either at random sent the new session's execs to the
// dying pod half the time (START-005's recycle failed at once).
func (a *agent) podByName(ns, name, uid string) *podRun {
	a.mu.Lock()
	defer a.mu.Unlock()
	var best *podRun
	for _, pr := range a.pods {
		if pr.ns != ns || pr.name != name || (uid != "" && string(pr.uid) != uid) {
			continue
		}
		if best == nil || newer(pr, best) {
			best = pr
		}
	}
	return best
}

// newer: a pod not being stopped beats one that is; else the later started.
func newer(pr, than *podRun) bool {
	if pr.stopping() != than.stopping() {
		return !pr.stopping()
	}
	return than.startTime.Before(&pr.startTime)
}

func (a *agent) syncPod(pod *v1.Pod) {
	a.mu.Lock()
	pr := a.pods[pod.UID]
	if pr == nil {
		terminal := pod.Status.Phase == v1.PodSucceeded || pod.Status.Phase == v1.PodFailed
		if pod.DeletionTimestamp != nil {
			a.mu.Unlock()
			// Never ran here (or ran before a restart of the agent): just finish the delete.
			a.finalDelete(pod.Namespace, pod.Name, pod.UID)
			return
		}
		if terminal {
			a.mu.Unlock()
			return
		}
		pr = newPodRun(a, pod)
		a.pods[pod.UID] = pr
		a.mu.Unlock()
		go pr.run()
		return
	}
	a.mu.Unlock()
	pr.mu.Lock()
	pr.pod = pod.DeepCopy()
	pr.mu.Unlock()
	if pod.DeletionTimestamp != nil {
		pr.terminate(pod.DeletionGracePeriodSeconds)
	}
}

// podGone: the pod object was removed (e.g. --force --grace-period=0): kill now.
func (a *agent) podGone(uid types.UID) {
	a.mu.Lock()
	pr := a.pods[uid]
	a.mu.Unlock()
	if pr != nil {
		pr.gone.Store(true)
		pr.terminate(ptr.To[int64](0))
	}
}

func (a *agent) finalDelete(ns, name string, uid types.UID) {
	err := a.client.CoreV1().Pods(ns).Delete(context.Background(), name, metav1.DeleteOptions{
		GracePeriodSeconds: ptr.To[int64](0),
		Preconditions:      &metav1.Preconditions{UID: &uid},
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		klog.ErrorS(err, "final pod delete failed", "pod", ns+"/"+name)
	}
}

func (a *agent) shutdown() {
	a.mu.Lock()
	prs := make([]*podRun, 0, len(a.pods))
	for _, pr := range a.pods {
		prs = append(prs, pr)
	}
	a.mu.Unlock()
	// All at once: one by one, a few slow pods outlast the bed's patience (it then
	// SIGKILLs the agent, and whatever was not killed yet outlives it).
	var wg sync.WaitGroup
	for _, pr := range prs {
		wg.Add(1)
		go func(pr *podRun) { defer wg.Done(); pr.kill() }(pr)
	}
	wg.Wait()
}

// ---------------------------------------------------------------------------

type ctrState int

const (
	stWaiting ctrState = iota
	stRunning
	stTerminated
)

type ctr struct {
	spec   v1.Container
	isInit bool

	// guarded by podRun.mu
	id           string
	state        ctrState
	waitReason   string
	waitMessage  string
	startedAt    time.Time
	finishedAt   time.Time
	exitCode     int32
	termReason   string
	restartCount int32
	lastTerm     *v1.ContainerStateTerminated
	logPath      string
	prevLogPath  string
	cmd          *exec.Cmd
	stdinW       io.WriteCloser // container's stdin when spec.stdin
	ptmx         *os.File       // when spec.tty
	exited       chan struct{}  // closed when the current process exits
}

type podRun struct {
	a         *agent
	uid       types.UID
	ns, name  string
	dir       string
	gone      atomicBool
	stop      chan struct{} // closed when the pod is being terminated
	stopOnce  sync.Once
	finished  chan struct{} // closed once everything is torn down
	dirty     chan struct{}
	statusCtx context.Context
	cancel    context.CancelFunc

	mu          sync.Mutex
	pod         *v1.Pod
	sb          *sandbox
	inits       []*ctr
	ctrs        []*ctr
	initsDone   bool
	sandboxErr  string
	startTime   metav1.Time
	terminating bool
}

type atomicBool struct {
	mu sync.Mutex
	v  bool
}

func (b *atomicBool) Store(v bool) { b.mu.Lock(); b.v = v; b.mu.Unlock() }
func (b *atomicBool) Load() bool   { b.mu.Lock(); defer b.mu.Unlock(); return b.v }

func newPodRun(a *agent, pod *v1.Pod) *podRun {
	ctx, cancel := context.WithCancel(context.Background())
	pr := &podRun{a: a, uid: pod.UID, ns: pod.Namespace, name: pod.Name,
		dir:  filepath.Join(a.cfg.rootDir, "pods", string(pod.UID)),
		stop: make(chan struct{}), finished: make(chan struct{}), dirty: make(chan struct{}, 1),
		statusCtx: ctx, cancel: cancel, pod: pod.DeepCopy(), startTime: metav1.Now()}
	for _, c := range pod.Spec.InitContainers {
		pr.inits = append(pr.inits, &ctr{spec: c, isInit: true, waitReason: "PodInitializing"})
	}
	for _, c := range pod.Spec.Containers {
		reason := "ContainerCreating"
		if len(pod.Spec.InitContainers) > 0 {
			reason = "PodInitializing"
		}
		pr.ctrs = append(pr.ctrs, &ctr{spec: c, waitReason: reason})
	}
	return pr
}

func (pr *podRun) markDirty() {
	select {
	case pr.dirty <- struct{}{}:
	default:
	}
}

func (pr *podRun) stopping() bool {
	select {
	case <-pr.stop:
		return true
	default:
		return false
	}
}

func (pr *podRun) run() {
	go pr.statusLoop()
	pr.markDirty()
	klog.InfoS("starting pod", "pod", pr.ns+"/"+pr.name, "uid", pr.uid)

	// Sandbox + volumes, retried until they work or the pod goes away.
	for {
		err := pr.prepare()
		if err == nil {
			break
		}
		if errors.Is(err, errStopped) {
			return
		}
		klog.ErrorS(err, "pod sandbox setup failed", "pod", pr.ns+"/"+pr.name)
		// As the kubelet: a volume or sandbox that can't be set up yet leaves the pod
		// ContainerCreating (its waiting reason unchanged) and is retried; it is not the
		// CreateContainerConfigError of a bad container config, which callers rightly take
		// as final. The usual cause is transient: the API server's Node authorizer learns
		// of a pod's binding from its own watch, so right after the bind the node may
		// still be refused the pod's secret ("no relationship found between node").
		pr.mu.Lock()
		pr.sandboxErr = err.Error()
		for _, c := range append(append([]*ctr{}, pr.inits...), pr.ctrs...) {
			c.waitMessage = "pod sandbox setup failed (retrying): " + err.Error()
		}
		pr.mu.Unlock()
		pr.markDirty()
		select {
		case <-pr.stop:
			return
		case <-time.After(3 * time.Second):
		}
	}
	pr.mu.Lock()
	pr.sandboxErr = ""
	pr.mu.Unlock()

	// Init containers, in order; restartPolicy: Always ones are sidecars.
	var wg sync.WaitGroup
	for _, c := range pr.inits {
		if c.spec.RestartPolicy != nil && *c.spec.RestartPolicy == v1.ContainerRestartPolicyAlways {
			wg.Add(1)
			go func(c *ctr) { defer wg.Done(); pr.containerLoop(c, v1.RestartPolicyAlways) }(c)
			continue
		}
		policy := pr.pod.Spec.RestartPolicy
		if policy == v1.RestartPolicyAlways {
			policy = v1.RestartPolicyOnFailure
		}
		if code := pr.containerLoop(c, policy); code != 0 || pr.stopping() {
			pr.markDirty()
			if !pr.stopping() {
				klog.InfoS("init container failed; pod failed", "pod", pr.ns+"/"+pr.name, "container", c.spec.Name)
			}
			wg.Wait()
			<-pr.stop
			return
		}
	}
	pr.mu.Lock()
	pr.initsDone = true
	pr.mu.Unlock()
	pr.markDirty()

	for _, c := range pr.ctrs {
		wg.Add(1)
		go func(c *ctr) { defer wg.Done(); pr.containerLoop(c, pr.pod.Spec.RestartPolicy) }(c)
	}
	wg.Wait()
	pr.markDirty()
}

// containerLoop runs one container until it no longer restarts; returns the last exit code.
func (pr *podRun) containerLoop(c *ctr, policy v1.RestartPolicy) int32 {
	backoff := time.Second
	for {
		if pr.stopping() {
			return -1
		}
		exited, err := pr.startContainer(c)
		if err != nil {
			pr.mu.Lock()
			c.state, c.waitReason, c.waitMessage = stWaiting, "RunContainerError", err.Error()
			pr.mu.Unlock()
			pr.markDirty()
		} else {
			pr.markDirty()
			<-exited
			pr.markDirty()
		}
		pr.mu.Lock()
		code := c.exitCode
		if err != nil {
			code = 128
		}
		pr.mu.Unlock()
		if pr.stopping() {
			return code
		}
		restart := policy == v1.RestartPolicyAlways || (policy == v1.RestartPolicyOnFailure && code != 0)
		if !restart {
			return code
		}
		pr.mu.Lock()
		if c.state == stTerminated {
			c.lastTerm = c.terminated()
		}
		c.state, c.waitReason, c.waitMessage = stWaiting, "CrashLoopBackOff",
			fmt.Sprintf("back-off %s restarting failed container=%s pod=%s", backoff, c.spec.Name, pr.name)
		pr.mu.Unlock()
		pr.markDirty()
		select {
		case <-pr.stop:
			return code
		case <-time.After(backoff):
		}
		if backoff < 10*time.Second {
			backoff *= 2
		}
		pr.mu.Lock()
		c.restartCount++
		pr.mu.Unlock()
	}
}

func (c *ctr) terminated() *v1.ContainerStateTerminated {
	reason := c.termReason
	if reason == "" {
		reason = "Completed"
		if c.exitCode != 0 {
			reason = "Error"
		}
	}
	return &v1.ContainerStateTerminated{
		ExitCode: c.exitCode, Reason: reason, ContainerID: c.id,
		StartedAt: metav1.NewTime(c.startedAt), FinishedAt: metav1.NewTime(c.finishedAt),
	}
}

func (pr *podRun) startContainer(c *ctr) (<-chan struct{}, error) {
	pr.mu.Lock()
	spec := c.spec
	pod := pr.pod
	sb := pr.sb
	restart := c.restartCount
	pr.mu.Unlock()

	ps, err := pr.procSpec(pod, &spec, nil)
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(pr.dir, "logs", fmt.Sprintf("%s-%d.log", spec.Name, restart))
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	ps.tty = spec.TTY
	cmd := sb.command(ps)
	var stdinW io.WriteCloser
	var ptmx *os.File
	if spec.TTY {
		ptmx, err = pty.Start(cmd)
		if err != nil {
			logf.Close()
			return nil, err
		}
		go func() { _, _ = io.Copy(logf, ptmx) }()
		if spec.Stdin {
			stdinW = ptmx
		}
	} else {
		cmd.Stdout, cmd.Stderr = logf, logf
		if spec.Stdin {
			r, w, perr := os.Pipe()
			if perr != nil {
				logf.Close()
				return nil, perr
			}
			cmd.Stdin, stdinW = r, w
			defer r.Close()
		}
		if err := cmd.Start(); err != nil {
			logf.Close()
			if stdinW != nil {
				stdinW.Close()
			}
			return nil, err
		}
	}
	exited := make(chan struct{})
	pr.mu.Lock()
	c.id = runtimeName + "://" + randHex(32)
	c.state, c.startedAt, c.waitReason, c.waitMessage = stRunning, time.Now(), "", ""
	c.termReason = ""
	c.cmd, c.stdinW, c.ptmx, c.exited = cmd, stdinW, ptmx, exited
	c.prevLogPath, c.logPath = c.logPath, logPath
	pr.mu.Unlock()
	klog.InfoS("container started", "pod", pr.ns+"/"+pr.name, "container", spec.Name, "pid", cmd.Process.Pid)

	go func() {
		err := cmd.Wait()
		code := int32(0)
		if ee, ok := err.(*exec.ExitError); ok {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				code = 128 + int32(ws.Signal())
			} else {
				code = int32(ee.ExitCode())
			}
		} else if err != nil {
			code = 128
		}
		if !spec.TTY {
			logf.Close()
		}
		pr.mu.Lock()
		c.state, c.exitCode, c.finishedAt = stTerminated, code, time.Now()
		if stdinW != nil && !spec.TTY {
			stdinW.Close()
		}
		if ptmx != nil {
			ptmx.Close()
		}
		pr.mu.Unlock()
		klog.InfoS("container exited", "pod", pr.ns+"/"+pr.name, "container", spec.Name, "code", code)
		close(exited)
	}()
	return exited, nil
}

// terminate: graceful pod deletion (SIGTERM, grace period, SIGKILL), final
// status, then the kubelet's final delete with grace period 0.
func (pr *podRun) terminate(grace *int64) {
	pr.stopOnce.Do(func() {
		close(pr.stop)
		go pr.doTerminate(grace)
	})
}

func (pr *podRun) doTerminate(grace *int64) {
	g := int64(30)
	if grace != nil {
		g = *grace
	}
	klog.InfoS("terminating pod", "pod", pr.ns+"/"+pr.name, "grace", g)
	pr.mu.Lock()
	pr.terminating = true
	for _, c := range append(append([]*ctr{}, pr.inits...), pr.ctrs...) {
		if c.state == stRunning && c.cmd != nil && c.cmd.Process != nil {
			_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGTERM)
			_ = c.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	sb := pr.sb
	pr.mu.Unlock()
	if sb != nil {
		sb.signalAll(syscall.SIGTERM)
	}
	deadline := time.After(time.Duration(g) * time.Second)
	for _, c := range pr.allCtrs() {
		pr.mu.Lock()
		ch := c.exited
		running := c.state == stRunning
		pr.mu.Unlock()
		if !running || ch == nil {
			continue
		}
		select {
		case <-ch:
		case <-deadline:
		}
	}
	pr.kill()
	if !pr.gone.Load() {
		pr.pushStatus(true)
		pr.a.finalDelete(pr.ns, pr.name, pr.uid)
	}
	pr.cancel()
	pr.a.mu.Lock()
	delete(pr.a.pods, pr.uid)
	pr.a.mu.Unlock()
	_ = os.RemoveAll(pr.dir)
	close(pr.finished)
	klog.InfoS("pod removed", "pod", pr.ns+"/"+pr.name)
}

func (pr *podRun) allCtrs() []*ctr {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	return append(append([]*ctr{}, pr.inits...), pr.ctrs...)
}

// kill SIGKILLs everything of the pod and waits briefly for the processes.
func (pr *podRun) kill() {
	pr.stopOnce.Do(func() { close(pr.stop) })
	pr.mu.Lock()
	var waits []chan struct{}
	for _, c := range append(append([]*ctr{}, pr.inits...), pr.ctrs...) {
		if c.state == stRunning && c.cmd != nil && c.cmd.Process != nil {
			_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
			_ = c.cmd.Process.Kill()
			c.termReason = "Killed"
			if c.exited != nil {
				waits = append(waits, c.exited)
			}
		}
	}
	sb := pr.sb
	pr.mu.Unlock()
	if sb != nil {
		sb.destroy()
	}
	for _, w := range waits {
		select {
		case <-w:
		case <-time.After(5 * time.Second):
		}
	}
}
