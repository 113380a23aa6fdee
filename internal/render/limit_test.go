package render

import (
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func writeChart(t *testing.T, template string) string {
	t.Helper()
	dir := write(t, map[string]string{
		"Chart.yaml":        "apiVersion: v2\nname: c\nversion: 0.1.0\n",
		"templates/cm.yaml": template,
	})
	return dir
}

const goodTemplate = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: good}\ndata: {kube: \"{{ .Capabilities.KubeVersion.Minor }}\"}\n"

// withDeadline fails the test rather than hanging when a limit does not hold.
func withDeadline(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// A Runner renders as Helm and Kustomize do, reusing one process.
func TestRunnerRendersAsInProcess(t *testing.T) {
	ctx := withDeadline(t)
	r := NewRunner(Limits{}, KustomizeOptions{Roots: roots(t, os.TempDir())})
	defer r.Close()
	dir := writeChart(t, goodTemplate)
	want, err := Helm(dir, nil, Cluster{KubeVersion: "1.33.0"}, roots(t, os.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		got, err := r.Helm(ctx, dir, nil, Cluster{KubeVersion: "1.33.0"})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0] != want[0] {
			t.Fatalf("runner rendered %+v, in-process %+v", got, want)
		}
	}
	if n := len(r.idle); n != 1 {
		t.Errorf("%d idle render processes after two renders one after the other, want 1", n)
	}
	k := write(t, map[string]string{
		"kustomization.yaml": "resources: [cm.yaml]\nnamePrefix: p-\n",
		"cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
	})
	objs, err := r.Kustomize(ctx, k, Cluster{})
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 || !strings.Contains(string(objs[0].YAML), "name: p-a") || filepath.Base(objs[0].Source) != "cm.yaml" {
		t.Errorf("kustomize objects = %+v", objs)
	}
	_, err = r.Helm(ctx, writeChart(t, "{{ fail \"no\" }}"), nil, Cluster{})
	if err == nil || !strings.Contains(err.Error(), "no") {
		t.Errorf("template error = %v", err)
	}
	var le *LimitError
	if errors.As(err, &le) {
		t.Errorf("a template error reads as a limit: %v", err)
	}
}

// Each hostile unit stops at a limit, as a LimitError naming the input,
// and the next unit on the same Runner renders.
func TestRunnerLimits(t *testing.T) {
	cases := []struct {
		name, template string
		limits         Limits
		limit, msg     string
	}{
		{"output over render-max-bytes", "{{ range until 30000 }}{{ \"x\" | repeat 99 }}\n{{ end }}", Limits{MaxBytes: 1 << 20}, "render-max-bytes", "over render-max-bytes (1.0 MiB)"},
		{"1 GB of output", "{{ range until 10000000 }}{{ \"x\" | repeat 99 }}\n{{ end }}", Limits{MaxBytes: 1 << 20}, "render-max-bytes", "MiB of memory"},
		{"until 1000000000", "{{ range until 1000000000 }}x{{ end }}", Limits{MaxBytes: 1 << 20}, "render-max-bytes", "MiB of memory"},
		{"a loop that does not end", "{{ range until 100000 }}{{ range until 100000 }}{{ end }}{{ end }}", Limits{Timeout: 5 * time.Second}, "render-timeout", "longer than 5s"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := withDeadline(t)
			r := NewRunner(tc.limits, KustomizeOptions{Roots: roots(t, os.TempDir())})
			defer r.Close()
			_, err := r.Helm(ctx, writeChart(t, tc.template), nil, Cluster{})
			var le *LimitError
			if !errors.As(err, &le) || le.Limit != tc.limit || !strings.Contains(le.Msg, tc.msg) {
				t.Fatalf("error = %v, want a %s limit saying %q", err, tc.limit, tc.msg)
			}
			ts, err := r.Helm(ctx, writeChart(t, goodTemplate), nil, Cluster{})
			if err != nil || len(ts) != 1 {
				t.Fatalf("next chart: %v, %+v", err, ts)
			}
		})
	}
	// Neither this process nor any render process went near 1 GB.
	for who, w := range map[string]int{"test process": syscall.RUSAGE_SELF, "largest render process": syscall.RUSAGE_CHILDREN} {
		var ru syscall.Rusage
		if err := syscall.Getrusage(w, &ru); err != nil {
			t.Fatal(err)
		}
		if rss := ru.Maxrss >> 10; rss >= 1<<10 {
			t.Errorf("%s peaked at %d MiB, want under 1 GiB", who, rss)
		} else {
			t.Logf("%s peaked at %d MiB", who, rss)
		}
	}
}

// kyaml expands aliases by copying, so an alias bomb in a resource grows
// without bound inside kustomize; the render process's memory stops it.
func TestRunnerKustomizeAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\ndata:\n  a: &a [" + strings.TrimSuffix(strings.Repeat("lol,", 9), ",") + "]\n")
	for c := 'b'; c <= 'i'; c++ {
		b.WriteString("  " + string(c) + ": &" + string(c) + " [" + strings.TrimSuffix(strings.Repeat("*"+string(c-1)+",", 9), ",") + "]\n")
	}
	dir := write(t, map[string]string{"kustomization.yaml": "resources: [cm.yaml]\n", "cm.yaml": b.String()})
	r := NewRunner(Limits{MaxBytes: 1 << 20, Timeout: 30 * time.Second}, KustomizeOptions{Roots: roots(t, os.TempDir())})
	defer r.Close()
	_, err := r.Kustomize(withDeadline(t), dir, Cluster{})
	var le *LimitError
	if !errors.As(err, &le) {
		t.Fatalf("error = %v, want a limit", err)
	}
}

