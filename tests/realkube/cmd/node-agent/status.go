package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
	"k8s.io/kubernetes/third_party/forked/golang/expansion"
	"k8s.io/utils/ptr"
)

// prepare makes the pod's dirs, volumes and sandbox.
func (pr *podRun) prepare() error {
	pr.mu.Lock()
	pod := pr.pod.DeepCopy()
	pr.mu.Unlock()
	for _, d := range []string{"logs", "volumes"} {
		if err := os.MkdirAll(filepath.Join(pr.dir, d), 0o755); err != nil {
			return err
		}
	}
	vols, err := pr.a.volumes(pod, pr.dir)
	if err != nil {
		return err
	}
	var mounts []mount
	var workDirs []string
	for _, c := range append(append([]v1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
		for _, vm := range c.VolumeMounts {
			src, ok := vols[vm.Name]
			if !ok {
				return fmt.Errorf("container %s mounts unknown volume %q", c.Name, vm.Name)
			}
			if vm.SubPath != "" {
				src = filepath.Join(src, vm.SubPath)
				if err := os.MkdirAll(src, 0o777); err != nil {
					return err
				}
			}
			mounts = append(mounts, mount{src: src, dst: vm.MountPath, ro: vm.ReadOnly})
		}
		workDirs = append(workDirs, c.WorkingDir)
	}
	if uid := podUID(pod); uid != nil && *uid != 0 {
		gid := *uid
		if g := podGID(pod); g != nil {
			gid = *g
		}
		for _, d := range []string{"tmp", "home", "volumes"} {
			_ = chownR(filepath.Join(pr.dir, d), int(*uid), int(gid))
		}
	}
	sb, err := pr.a.newSandbox(string(pod.UID), podHostname(pod), pr.dir, mounts, workDirs)
	if err != nil {
		return err
	}
	// kill() destroys the sandbox it finds in pr.sb; a pod deleted (or an agent shut
	// down) while this one was being built found none, so it is destroyed here, under
	// the same lock kill() takes after closing pr.stop: either kill() sees it or we see
	// the stop. Before this, such a pod-init outlived its pod, and the bed.
	pr.mu.Lock()
	if pr.stopping() {
		pr.mu.Unlock()
		sb.destroy()
		return errStopped
	}
	pr.sb = sb
	pr.mu.Unlock()
	return nil
}

// errStopped: the pod was stopped while its sandbox was being set up.
var errStopped = errors.New("pod stopped during sandbox setup")

func podHostname(pod *v1.Pod) string {
	h := pod.Name
	if pod.Spec.Hostname != "" {
		h = pod.Spec.Hostname
	}
	if len(h) > 63 {
		h = h[:63]
	}
	return h
}

func chownR(root string, uid, gid int) error {
	return filepath.Walk(root, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return nil
		}
		return os.Lchown(p, uid, gid)
	})
}

func podUID(pod *v1.Pod) *int64 {
	if sc := pod.Spec.SecurityContext; sc != nil {
		return sc.RunAsUser
	}
	return nil
}

func podGID(pod *v1.Pod) *int64 {
	if sc := pod.Spec.SecurityContext; sc != nil {
		return sc.RunAsGroup
	}
	return nil
}

