package main

import (
	"context"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
)

// runBinder is the whole "scheduler": every Pending pod without a node, meant
// for the default scheduler, whose nodeSelector our labels satisfy, is bound to
// this node through the pods/binding subresource (as kube-scheduler does).
func (a *agent) runBinder(ctx context.Context) {
	sel := fields.AndSelectors(
		fields.OneTermEqualSelector("spec.nodeName", ""),
		fields.OneTermNotEqualSelector("status.phase", string(v1.PodSucceeded)),
		fields.OneTermNotEqualSelector("status.phase", string(v1.PodFailed)),
	).String()
	f := informers.NewSharedInformerFactoryWithOptions(a.sched, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.FieldSelector = sel }))
	inf := f.Core().V1().Pods().Informer()
	handle := func(obj interface{}) {
		if pod, ok := obj.(*v1.Pod); ok {
			go a.bind(ctx, pod)
		}
	}
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    handle,
		UpdateFunc: func(_, n interface{}) { handle(n) },
	})
	f.Start(ctx.Done())
	<-ctx.Done()
}

func (a *agent) bind(ctx context.Context, pod *v1.Pod) {
	if pod.Spec.NodeName != "" || pod.DeletionTimestamp != nil {
		return
	}
	if s := pod.Spec.SchedulerName; s != "" && s != v1.DefaultSchedulerName {
		return
	}
	for k, v := range pod.Spec.NodeSelector {
		if k == "kubernetes.io/hostname" && v == a.cfg.nodeName {
			continue
		}
		if k == "kubernetes.io/os" && v == "linux" {
			continue
		}
		klog.InfoS("not binding pod: nodeSelector does not match", "pod", klog.KObj(pod), "key", k)
		return
	}
	b := &v1.Binding{
		ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace, UID: pod.UID},
		Target:     v1.ObjectReference{Kind: "Node", Name: a.cfg.nodeName},
	}
	for i := 0; i < 5; i++ {
		err := a.sched.CoreV1().Pods(pod.Namespace).Bind(ctx, b, metav1.CreateOptions{})
		if err == nil {
			klog.InfoS("bound pod", "pod", klog.KObj(pod), "node", a.cfg.nodeName)
			return
		}
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) || apierrors.IsAlreadyExists(err) {
			return // already bound (by an earlier event) or gone
		}
		klog.ErrorS(err, "bind failed", "pod", klog.KObj(pod))
		time.Sleep(time.Second)
	}
}