// action.Supervise runs a render process unsupervised by this flag's
// name; the two must not drift apart.
func TestProcessFlagIsTheOneSuperviseKnows(t *testing.T) {
	if processFlag != "--render-process=" {
		t.Fatalf("processFlag is %q: change RenderProcessFlag in internal/supervisor too", processFlag)
	}
}

// A session renders its units in one process, so what that process read
// for the first (a shared base) serves the next; an object whose content
// the caller said it holds comes as its hash alone.
func TestSessionOneProcessSkipsKnown(t *testing.T) {
	ctx := withDeadline(t)
	r := NewRunner(Limits{}, KustomizeOptions{Roots: roots(t, os.TempDir())})
	defer r.Close()
	var mu sync.Mutex
	held := map[[sha256.Size]byte]bool{}
	r.SkipKnown(func(sum [sha256.Size]byte) bool { mu.Lock(); defer mu.Unlock(); return held[sum] })
	dir := write(t, map[string]string{
		"base/kustomization.yaml": "resources: [cm.yaml]\n",
		"base/cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared}\n",
		"a/kustomization.yaml":    "resources: [../base, sa.yaml]\n",
		"a/sa.yaml":               "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: a}\n",
		"b/kustomization.yaml":    "resources: [../base, sa.yaml]\n",
		"b/sa.yaml":               "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: b}\n",
	})
	s := r.Session()
	var pids []int
	var got [][]Object
	for _, unit := range []string{"a", "b"} {
		objs, err := s.Kustomize(ctx, filepath.Join(dir, unit), Cluster{})
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, s.c.cmd.Process.Pid)
		mu.Lock()
		for _, o := range objs {
			if o.YAML != nil {
				if o.Sum != sha256.Sum256(o.YAML) {
					t.Errorf("%s: Sum is not the hash of the YAML", unit)
				}
				held[o.Sum] = true
			}
		}
		mu.Unlock()
		got = append(got, objs)
	}
	s.Close()
	if pids[0] != pids[1] {
		t.Errorf("the session's units went to processes %v, want one", pids)
	}
	if len(r.idle) != 1 {
		t.Errorf("%d idle processes after the session, want 1", len(r.idle))
	}
	for i, unit := range []string{"a", "b"} {
		if len(got[i]) != 2 {
			t.Fatalf("%s: %d objects, want 2", unit, len(got[i]))
		}
		for _, o := range got[i] {
			shared := strings.HasSuffix(o.Source, "base/cm.yaml")
			switch {
			case i == 1 && shared && o.YAML != nil:
				t.Errorf("b: the base's ConfigMap, held already, came with its YAML")
			case (i == 0 || !shared) && !strings.Contains(string(o.YAML), "kind:"):
				t.Errorf("%s: object from %s came without its YAML", unit, o.Source)
			}
		}
	}
}