// volumes materialises the pod's volumes as host dirs: emptyDir, hostPath,
// configMap, secret, downwardAPI, projected (incl. the service-account token,
// requested with the node's own TokenRequest rights) and PVCs (a per-claim dir
// that outlives the pod). Anything else is an empty dir.
func (a *agent) volumes(pod *v1.Pod, dir string) (map[string]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := map[string]string{}
	for _, v := range pod.Spec.Volumes {
		d := filepath.Join(dir, "volumes", v.Name)
		switch {
		case v.HostPath != nil:
			d = v.HostPath.Path
			if v.HostPath.Type != nil && *v.HostPath.Type == v1.HostPathDirectoryOrCreate {
				_ = os.MkdirAll(d, 0o755)
			}
		case v.PersistentVolumeClaim != nil:
			d = filepath.Join(a.cfg.rootDir, "pvc", pod.Namespace, v.PersistentVolumeClaim.ClaimName)
			if err := os.MkdirAll(d, 0o777); err != nil {
				return nil, err
			}
		default:
			if err := os.MkdirAll(d, 0o777); err != nil {
				return nil, err
			}
			_ = os.Chmod(d, 0o777)
			files := map[string][]byte{}
			var err error
			switch {
			case v.ConfigMap != nil:
				err = a.configMapFiles(ctx, pod.Namespace, v.ConfigMap.Name, v.ConfigMap.Items, ptr.Deref(v.ConfigMap.Optional, false), files)
			case v.Secret != nil:
				err = a.secretFiles(ctx, pod.Namespace, v.Secret.SecretName, v.Secret.Items, ptr.Deref(v.Secret.Optional, false), files)
			case v.DownwardAPI != nil:
				for _, it := range v.DownwardAPI.Items {
					if it.FieldRef != nil {
						files[it.Path] = []byte(fieldValue(pod, it.FieldRef.FieldPath))
					}
				}
			case v.Projected != nil:
				for _, src := range v.Projected.Sources {
					switch {
					case src.ServiceAccountToken != nil:
						tok, terr := a.token(ctx, pod, src.ServiceAccountToken)
						if terr != nil {
							return nil, terr
						}
						files[src.ServiceAccountToken.Path] = []byte(tok)
					case src.ConfigMap != nil:
						cerr := a.configMapFiles(ctx, pod.Namespace, src.ConfigMap.Name, src.ConfigMap.Items, ptr.Deref(src.ConfigMap.Optional, false), files)
						if cerr != nil && src.ConfigMap.Name == "kube-root-ca.crt" && a.cfg.clusterCA != "" {
							// No kube-controller-manager publishes it here: use our CA.
							b, rerr := os.ReadFile(a.cfg.clusterCA)
							if rerr != nil {
								return nil, rerr
							}
							files["ca.crt"], cerr = b, nil
						}
						if cerr != nil {
							return nil, cerr
						}
					case src.Secret != nil:
						if serr := a.secretFiles(ctx, pod.Namespace, src.Secret.Name, src.Secret.Items, ptr.Deref(src.Secret.Optional, false), files); serr != nil {
							return nil, serr
						}
					case src.DownwardAPI != nil:
						for _, it := range src.DownwardAPI.Items {
							if it.FieldRef != nil {
								files[it.Path] = []byte(fieldValue(pod, it.FieldRef.FieldPath))
							}
						}
					}
				}
			}
			if err != nil {
				return nil, err
			}
			for p, b := range files {
				fp := filepath.Join(d, p)
				if err := os.MkdirAll(filepath.Dir(fp), 0o755); err != nil {
					return nil, err
				}
				if err := os.WriteFile(fp, b, 0o644); err != nil {
					return nil, err
				}
			}
		}
		out[v.Name] = d
	}
	return out, nil
}

func (a *agent) configMapFiles(ctx context.Context, ns, name string, items []v1.KeyToPath, optional bool, files map[string][]byte) error {
	cm, err := a.client.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		if optional && apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("configmap %s/%s: %w", ns, name, err)
	}
	data := map[string][]byte{}
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	for k, v := range cm.BinaryData {
		data[k] = v
	}
	project(data, items, files)
	return nil
}

func (a *agent) secretFiles(ctx context.Context, ns, name string, items []v1.KeyToPath, optional bool, files map[string][]byte) error {
	s, err := a.client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		if optional && apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("secret %s/%s: %w", ns, name, err)
	}
	project(s.Data, items, files)
	return nil
}

func project(data map[string][]byte, items []v1.KeyToPath, files map[string][]byte) {
	if len(items) == 0 {
		for k, v := range data {
			files[k] = v
		}
		return
	}
	for _, it := range items {
		if v, ok := data[it.Key]; ok {
			files[it.Path] = v
		}
	}
}

