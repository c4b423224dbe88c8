package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"k8s.io/component-base/version"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
)

const (
	runtimeName  = "gclocal"
	leaseSeconds = 40
)

// kubeletVersion is the stamped module version (build.sh), e.g. v1.37.2-gc-local.
var kubeletVersion = version.Get().GitVersion + "-gc-local"

func memBytes() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 8 << 30
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, _ := strconv.ParseInt(fields[1], 10, 64)
			return kb * 1024
		}
	}
	return 8 << 30
}

func (a *agent) nodeStatus(old *v1.NodeStatus) v1.NodeStatus {
	now := metav1.Now()
	res := v1.ResourceList{
		v1.ResourceCPU:              *resource.NewQuantity(int64(runtime.NumCPU()), resource.DecimalSI),
		v1.ResourceMemory:           *resource.NewQuantity(memBytes(), resource.BinarySI),
		v1.ResourcePods:             *resource.NewQuantity(110, resource.DecimalSI),
		v1.ResourceEphemeralStorage: resource.MustParse("50Gi"),
	}
	cond := func(t v1.NodeConditionType, s v1.ConditionStatus, reason, msg string) v1.NodeCondition {
		c := v1.NodeCondition{Type: t, Status: s, Reason: reason, Message: msg,
			LastHeartbeatTime: now, LastTransitionTime: now}
		if old != nil {
			for _, o := range old.Conditions {
				if o.Type == t && o.Status == s {
					c.LastTransitionTime = o.LastTransitionTime
				}
			}
		}
		return c
	}
	hostname, _ := os.Hostname()
	return v1.NodeStatus{
		Capacity:    res,
		Allocatable: res,
		Conditions: []v1.NodeCondition{
			cond(v1.NodeMemoryPressure, v1.ConditionFalse, "KubeletHasSufficientMemory", "node-agent has sufficient memory available"),
			cond(v1.NodeDiskPressure, v1.ConditionFalse, "KubeletHasNoDiskPressure", "node-agent has no disk pressure"),
			cond(v1.NodePIDPressure, v1.ConditionFalse, "KubeletHasSufficientPID", "node-agent has sufficient PID available"),
			cond(v1.NodeReady, v1.ConditionTrue, "KubeletReady", "node-agent is posting ready status"),
		},
		// Only InternalIP resolves to us; the apiserver is also told to prefer it.
		Addresses: []v1.NodeAddress{
			{Type: v1.NodeInternalIP, Address: a.cfg.address},
			{Type: v1.NodeHostName, Address: a.cfg.nodeName},
		},
		DaemonEndpoints: v1.NodeDaemonEndpoints{KubeletEndpoint: v1.DaemonEndpoint{Port: int32(a.cfg.port)}},
		NodeInfo: v1.NodeSystemInfo{
			MachineID:               "gc-local",
			SystemUUID:              "gc-local",
			BootID:                  a.bootID,
			KernelVersion:           kernelVersion(),
			OSImage:                 "local processes on " + hostname,
			ContainerRuntimeVersion: runtimeName + "://0.1.0",
			KubeletVersion:          kubeletVersion,
			KubeProxyVersion:        "",
			OperatingSystem:         "linux",
			Architecture:            runtime.GOARCH,
		},
	}
}

func kernelVersion() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

func (a *agent) registerNode(ctx context.Context) error {
	node := &v1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: a.cfg.nodeName,
			Labels: map[string]string{
				"kubernetes.io/hostname": a.cfg.nodeName,
				"kubernetes.io/os":       "linux",
				"kubernetes.io/arch":     runtime.GOARCH,
				"gc.local/agent":         "true",
			},
			Annotations: map[string]string{"node.alpha.kubernetes.io/ttl": "0"},
		},
		Status: a.nodeStatus(nil),
	}
	var err error
	for i := 0; i < 60; i++ {
		_, err = a.client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
		if err == nil || apierrors.IsAlreadyExists(err) {
			break
		}
		klog.InfoS("node create failed, retrying", "err", err)
		time.Sleep(time.Second)
	}
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	if err := a.updateNodeStatus(ctx); err != nil {
		return err
	}
	klog.InfoS("node registered", "node", a.cfg.nodeName, "port", a.cfg.port)
	return nil
}

// updateNodeStatus patches the status subresource, as the kubelet does. A whole-object
// UpdateStatus carries the spec as read: when the node lifecycle controller taints the
// node between our read and our write, NodeRestriction refuses it ("not allowed to
// modify taints"), which failed the bed's start. A merge patch of the status alone is
// applied to the object as it is then.
func (a *agent) updateNodeStatus(ctx context.Context) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		n, err := a.client.CoreV1().Nodes().Get(ctx, a.cfg.nodeName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		patch, err := json.Marshal(map[string]any{"status": a.nodeStatus(&n.Status)})
		if err != nil {
			return err
		}
		_, err = a.client.CoreV1().Nodes().Patch(ctx, a.cfg.nodeName, types.MergePatchType, patch,
			metav1.PatchOptions{}, "status")
		return err
	})
}

// heartbeat renews the node Lease every 10s and the node status every minute,
// as a kubelet does, so a kube-controller-manager (if one runs) keeps the node Ready.
func (a *agent) heartbeat(ctx context.Context) {
	leases := a.client.CoordinationV1().Leases(v1.NamespaceNodeLease)
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	n := 0
	for {
		if err := a.renewLease(ctx, leases); err != nil && ctx.Err() == nil {
			klog.ErrorS(err, "lease renewal failed")
		}
		if n%6 == 5 {
			if err := a.updateNodeStatus(ctx); err != nil && ctx.Err() == nil {
				klog.ErrorS(err, "node status update failed")
			}
		}
		n++
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (a *agent) renewLease(ctx context.Context, leases interface {
	Get(context.Context, string, metav1.GetOptions) (*coordinationv1.Lease, error)
	Create(context.Context, *coordinationv1.Lease, metav1.CreateOptions) (*coordinationv1.Lease, error)
	Update(context.Context, *coordinationv1.Lease, metav1.UpdateOptions) (*coordinationv1.Lease, error)
}) error {
	now := metav1.NewMicroTime(time.Now())
	l, err := leases.Get(ctx, a.cfg.nodeName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		node, nerr := a.client.CoreV1().Nodes().Get(ctx, a.cfg.nodeName, metav1.GetOptions{})
		if nerr != nil {
			return nerr
		}
		l = &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{
				Name: a.cfg.nodeName, Namespace: v1.NamespaceNodeLease,
				OwnerReferences: []metav1.OwnerReference{{
					APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID,
				}},
			},
			Spec: coordinationv1.LeaseSpec{
				HolderIdentity:       ptr.To(a.cfg.nodeName),
				LeaseDurationSeconds: ptr.To[int32](leaseSeconds),
				RenewTime:            &now,
			},
		}
		_, err = leases.Create(ctx, l, metav1.CreateOptions{})
		return err
	}
	if err != nil {
		return err
	}
	l.Spec.RenewTime = &now
	l.Spec.HolderIdentity = ptr.To(a.cfg.nodeName)
	l.Spec.LeaseDurationSeconds = ptr.To[int32](leaseSeconds)
	_, err = leases.Update(ctx, l, metav1.UpdateOptions{})
	if err != nil {
		return fmt.Errorf("update lease: %w", err)
	}
	return nil
}
