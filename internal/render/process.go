package render

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"runtime/debug"
	"strconv"
	"strings"
)

// processFlag, with the memory limit after it, is the one argument a
// Runner starts this same binary with.
const processFlag = "--render-process="

// ServeProcess serves a Runner when args are a render process's, and says
// whether they were. Every Main that may render (validate-config,
// pipeline) and every test binary whose tests do calls it first: the
// Runner starts the running executable again.
func ServeProcess(args []string, stdin io.Reader, stdout, stderr io.Writer) (code int, ok bool) {
	if len(args) != 2 || !strings.HasPrefix(args[1], processFlag) {
		return 0, false
	}
	return serve(strings.TrimPrefix(args[1], processFlag), stdin, stdout, stderr), true
}

// softMemory is where a render process's collector starts to work
// harder than its GOGC asks, and to hand freed memory back at once. An
// ordinary unit lives well below it; a build of megabytes of CRDs
// reaches it only in bursts, where garbage would otherwise pile up to
// twice what is live, in every render process of the run at once.
const softMemory = 100 << 20

// serve answers requests until stdin closes.
func serve(memory string, in io.Reader, out, stderr io.Writer) int {
	limit, err := strconv.ParseInt(memory, 10, 64)
	if err != nil || limit <= 0 {
		fmt.Fprintf(stderr, "render process: bad memory limit %q\n", memory)
		return 2
	}
	// The hard limit makes a runaway allocation fail in this process; the
	// soft one makes the collector work before that.
	if err := limitMemory(limit); err != nil {
		fmt.Fprintf(stderr, "render process: %v\n", err)
		return 2
	}
	debug.SetMemoryLimit(min(limit-limit/4, softMemory))
	// Parsed YAML is garbage as soon as a unit is printed: a render
	// process collects it twice as often as the default, for the memory
	// of the run, where several of them run at once.
	debug.SetGCPercent(50)
	logs := &capped{max: 64 << 10}
	log.SetOutput(logs)
	if err := writeFrame(out, hello{Ready: true}); err != nil {
		return 1
	}
	for served := 0; ; served++ {
		var req request
		if err := readFrame(in, 1<<20, &req); err != nil {
			if errors.Is(err, io.EOF) && served > 0 {
				return 0
			}
			// A Runner starts a process only to send it a unit: this one
			// was started some other way and must not pass for the action.
			fmt.Fprintf(stderr, "%s was given but no render request came: %v\n", processFlag, err)
			return 3
		}
		resp := handle(req)
		resp.Log = logs.Take()
		// Room is left for the encoding, which the reader bounds too.
		if n := resp.size(); n > replyCap(req.MaxBytes)-1<<20 {
			resp = response{OverSize: true, Log: resp.Log, Err: fmt.Sprintf("rendered output and its template sources are %s, over twice render-max-bytes (%s)", mib(n), mib(req.MaxBytes))}
		}
		if err := writeReply(out, &resp); err != nil {
			return 1
		}
		// An idle process keeps only what it caches: the next unit may
		// go to another one, and the run's memory is all of them.
		resp = response{}
		debug.FreeOSMemory()
	}
}

func handle(req request) (resp response) {
	defer func() {
		if r := recover(); r != nil {
			resp = response{Err: fmt.Sprintf("rendering failed: %v", r)}
		}
	}()
	roots, err := NewRoots(req.RootDirs...)
	if err != nil {
		return response{Err: err.Error()}
	}
	var size int64
	switch req.Kind {
	case "helm":
		ts, err := Helm(req.Dir, req.ValuesFiles, req.Cluster, roots)
		if err != nil {
			return failed(err)
		}
		for _, t := range ts {
			size += int64(len(t.Rendered))
		}
		resp.Templates = ts
	case "kustomize":
		objs, err := Kustomize(context.Background(), req.Dir, KustomizeOptions{Roots: roots, AllowRemote: req.AllowRemote, RemoteTimeout: req.RemoteTimeout, Cluster: req.Cluster})
		if err != nil {
			return failed(err)
		}
		for _, o := range objs {
			size += int64(len(o.YAML))
		}
		resp.Objects = objs
	default:
		return response{Err: fmt.Sprintf("unknown render kind %q", req.Kind)}
	}
	if size > req.MaxBytes {
		return response{OverSize: true, Err: fmt.Sprintf("rendered output is %s, over render-max-bytes (%s)", mib(size), mib(req.MaxBytes))}
	}
	return resp
}

// failed is the response for a unit that did not render, keeping the
// refusals so the parent reports them as findings.
func failed(err error) response {
	resp := response{Err: err.Error()}
	for _, o := range Outside(err) {
		resp.Outside = append(resp.Outside, *o)
	}
	for _, r := range Remote(err) {
		resp.Remote = append(resp.Remote, *r)
	}
	return resp
}

func mib(n int64) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d bytes", n)
}