func (a *agent) token(ctx context.Context, pod *v1.Pod, p *v1.ServiceAccountTokenProjection) (string, error) {
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		ExpirationSeconds: p.ExpirationSeconds,
		BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
	}}
	if p.Audience != "" {
		tr.Spec.Audiences = []string{p.Audience}
	}
	res, err := a.client.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, sa, tr, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("token for %s/%s: %w", pod.Namespace, sa, err)
	}
	return res.Status.Token, nil
}

func fieldValue(pod *v1.Pod, path string) string {
	switch path {
	case "metadata.name":
		return pod.Name
	case "metadata.namespace":
		return pod.Namespace
	case "metadata.uid":
		return string(pod.UID)
	case "spec.nodeName":
		return pod.Spec.NodeName
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName
	case "status.hostIP", "status.podIP", "status.hostIPs", "status.podIPs":
		return "127.0.0.1"
	case "metadata.labels", "metadata.annotations":
		m := pod.Labels
		if path == "metadata.annotations" {
			m = pod.Annotations
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		for _, k := range keys {
			fmt.Fprintf(&b, "%s=%q\n", k, m[k])
		}
		return b.String()
	}
	for _, pre := range []string{"metadata.labels['", "metadata.annotations['"} {
		if strings.HasPrefix(path, pre) && strings.HasSuffix(path, "']") {
			k := path[len(pre) : len(path)-2]
			if pre[9] == 'l' {
				return pod.Labels[k]
			}
			return pod.Annotations[k]
		}
	}
	return ""
}

// procSpec resolves a container's argv, env (with $(VAR) expansion) and user.
func (pr *podRun) procSpec(pod *v1.Pod, c *v1.Container, cmd []string) (procSpec, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	env := map[string]string{}
	if h, p := pr.a.cfg.apiserverHost, pr.a.cfg.apiserverPort; h != "" {
		// Pods share the host network here, so "the kubernetes service" is the apiserver itself.
		env["KUBERNETES_SERVICE_HOST"], env["KUBERNETES_SERVICE_PORT"] = h, p
		env["KUBERNETES_SERVICE_PORT_HTTPS"] = p
	}
	for _, ef := range c.EnvFrom {
		data := map[string][]byte{}
		switch {
		case ef.ConfigMapRef != nil:
			files := map[string][]byte{}
			if err := pr.a.configMapFiles(ctx, pod.Namespace, ef.ConfigMapRef.Name, nil, ptr.Deref(ef.ConfigMapRef.Optional, false), files); err != nil {
				return procSpec{}, err
			}
			data = files
		case ef.SecretRef != nil:
			files := map[string][]byte{}
			if err := pr.a.secretFiles(ctx, pod.Namespace, ef.SecretRef.Name, nil, ptr.Deref(ef.SecretRef.Optional, false), files); err != nil {
				return procSpec{}, err
			}
			data = files
		}
		for k, v := range data {
			env[ef.Prefix+k] = string(v)
		}
	}
	mapping := expansion.MappingFuncFor(env)
	for _, e := range c.Env {
		val := ""
		switch {
		case e.ValueFrom == nil:
			val = expansion.Expand(e.Value, mapping)
		case e.ValueFrom.FieldRef != nil:
			val = fieldValue(pod, e.ValueFrom.FieldRef.FieldPath)
		case e.ValueFrom.ConfigMapKeyRef != nil:
			r := e.ValueFrom.ConfigMapKeyRef
			files := map[string][]byte{}
			if err := pr.a.configMapFiles(ctx, pod.Namespace, r.Name, nil, ptr.Deref(r.Optional, false), files); err != nil {
				return procSpec{}, err
			}
			val = string(files[r.Key])
		case e.ValueFrom.SecretKeyRef != nil:
			r := e.ValueFrom.SecretKeyRef
			files := map[string][]byte{}
			if err := pr.a.secretFiles(ctx, pod.Namespace, r.Name, nil, ptr.Deref(r.Optional, false), files); err != nil {
				return procSpec{}, err
			}
			val = string(files[r.Key])
		}
		env[e.Name] = val
	}
	argv := cmd
	if argv == nil {
		argv = nil
		for _, s := range append(append([]string{}, c.Command...), c.Args...) {
			argv = append(argv, expansion.Expand(s, mapping))
		}
		if len(argv) == 0 {
			argv = []string{"sleep", "infinity"} // the host is the "image"
		}
	}
	ps := procSpec{argv: argv, env: env, workingDir: c.WorkingDir}
	ps.uid, ps.gid = podUID(pod), podGID(pod)
	if sc := c.SecurityContext; sc != nil {
		if sc.RunAsUser != nil {
			ps.uid = sc.RunAsUser
		}
		if sc.RunAsGroup != nil {
			ps.gid = sc.RunAsGroup
		}
	}
	if psc := pod.Spec.SecurityContext; psc != nil {
		if psc.FSGroup != nil {
			ps.groups = append(ps.groups, *psc.FSGroup)
		}
		ps.groups = append(ps.groups, psc.SupplementalGroups...)
	}
	if ps.uid != nil && *ps.uid == 0 {
		ps.uid, ps.gid = nil, nil
	}
	return ps, nil
}

// ---------------------------------------------------------------------------
// Status

// statusLoop pushes the pod's status whenever it changed, and again after a push
// that did not land: as the kubelet's status manager, a status is never dropped. Right
// after the bind the Node authorizer may still refuse the node the pod ("no relationship
// found between node"); a refused push was dropped, and the pod's change went
// unreported until the next one.
func (pr *podRun) statusLoop() {
	retry := make(<-chan time.Time)
	for {
		select {
		case <-pr.statusCtx.Done():
			return
		case <-pr.dirty:
		case <-retry:
		}
		retry = make(<-chan time.Time)
		if !pr.pushStatus(false) {
			retry = time.After(time.Second)
		}
	}
}

// pushStatus reports whether it is done: the status landed, or the pod is gone.
func (pr *podRun) pushStatus(final bool) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := 0; i < 5; i++ {
		cur, err := pr.a.client.CoreV1().Pods(pr.ns).Get(ctx, pr.name, metav1.GetOptions{})
		if err != nil {
			if apierrors.IsNotFound(err) {
				return true
			}
			klog.ErrorS(err, "get pod for status")
			return false
		}
		if cur.UID != pr.uid {
			return true
		}
		st := pr.computeStatus(cur, final)
		cur.Status = st
		_, err = pr.a.client.CoreV1().Pods(pr.ns).UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		if err == nil || apierrors.IsNotFound(err) {
			return true
		}
		if !apierrors.IsConflict(err) {
			klog.ErrorS(err, "pod status update failed", "pod", pr.ns+"/"+pr.name)
			return false
		}
	}
	return false
}

