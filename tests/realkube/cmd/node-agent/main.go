// node-agent: a tiny kubelet stand-in for a test bed with a real kube-apiserver.
//
// It registers one Node (default gc-local-node, InternalIP 127.0.0.1), keeps it
// Ready (node status + kube-node-lease Lease), binds Pending pods that have no
// node to itself (there is no kube-scheduler), runs each bound pod's containers
// as local processes (optionally in their own mount/PID/UTS namespaces and
// their own root, a tmpfs mirroring the host's / by bind mounts, like the
// project's fakekube "local" backend: nothing is created on the host's
// filesystem for a pod), reports pod status, and serves the
// kubelet API paths the apiserver proxies to — /exec, /attach, /portForward and
// /containerLogs — with k8s.io/kubelet/pkg/cri/streaming, over TLS that
// requires the apiserver's kubelet client certificate.
//
//	node-agent pod-init ...   (internal: PID 1 of a pod's namespaces, builds its root)
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
)

type config struct {
	nodeName      string
	address       string
	port          int
	kubeconfig    string
	schedKubecfg  string
	tlsCert       string
	tlsKey        string
	clientCA      string
	clusterCA     string
	rootDir       string
	namespaces    string
	portFile      string
	bindPods      bool
	apiserverHost string
	apiserverPort string
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "pod-init" {
		os.Exit(podInit(os.Args[2:]))
	}
	var c config
	flag.StringVar(&c.nodeName, "node-name", "gc-local-node", "Node name to register")
	flag.StringVar(&c.address, "address", "127.0.0.1", "address to serve the kubelet API on (and the node's InternalIP)")
	flag.IntVar(&c.port, "port", 0, "kubelet API port (0: any free port)")
	flag.StringVar(&c.kubeconfig, "kubeconfig", "", "kubeconfig of the node identity (system:node:NAME in group system:nodes)")
	flag.StringVar(&c.schedKubecfg, "scheduler-kubeconfig", "", "kubeconfig used to bind pods (e.g. system:kube-scheduler); default --kubeconfig")
	flag.StringVar(&c.tlsCert, "tls-cert-file", "", "serving certificate (SAN 127.0.0.1)")
	flag.StringVar(&c.tlsKey, "tls-private-key-file", "", "serving key")
	flag.StringVar(&c.clientCA, "client-ca-file", "", "CA that signs the apiserver's kubelet client certificate")
	flag.StringVar(&c.clusterCA, "cluster-ca-file", "", "cluster CA written as ca.crt into service-account volumes when kube-root-ca.crt is missing")
	flag.StringVar(&c.rootDir, "root-dir", "", "where pod directories live (default: a temp dir)")
	flag.StringVar(&c.namespaces, "namespaces", "auto", "run pods in mount/PID/UTS namespaces: auto, true, false")
	flag.StringVar(&c.portFile, "port-file", "", "write the bound kubelet port here once the node is registered")
	flag.BoolVar(&c.bindPods, "bind-pods", true, "act as the scheduler: bind Pending pods without a node to this node")
	klog.InitFlags(nil)
	flag.Parse()

	if c.kubeconfig == "" || c.tlsCert == "" || c.tlsKey == "" || c.clientCA == "" {
		klog.Fatal("--kubeconfig, --tls-cert-file, --tls-private-key-file and --client-ca-file are required")
	}
	if c.rootDir == "" {
		d, err := os.MkdirTemp("", "node-agent-")
		if err != nil {
			klog.Fatal(err)
		}
		c.rootDir = d
	}
	if err := os.MkdirAll(filepath.Join(c.rootDir, "pods"), 0o755); err != nil {
		klog.Fatal(err)
	}

	restCfg, err := clientcmd.BuildConfigFromFlags("", c.kubeconfig)
	if err != nil {
		klog.Fatal(err)
	}
	restCfg.UserAgent = "gc-node-agent"
	if h, p, err := net.SplitHostPort(trimScheme(restCfg.Host)); err == nil {
		c.apiserverHost, c.apiserverPort = h, p
	}
	client := kubernetes.NewForConfigOrDie(restCfg)
	sched := client
	if c.schedKubecfg != "" {
		sc, err := clientcmd.BuildConfigFromFlags("", c.schedKubecfg)
		if err != nil {
			klog.Fatal(err)
		}
		sc.UserAgent = "gc-node-agent-binder"
		sched = kubernetes.NewForConfigOrDie(sc)
	}

	useNS := false
	switch c.namespaces {
	case "true":
		useNS = true
	case "auto":
		useNS = namespacesAvailable()
	}
	klog.InfoS("node-agent starting", "node", c.nodeName, "rootDir", c.rootDir, "namespaces", useNS)

	// Listen first: the Node object must carry the real port.
	caPEM, err := os.ReadFile(c.clientCA)
	if err != nil {
		klog.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		klog.Fatal("no certificates in --client-ca-file")
	}
	cert, err := tls.LoadX509KeyPair(c.tlsCert, c.tlsKey)
	if err != nil {
		klog.Fatal(err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(c.address, fmt.Sprint(c.port)))
	if err != nil {
		klog.Fatal(err)
	}
	c.port = ln.Addr().(*net.TCPAddr).Port

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a := newAgent(c, client, sched, useNS)

	srv := &http.Server{
		Handler: a.routes(),
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{cert},
			ClientAuth:   tls.RequireAndVerifyClientCert,
			ClientCAs:    pool,
			MinVersion:   tls.VersionTLS12,
			// Streaming upgrades (SPDY/WebSocket) need HTTP/1.1.
			NextProtos: []string{"http/1.1"},
		},
		ReadHeaderTimeout: 30 * time.Second,
	}
	go func() {
		if err := srv.ServeTLS(ln, "", ""); err != nil && err != http.ErrServerClosed {
			klog.Fatal(err)
		}
	}()

	if err := a.registerNode(ctx); err != nil {
		klog.Fatalf("register node: %v", err)
	}
	go a.heartbeat(ctx)
	go a.runPodInformer(ctx)
	if c.bindPods {
		go a.runBinder(ctx)
	}
	if c.portFile != "" {
		if err := os.WriteFile(c.portFile, []byte(fmt.Sprintf("%d\n", c.port)), 0o644); err != nil {
			klog.Fatal(err)
		}
	}
	fmt.Printf("ready %s:%d\n", c.address, c.port)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	klog.Info("shutting down: killing pods")
	cancel()
	a.shutdown()
	shCtx, shCancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer shCancel()
	_ = srv.Shutdown(shCtx)
}

func trimScheme(h string) string {
	for _, p := range []string{"https://", "http://"} {
		if len(h) > len(p) && h[:len(p)] == p {
			h = h[len(p):]
		}
	}
	for i := 0; i < len(h); i++ {
		if h[i] == '/' {
			return h[:i]
		}
	}
	return h
}
