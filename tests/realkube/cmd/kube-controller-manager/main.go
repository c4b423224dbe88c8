// kube-controller-manager built from the k8s.io/kubernetes module (pinned in go.mod).
// Optional in the test bed: it creates each namespace's "default" ServiceAccount,
// publishes kube-root-ca.crt, finishes namespace deletion, garbage-collects, etc.
package main

import (
	"os"
	_ "time/tzdata" // for CronJob time zone support

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	"k8s.io/kubernetes/cmd/kube-controller-manager/app"
)

func main() {
	command := app.NewControllerManagerCommand()
	code := cli.Run(command)
	os.Exit(code)
}