func (pr *podRun) containerStatus(c *ctr, final bool) v1.ContainerStatus {
	cs := v1.ContainerStatus{
		Name:                 c.spec.Name,
		Image:                c.spec.Image,
		ImageID:              runtimeName + "://host/" + c.spec.Image,
		ContainerID:          c.id,
		RestartCount:         c.restartCount,
		LastTerminationState: v1.ContainerState{Terminated: c.lastTerm},
	}
	state := c.state
	if final && state == stRunning {
		state = stTerminated // being killed
	}
	switch state {
	case stWaiting:
		cs.State.Waiting = &v1.ContainerStateWaiting{Reason: c.waitReason, Message: c.waitMessage}
		if final {
			cs.State = v1.ContainerState{Terminated: &v1.ContainerStateTerminated{ExitCode: 137, Reason: "ContainerStatusUnknown",
				FinishedAt: metav1.Now()}}
		}
	case stRunning:
		cs.State.Running = &v1.ContainerStateRunning{StartedAt: metav1.NewTime(c.startedAt)}
		cs.Ready = true
		cs.Started = ptr.To(true)
	case stTerminated:
		if c.finishedAt.IsZero() {
			cs.State.Terminated = &v1.ContainerStateTerminated{ExitCode: 137, Reason: "Killed", ContainerID: c.id,
				StartedAt: metav1.NewTime(c.startedAt), FinishedAt: metav1.Now()}
		} else {
			cs.State.Terminated = c.terminated()
		}
		cs.Started = ptr.To(false)
	}
	if c.id == "" {
		cs.Started = ptr.To(false)
	}
	return cs
}

