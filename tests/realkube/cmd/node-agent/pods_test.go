package main

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func run(uid string, started time.Time, stopping bool) *podRun {
	pr := &podRun{uid: types.UID(uid), ns: "ns", name: "p", stop: make(chan struct{}),
		startTime: metav1.NewTime(started)}
	if stopping {
		close(pr.stop)
	}
	return pr
}

// A pod deleted and recreated under its name: until the old run's teardown is done
// both are known, and a request for the name (exec, logs) is for the new pod.
func TestPodByNameIsTheRecreatedPodNotTheOneBeingTornDown(t *testing.T) {
	t0 := time.Now()
	cases := []struct {
		name string
		runs []*podRun
		uid  string
		want string
	}{
		{"old one stopping", []*podRun{run("old", t0, true), run("new", t0.Add(time.Second), false)}, "", "new"},
		{"neither stopping: the later", []*podRun{run("old", t0, false), run("new", t0.Add(time.Second), false)}, "", "new"},
		{"a stopping one beats nothing", []*podRun{run("old", t0, true)}, "", "old"},
		{"the uid asked for", []*podRun{run("old", t0, true), run("new", t0.Add(time.Second), false)}, "old", "old"},
	}
	for _, c := range cases {
		for i := 0; i < 20; i++ { // map order is random: ask often
			a := &agent{pods: map[types.UID]*podRun{}}
			for _, pr := range c.runs {
				a.pods[pr.uid] = pr
			}
			if got := a.podByName("ns", "p", c.uid); got == nil || string(got.uid) != c.want {
				t.Fatalf("%s: got %v, want %s", c.name, got, c.want)
			}
		}
	}
	if (&agent{pods: map[types.UID]*podRun{}}).podByName("ns", "p", "") != nil {
		t.Fatal("no pod of that name: want nil")
	}
}