func (pr *podRun) computeStatus(cur *v1.Pod, final bool) v1.PodStatus {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	st := cur.Status
	st.HostIP = pr.a.cfg.address
	st.HostIPs = []v1.HostIP{{IP: pr.a.cfg.address}}
	st.PodIP = pr.a.cfg.address
	st.PodIPs = []v1.PodIP{{IP: pr.a.cfg.address}}
	if st.StartTime == nil {
		st.StartTime = &pr.startTime
	}
	st.InitContainerStatuses = nil
	for _, c := range pr.inits {
		st.InitContainerStatuses = append(st.InitContainerStatuses, pr.containerStatus(c, final))
	}
	st.ContainerStatuses = nil
	allReady, anyRunning, allDone, anyFailed := true, false, true, false
	policy := cur.Spec.RestartPolicy
	for _, c := range pr.ctrs {
		cs := pr.containerStatus(c, final)
		st.ContainerStatuses = append(st.ContainerStatuses, cs)
		if !cs.Ready {
			allReady = false
		}
		if cs.State.Running != nil {
			anyRunning = true
		}
		t := cs.State.Terminated
		if t == nil {
			allDone = false
		} else {
			if t.ExitCode != 0 {
				anyFailed = true
			}
			if policy == v1.RestartPolicyAlways || (policy == v1.RestartPolicyOnFailure && t.ExitCode != 0) {
				if !final {
					allDone = false
				}
			}
		}
	}
	initFailed := false
	for _, cs := range st.InitContainerStatuses {
		if t := cs.State.Terminated; t != nil && t.ExitCode != 0 && (policy == v1.RestartPolicyNever || final) {
			initFailed = true
		}
	}
	switch {
	case initFailed:
		st.Phase = v1.PodFailed
	case final:
		if anyFailed || !allDone {
			st.Phase = v1.PodFailed
		} else {
			st.Phase = v1.PodSucceeded
		}
	case !pr.initsDone:
		st.Phase = v1.PodPending
	case allDone && len(pr.ctrs) > 0:
		if anyFailed {
			st.Phase = v1.PodFailed
		} else {
			st.Phase = v1.PodSucceeded
		}
	case anyRunning || anyStarted(pr.ctrs):
		st.Phase = v1.PodRunning
	default:
		st.Phase = v1.PodPending
	}
	if pr.sandboxErr != "" {
		st.Phase = v1.PodPending
	}
	if final {
		allReady = false
	}
	b := func(v bool) v1.ConditionStatus {
		if v {
			return v1.ConditionTrue
		}
		return v1.ConditionFalse
	}
	ready := allReady && st.Phase == v1.PodRunning
	reasonIfFalse := func(v bool, r string) string {
		if v {
			return ""
		}
		return r
	}
	setCond(&st, v1.PodReadyToStartContainers, b(pr.sb != nil && !final), "")
	setCond(&st, v1.PodInitialized, b(pr.initsDone), reasonIfFalse(pr.initsDone, "ContainersNotInitialized"))
	setCond(&st, v1.ContainersReady, b(ready), reasonIfFalse(ready, "ContainersNotReady"))
	setCond(&st, v1.PodReady, b(ready), reasonIfFalse(ready, "ContainersNotReady"))
	setCond(&st, v1.PodScheduled, v1.ConditionTrue, "")
	if st.QOSClass == "" {
		st.QOSClass = v1.PodQOSBestEffort
	}
	return st
}

func anyStarted(cs []*ctr) bool {
	for _, c := range cs {
		if c.id != "" {
			return true
		}
	}
	return false
}

func setCond(st *v1.PodStatus, t v1.PodConditionType, s v1.ConditionStatus, reason string) {
	now := metav1.Now()
	for i := range st.Conditions {
		c := &st.Conditions[i]
		if c.Type == t {
			if c.Status != s {
				c.LastTransitionTime = now
			}
			c.Status, c.Reason = s, reason
			return
		}
	}
	st.Conditions = append(st.Conditions, v1.PodCondition{Type: t, Status: s, Reason: reason, LastTransitionTime: now})
}
